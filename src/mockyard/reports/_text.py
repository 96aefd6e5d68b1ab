"""Wording shared by every report, so the terminal, Markdown, HTML and JUnit say the same thing."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

from mockyard.contract_events import (
    ApiPlanSummary,
    BaselineEntry,
    CheckTally,
    ContractResult,
    DifferenceFound,
    FailureFound,
    OperationReach,
    Outcome,
    Target,
)


def describe_target(target: Target) -> str:
    kind = "loopback" if target.loopback else "remote: not a loopback address"
    if target.sandbox:
        kind += ", a mockyard sandbox"
    elif target.guarded:
        kind += ", a mockyard sandbox that needs its admin token"
    return kind


def plan_lines(plan: ApiPlanSummary) -> list[str]:
    """What each report says about how one API is tested."""
    lines = [f"credentials: {plan.credentials}", f"calibration: {plan.calibration}"]
    if plan.read_only:
        left_out = f" (values left out: {'; '.join(plan.narrowed)})" if plan.narrowed else ""
        lines.append(f"read-only: nothing that can change state is sent{left_out}")
    return lines


def title(result: ContractResult) -> str:
    return "Fidelity report" if result.is_comparison else "Contract test report"


def targets(result: ContractResult) -> list[tuple[str, Target]]:
    """(role, target): the one target of a contract run, or a comparison's two."""
    if result.reference is None:
        return [("Target", result.target)]
    return [("Sandbox", result.target), ("Real", result.reference)]


def settings_line(result: ContractResult) -> str:
    if result.is_comparison:
        return (
            f"seed {result.seed} · the spec's examples, then up to {result.max_examples} cases "
            f"per generation mode and operation · compared: {', '.join(result.checks)}"
        )
    if not result.max_examples:  # observed traffic (`mockyard proxy`): nothing was generated
        return f"checks: {', '.join(result.checks)} · phases: {', '.join(result.phases)}"
    return (
        f"seed {result.seed} · up to {result.max_examples} examples per operation · "
        f"checks: {', '.join(result.checks)} · phases: {', '.join(result.phases)}"
    )


def columns(result: ContractResult) -> tuple[str, str, str, str]:
    """The results table's heading and the names of its check, cases and failures columns."""
    if result.is_comparison:
        return ("Answers compared by operation and aspect", "aspect", "requests", "differing")
    return ("Results by operation and check", "check", "cases", "failures")


def table_legend(result: ContractResult) -> str:
    """What the terminal table's two numbers are."""
    return "(requests, differing)" if result.is_comparison else "(cases run, failures)"


def _comparison_verdict(result: ContractResult) -> str:
    operations = len({(t.api, t.operation) for t in result.tallies})
    requests = {(t.api, t.operation): t.cases for t in result.tallies}
    sent = sum(requests.values())
    compared = f"{_plural(sent, 'request')} to {_plural(operations, 'operation')}"
    took = f"{result.elapsed:.1f} s"
    if result.outcome is Outcome.FAILED:
        aspects = ", ".join(dict.fromkeys(d.aspect for d in result.differences))
        where = len({(d.api, d.operation) for d in result.differences})
        line = (
            f"DIFFERENT: {_plural(len(result.differences), 'distinct difference')} ({aspects}) "
            f"on {_plural(where, 'operation')}; {compared} in {took}"
        )
        if result.untested:
            line += f"; {_plural(len(result.untested), 'operation')} not compared"
        return line
    if result.outcome is Outcome.ERRORED:
        return _error_verdict(result, compared, took, "compared")
    return f"SAME: every answer alike in the compared aspects; {compared} in {took}"


def verdict(result: ContractResult) -> str:
    if result.is_comparison:
        return _comparison_verdict(result)
    operations = len({(t.api, t.operation) for t in result.tallies})
    checks = len({t.check for t in result.tallies})
    tested = (
        f"{_plural(operations, 'operation')}, {_plural(checks, 'check')}, "
        f"{_plural(result.cases, 'check run')}"
    )
    took = f"{result.elapsed:.1f} s"
    known = result.known_failures
    also = f" ({_plural(len(known), 'known failure')} in the baseline)" if known else ""
    if result.outcome is Outcome.FAILED:
        failures = result.new_failures
        names = ", ".join(sorted({f.check for f in failures}))
        count = len(failures)
        noun = "failure" if count == 1 else "failures"
        new = " new" if result.baseline else ""
        line = f"FAILED: {count}{new} distinct contract {noun} ({names}){also}; {tested} in {took}"
        if result.untested:
            line += f"; {_plural(len(result.untested), 'operation')} not tested"
        if result.aborted:
            line += f"; the run was aborted: {result.aborted}"
        return line
    if result.outcome is Outcome.ERRORED:
        return _error_verdict(result, tested, took, "tested", also)
    return f"PASSED: every check passed{also}; {tested} in {took}"


def _error_verdict(result: ContractResult, done: str, took: str, verb: str, also: str = "") -> str:
    """Why a run could not test (`verb` "tested") or a comparison compare ("compared")."""
    run = "comparison" if result.is_comparison else "run"
    if result.aborted:
        return f"ERROR: the {run} was aborted ({result.aborted}); {done} before it stopped"
    if result.untested:
        untested = _plural(len(result.untested), "operation")
        return f"ERROR: {untested} not {verb} (see Reach){also}; {done} in {took}"
    if not result.tallies:
        return f"ERROR: nothing was {verb}"
    return f"ERROR: {len(result.errors)} problem(s) kept parts of the API un{verb}; {done}"


def error_line(result: ContractResult) -> str:
    """Why a run that could not test did not, in one line for stderr."""
    if result.aborted:
        return f"the run was aborted: {result.aborted}"
    if result.untested:
        first = result.untested[0]
        more = len(result.untested) - 1
        rest = f" (and {_plural(more, 'more operation')})" if more else ""
        return f"{first.api} {first.operation}: {first.verdict}{rest}"
    if result.errors:
        return result.errors[0].message
    return "nothing was tested"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def operation_name(api: str, operation: str) -> str:
    return f"{api} {operation}"


def table_rows(tallies: tuple[CheckTally, ...]) -> Iterator[tuple[str, str, int, int]]:
    """(operation, check, cases, failures), the operation named on its group's first row only."""
    for (api, operation), group in groupby(tallies, key=lambda t: (t.api, t.operation)):
        for index, tally in enumerate(group):
            name = operation_name(api, operation) if index == 0 else ""
            yield name, tally.check, tally.cases, tally.failures


def failure_heading(index: int, failure: FailureFound) -> str:
    return f"{index}. {failure.check}: {failure.title} ({failure.code})"


def response_line(failure: FailureFound) -> str:
    if failure.status_code is None:
        return "no response recorded"
    excerpt = " ".join(failure.response_excerpt.split())
    if len(excerpt) > 200:
        excerpt = excerpt[:200] + "…"
    return f"{failure.status_code} {excerpt}".rstrip()


def skipped_summary(result: ContractResult) -> list[str]:
    return [f"{s.api} {s.operation}: {s.reason}" for s in result.skipped]


REACH_COLUMNS = ("requests", "2xx", "3xx", "4xx", "5xx", "no answer", "past auth")


def reach_rows(result: ContractResult) -> Iterator[tuple[OperationReach, tuple[int, ...]]]:
    """Each operation's reach with its numbers in `REACH_COLUMNS` order."""
    for reach in result.reach:
        classes = dict(reach.by_class)
        numbers = (
            reach.requests,
            *(classes.get(c, 0) for c in ("2xx", "3xx", "4xx", "5xx")),
            reach.unanswered,
            reach.past_auth,
        )
        yield reach, numbers


def listings(result: ContractResult) -> list[tuple[str, list[str]]]:
    """The report's lists, (heading, items), in order; empty ones left out."""
    baseline = result.baseline
    found = [
        (
            "Not compared" if result.is_comparison else "Not tested",
            [f"{r.api} {r.operation}: {r.verdict}" for r in result.untested],
        ),
        ("Skipped operations", skipped_summary(result)),
        (
            "Errors (these parts could not be tested)",
            [f"{e.api} {e.where}: {e.title}: {e.message}" for e in result.errors],
        ),
        (
            f"Known failures (listed in {baseline}; they do not fail the run)",
            [_known(f) for f in result.known_failures],
        ),
        (f"Fixed since {baseline} (listed, no longer found)", [_entry(e) for e in result.fixed]),
        (
            f"Listed in {baseline} but not checked by this run",
            [_entry(e) for e in result.unchecked],
        ),
    ]
    return [(heading, items) for heading, items in found if items]


def _known(failure: FailureFound) -> str:
    return f"{failure.api} {failure.operation}: {failure.check}: {failure.title} ({failure.code})"


def _entry(entry: BaselineEntry) -> str:
    title = f": {entry.title}" if entry.title else ""
    identity = f"{entry.failure} {entry.signature}".strip()
    return f"{entry.api} {entry.operation}: {entry.check}{title} ({identity})"


def reproduce_note(result: ContractResult) -> str:
    """Which environment variables the reproduce lines read, or "" when they need none."""
    names = list(dict.fromkeys(v for plan in result.apis for v in plan.reproduce_env))
    if not names:
        return ""
    listed = " and ".join(f"${name}" for name in names)
    return (
        f"The reproduce lines read the credentials you passed from {listed}; set "
        f"{'it' if len(names) == 1 else 'them'} before running them (e.g. "
        f"export {names[0]}=...)."
    )


def difference_heading(index: int, difference: DifferenceFound) -> str:
    seen = _plural(difference.count, "request")
    return f"{index}. {difference.aspect}: {difference.detail} ({seen})"


def answer_line(status: int | None, excerpt: str) -> str:
    text = " ".join(excerpt.split())
    if len(text) > 200:
        text = text[:200] + "…"
    return f"{status if status is not None else '-'} {text}".rstrip()
