"""What a contract run reports: typed events, in the order `contract.run` yields them.

    RunStarted
      ApiStarted                   once per API (or per `--spec` file)
        SandboxReset               a local sandbox was reseeded before the API's run
        OperationSkipped*          operations that were not sent (mutations against a remote target)
        PhaseStarted
          OperationTested*         one operation done in a phase (examples, coverage, fuzzing)
          FailureFound*            each distinct failure, as soon as it is seen
          RunError*                an operation or phase that could not be tested
        PhaseFinished
      ApiFinished
    RunFinished                    carries the whole `ContractResult`

Reporters consume these; the events hold plain data (no Schemathesis objects), so a reporter
needs nothing but this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    """How a run ended: every check passed, a contract failure was found, or it could not test."""

    PASSED = "passed"
    FAILED = "failed"
    ERRORED = "errored"


@dataclass(frozen=True)
class Target:
    """Where the run sends its requests, and what the engine learned about it without testing."""

    base_url: str
    host: str
    loopback: bool
    sandbox: bool = False
    sandbox_apis: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiPlanSummary:
    """One API (or `--spec` file) as the run tests it."""

    api: str
    spec: str
    base_url: str
    credentials: str
    reset: bool = False
    calibration: str = "none: Schemathesis's defaults"
    # Environment variables the reproduce lines read the run's secrets from.
    reproduce_env: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckTally:
    """How often one check ran on one operation's cases, and how often it failed."""

    api: str
    operation: str
    check: str
    cases: int
    failures: int


@dataclass(frozen=True)
class RunStarted:
    """The run's settings, before any request."""

    target: Target
    seed: int
    max_examples: int
    checks: tuple[str, ...]
    phases: tuple[str, ...]
    workers: int


@dataclass(frozen=True)
class ApiStarted:
    """One API's run begins."""

    plan: ApiPlanSummary


@dataclass(frozen=True)
class SandboxReset:
    """The local sandbox was reseeded (POST /__mockyard/reset) so the run is reproducible."""

    api: str
    url: str


@dataclass(frozen=True)
class OperationSkipped:
    """An operation the run does not send, and why."""

    api: str
    operation: str
    reason: str


@dataclass(frozen=True)
class PhaseStarted:
    """A Schemathesis phase (examples, coverage, fuzzing, stateful) begins for an API."""

    api: str
    phase: str


@dataclass(frozen=True)
class OperationTested:
    """One operation went through one phase; `failed_checks` names the checks that failed."""

    api: str
    phase: str
    operation: str
    cases: int
    failed_checks: tuple[str, ...] = ()
    skip_reason: str | None = None


@dataclass(frozen=True)
class FailureFound:
    """A distinct contract failure: which check, what it expected and saw, how to reproduce it."""

    api: str
    operation: str
    check: str
    code: str
    title: str
    message: str
    status_code: int | None
    response_excerpt: str
    curl: str
    severity: str = "medium"


@dataclass(frozen=True)
class RunError:
    """Something that kept an operation (or a phase) from being tested."""

    api: str
    where: str
    title: str
    message: str


@dataclass(frozen=True)
class PhaseFinished:
    """A phase ended for an API; stateful progress is told here (its sequences span operations)."""

    api: str
    phase: str
    status: str
    cases: int = 0
    scenarios: int = 0
    skip_reason: str | None = None


@dataclass(frozen=True)
class ApiFinished:
    """One API's run ended."""

    api: str
    cases: int
    failures: int
    elapsed: float


@dataclass(frozen=True)
class ContractResult:
    """Everything a report shows: the plan, the operation x check table, failures, skips, errors."""

    target: Target
    seed: int
    max_examples: int
    checks: tuple[str, ...]
    phases: tuple[str, ...]
    apis: tuple[ApiPlanSummary, ...] = ()
    tallies: tuple[CheckTally, ...] = ()
    failures: tuple[FailureFound, ...] = ()
    skipped: tuple[OperationSkipped, ...] = ()
    errors: tuple[RunError, ...] = ()
    elapsed: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def cases(self) -> int:
        """Check executions across the run (a case checked by 12 checks counts 12 times)."""
        return sum(t.cases for t in self.tallies)

    @property
    def outcome(self) -> Outcome:
        if self.failures:
            return Outcome.FAILED
        if self.errors or not self.tallies:
            return Outcome.ERRORED
        return Outcome.PASSED


@dataclass(frozen=True)
class RunFinished:
    """The run is over; `result` holds what every report needs."""

    result: ContractResult


Event = (
    RunStarted
    | ApiStarted
    | SandboxReset
    | OperationSkipped
    | PhaseStarted
    | OperationTested
    | FailureFound
    | RunError
    | PhaseFinished
    | ApiFinished
    | RunFinished
)
