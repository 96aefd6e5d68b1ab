"""A real browser on another origin pays an invoice and reads both answers (CORS end to end),
and the same page cannot drive the admin API (no drive-by).

Headless Debian `chromium` loads pages from a second loopback port (another origin). One pays
invoice 100127 twice with fetch(): the browser sends a preflight, then the requests, and can
read the 200 and the 400 only if the sandbox's CORS headers allow it. The other is the drive-by
a page open in the developer's browser could attempt: reset the sandbox, rewrite a record,
read and empty the request journal, with CORS requests and with `no-cors` ones whose effect
would happen even though the page cannot read the answer; then it pays an invoice, which must
still work. `--dump-dom` with a virtual time budget returns the page once its fetches are done.

Chromium is installed with apt-get when missing (`conftest.debian_program`): CI fails without it.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import ROOT, LiveSandbox, debian_program, snapshot

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

CHROMIUM = "/usr/bin/chromium"
PAGE = """<!doctype html>
<html><body><pre id="out">pending</pre>
<script>
const headers = {"Authorization": "Bearer sandbox-token-rich", "Content-Type": "application/json"};
const body = JSON.stringify({invoice: 100127, currency: "NGN"});
(async () => {
  const results = [];
  try {
    for (let i = 0; i < 2; i++) {
      const r = await fetch("SANDBOX/api/v1/billing/invoice/pay", {method: "POST", headers, body});
      results.push({status: r.status, body: await r.json()});
    }
  } catch (e) {
    results.push({error: String(e)});
  }
  document.getElementById("out").textContent = JSON.stringify(results);
})();
</script></body></html>
"""
PAID = {  # Bola pays invoice 100127 from her wallet
    "status": 200,
    "body": {
        "message": "Invoice payment successful",
        "invoiceNo": 100127,
        "amount": 5000,
        "walletBalance": 995000,
    },
}
DRIVE_BY = """<!doctype html>
<html><body><pre id="out">pending</pre>
<script>
const S = "SANDBOX";
const json = {"Content-Type": "application/json"};
const attempts = [
  ["reset", S + "/__mockyard/reset", {method: "POST"}],
  ["reset with a seed", S + "/__mockyard/reset",
   {method: "POST", headers: json, body: '{"seed": 7}'}],
  ["reset, no-cors", S + "/__mockyard/reset", {method: "POST", mode: "no-cors"}],
  ["reset, no-cors form", S + "/__mockyard/reset",
   {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: "{}"}],
  ["state write", S + "/__mockyard/state/cargoextra/invoices/100127",
   {method: "PUT", headers: json, body: JSON.stringify(RECORD)}],
  ["state read", S + "/__mockyard/state/cargoextra/accounts/sandbox-token", {}],
  ["journal read", S + "/__mockyard/requests", {}],
  ["journal read, credentials", S + "/__mockyard/requests", {credentials: "include"}],
  ["journal delete", S + "/__mockyard/requests", {method: "DELETE"}],
];
(async () => {
  const results = {};
  for (const [name, url, init] of attempts) {
    try {
      const r = await fetch(url, init);
      const body = r.type === "opaque" ? null : await r.text();
      results[name] = {type: r.type, status: r.status, body};
    } catch (e) {
      results[name] = {error: e.name};
    }
  }
  try {
    const r = await fetch(S + "/api/v1/billing/invoice/pay", {
      method: "POST",
      headers: {"Authorization": "Bearer sandbox-token-rich", ...json},
      body: JSON.stringify({invoice: 100127, currency: "NGN"}),
    });
    results["pay"] = {status: r.status, body: await r.json()};
  } catch (e) {
    results["pay"] = {error: String(e)};
  }
  document.getElementById("out").textContent = JSON.stringify(results);
})();
</script></body></html>
"""


@pytest.fixture(scope="session")
def chromium() -> str:
    return debian_program("chromium", CHROMIUM, "the headless browser")


@pytest.fixture
def page_origin(sandbox: LiveSandbox) -> Iterator[str]:
    """Pages on another loopback origin (their own port) that use the sandbox: `/` pays,
    `/drive-by` tries the admin API first."""
    fixture = yaml.safe_load((ROOT / "fixtures" / "cargoextra.yaml").read_text())
    record = {**fixture["catalogue"]["invoices"]["100127"], "description": "written by a page"}
    pages = {
        "/": PAGE.replace("SANDBOX", sandbox.url).encode(),
        "/drive-by": DRIVE_BY.replace("SANDBOX", sandbox.url)
        .replace("RECORD", json.dumps(record))
        .encode(),
    }

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _dump_dom(chromium: str, url: str, profile: Path) -> str:
    cmd = [
        chromium,
        *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"),
        *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        out, _ = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("chromium did not finish within 90 s")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return out.decode("utf-8", "replace")


def _results(dom: str) -> object:
    match = re.search(r'<pre id="out">(.*?)</pre>', dom, re.DOTALL)
    assert match, dom[:2000]
    return json.loads(html.unescape(match.group(1)))


def test_a_page_on_another_origin_pays_and_reads_both_answers(
    chromium: str, sandbox: LiveSandbox, page_origin: str, tmp_path: Path
) -> None:
    httpx.delete(f"{sandbox.url}/__mockyard/requests").raise_for_status()
    results = _results(_dump_dom(chromium, f"{page_origin}/", tmp_path / "profile"))
    assert results == [
        PAID,
        {"status": 400, "body": {"message": "Invoice already paid"}},
    ]

    journal = httpx.get(f"{sandbox.url}/__mockyard/requests").json()["requests"]
    seen = [(e["method"], e["status"], e["headers"].get("origin")) for e in reversed(journal)]
    assert seen == [
        ("OPTIONS", 200, page_origin),  # the browser's preflight, answered
        ("POST", 200, page_origin),
        ("POST", 400, page_origin),
    ]


def test_a_page_on_another_origin_cannot_drive_the_admin_api_but_can_still_pay(
    chromium: str, sandbox: LiveSandbox, page_origin: str, tmp_path: Path
) -> None:
    ada = "/__mockyard/state/cargoextra/accounts/sandbox-token"
    account = httpx.get(sandbox.url + ada).json()
    marked = {**account, "wallets": {"NGN": 12345}}  # a reset would put 10000 back
    httpx.put(sandbox.url + ada, json=marked).raise_for_status()
    with sandbox.client("sandbox-token") as client:  # a journal entry the page must not erase
        client.get("/api/v1/billing/invoice/validate", params={"invoiceNo": "x"})
    before = snapshot(sandbox.state)
    journal = httpx.get(f"{sandbox.url}/__mockyard/requests").json()["requests"]

    results = _results(_dump_dom(chromium, f"{page_origin}/drive-by", tmp_path / "profile"))

    blocked = {name: r for name, r in results.items() if name != "pay" and "no-cors" not in name}
    assert blocked and all(r == {"error": "TypeError"} for r in blocked.values()), results
    for name in ("reset, no-cors", "reset, no-cors form"):  # sent, unreadable, refused
        assert results[name] == {"type": "opaque", "status": 0, "body": None}
    assert results["pay"] == PAID
    after = snapshot(sandbox.state)
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    bola, invoice = (
        ("cargoextra", "accounts", "sandbox-token-rich"),
        ("cargoextra", "invoices", "100127"),
    )
    assert changed == {bola, invoice}  # what the payment changed, and nothing else
    assert json.loads(after[("cargoextra", "accounts", "sandbox-token")])["wallets"] == {
        "NGN": 12345
    }
    paid = json.loads(after[invoice])
    assert paid["status"] == "paid" and paid["description"] == "Warehousing, May"  # not rewritten
    now = httpx.get(f"{sandbox.url}/__mockyard/requests").json()["requests"]
    assert now[-len(journal) :] == journal  # not emptied
    assert [(e["method"], e["path"], e["status"]) for e in now[: -len(journal)]][::-1] == [
        ("OPTIONS", "/api/v1/billing/invoice/pay", 200),
        ("POST", "/api/v1/billing/invoice/pay", 200),
    ]


def test_a_program_that_cannot_be_had_fails_under_ci_and_is_a_reasoned_skip_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-chromium")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # not root: apt-get cannot run
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI needs the browser: .* needs root"):
        debian_program("chromium", missing, "the browser")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"no the browser: .* needs root"):
        debian_program("chromium", missing, "the browser")
