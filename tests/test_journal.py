"""GET/DELETE /__mockyard/requests: what each request asked and got, newest first, credentials
hidden, bounded, and the same from every worker."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from conftest import LiveSandbox, in_process, snapshot

from mockyard.journal import COLUMNS, Journal

PAY = "/api/v1/billing/invoice/pay"
VALIDATE = "/api/v1/billing/invoice/validate"
JOURNAL = "/__mockyard/requests"
CLOSE = {"Connection": "close"}  # a fresh connection: either worker may take it
RICH = {"Authorization": "Bearer sandbox-token-rich"}


def test_an_entry_tells_what_was_asked_and_answered(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        paid = client.post(PAY, json={"invoice": 100127, "currency": "NGN"}, headers=RICH)
        (entry,) = client.get(JOURNAL).json()["requests"]
    assert paid.status_code == 200
    assert entry["method"] == "POST"
    assert entry["path"] == PAY
    assert entry["query"] == {}
    assert entry["headers"]["content-type"] == "application/json"
    assert entry["body"] == {"invoice": 100127, "currency": "NGN"}
    assert entry["status"] == 200
    assert entry["latency_ms"] >= 0
    assert entry["response_body"] == paid.json()
    assert entry["api"] == "cargoextra"
    assert entry["operation"] == "pay-invoice-from-wallet"
    assert entry["time"].endswith("Z")


def test_credentials_are_redacted(tmp_path: Path) -> None:
    basic = base64.b64encode(b"user:hunter2").decode()
    with in_process(tmp_path) as client:
        client.get(
            VALIDATE,
            params={"api_key": "k-secret", "access_token": "t-secret", "invoiceNo": "1"},
            headers={"Authorization": "Bearer sandbox-token", "Cookie": "session=c-secret"},
        )
        client.get(VALIDATE, headers={"Authorization": f"Basic {basic}"})
        entries = client.get(JOURNAL).json()["requests"]
    text = json.dumps(entries)
    for secret in ("sandbox-token", "k-secret", "t-secret", "c-secret", basic):
        assert secret not in text
    basic_entry, bearer_entry = entries
    assert bearer_entry["headers"]["authorization"] == "Bearer [redacted]"
    assert bearer_entry["headers"]["cookie"] == "[redacted]"
    assert bearer_entry["query"] == {
        "api_key": "[redacted]",
        "access_token": "[redacted]",
        "invoiceNo": "1",
    }
    assert basic_entry["headers"]["authorization"] == "Basic [redacted]"


def test_newest_first_with_method_path_status_filters_and_a_limit(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        client.post(PAY, json={"invoice": 100127, "currency": "NGN"}, headers=RICH)  # 200
        client.post(PAY, json={"invoice": 100127, "currency": "NGN"}, headers=RICH)  # 400
        client.get(VALIDATE, headers=RICH)  # 400: parameters missing
        client.get("/nowhere")  # 404

        def listed(**params: object) -> list[tuple[str, str, int]]:
            entries = client.get(JOURNAL, params=params).json()["requests"]
            return [(e["method"], e["path"], e["status"]) for e in entries]

        everything = listed()
        assert everything == [
            ("GET", "/nowhere", 404),
            ("GET", VALIDATE, 400),
            ("POST", PAY, 400),
            ("POST", PAY, 200),
        ]
        assert listed(method="post") == everything[2:]
        assert listed(path=PAY) == everything[2:]
        assert listed(path="/api/v1/billing/*") == everything[1:]
        assert listed(status=400) == everything[1:3]
        assert listed(status="4xx") == everything[:3]
        assert listed(method="POST", status="2xx") == everything[3:]
        assert listed(limit=2) == everything[:2]
        ids = [e["id"] for e in client.get(JOURNAL).json()["requests"]]
        assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize("params", [{"status": "teapot"}, {"limit": 0}, {"limit": "all"}])
def test_bad_filters_are_refused(tmp_path: Path, params: dict[str, object]) -> None:
    with in_process(tmp_path) as client:
        response = client.get(JOURNAL, params=params)
    assert response.status_code == 400
    assert "error" in response.json()


def test_delete_empties_the_journal(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        client.get(VALIDATE)
        assert client.delete(JOURNAL).status_code == 204
        assert client.get(JOURNAL).json()["requests"] == []


def test_journal_keeps_only_the_newest_n(tmp_path: Path) -> None:
    with in_process(tmp_path, journal_size=3) as client:
        for n in range(7):
            client.get(VALIDATE, params={"invoiceNo": n})
        listing = client.get(JOURNAL, params={"limit": 3}).json()
        too_many = client.get(JOURNAL, params={"limit": 4})
    assert listing["size"] == 3
    assert [e["query"]["invoiceNo"] for e in listing["requests"]] == ["6", "5", "4"]
    assert too_many.status_code == 400


def test_the_journal_file_stays_bounded_too(tmp_path: Path) -> None:
    """The ring is bounded in rows, and its WAL in bytes: the journal keeps SQLite's own
    checkpoints (only the state's commits leave them to the store's thread). 8,000 entries
    of 2 KB, written 50 at a time, make a 36 MB WAL when nothing checkpoints."""
    journal = Journal(tmp_path / "requests.sqlite3", 500)
    row = dict.fromkeys(COLUMNS)
    row |= {"method": "GET", "path": "/x", "headers": "", "response_headers": ""}
    row |= {"body_is_json": 0, "response_is_json": 0, "body": "b" * 2000}
    try:
        for n in range(8000):
            journal.record(tuple({**row, "at": float(n)}.values()))
            if n % 50 == 0:
                journal.flush()
        journal.flush()
        wal = Path(f"{tmp_path / 'requests.sqlite3'}-wal").stat().st_size
    finally:
        journal.close()
    assert wal < 8_000_000, f"the journal's WAL grew to {wal / 1e6:.1f} MB"


def test_admin_requests_are_not_journaled(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        client.post("/__mockyard/reset")
        client.get("/__mockyard/state")
        assert client.get(JOURNAL).json()["requests"] == []


def test_the_journal_is_not_business_state(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        client.get(VALIDATE, headers=RICH)
        state = tmp_path / "inproc.sqlite3"
        before = snapshot(state)
        client.get(JOURNAL)
        client.delete(JOURNAL)
        assert snapshot(state) == before
    conn = sqlite3.connect(state)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert not {"requests", "exchanges"} & tables  # the journal lives in a file of its own


def test_headers_read_back_as_sent_repeats_joined(tmp_path: Path) -> None:
    sent = [
        ("Authorization", "Bearer sandbox-token-rich"),
        ("X-Trace", "a"),
        ("X-Trace", "b"),
        ("X-Note", "key: value, more"),
        ("X-Empty", ""),
    ]
    with in_process(tmp_path) as client:
        client.get(VALIDATE, params={"invoiceNo": "1"}, headers=sent)
        (entry,) = client.get(JOURNAL).json()["requests"]
    assert entry["headers"]["x-trace"] == "a, b"
    assert entry["headers"]["x-note"] == "key: value, more"
    assert entry["headers"]["x-empty"] == ""
    assert entry["headers"]["authorization"] == "Bearer [redacted]"
    assert entry["query"] == {"invoiceNo": "1"}


def test_large_bodies_are_kept_truncated(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        client.post(PAY, json={"invoice": 1, "currency": "N" * 40_000}, headers=RICH)
        (entry,) = client.get(JOURNAL).json()["requests"]
    assert isinstance(entry["body"], str)
    assert "truncated" in entry["body"]
    assert len(entry["body"]) < 20_000


def test_every_worker_sees_one_journal(faulty_sandbox: LiveSandbox) -> None:
    url = faulty_sandbox.url
    httpx.delete(f"{url}{JOURNAL}").raise_for_status()

    def listing() -> list[dict]:
        answer = httpx.get(f"{url}{JOURNAL}", params={"limit": 200}, headers=CLOSE)
        return answer.json()["requests"]

    # Fresh connections, until both workers have served some (a worker still starting on a
    # busy machine serves none at first); at most 200 requests.
    sent, deadline = 0, time.monotonic() + 30
    while sent < 200 and time.monotonic() < deadline:
        for _ in range(10):
            httpx.get(f"{url}/nowhere", params={"n": sent}, headers=CLOSE)
            sent += 1
        if len({e["worker"] for e in listing()}) == 2:
            break
    deadline = time.monotonic() + 10
    while True:
        listings = [listing() for _ in range(6)]
        if all(len(entries) == sent for entries in listings) or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # another worker's entries land a moment after its response
    for entries in listings:
        assert [e["query"]["n"] for e in entries] == [str(n) for n in reversed(range(sent))]
    assert len({e["worker"] for e in listings[0]}) == 2
