"""What a contract run reports: typed events, in the order `contract.run` yields them.

    RunStarted
      ApiStarted                   once per API (or per `--spec` file)
        SandboxReset               a sandbox was reseeded before the API's run
        OperationSkipped*          operations that were not sent (a read-only run's writes)
        PhaseStarted
          OperationTested*         one operation done in a phase (examples, coverage, fuzzing)
          FailureFound*            each distinct failure, as soon as it is seen
          RunError*                an operation or phase that could not be tested
        PhaseFinished
      ApiFinished                  with what each operation's requests reached
    RunFinished                    carries the whole `ContractResult`, also after an abort

A comparison (`mockyard compare`) tells the same story with `RunStarted.reference` set (the real
deployment), one `OperationTested` per operation (phase "compare") and a `DifferenceFound` for
each distinct way the real deployment answered the same request differently.

Reporters consume these; the events hold plain data (no Schemathesis objects), so a reporter
needs nothing but this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
    # A mockyard sandbox whose admin API refused us for want of its admin token.
    guarded: bool = False


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
    read_only: bool = False
    narrowed: tuple[str, ...] = ()  # parameter values a read-only run does not send


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
    reference: Target | None = None  # a comparison's real deployment (`target` is the sandbox)


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
    # Schemathesis's identity of the failure (with api, operation and check): what dedups it
    # and what a baseline records.
    failure_type: str = ""
    signature: str = ""
    known: bool = False  # listed in the --baseline: reported, but does not fail the run


@dataclass(frozen=True)
class DifferenceFound:
    """A distinct way the real deployment answered differently from the sandbox (see
    `compare_diff`): first seen on the request `curl` reproduces; `count` requests showed it."""

    api: str
    operation: str
    aspect: str  # status, body shape, error format, error message, headers
    detail: str
    count: int
    sandbox_status: int | None
    real_status: int | None
    sandbox_excerpt: str
    real_excerpt: str
    curl: str


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
class OperationReach:
    """What one operation's requests reached; `verdict` says why it was not tested, if so."""

    api: str
    operation: str
    url: str  # the effective URL, base URL and mount prefix included
    requests: int
    by_class: tuple[tuple[str, int], ...]  # (("2xx", 12), ("4xx", 30))
    unanswered: int
    past_auth: int  # answered with anything but 401 or 403
    verdict: str = ""

    @property
    def tested(self) -> bool:
        return not self.verdict


@dataclass(frozen=True)
class BaselineEntry:
    """A failure a `--baseline` file lists: its identity (see `contract_baseline`)."""

    api: str
    operation: str
    check: str
    failure: str
    signature: str
    title: str = ""


@dataclass(frozen=True)
class ApiFinished:
    """One API's run ended."""

    api: str
    cases: int
    failures: int
    elapsed: float
    reach: tuple[OperationReach, ...] = ()


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
    reach: tuple[OperationReach, ...] = ()
    aborted: str = ""  # why the run stopped before its end ("" when it ran to the end)
    interrupted: bool = False  # stopped by Ctrl-C
    baseline: str = ""  # the --baseline file, if one was given
    fixed: tuple[BaselineEntry, ...] = ()  # in the baseline, checked again, no longer seen
    unchecked: tuple[BaselineEntry, ...] = ()  # in the baseline, not checked by this run
    reference: Target | None = None  # a comparison's real deployment
    differences: tuple[DifferenceFound, ...] = ()

    @property
    def is_comparison(self) -> bool:
        return self.reference is not None

    @classmethod
    def from_start(cls, started: RunStarted, **found: Any) -> ContractResult:
        """The result of the run `started` announced, with what it `found`."""
        return cls(
            target=started.target,
            seed=started.seed,
            max_examples=started.max_examples,
            checks=started.checks,
            phases=started.phases,
            reference=started.reference,
            **found,
        )

    @property
    def cases(self) -> int:
        """Check executions across the run (a case checked by 12 checks counts 12 times)."""
        return sum(t.cases for t in self.tallies)

    @property
    def new_failures(self) -> tuple[FailureFound, ...]:
        """The failures that fail the gate: every one, or those a baseline does not list, but
        for those of an operation the run did not reach (every answer a refusal, or the same
        404: what they found is the misconfiguration the untested verdict names, exit 2)."""
        unreached = {(r.api, r.operation) for r in self.untested}
        return tuple(
            f for f in self.failures if not f.known and (f.api, f.operation) not in unreached
        )

    @property
    def known_failures(self) -> tuple[FailureFound, ...]:
        return tuple(f for f in self.failures if f.known)

    @property
    def untested(self) -> tuple[OperationReach, ...]:
        return tuple(r for r in self.reach if not r.tested)

    @property
    def outcome(self) -> Outcome:
        """FAILED on a contract failure (not in the baseline) or a difference; else ERRORED when
        anything kept the run from testing (an error, an untested operation, an abort, nothing
        tested)."""
        if self.new_failures or self.differences:
            return Outcome.FAILED
        if self.errors or self.untested or self.aborted or not self.tallies:
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
    | DifferenceFound
    | RunError
    | PhaseFinished
    | ApiFinished
    | RunFinished
)
