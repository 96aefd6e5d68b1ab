"""Terminal output for a contract run: progress as events arrive, then the table and failures.

`TerminalReport.lines(event)` returns the lines to show for one event; the CLI echoes them.
"""

from __future__ import annotations

from functools import singledispatchmethod

from mockyard.contract_events import (
    ApiFinished,
    ApiStarted,
    ContractResult,
    DifferenceFound,
    Event,
    FailureFound,
    OperationSkipped,
    OperationTested,
    PhaseFinished,
    PhaseStarted,
    RunError,
    RunFinished,
    RunStarted,
    SandboxReset,
)
from mockyard.reports import _text

MAX_MESSAGE_LINES = 24


class TerminalReport:
    """Lines for the terminal; keeps no state but whether the run is a comparison."""

    def __init__(self, *, max_message_lines: int = MAX_MESSAGE_LINES) -> None:
        self.max_message_lines = max_message_lines
        self.comparing = False  # the run is a comparison: its findings are differences

    def lines(self, event: Event) -> list[str]:
        return self._lines(event)

    @singledispatchmethod
    def _lines(self, event: object) -> list[str]:
        return []

    @_lines.register
    def _(self, event: RunStarted) -> list[str]:
        target, settings = event.target, _text.settings_line(ContractResult.from_start(event))
        self.comparing = event.reference is not None
        if event.reference is not None:
            real = event.reference
            return [
                f"mockyard compare: sandbox {target.base_url}  ({_text.describe_target(target)})",
                f"              vs real {real.base_url}  ({_text.describe_target(real)})",
                f"  {settings}",
            ]
        return [
            f"mockyard contract → {target.base_url}  ({_text.describe_target(target)})",
            f"  {settings} · workers {event.workers}",
        ]

    @_lines.register
    def _(self, event: ApiStarted) -> list[str]:
        plan = event.plan
        lines = ["", f"{plan.api}: {plan.spec} against {plan.base_url}"]
        return lines + [f"  {line}" for line in _text.plan_lines(plan)]

    @_lines.register
    def _(self, event: SandboxReset) -> list[str]:
        return [f"  sandbox reset first (POST {event.url}), so the run is reproducible"]

    @_lines.register
    def _(self, event: OperationSkipped) -> list[str]:
        return [f"  skipped {event.operation}: {event.reason}"]

    @_lines.register
    def _(self, event: PhaseStarted) -> list[str]:
        return [f"  {event.phase}"]

    @_lines.register
    def _(self, event: OperationTested) -> list[str]:
        if event.skip_reason and not event.cases:
            return [f"    - {event.operation:<52} skipped: {event.skip_reason}"]
        mark = "✗" if event.failed_checks else "✓"
        noun = "request" if event.phase == "compare" else "case"
        cases = f"{event.cases} {noun}{'s' if event.cases != 1 else ''}"
        verb = "differs" if event.phase == "compare" else "failed"
        failed = f"  {verb}: {', '.join(event.failed_checks)}" if event.failed_checks else ""
        return [f"    {mark} {event.operation:<52} {cases:>10}{failed}"]

    @_lines.register
    def _(self, event: FailureFound) -> list[str]:
        return [f"      found: {event.check} on {event.operation} ({event.title})"]

    @_lines.register
    def _(self, event: DifferenceFound) -> list[str]:
        return [f"      differs: {event.aspect}: {event.detail} ({event.count} requests)"]

    @_lines.register
    def _(self, event: RunError) -> list[str]:
        return [f"    ! {event.where}: {event.title}: {event.message}"]

    @_lines.register
    def _(self, event: PhaseFinished) -> list[str]:
        if event.skip_reason and event.status == "skip":
            return [f"    - {event.phase} skipped: {event.skip_reason}"]
        if event.phase != "stateful":
            return []
        mark = "✓" if event.status == "success" else "✗"
        return [f"    {mark} {event.cases} cases in {event.scenarios} linked sequences"]

    @_lines.register
    def _(self, event: ApiFinished) -> list[str]:
        untested = [r for r in event.reach if not r.tested]
        noun = "difference(s)" if self.comparing else "failure(s)"
        lines = [f"  {event.api}: {event.failures} {noun}, {event.elapsed:.1f} s"]
        if untested:
            lines[0] += f", {len(untested)} operation(s) not tested"
        return lines

    @_lines.register
    def _(self, event: RunFinished) -> list[str]:
        return self.summary(event.result)

    def summary(self, result: ContractResult) -> list[str]:
        heading, check_name, cases_name, failures_name = _text.columns(result)
        out = ["", f"{heading} {_text.table_legend(result)}"]
        rows = list(_text.table_rows(result.tallies))
        width = max([len(r[0]) for r in rows] + [9])
        check_width = max([len(r[1]) for r in rows] + [len(check_name)])
        count_width = max(len(cases_name), 6)
        out.append(
            f"  {'operation':<{width}}  {check_name:<{check_width}}  "
            f"{cases_name:>{count_width}}  {failures_name}"
        )
        for operation, check, cases, failures in rows:
            flag = "  ✗" if failures else ""
            out.append(
                f"  {operation:<{width}}  {check:<{check_width}}  {cases:>{count_width}}  "
                f"{failures:>{len(failures_name)}}{flag}"
            )
        out += self._reach(result)
        for heading, items in _text.listings(result):
            out += ["", f"{heading}:"]
            out += [f"  {item}" for item in items]
        if result.new_failures:
            out += ["", "Failures:"]
            if _text.reproduce_note(result):
                out.append(f"  {_text.reproduce_note(result)}")
            for index, failure in enumerate(result.new_failures, 1):
                out += self._failure(index, failure)
        if result.differences:
            out += ["", "Differences (sandbox vs real; each with the first request showing it):"]
            for index, difference in enumerate(result.differences, 1):
                out += self._difference(index, difference)
        for note in result.notes:
            out += ["", f"Note: {note}"]
        out += ["", _text.verdict(result)]
        if result.max_examples:  # a run that generated its cases can be repeated
            out.append(f"(rerun with --seed {result.seed} to repeat this run)")
        return out

    def _reach(self, result: ContractResult) -> list[str]:
        rows = list(_text.reach_rows(result))
        if not rows:
            return []
        width = max(len(f"{r.api} {r.operation}") for r, _ in rows)
        head = "  ".join(f"{c:>9}" for c in _text.REACH_COLUMNS)
        out = ["", "Reach by operation (requests by status class; past auth: not 401/403)"]
        out.append(f"  {'operation':<{width}}  {head}")
        for reach, numbers in rows:
            figures = "  ".join(f"{n:>9}" for n in numbers)
            out.append(f"  {reach.api + ' ' + reach.operation:<{width}}  {figures}")
            out.append(f"    {reach.url}")
            if reach.verdict:
                out.append(f"    ✗ {reach.verdict}")
        return out

    def _difference(self, index: int, difference: DifferenceFound) -> list[str]:
        return [
            "",
            f"  {_text.difference_heading(index, difference)}",
            f"     operation: {_text.operation_name(difference.api, difference.operation)}",
            "     sandbox: "
            + _text.answer_line(difference.sandbox_status, difference.sandbox_excerpt),
            f"     real:    {_text.answer_line(difference.real_status, difference.real_excerpt)}",
            "     reproduce (against the real deployment):",
            *(f"       {line}" for line in difference.curl.splitlines()),
        ]

    def _failure(self, index: int, failure: FailureFound) -> list[str]:
        out = [
            "",
            f"  {_text.failure_heading(index, failure)}",
            f"     operation: {_text.operation_name(failure.api, failure.operation)}",
            "     expected vs seen:",
        ]
        message = failure.message.splitlines() or [failure.title]
        shown = message[: self.max_message_lines]
        out += [f"       {line}" for line in shown]
        if len(message) > len(shown):
            out.append(f"       … {len(message) - len(shown)} more lines in the --report file")
        out.append(f"     response: {_text.response_line(failure)}")
        if failure.curl:
            out.append("     reproduce:")
            out += [f"       {line}" for line in failure.curl.splitlines()]
        return out
