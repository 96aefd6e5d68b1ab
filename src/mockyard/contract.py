"""Contract runs: Schemathesis's engine and checks against any deployment, reported as events.

`run(config)` checks the target, plans each API (see `contract_plan`), drives Schemathesis's
engine once per API and turns its event stream into `contract_events`: progress per operation,
each distinct failure with a reproducing `curl`, and a final `ContractResult` with the
operation x check table. It never prints; reporters (`mockyard.reports`) consume the events.

Fuzzing, stateful sequences (OpenAPI links) and every check are Schemathesis's own; this module
only decides what to send where, with which credentials, and how to tell the story afterwards.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from mockyard.contract_credentials import Secrets
from mockyard.contract_events import (
    ApiFinished,
    ApiPlanSummary,
    ApiStarted,
    CheckTally,
    ContractResult,
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
    Target,
)
from mockyard.contract_plan import (
    ApiPlan,
    PlanOptions,
    merge_settings,
    plan_apis,
    select_apis,
    shown,
)
from mockyard.contract_target import Resolver, inspect_target, reset_sandbox, resolve_host
from mockyard.errors import ContractError, SpecError

PHASES = ("examples", "coverage", "fuzzing", "stateful")
DEFAULT_MAX_EXAMPLES = 100
_EXCERPT = 500


@dataclass(frozen=True)
class ContractConfig:
    """Everything `mockyard contract` decides; see `run`."""

    base_url: str
    workspace: str = "."
    apis: tuple[str, ...] = ()
    specs: tuple[str, ...] = ()
    token: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    max_examples: int = DEFAULT_MAX_EXAMPLES
    workers: int = 1
    seed: int | None = None
    checks: tuple[str, ...] = ("all",)
    phases: tuple[str, ...] = PHASES
    allow_mutations: bool = False
    wait: float = 0.0
    request_timeout: float = 10.0

    def plan_options(self) -> PlanOptions:
        return PlanOptions(
            self.workspace, self.apis, self.specs, self.token, self.headers, self.allow_mutations
        )


def known_checks() -> list[str]:
    """The names `--checks` accepts: Schemathesis's registered checks (built-in or plugged in)."""
    import schemathesis.specs.openapi.checks  # noqa: F401 - registers the OpenAPI checks
    from schemathesis.checks import CHECKS

    return sorted({*CHECKS.get_all_names(), "max_response_time"})


def run(config: ContractConfig, *, resolve: Resolver = resolve_host) -> Iterator[Event]:
    """Test the deployment at `config.base_url`; yields events, ending with `RunFinished`.

    Problems that keep the run from starting (bad option, unknown API, bad spec, unreachable
    target) raise `ContractError`/`WorkspaceError` before any test request is sent.
    """
    checks = _checked_names(config.checks)
    phases = _checked_phases(config.phases)
    if config.max_examples < 1 or config.workers < 1:
        raise ContractError("--max-examples and --workers must be at least 1")
    options = config.plan_options()
    selected = select_apis(options)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**32)
    started = time.monotonic()
    with httpx.Client(timeout=config.request_timeout) as client:
        target = inspect_target(config.base_url, client, wait=config.wait, resolve=resolve)
        plans = plan_apis(selected, options, target)
        yield RunStarted(target, seed, config.max_examples, checks, phases, config.workers)
        book = _Book()
        summaries = []
        for plan in plans:
            summary = ApiPlanSummary(
                plan.api,
                shown(plan.spec_path),
                plan.base_url,
                plan.credentials,
                plan.reset,
                plan.calibration,
                tuple(Secrets(plan.secrets).variables),
            )
            summaries.append(summary)
            yield ApiStarted(summary)
            if plan.reset:
                yield SandboxReset(plan.api, reset_sandbox(client, plan.base_url))
            for skipped in plan.skipped:
                book.skipped.append(skipped)
                yield skipped
            yield from _run_api(plan, config, seed, checks, phases, book)
    yield RunFinished(
        book.result(
            target,
            seed,
            config,
            checks,
            phases,
            tuple(summaries),
            time.monotonic() - started,
            _notes(target, config),
        )
    )


def _checked_names(names: tuple[str, ...]) -> tuple[str, ...]:
    wanted = tuple(n.strip() for item in names for n in item.split(",") if n.strip())
    if not wanted or "all" in wanted:
        return ("all",)
    known = known_checks()
    unknown = [n for n in wanted if n not in known]
    if unknown:
        names = ", ".join(known)
        raise ContractError(f"unknown check(s) {', '.join(unknown)}; known: all, {names}")
    return wanted


def _checked_phases(names: tuple[str, ...]) -> tuple[str, ...]:
    wanted = tuple(n.strip() for item in names for n in item.split(",") if n.strip())
    unknown = [n for n in wanted if n not in PHASES]
    if unknown or not wanted:
        raise ContractError(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(PHASES)}")
    return tuple(p for p in PHASES if p in wanted)


def _notes(target: Target, config: ContractConfig) -> tuple[str, ...]:
    if target.loopback or config.allow_mutations:
        return ()
    return (
        f"{target.host} is not a loopback address: only GET, HEAD and OPTIONS operations were "
        "tested, and undeclared-method probes used GET, OPTIONS and TRACE only",
    )


def _settings(
    plan: ApiPlan, config: ContractConfig, seed: int, phases: tuple[str, ...]
) -> dict[str, Any]:
    """schemathesis.toml-shaped settings: run defaults < the API's `contract:` < this run."""
    defaults: dict[str, Any] = {
        # A gate must not depend on earlier runs: no Hypothesis example database, no cache.
        "generation": {"database": "none"},
        "cache": {"enabled": False},
    }
    this_run: dict[str, Any] = {
        # Every phase runs to its bounded end: a failure is recorded and generation goes on, so
        # one run lists every distinct failure (Schemathesis otherwise stops an operation's phase
        # at its first failure). No `max-failures`: the bound is the examples per operation.
        "continue-on-failure": True,
        "seed": seed,
        "base-url": plan.base_url,
        "workers": config.workers,
        "request-timeout": config.request_timeout,
        "generation": {"max-examples": config.max_examples},
        "phases": {p: {"enabled": p in phases} for p in PHASES},
        # Secrets are masked by mockyard (contract_credentials.Secrets), which also keeps the
        # reproduce lines runnable; Schemathesis's own masking would print `[Filtered]` instead.
        "output": {"sanitization": {"enabled": False}},
    }
    return merge_settings(merge_settings(defaults, plan.settings), this_run)


def _load_schema(plan: ApiPlan, settings: dict[str, Any], checks: tuple[str, ...]) -> Any:
    import schemathesis
    from schemathesis.config import ConfigError, SchemathesisConfig
    from schemathesis.core.errors import InvalidSchema, LoaderError

    try:
        st_config = SchemathesisConfig.from_dict(settings)
        st_config.projects.override.checks.update(included_check_names=list(checks))
    except ConfigError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ContractError(f"{plan.api}: bad Schemathesis settings: {first}") from exc
    try:
        schema = schemathesis.openapi.from_dict(plan.spec, config=st_config)
    except (LoaderError, InvalidSchema) as exc:
        first = str(exc).strip().splitlines()[0]
        raise SpecError(f"Schemathesis cannot use this spec: {first}", path=plan.spec_path) from exc
    if plan.excluded_methods:
        schema = schema.exclude(method=list(plan.excluded_methods))
    return schema


def _run_api(
    plan: ApiPlan,
    config: ContractConfig,
    seed: int,
    checks: tuple[str, ...],
    phases: tuple[str, ...],
    book: _Book,
) -> Iterator[Event]:
    from schemathesis.engine import from_schema

    schema = _load_schema(plan, _settings(plan, config, seed, phases), checks)
    translator = _Translator(
        plan.api, book, Secrets(plan.secrets), mutations_skipped=bool(plan.excluded_methods)
    )
    started = time.monotonic()
    for event in from_schema(schema).execute():
        yield from translator.translate(event)
    yield ApiFinished(plan.api, translator.cases, translator.failures, time.monotonic() - started)


class _Book:
    """What the run has seen so far, across APIs: tallies, distinct failures, skips, errors."""

    def __init__(self) -> None:
        self.tallies: dict[tuple[str, str, str], list[int]] = {}
        self.failures: list[FailureFound] = []
        self.failure_keys: set[tuple[str, str, Any]] = set()
        self.skipped: list[OperationSkipped] = []
        self.errors: list[RunError] = []

    def count(self, api: str, operation: str, check: str, failed: bool) -> None:
        tally = self.tallies.setdefault((api, operation, check), [0, 0])
        tally[0] += 1
        tally[1] += int(failed)

    def result(
        self,
        target: Target,
        seed: int,
        config: ContractConfig,
        checks: tuple[str, ...],
        phases: tuple[str, ...],
        apis: tuple[ApiPlanSummary, ...],
        elapsed: float,
        notes: tuple[str, ...],
    ) -> ContractResult:
        tallies = tuple(
            CheckTally(api, op, check, cases, failures)
            for (api, op, check), (cases, failures) in sorted(self.tallies.items())
        )
        return ContractResult(
            target=target,
            seed=seed,
            max_examples=config.max_examples,
            checks=checks,
            phases=phases,
            apis=apis,
            tallies=tallies,
            failures=tuple(self.failures),
            skipped=tuple(self.skipped),
            errors=tuple(self.errors),
            elapsed=elapsed,
            notes=notes,
        )


class _Translator:
    """Schemathesis engine events -> mockyard contract events, for one API."""

    def __init__(
        self, api: str, book: _Book, secrets: Secrets, *, mutations_skipped: bool = False
    ) -> None:
        self.api = api
        self.book = book
        self.secrets = secrets
        self.mutations_skipped = mutations_skipped
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
        elif (
            isinstance(event, events.NonFatalError)
            and isinstance(event.value, NoLinksFound)
            and self.mutations_skipped
        ):
            # Expected, not an error: the links lead to operations skipped as mutations.
            self.stateful_skip = "every link leads to an operation skipped as a mutation"
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
                error = RunError(
                    self.api, "run", "Server unavailable", "the target stopped responding"
                )
                self.book.errors.append(error)
                yield error

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
                # Hypothesis shrinks a failing input: keep the smallest reproduction seen.
                if known is None or len(curl) < len(known[1]):
                    candidates[key] = (info.failure, curl, case_id)
        for (check_name, _), (failure, curl, case_id) in candidates.items():
            response = recorder.find_response(case_id=failure.case_id or case_id)
            yield from self._failure(check_name, failure, response, curl)

    def _failure(
        self, check: str, failure: Any, response: Any, curl: str
    ) -> Iterator[FailureFound]:
        key = (self.api, check, failure)
        if key in self.book.failure_keys:
            return
        self.book.failure_keys.add(key)
        self.failures += 1
        excerpt = ""
        if response is not None:
            excerpt = response.content[:_EXCERPT].decode("utf-8", "replace")
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
        )
        self.book.failures.append(found)
        yield found


def _one_line(text: str) -> str:
    return " ".join(text.split())
