"""Schemathesis engine events -> mockyard contract events, and the book of what a run saw.

`Translator` follows one API's engine run: progress per operation and phase, each distinct
failure (deduplicated by Schemathesis's failure identity, with the smallest reproduction seen),
errors, and what every request reached (`contract_reach`). `Book` keeps all of it across APIs and
makes the final `ContractResult`, also for a run that stopped early.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from mockyard.contract_baseline import Baseline, compare
from mockyard.contract_credentials import Secrets
from mockyard.contract_events import (
    ApiPlanSummary,
    BaselineEntry,
    CheckTally,
    ContractResult,
    Event,
    FailureFound,
    OperationReach,
    OperationSkipped,
    OperationTested,
    PhaseFinished,
    PhaseStarted,
    RunError,
    RunStarted,
)
from mockyard.contract_reach import Reach
from mockyard.errors import ContractError

_EXCERPT = 500


class Book:
    """What the run has seen so far, across APIs: tallies, distinct failures, skips, errors."""

    def __init__(self, baseline: Baseline | None = None) -> None:
        self.baseline = baseline
        self.apis: list[ApiPlanSummary] = []
        self.tallies: dict[tuple[str, str, str], list[int]] = {}
        self.failures: list[FailureFound] = []
        self.failure_keys: set[tuple[str, str, Any]] = set()
        self.skipped: list[OperationSkipped] = []
        self.errors: list[RunError] = []
        self.reach: list[OperationReach] = []
        self.aborted = ""
        self.interrupted = False

    def count(self, api: str, operation: str, check: str, failed: bool) -> None:
        tally = self.tallies.setdefault((api, operation, check), [0, 0])
        tally[0] += 1
        tally[1] += int(failed)

    def abort(self, api: str, reason: str) -> RunError:
        """The run stops here; what it gathered is still reported."""
        self.aborted = self.aborted or reason
        error = RunError(api, "run", "Run aborted", reason)
        self.errors.append(error)
        return error

    def result(self, run: RunStarted, elapsed: float, notes: tuple[str, ...]) -> ContractResult:
        tallies = tuple(
            CheckTally(api, op, check, cases, failures)
            for (api, op, check), (cases, failures) in sorted(self.tallies.items())
        )
        fixed: tuple[BaselineEntry, ...] = ()
        unchecked: tuple[BaselineEntry, ...] = ()
        if self.baseline is not None:
            checked = {(t.api, t.operation, t.check) for t in tallies if t.cases}
            fixed, unchecked = compare(self.baseline, self.failures, checked)
        return ContractResult.from_start(
            run,
            apis=tuple(self.apis),
            tallies=tallies,
            failures=tuple(self.failures),
            skipped=tuple(self.skipped),
            errors=tuple(self.errors),
            elapsed=elapsed,
            notes=notes,
            reach=tuple(self.reach),
            aborted=self.aborted,
            interrupted=self.interrupted,
            baseline=self.baseline.path if self.baseline else "",
            fixed=fixed,
            unchecked=unchecked,
        )


class Translator:
    """Schemathesis engine events -> mockyard contract events, for one API."""

    def __init__(
        self,
        api: str,
        book: Book,
        secrets: Secrets,
        reach: Reach,
        *,
        operations_skipped: bool = False,
    ) -> None:
        self.api = api
        self.book = book
        self.secrets = secrets
        self.reach = reach
        self.operations_skipped = operations_skipped
        self.stateful_skip: str | None = None
        self.cases = 0
        self.failures = 0
        self.stateful_cases = 0
        self.stateful_scenarios = 0

    def translate(self, event: Any) -> Iterator[Event]:
        from schemathesis.core.errors import NoLinksFound
        from schemathesis.engine import StopReason, events
        from schemathesis.engine.run import TESTING_PHASES, PhaseName, PhaseSkipReason

        if isinstance(event, events.PhaseStarted) and event.phase.name in TESTING_PHASES:
            if event.phase.skip_reason is not PhaseSkipReason.DISABLED:  # not asked for: silent
                yield PhaseStarted(self.api, event.phase.name.value)
        elif isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            self.reach.record(event.recorder)
            found = list(self._record(event.recorder))
            cases = len(event.recorder.cases)
            if event.phase is PhaseName.STATEFUL_TESTING:
                self.stateful_cases += cases
                self.stateful_scenarios += 1
            elif event.label:
                failed = tuple(sorted({f.check for f in found}))
                yield OperationTested(
                    self.api, event.phase.value, event.label, cases, failed, event.skip_reason
                )
            yield from found
        elif isinstance(event, events.PhaseFinished) and event.phase.name in TESTING_PHASES:
            yield from self._phase_finished(event)
        elif (
            isinstance(event, events.NonFatalError)
            and isinstance(event.value, NoLinksFound)
            and self.operations_skipped
        ):
            # Expected, not an error: the links lead to operations this run skips.
            self.stateful_skip = "every link leads to an operation a read-only run skips"
        elif isinstance(event, events.NonFatalError):
            message = _one_line(self.secrets.mask(event.info.message))
            error = RunError(self.api, event.label, event.info.title, message)
            self.book.errors.append(error)
            yield error
        elif isinstance(event, events.FatalError):
            raise ContractError(f"{self.api}: {_one_line(self.secrets.mask(str(event.exception)))}")
        elif isinstance(event, events.Interrupted):
            raise KeyboardInterrupt
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                yield from self._failure("after_run", failure, None, "")
            if event.stop_reason is StopReason.SERVER_UNAVAILABLE:
                yield self.book.abort(self.api, "the target stopped responding")

    def _phase_finished(self, event: Any) -> Iterator[Event]:
        from schemathesis.engine.run import PhaseName, PhaseSkipReason

        reason = event.phase.skip_reason
        if reason is PhaseSkipReason.DISABLED:
            return
        stateful = event.phase.name is PhaseName.STATEFUL_TESTING
        status = event.status.value
        shown = reason.display if reason is not None else None
        if stateful and self.stateful_skip:
            status, shown = "skip", self.stateful_skip
        elif stateful and reason is PhaseSkipReason.NOT_APPLICABLE:
            shown = "the spec has no OpenAPI links to follow"
        yield PhaseFinished(
            self.api,
            event.phase.name.value,
            status,
            self.stateful_cases if stateful else 0,
            self.stateful_scenarios if stateful else 0,
            shown,
        )

    def _record(self, recorder: Any) -> Iterator[FailureFound]:
        from schemathesis.engine import Status

        candidates: dict[tuple[str, Any], tuple[Any, str, str]] = {}
        for case_id, nodes in recorder.checks.items():
            node = recorder.cases.get(case_id)
            operation = node.value.operation.label if node is not None else recorder.label
            self.cases += 1
            for check in nodes:
                failed = check.status == Status.FAILURE
                self.book.count(self.api, operation, check.name, failed)
                if not failed or check.failure_info is None:
                    continue
                info = check.failure_info
                curl = "\n".join(s.curl for s in info.steps) if len(info.steps) > 1 else ""
                curl = curl or info.code_sample
                key = (check.name, info.failure)
                known = candidates.get(key)
                # Keep the smallest reproduction seen (the failing inputs are not shrunk when
                # generation goes on after a failure).
                if known is None or len(curl) < len(known[1]):
                    candidates[key] = (info.failure, curl, case_id)
        for (check_name, _), (failure, curl, case_id) in candidates.items():
            response = recorder.find_response(case_id=failure.case_id or case_id)
            yield from self._failure(check_name, failure, response, curl)

    def _failure(
        self, check: str, failure: Any, response: Any, curl: str
    ) -> Iterator[FailureFound]:
        from schemathesis.baseline import failure_identity

        key = (self.api, check, failure)
        if key in self.book.failure_keys:
            return
        self.book.failure_keys.add(key)
        self.failures += 1
        excerpt = ""
        if response is not None:
            excerpt = response.content[:_EXCERPT].decode("utf-8", "replace")
        _, _, failure_type, signature = failure_identity(failure, check)
        found = FailureFound(
            api=self.api,
            operation=failure.operation or "run",
            check=check,
            code=failure.code,
            title=failure.title,
            message=self.secrets.mask(failure.message.strip()),
            status_code=response.status_code if response is not None else None,
            response_excerpt=self.secrets.mask(excerpt),
            curl=self.secrets.mask(curl),
            severity=str(failure.severity.value),
            failure_type=failure_type,
            signature=self.secrets.mask(signature),
        )
        if self.book.baseline is not None and self.book.baseline.lists(found):
            found = dataclasses.replace(found, known=True)
        self.book.failures.append(found)
        yield found


def _one_line(text: str) -> str:
    return " ".join(text.split())
