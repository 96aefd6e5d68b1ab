"""Contract runs: Schemathesis's engine and checks against any deployment, reported as events.

`run(config)` checks the target, plans each API (see `contract_plan`), drives Schemathesis's
engine once per API and turns its event stream into `contract_events` (`contract_translate`):
progress per operation, each distinct failure with a reproducing `curl`, what every operation's
requests reached, and a final `ContractResult`. It never prints; reporters (`mockyard.reports`)
consume the events.

Fuzzing, stateful sequences (OpenAPI links) and every check are Schemathesis's own; this module
only decides what to send where, with which credentials, and how to tell the story afterwards.
A run that stops early (the target died, Ctrl-C) still ends with `RunFinished`, holding what it
gathered and why it stopped.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from mockyard import contract_baseline, contract_wire, specs
from mockyard.contract_credentials import Secret, Secrets
from mockyard.contract_events import (
    ApiFinished,
    ApiPlanSummary,
    ApiStarted,
    Event,
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
from mockyard.contract_reach import Reach
from mockyard.contract_target import Resolver, inspect_target, reset_sandbox, resolve_host
from mockyard.contract_translate import Book, Translator
from mockyard.errors import ContractError, SpecError

PHASES = ("examples", "coverage", "fuzzing", "stateful")
DEFAULT_MAX_EXAMPLES = 100
ADMIN_TOKEN_ENV = "MOCKYARD_ADMIN_TOKEN"


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
    no_mutations: bool = False
    admin_token: str | None = None
    baseline: str | None = None
    wait: float = 0.0
    request_timeout: float = 10.0

    def plan_options(self) -> PlanOptions:
        return PlanOptions(
            self.workspace,
            self.apis,
            self.specs,
            self.token,
            self.headers,
            self.allow_mutations,
            self.no_mutations,
        )


def known_checks() -> list[str]:
    """The names `--checks` accepts: Schemathesis's registered checks (built-in or plugged in)."""
    import schemathesis.specs.openapi.checks  # noqa: F401 - registers the OpenAPI checks
    from schemathesis.checks import CHECKS

    return sorted({*CHECKS.get_all_names(), "max_response_time"})


def run(config: ContractConfig, *, resolve: Resolver = resolve_host) -> Iterator[Event]:
    """Test the deployment at `config.base_url`; yields events, ending with `RunFinished`.

    Problems that keep the run from starting (bad option, unknown API, bad spec or baseline,
    unreachable target) raise `ContractError`/`WorkspaceError` before any test request is sent.
    Once it has started, a run that cannot go on ends early with `RunFinished` all the same.
    """
    checks = _checked_names(config.checks)
    phases = _checked_phases(config.phases)
    if config.max_examples < 1 or config.workers < 1:
        raise ContractError("--max-examples and --workers must be at least 1")
    if config.allow_mutations and config.no_mutations:
        raise ContractError("--allow-mutations and --no-mutations contradict each other")
    options = config.plan_options()
    selected = select_apis(options)
    baseline = contract_baseline.load(config.baseline) if config.baseline else None
    seed = config.seed if config.seed is not None else secrets.randbelow(2**32)
    started = time.monotonic()
    book = Book(baseline)
    with httpx.Client(timeout=config.request_timeout) as client:
        target = inspect_target(
            config.base_url,
            client,
            wait=config.wait,
            resolve=resolve,
            admin_token=config.admin_token,
        )
        plans = plan_apis(selected, options, target)
        schemas = [load_schema(p, settings(p, config, seed, phases), checks) for p in plans]
        contract_wire.install()
        started_event = RunStarted(
            target, seed, config.max_examples, checks, phases, config.workers
        )
        yield started_event
        try:
            for plan, schema in zip(plans, schemas, strict=True):
                yield from _run_api(plan, schema, client, config, book)
                if book.aborted:
                    break
        except ContractError as exc:  # the target died, the engine could not go on
            yield book.abort(_current(book), str(exc))
        except KeyboardInterrupt:
            book.interrupted = True
            yield book.abort(_current(book), "interrupted (Ctrl-C)")
    notes = _notes(target, plans, options)
    yield RunFinished(book.result(started_event, time.monotonic() - started, notes))


def _checked_names(names: tuple[str, ...]) -> tuple[str, ...]:
    wanted = tuple(n.strip() for item in names for n in item.split(",") if n.strip())
    if not wanted or "all" in wanted:
        return ("all",)
    known = known_checks()
    unknown = [n for n in wanted if n not in known]
    if unknown:
        listed = ", ".join(known)
        raise ContractError(f"unknown check(s) {', '.join(unknown)}; known: all, {listed}")
    return wanted


def _checked_phases(names: tuple[str, ...]) -> tuple[str, ...]:
    wanted = tuple(n.strip() for item in names for n in item.split(",") if n.strip())
    unknown = [n for n in wanted if n not in PHASES]
    if unknown or not wanted:
        raise ContractError(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(PHASES)}")
    return tuple(p for p in PHASES if p in wanted)


def _current(book: Book) -> str:
    return book.apis[-1].api if book.apis else "run"


def _notes(target: Target, plans: list[ApiPlan], options: PlanOptions) -> tuple[str, ...]:
    notes = []
    if any(plan.read_only for plan in plans):
        why = "--no-mutations" if options.no_mutations else f"{target.host} is not loopback"
        skipped = sum(len(plan.skipped) for plan in plans)
        narrowed = [line for plan in plans for line in plan.narrowed]
        note = (
            f"read-only run ({why}): nothing that can change state was sent; "
            f"{skipped} operation(s) skipped"
        )
        if narrowed:
            note += f", values left out: {'; '.join(narrowed)}"
        note += "; undeclared-method probes used GET, OPTIONS and TRACE only"
        if target.sandbox:
            note += "; the sandbox was not reset (a reset changes state too)"
        notes.append(note)
    if target.guarded and not target.sandbox:
        notes.append(
            f"{target.base_url} is a mockyard sandbox whose admin API needs its admin token: "
            f"pass --admin-token (or set {ADMIN_TOKEN_ENV}) so it is recognised, reset first "
            "and given its catalogue credentials"
        )
    return tuple(notes)


def settings(
    plan: ApiPlan, config: ContractConfig, seed: int, phases: tuple[str, ...]
) -> dict[str, Any]:
    """schemathesis.toml-shaped settings: run defaults < the API's `contract:` < this run
    (`config`'s bounds, workers and timeout)."""
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


def load_schema(plan: ApiPlan, settings: dict[str, Any], checks: tuple[str, ...]) -> Any:
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
        schema: Any = schemathesis.openapi.from_dict(plan.spec, config=st_config)
    except (LoaderError, InvalidSchema) as exc:
        first = str(exc).strip().splitlines()[0]
        raise SpecError(f"Schemathesis cannot use this spec: {first}", path=plan.spec_path) from exc
    if plan.excluded:
        schema = schema.exclude(name=list(plan.excluded))
    return schema


def _run_api(
    plan: ApiPlan, schema: Any, client: httpx.Client, config: ContractConfig, book: Book
) -> Iterator[Event]:
    from schemathesis.engine import from_schema

    summary = plan_summary(plan)
    book.apis.append(summary)
    yield ApiStarted(summary)
    if plan.reset:
        yield SandboxReset(plan.api, reset_sandbox(client, plan.base_url, config.admin_token))
    for skipped in plan.skipped:
        book.skipped.append(skipped)
        yield skipped
    admin = (Secret(config.admin_token, ADMIN_TOKEN_ENV),) if config.admin_token else ()
    labels = [f"{op.method.upper()} {op.path}" for op in specs.operations(plan.spec)]
    reach = Reach(
        plan.api,
        plan.base_url,
        [label for label in labels if label not in plan.excluded],
        servers_path(plan.spec),
    )
    translator = Translator(
        plan.api,
        book,
        Secrets(plan.secrets + admin),
        reach,
        operations_skipped=bool(plan.excluded),
    )
    started = time.monotonic()
    for event in from_schema(schema).execute():
        yield from translator.translate(event)
    results = reach.results()
    book.reach += results
    elapsed = time.monotonic() - started
    yield ApiFinished(plan.api, translator.cases, translator.failures, elapsed, results)


def plan_summary(plan: ApiPlan) -> ApiPlanSummary:
    """How the reports describe one API's plan."""
    return ApiPlanSummary(
        plan.api,
        shown(plan.spec_path),
        plan.base_url,
        plan.credentials,
        plan.reset,
        plan.calibration,
        tuple(Secrets(plan.secrets).variables),
        plan.read_only,
        plan.narrowed,
    )


def servers_path(spec: dict[str, Any]) -> str:
    servers = spec.get("servers") or [{}]
    url = servers[0].get("url", "") if isinstance(servers[0], dict) else ""
    return urlsplit(str(url)).path
