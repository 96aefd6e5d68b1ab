"""Wording shared by every report, so the terminal, Markdown, HTML and JUnit say the same thing."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

from mockyard.contract_events import (
    CheckTally,
    ContractResult,
    FailureFound,
    Outcome,
    Target,
)


def describe_target(target: Target) -> str:
    kind = "loopback" if target.loopback else "remote: not a loopback address"
    if target.sandbox:
        kind += ", a mockyard sandbox"
    return kind


def settings_line(result: ContractResult) -> str:
    return (
        f"seed {result.seed} · up to {result.max_examples} examples per operation · "
        f"checks: {', '.join(result.checks)} · phases: {', '.join(result.phases)}"
    )


def verdict(result: ContractResult) -> str:
    operations = len({(t.api, t.operation) for t in result.tallies})
    checks = len({t.check for t in result.tallies})
    tested = (
        f"{_plural(operations, 'operation')}, {_plural(checks, 'check')}, "
        f"{_plural(result.cases, 'check run')}"
    )
    took = f"{result.elapsed:.1f} s"
    if result.outcome is Outcome.FAILED:
        names = ", ".join(sorted({f.check for f in result.failures}))
        count = len(result.failures)
        noun = "failure" if count == 1 else "failures"
        return f"FAILED: {count} distinct contract {noun} ({names}); {tested} in {took}"
    if result.outcome is Outcome.ERRORED:
        if not result.tallies:
            return "ERROR: nothing was tested"
        return f"ERROR: {len(result.errors)} problem(s) kept parts of the API untested; {tested}"
    return f"PASSED: every check passed; {tested} in {took}"


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
