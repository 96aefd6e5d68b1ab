"""A gate whose verdicts can be trusted: never green without testing, never a write where none
is allowed, an admin-guarded sandbox recognised, reports written after an abort, baselines.

Every request goes to 127.0.0.1: sandboxes started here, or `broken/app.py` in a thread.
"""

from __future__ import annotations

import re
import signal
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from broken.app import TOKEN
from conftest import ROOT, LiveSandbox, snapshot, start_sandbox
from contract_runs import SEED, SPEC, Broken, broken_deployments, contract

from mockyard import contract_target

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

REFUSED = "not tested: every request was refused by authentication; pass --token/--header"
ADMIN = "adm1n-s3cret"
VALIDATE = "/api/v1/billing/invoice/validate"


@pytest.fixture(scope="module")
def broken() -> Iterator[Broken]:
    with broken_deployments() as deployments:
        yield deployments


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    """A sandbox started with an admin token, as a shared one must be."""
    state = tmp_path_factory.mktemp("guarded") / "state.sqlite3"
    # A journal large enough to hold a whole contract run's requests, which the tests read.
    sandbox = start_sandbox(state, "--journal-size", "20000", admin_token=ADMIN)
    yield sandbox
    sandbox.stop()


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# --- reach: an operation no request reached was not tested -----------------------------------


def test_a_run_refused_by_authentication_is_not_green(broken: Broken, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    run = contract(
        *("--base-url", f"{broken.url}/faithful", "--spec", str(SPEC)),  # no --token
        *("--max-examples", "5", "--seed", SEED, "--junit", str(junit)),
    )
    assert run.exit_code == 2, run.stdout + run.stderr
    assert "PASSED" not in run.stdout
    assert run.stdout.count(f"✗ {REFUSED}") == 2  # both operations, each at its URL
    assert f"\n    {broken.url}/faithful/items/{{id}}\n" in run.stdout
    assert "ERROR: 2 operations not tested" in run.stdout
    assert REFUSED in one_error_line(run.stderr)
    errors = [e.get("message") for e in ET.parse(junit).getroot().iter("error")]
    assert errors == [REFUSED, REFUSED]


def test_a_base_url_that_doubles_the_path_is_not_green(sandbox: LiveSandbox) -> None:
    # Chargebee is mounted under /api/v2: a base URL that already ends in it doubles the path.
    run = contract(
        *("--workspace", str(ROOT), "--base-url", f"{sandbox.url}/api/v2", "--api", "chargebee"),
        *("--max-examples", "3", "--seed", SEED, "--phases", "coverage"),
    )
    assert run.exit_code == 2, run.stdout + run.stderr
    assert f"{sandbox.url}/api/v2/api/v2/invoices/{{invoice-id}}/apply_payments" in run.stdout
    assert "not reached: every request past authentication got the same 404" in run.stdout
    assert "The path has /api/v2 twice: does the base URL already end in it?" in run.stdout


# --- a sandbox started with an admin token ---------------------------------------------------


def test_an_admin_guarded_sandbox_without_its_token_is_not_green(guarded: LiveSandbox) -> None:
    run = contract(
        *("--workspace", str(ROOT), "--base-url", guarded.url, "--api", "invoicexpress"),
        *("--max-examples", "3", "--seed", SEED, "--phases", "coverage"),
    )
    assert run.exit_code == 2, run.stdout + run.stderr
    assert REFUSED in run.stdout
    assert "a mockyard sandbox whose admin API needs its admin token: pass --admin-token" in (
        run.stdout
    )


@pytest.mark.parametrize("how", ["option", "environment"])
def test_the_admin_token_lets_a_guarded_sandbox_be_reset_and_tested(
    guarded: LiveSandbox, how: str
) -> None:
    args = ["--workspace", str(ROOT), "--base-url", guarded.url, "--api", "cargoextra"]
    args += ["--max-examples", "3", "--seed", SEED, "--phases", "coverage,stateful"]
    if how == "option":
        run = contract(*args, "--admin-token", ADMIN)
    else:
        run = contract(*args, env={"MOCKYARD_ADMIN_TOKEN": ADMIN})
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "sandbox reset first" in run.stdout
    assert "bearerAuth = sandbox-token (sandbox catalogue default" in run.stdout
    assert ADMIN not in run.stdout + run.stderr


def test_a_wrong_admin_token_is_a_usage_error(guarded: LiveSandbox) -> None:
    run = contract("--workspace", str(ROOT), "--base-url", guarded.url, "--admin-token", "nope")
    assert run.exit_code == 2
    assert "/__mockyard/health refused the admin token" in one_error_line(run.stderr)


# --- read-only runs change nothing -----------------------------------------------------------


def journal(
    sandbox: LiveSandbox, admin: str | None = None, *, clear: bool = False
) -> list[dict[str, object]]:
    """Every request the journal holds (not state); emptied instead when `clear`."""
    headers = {"Authorization": f"Bearer {admin}"} if admin else {}
    url = f"{sandbox.url}/__mockyard/requests"
    if clear:
        httpx.delete(url, headers=headers, timeout=30).raise_for_status()
        return []
    size = httpx.get(url, params={"limit": 1}, headers=headers, timeout=30).json()["size"]
    answer = httpx.get(url, params={"limit": size}, headers=headers, timeout=30).json()
    return answer["requests"]


def pending_clone(sandbox: LiveSandbox) -> None:
    """Leave the state off its seed: one validate?type=start records a pending online payment."""
    query = {"invoiceNo": 100123, "amount": 15000, "currencyPaid": "642f1a3e9b1e8a0012345678"}
    query |= {"type": "start", "processor": "paystack"}
    query |= {"partPaymentFromWalletBalanceBefore": 0, "partPaymentFromWalletBalanceCurrent": 0}
    with sandbox.client() as client:
        assert client.get(VALIDATE, params=query).json()["verStatus"] is True


def assert_only_reads(entries: list[dict[str, object]]) -> None:
    served = [e for e in entries if str(e["path"]).startswith(("/api", "/documents"))]
    assert served, "the run sent nothing"
    assert {e["method"] for e in served} <= {"GET", "HEAD", "OPTIONS", "TRACE"}
    validated = [e for e in served if e["path"] == VALIDATE]
    types = {str(e["query"].get("type")) for e in validated}  # type: ignore[union-attr]
    assert "start" not in types and "confirm" in types  # validate tested, with confirm only
    assert any(e["status"] == 200 for e in validated)


@pytest.mark.slow
def test_a_remote_run_against_a_shared_sandbox_changes_nothing(
    guarded: LiveSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shared sandbox listens beyond loopback with an admin token; the engine is told this one
    # is remote (it is on 127.0.0.1, so no traffic leaves the host).
    monkeypatch.setattr(contract_target, "is_loopback", lambda host, resolve=None: False)
    httpx.post(f"{guarded.url}/__mockyard/reset", headers={"X-Mockyard-Admin-Token": ADMIN})
    pending_clone(guarded)
    before = snapshot(guarded.state)
    journal(guarded, ADMIN, clear=True)
    run = contract(
        *("--workspace", str(ROOT), "--base-url", guarded.url, "--admin-token", ADMIN),
        *("--max-examples", "25", "--seed", SEED),
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    assert snapshot(guarded.state) == before  # every record, byte for byte
    assert "sandbox reset first" not in run.stdout  # a reset is a change too
    assert "(sandbox catalogue default" in run.stdout  # recognised by its admin token
    assert f"{VALIDATE}: type never start" in run.stdout
    assert_only_reads(journal(guarded, ADMIN))


def test_no_mutations_on_the_local_sandbox_changes_nothing(sandbox: LiveSandbox) -> None:
    pending_clone(sandbox)
    before = snapshot(sandbox.state)
    journal(sandbox, clear=True)
    run = contract(
        *("--workspace", str(ROOT), "--base-url", sandbox.url, "--api", "cargoextra"),
        *("--no-mutations", "--max-examples", "15", "--seed", SEED),
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    assert snapshot(sandbox.state) == before
    assert "read-only run (--no-mutations)" in run.stdout
    assert_only_reads(journal(sandbox))


def test_no_mutations_and_allow_mutations_contradict(broken: Broken) -> None:
    run = broken.run("faithful", "--no-mutations", "--allow-mutations")
    assert run.exit_code == 2
    assert "contradict" in one_error_line(run.stderr)


# --- an aborted run still reports -------------------------------------------------------------


@pytest.mark.slow
def test_a_run_whose_target_dies_still_writes_its_reports(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path / "state.sqlite3")
    junit, html = tmp_path / "contract.xml", tmp_path / "contract.html"

    def kill_once_testing() -> None:
        deadline = time.monotonic() + 60
        while len(journal(sandbox)) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        sandbox.stop(signal.SIGKILL)

    killer = threading.Thread(target=kill_once_testing, daemon=True)
    killer.start()
    try:
        run = contract(
            *("--workspace", str(ROOT), "--base-url", sandbox.url, "--max-examples", "20"),
            *("--seed", SEED, "--junit", str(junit), "--report", str(html)),
        )
    finally:
        killer.join(timeout=60)
        sandbox.stop(signal.SIGKILL)
    assert run.exit_code == 2, run.stdout + run.stderr
    assert "the run was aborted" in one_error_line(run.stderr)
    root = ET.parse(junit).getroot()
    assert int(root.get("tests", "0")) > 0  # what was gathered before the target died
    assert "Run aborted" in [e.get("message") for e in root.iter("error")]
    page = html.read_text()
    assert "ERROR: the run was aborted" in page and "Reach by operation" in page


# --- from the wrong directory ----------------------------------------------------------------


def test_a_run_outside_a_workspace_suggests_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = contract("--base-url", "http://127.0.0.1:9")
    assert run.exit_code == 2
    line = one_error_line(run.stderr)
    assert "no OpenAPI specs found" in line and "pass --workspace DIR" in line


# --- baselines -------------------------------------------------------------------------------


def test_a_baseline_fails_only_on_new_failures_and_reports_fixed_ones(
    broken: Broken, tmp_path: Path
) -> None:
    baseline = tmp_path / "contract-baseline.yaml"
    args = ("--phases", "coverage")
    first = broken.run("server-error", *args, "--write-baseline", str(baseline))
    assert first.exit_code == 1, first.stdout + first.stderr
    text = baseline.read_text()
    assert "check: not_a_server_error" in text and "failure: ServerError" in text
    assert "seed" not in text.replace("# ", "") and SEED not in text  # nothing run-specific
    again = tmp_path / "again.yaml"
    assert broken.run(
        "server-error", *args, "--seed", "7", "--write-baseline", str(again)
    ).exit_code
    assert again.read_text() == text  # deterministic: another seed, the same file

    # The legacy failure is known: the gate is green.
    known = broken.run("server-error", *args, "--baseline", str(baseline))
    assert known.exit_code == 0, known.stdout + known.stderr
    assert re.search(
        r"PASSED: every check passed \(\d known failures? in the baseline\)", known.stdout
    )
    assert "Known failures (listed in" in known.stdout

    # A regression on top of it is red, and only the new failure is listed as one.
    worse = broken.run("two-faults", *args, "--baseline", str(baseline))
    assert worse.exit_code == 1, worse.stdout + worse.stderr
    assert "FAILED: " in worse.stdout and " new distinct contract failure" in worse.stdout

    # The fault fixed: the run says so.
    fixed = broken.run("faithful", *args, "--baseline", str(baseline))
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert "Fixed since" in fixed.stdout
    assert "spec POST /items: not_a_server_error: Server error" in fixed.stdout


def test_a_bad_baseline_is_a_usage_error(broken: Broken, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfailures: [{api: x}]\n")
    for path, text in ((bad, "each failure needs the strings"), (tmp_path / "no", "cannot read")):
        run = broken.run("faithful", "--baseline", str(path), "--token", TOKEN)
        assert run.exit_code == 2
        assert text in one_error_line(run.stderr)
