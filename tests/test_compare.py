"""`mockyard compare`: two identical sandboxes agree, and a deployment that differs in one
behaviour (`compare_proxy`) is caught on the operation it changed, in the aspect it changed.

Every request goes to 127.0.0.1: two sandboxes, each behind a recording proxy served in a thread.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from compare_proxy import CHANGES, Proxy
from conftest import ROOT, LiveSandbox, free_port, start_sandbox
from contract_runs import SEED, Run, served

from mockyard.cli import main
from mockyard.compare_diff import ASPECTS

EXAMPLES = "3"


@dataclass
class Pair:
    """Two sandboxes of the same workspace and seed, each behind its own proxy."""

    ours: LiveSandbox
    theirs: LiveSandbox
    ours_proxy: Proxy
    theirs_proxy: Proxy
    ours_url: str
    theirs_url: str

    def run(self, *args: str, real: str | None = None, sandbox: str | None = None) -> Run:
        self.ours_proxy.seen.clear()
        self.theirs_proxy.seen.clear()
        return compare(
            "--workspace",
            str(ROOT),
            "--sandbox",
            sandbox or self.ours_url,
            "--real",
            real or self.theirs_url,
            "--max-examples",
            EXAMPLES,
            "--seed",
            SEED,
            *args,
        )


def compare(*args: str) -> Run:
    result = CliRunner().invoke(main, ["compare", *args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("compare")
    ours = start_sandbox(root / "ours.sqlite3", "--quiet")
    theirs = start_sandbox(root / "theirs.sqlite3", "--quiet")
    ours_proxy, theirs_proxy = Proxy(ours.url), Proxy(theirs.url)
    try:
        with served(ours_proxy) as (ours_url, _), served(theirs_proxy) as (theirs_url, _):
            yield Pair(ours, theirs, ours_proxy, theirs_proxy, ours_url, theirs_url)
    finally:
        ours.stop()
        theirs.stop()


@pytest.fixture
def fresh(pair: Pair) -> Iterator[Pair]:
    pair.theirs_proxy.change = ""
    yield pair
    pair.theirs_proxy.change = ""


def failures(junit: Path) -> list[tuple[str, str, str]]:
    """(test case classname, name, failure message) for each failure in a JUnit report."""
    root = ET.parse(junit).getroot()
    return [
        (case.get("classname", ""), case.get("name", ""), failure.get("message", ""))
        for case in root.iter("testcase")
        for failure in case.iter("failure")
    ]


# --- no difference -----------------------------------------------------------------------------


@pytest.mark.slow  # every API of the workspace
def test_two_identical_sandboxes_have_no_difference(fresh: Pair, tmp_path: Path) -> None:
    junit, html = tmp_path / "compare.xml", tmp_path / "compare.html"
    run = fresh.run(
        "--junit", str(junit), "--report", str(html), sandbox=fresh.ours.url, real=fresh.theirs.url
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "SAME: every answer alike" in run.stdout
    assert "Differences" not in run.stdout
    assert failures(junit) == []
    cases = ET.parse(junit).getroot()
    compared = {(c.get("classname"), c.get("name")) for c in cases.iter("testcase")}
    assert ("chargebee.GET /transactions", "status") in compared
    assert ("cargoextra.GET /api/v1/billing/invoice/validate", "body shape") in compared
    page = html.read_text()
    assert "<h1>Fidelity report</h1>" in page and "SAME:" in page
    assert fresh.theirs.url in page


def test_both_deployments_get_the_same_requests_in_the_same_order(fresh: Pair) -> None:
    run = fresh.run("--api", "chargebee")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert fresh.ours_proxy.seen, "nothing was sent"
    assert fresh.ours_proxy.seen == fresh.theirs_proxy.seen
    first = list(fresh.ours_proxy.seen)
    assert fresh.run("--api", "chargebee").exit_code == 0
    assert fresh.ours_proxy.seen == first  # same seed, same cases


def test_a_comparison_is_read_only_by_default(fresh: Pair) -> None:
    run = fresh.run()
    assert run.exit_code == 0, run.stdout + run.stderr
    methods = {seen[0] for seen in fresh.ours_proxy.seen + fresh.theirs_proxy.seen}
    assert methods and methods <= {"GET", "HEAD", "OPTIONS", "TRACE"}
    assert "skipped POST /invoices/{invoice-id}/apply_payments" in run.stdout
    assert "read-only comparison" in run.stdout


def test_writes_go_to_both_only_with_allow_mutations(fresh: Pair) -> None:
    run = fresh.run("--api", "chargebee", "--allow-mutations")
    assert run.exit_code == 0, run.stdout + run.stderr
    posts = [seen for seen in fresh.ours_proxy.seen if seen[0] == "POST"]
    assert posts, "no write was sent"
    assert fresh.ours_proxy.seen == fresh.theirs_proxy.seen
    assert run.stdout.count("sandbox reset first") == 2  # both sides start from the seed
    assert "writes were sent to both deployments" in run.stdout


def test_answers_that_agree_only_in_refusing_are_not_the_same(fresh: Pair) -> None:
    run = fresh.run("--api", "chargebee", "--token", "not-a-key")
    assert run.exit_code == 2, run.stdout + run.stderr
    assert "SAME" not in run.stdout
    assert "not compared (see Reach)" in run.stdout
    assert "every request was refused by authentication" in run.stderr


# --- one behaviour changed at a time -----------------------------------------------------------

EXPECTED = {
    "status": ("status", "sandbox 404, real 410"),
    "dropped-field": (
        "body shape",
        "$.list[].transaction.amount: present in the sandbox, absent in the real answer",
    ),
    "type-change": ("body shape", "$.customer.id: string in the sandbox, number in the real"),
    "error-format": ("error format", "$.error: absent in the sandbox, present in the real"),
    "error-message": (
        "error message",
        '$.message: sandbox "Sorry, we couldn\'t find that resource", real "Something went wrong"',
    ),
    "header": ("headers", "X-Ratelimit-Remaining: absent in the sandbox, present in the real"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_each_changed_behaviour_is_reported_on_its_operation(
    fresh: Pair, change: str, tmp_path: Path
) -> None:
    fresh.theirs_proxy.change = change
    operation = CHANGES[change][0]
    aspect, detail = EXPECTED[change]
    junit, md = tmp_path / "compare.xml", tmp_path / "compare.md"
    run = fresh.run("--api", "chargebee", "--junit", str(junit), "--report", str(md))
    assert run.exit_code == 1, run.stdout + run.stderr
    assert "DIFFERENT:" in run.stdout
    assert detail in run.stdout
    found = failures(junit)
    assert found, "no failure in the JUnit report"
    assert {(classname, name) for classname, name, _ in found} == {
        (f"chargebee.{operation}", aspect)
    }
    assert any(detail in message for _, _, message in found)
    report = md.read_text()
    assert report.startswith("# Fidelity report")
    assert f"Operation: `chargebee {operation}`" in report


def test_the_html_report_shows_both_answers_where_they_differ(fresh: Pair, tmp_path: Path) -> None:
    fresh.theirs_proxy.change = "dropped-field"
    html = tmp_path / "fidelity.html"
    run = fresh.run("--api", "chargebee", "--report", str(html))
    assert run.exit_code == 1, run.stdout + run.stderr
    page = html.read_text()
    assert "<h2>Differences (sandbox vs real)</h2>" in page
    assert "Sandbox: <code>200 $.list[0].transaction.amount = " in page
    assert "Real: <code>200 $.list[0].transaction = {" in page
    assert "curl -X GET" in page and fresh.theirs_url in page


def test_every_aspect_compared_is_documented() -> None:
    table = (ROOT / "docs" / "compare.md").read_text()
    assert ASPECTS and all(f"\n| {aspect} |" in table for aspect in ASPECTS)


def test_the_sandbox_can_be_sent_its_own_credential(fresh: Pair) -> None:
    sandbox_key = "Basic " + base64.b64encode(b"sandbox_api_key:").decode()
    run = fresh.run(
        "--api",
        "chargebee",
        "--token",
        "live_key_of_the_real_system",
        "--sandbox-header",
        f"Authorization: {sandbox_key}",
    )
    assert run.exit_code in (1, 2), run.stdout + run.stderr
    ours = {seen[4] for seen in fresh.ours_proxy.seen}
    theirs = {seen[4] for seen in fresh.theirs_proxy.seen}
    assert sandbox_key in ours and sandbox_key not in theirs
    assert "live_key_of_the_real_system" not in run.stdout  # a --token is a secret


# --- could not compare -------------------------------------------------------------------------


def test_an_unreachable_real_deployment_is_exit_2(fresh: Pair) -> None:
    run = fresh.run(real=f"http://127.0.0.1:{free_port()}")
    assert run.exit_code == 2
    assert run.stderr.startswith("error: cannot reach http://127.0.0.1:")
    assert run.stderr.count("\n") == 1


def test_the_same_url_twice_is_exit_2(fresh: Pair) -> None:
    run = fresh.run(real=fresh.ours_url)
    assert run.exit_code == 2
    assert "nothing to compare" in run.stderr


def test_a_malformed_sandbox_header_is_exit_2(fresh: Pair) -> None:
    run = fresh.run("--sandbox-header", "no colon")
    assert run.exit_code == 2
    assert "--sandbox-header" in run.stderr
