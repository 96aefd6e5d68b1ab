"""Reports render the same contract result: terminal lines, JUnit XML, HTML and Markdown."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from mockyard import reports
from mockyard.contract_events import (
    ApiPlanSummary,
    BaselineEntry,
    CheckTally,
    ContractResult,
    FailureFound,
    OperationReach,
    OperationSkipped,
    OperationTested,
    Outcome,
    RunError,
    RunFinished,
    Target,
)
from mockyard.errors import ContractError

FAILURE = FailureFound(
    api="items",
    operation="GET /items/{id}",
    check="response_schema_conformance",
    code="ST108",
    title="Response violates schema",
    message='"price" is a required property <script>',
    status_code=200,
    response_excerpt='{"id": 1, "name": "a"}',
    curl="curl -X GET -H 'Authorization: Bearer t' http://127.0.0.1:1/items/1",
)


def result(**overrides: object) -> ContractResult:
    fields: dict[str, object] = {
        "target": Target("http://127.0.0.1:1", "127.0.0.1", loopback=True),
        "seed": 7,
        "max_examples": 10,
        "checks": ("all",),
        "phases": ("examples", "fuzzing"),
        "apis": (ApiPlanSummary("items", "spec.yaml", "http://127.0.0.1:1", "--token"),),
        "tallies": (
            CheckTally("items", "GET /items/{id}", "not_a_server_error", 12, 0),
            CheckTally("items", "GET /items/{id}", "response_schema_conformance", 12, 3),
            CheckTally("items", "POST /items", "not_a_server_error", 9, 0),
        ),
        "failures": (FAILURE,),
        "elapsed": 1.5,
    }
    fields.update(overrides)
    return ContractResult(**fields)  # type: ignore[arg-type]


def test_outcome_follows_failures_then_errors() -> None:
    assert result().outcome is Outcome.FAILED
    assert result(failures=()).outcome is Outcome.PASSED
    error = RunError("items", "POST /items", "Network error", "connection reset")
    assert result(failures=(), errors=(error,)).outcome is Outcome.ERRORED
    assert result(failures=(), tallies=()).outcome is Outcome.ERRORED  # nothing tested


def test_terminal_summary_has_table_failure_and_reproduction() -> None:
    text = "\n".join(reports.TerminalReport().lines(RunFinished(result())))
    assert "items GET /items/{id}  not_a_server_error" in text
    assert "1. response_schema_conformance: Response violates schema (ST108)" in text
    assert '"price" is a required property' in text
    assert 'response: 200 {"id": 1, "name": "a"}' in text
    assert "reproduce:\n       curl -X GET" in text
    assert text.rstrip().endswith("(rerun with --seed 7 to repeat this run)")
    assert "FAILED: 1 distinct contract failure (response_schema_conformance)" in text


def test_terminal_progress_names_failed_checks_and_skips() -> None:
    report = reports.TerminalReport()
    tested = OperationTested("items", "fuzzing", "GET /items/{id}", 12, ("not_a_server_error",))
    (line,) = report.lines(tested)
    assert line.startswith("    ✗ GET /items/{id}") and "failed: not_a_server_error" in line
    (line,) = report.lines(OperationSkipped("items", "POST /items", "POST changes state"))
    assert line == "  skipped POST /items: POST changes state"


def test_long_messages_are_cut_in_the_terminal_only() -> None:
    long = FailureFound(**{**FAILURE.__dict__, "message": "\n".join(map(str, range(100)))})
    text = "\n".join(reports.TerminalReport().lines(RunFinished(result(failures=(long,)))))
    assert "… 76 more lines in the --report file" in text
    assert "\n99\n" in reports.markdown.render(result(failures=(long,)))


def test_junit_has_a_case_per_operation_and_check() -> None:
    skipped = (OperationSkipped("items", "DELETE /items/{id}", "not loopback"),)
    root = ET.fromstring(reports.junit.render(result(skipped=skipped)).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "items"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    (failure,) = root.iter("failure")
    assert failure.get("type") == "response_schema_conformance"
    assert "curl -X GET" in (failure.text or "")
    assert [p.get("value") for p in root.iter("property")] == ["http://127.0.0.1:1", "7"]


def test_html_is_self_contained_and_escaped() -> None:
    html = reports.html.render(result())
    assert html.startswith("<!doctype html>") and "<style>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "src=" not in html and "<link" not in html
    assert "curl -X GET -H &#x27;Authorization: Bearer t&#x27;" in html


def test_markdown_has_the_same_content() -> None:
    md = reports.markdown.render(result())
    assert "| `items GET /items/{id}` | not_a_server_error | 12 | 0 |" in md
    assert "|  | response_schema_conformance | 12 | **3** ✗ |" in md
    assert "### 1. response_schema_conformance: Response violates schema (ST108)" in md
    assert "```bash\ncurl -X GET" in md


@pytest.fixture
def custom_format() -> Iterator[None]:
    reports.report_format(".txt")(lambda r: r.target.base_url)
    yield
    reports.unregister(".txt")


def test_formats_are_chosen_by_suffix(custom_format: None) -> None:
    assert reports.writer_for("out.HTML") is reports.html.render
    assert reports.writer_for("out.md") is reports.markdown.render
    assert reports.writer_for("x.txt")(result()) == "http://127.0.0.1:1"
    with pytest.raises(ContractError, match="use a file ending in"):
        reports.writer_for("out.pdf")


REFUSED = OperationReach(
    "items", "POST /items", "http://127.0.0.1:1/items", 9, (("4xx", 9),), 0, 0, "not tested: x"
)
REACHED = OperationReach(
    "items", "GET /items/{id}", "http://127.0.0.1:1/items/{id}", 12, (("2xx", 4), ("4xx", 8)), 0, 12
)


def test_an_untested_operation_is_never_passed() -> None:
    untested = result(failures=(), reach=(REACHED, REFUSED))
    assert untested.outcome is Outcome.ERRORED
    assert result(failures=(), reach=(REACHED,)).outcome is Outcome.PASSED
    text = "\n".join(reports.TerminalReport().lines(RunFinished(untested)))
    assert "http://127.0.0.1:1/items/{id}" in text and "    ✗ not tested: x" in text
    assert "ERROR: 1 operation not tested" in text
    assert reports.error_line(untested) == "items POST /items: not tested: x"
    for page in (reports.markdown.render(untested), reports.html.render(untested)):
        assert "Reach by operation" in page and "http://127.0.0.1:1/items/{id}" in page
    root = ET.fromstring(reports.junit.render(untested).split("\n", 1)[1])
    (error,) = [e for e in root.iter("error") if e.get("type") == "not_tested"]
    assert error.get("message") == "not tested: x"


def test_an_aborted_run_says_so_and_is_not_passed() -> None:
    aborted = result(failures=(), aborted="the target stopped responding")
    assert aborted.outcome is Outcome.ERRORED
    assert reports.error_line(aborted) == "the run was aborted: the target stopped responding"
    assert "ERROR: the run was aborted (the target stopped responding)" in reports.html.render(
        aborted
    )


def test_known_failures_do_not_fail_and_fixed_ones_are_listed() -> None:
    known = FailureFound(**{**FAILURE.__dict__, "known": True})
    entry = BaselineEntry("items", "POST /items", "not_a_server_error", "ServerError", "500")
    done = result(failures=(known,), baseline="base.yaml", fixed=(entry,))
    assert done.outcome is Outcome.PASSED
    text = "\n".join(reports.TerminalReport().lines(RunFinished(done)))
    assert "PASSED: every check passed (1 known failure in the baseline)" in text
    assert "Known failures (listed in base.yaml" in text and "\nFailures:" not in text
    assert "Fixed since base.yaml" in text and "not_a_server_error" in text
    root = ET.fromstring(reports.junit.render(done).split("\n", 1)[1])
    assert root.get("failures") == "0" and root.get("skipped") == "1"
