"""Sandbox against real: the same generated requests to both, and where their answers differ.

`run(config)` plans each API as `mockyard contract` does (same specs, calibration, credentials,
read-only narrowing), then generates each operation's cases once, with Schemathesis's public
API and a fixed seed: the spec's examples, then `max_examples` cases per generation mode the
API's calibration allows (positive and negative by default). Each case goes to the sandbox,
then to the real deployment, in the same order, through `Case.call` (so the read-only guard of
`contract_wire` stands before every request); `compare_diff` says how the two answers differ.

A comparison is read-only unless `allow_mutations`: a write would change the real system and
make the next answers incomparable. Equal answers are counted (the tallies, one per operation
and aspect), differences are reported once each with how often they were seen. What both
deployments reached is counted as a contract run's reach is, so an operation every request of
which was refused on either side is "not tested", not "the same".
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import requests

from mockyard import compare_diff, contract_wire, specs
from mockyard.compare_diff import Answer
from mockyard.contract import ContractConfig, load_schema, plan_summary, servers_path, settings
from mockyard.contract_credentials import Secrets
from mockyard.contract_events import (
    ApiFinished,
    ApiStarted,
    ContractResult,
    DifferenceFound,
    Event,
    OperationTested,
    RunError,
    RunFinished,
    RunStarted,
    SandboxReset,
    Target,
)
from mockyard.contract_plan import ApiPlan, plan_apis, select_apis
from mockyard.contract_reach import Reach
from mockyard.contract_target import Resolver, inspect_target, reset_sandbox, resolve_host
from mockyard.contract_translate import Book
from mockyard.contract_writes import WriteRefused
from mockyard.errors import ContractError

PHASES = ("examples", "fuzzing")
_EXCERPT = 300
READ_ONLY = "a comparison is read-only unless --allow-mutations"


@dataclass(frozen=True)
class CompareConfig:
    """What `mockyard compare` decides: a contract config whose `base_url` is the sandbox, the
    real deployment's URL, and headers sent to the sandbox only (its own credentials)."""

    contract: ContractConfig
    real_url: str
    sandbox_headers: tuple[tuple[str, str], ...] = ()


def run(config: CompareConfig, *, resolve: Resolver = resolve_host) -> Iterator[Event]:
    """Compare the sandbox with the real deployment; yields events, ending with `RunFinished`.

    Bad options, specs or unreachable deployments raise before any request is compared.
    """
    base = config.contract
    if base.max_examples < 1:
        raise ContractError("--max-examples must be at least 1")
    options = dataclasses.replace(
        base.plan_options(), no_mutations=not base.allow_mutations, read_only_reason=READ_ONLY
    )
    selected = select_apis(options)
    seed = base.seed if base.seed is not None else secrets.randbelow(2**32)
    started = time.monotonic()
    book = _Book()
    with httpx.Client(timeout=base.request_timeout) as client:
        sandbox = _inspect(base.base_url, client, base, resolve, base.admin_token, "--sandbox")
        real = _inspect(config.real_url, client, base, resolve, None, "--real")
        if sandbox.base_url == real.base_url:
            raise ContractError("--sandbox and --real are the same URL: nothing to compare")
        plans = plan_apis(selected, options, sandbox)
        schemas = [load_schema(p, settings(p, base, seed, ("fuzzing",)), ("all",)) for p in plans]
        contract_wire.install()
        started_event = RunStarted(
            sandbox, seed, base.max_examples, compare_diff.ASPECTS, PHASES, 1, reference=real
        )
        yield started_event
        try:
            with requests.Session() as ours, requests.Session() as theirs:
                sides = _Sides(sandbox, real, ours, theirs, config.sandbox_headers)
                for plan, schema in zip(plans, schemas, strict=True):
                    yield from _compare_api(plan, schema, client, sides, base, seed, book)
        except KeyboardInterrupt:
            book.interrupted = True
            yield book.abort(book.apis[-1].api if book.apis else "run", "interrupted (Ctrl-C)")
    notes = _notes(plans)
    yield RunFinished(book.result(started_event, time.monotonic() - started, notes))


def _inspect(
    url: str,
    client: httpx.Client,
    base: ContractConfig,
    resolve: Resolver,
    token: str | None,
    option: str,
) -> Target:
    return inspect_target(
        url, client, wait=base.wait, resolve=resolve, admin_token=token, option=option
    )


@dataclass
class _Sides:
    """The two deployments and a session to each."""

    sandbox: Target
    real: Target
    ours: requests.Session
    theirs: requests.Session
    sandbox_headers: tuple[tuple[str, str], ...]


class _Book(Book):
    """A contract run's book, plus the differences found."""

    def __init__(self) -> None:
        super().__init__()
        self.differences: list[DifferenceFound] = []

    def result(self, run: RunStarted, elapsed: float, notes: tuple[str, ...]) -> ContractResult:
        found = super().result(run, elapsed, notes)
        return dataclasses.replace(found, differences=tuple(self.differences))


def _compare_api(
    plan: ApiPlan,
    schema: Any,
    client: httpx.Client,
    sides: _Sides,
    config: ContractConfig,
    seed: int,
    book: _Book,
) -> Iterator[Event]:
    summary = plan_summary(plan)
    book.apis.append(summary)
    yield ApiStarted(summary)
    prefix = plan.base_url[len(sides.sandbox.base_url) :]
    real_url = sides.real.base_url + prefix
    if not plan.read_only:
        for target, url in ((sides.sandbox, plan.base_url), (sides.real, real_url)):
            if target.sandbox and plan.api in target.sandbox_apis:
                yield SandboxReset(plan.api, reset_sandbox(client, url, config.admin_token))
    for skipped in plan.skipped:
        book.skipped.append(skipped)
        yield skipped
    labels = [f"{op.method.upper()} {op.path}" for op in specs.operations(plan.spec)]
    labels = [label for label in labels if label not in plan.excluded]
    reach = (
        Reach(plan.api, plan.base_url, list(labels), servers_path(plan.spec)),
        Reach(plan.api, real_url, list(labels), servers_path(plan.spec)),
    )
    secrets_ = Secrets(plan.secrets)
    documented = _documented_headers(plan.spec)
    started = time.monotonic()
    cases = found = 0
    for result in schema.get_all_operations():
        operation = result.ok() if _is_ok(result) else None
        if operation is None:
            error = RunError(plan.api, "schema", "Cannot use an operation", str(result.err()))
            book.errors.append(error)
            yield error
            continue
        compared = _Operation(plan.api, operation, documented.get(operation.label, {}), secrets_)
        try:
            drawn = _cases(operation, seed, config.max_examples)
        except Exception as exc:  # Hypothesis or Schemathesis could not generate: say so
            error = RunError(plan.api, operation.label, "Cannot generate cases", _one_line(exc))
            book.errors.append(error)
            yield error
            continue
        problem = compared.send_all(drawn, sides, (plan.base_url, real_url), reach, book)
        if problem is not None:
            book.errors.append(problem)
            yield problem
        cases += compared.sent
        differences = compared.differences()
        found += len(differences)
        book.differences += differences
        failed = tuple(sorted({d.aspect for d in differences}))
        yield OperationTested(plan.api, "compare", operation.label, compared.sent, failed)
        yield from differences
    ours, theirs = reach[0].results(), reach[1].results()
    results = tuple(r for pair in zip(ours, theirs, strict=True) for r in pair)
    book.reach += results
    yield ApiFinished(plan.api, cases, found, time.monotonic() - started, results)


def _is_ok(result: Any) -> bool:
    from schemathesis.core.result import Ok

    return isinstance(result, Ok)


def _cases(operation: Any, seed: int, max_examples: int) -> list[Any]:
    """The operation's cases, the same for a seed: each example once, then `max_examples` per
    generation mode."""
    import hypothesis

    modes = operation.schema.config.generation_for(operation=operation, phase="fuzzing").modes
    strategies = [(s, 1) for s in operation.get_strategies_from_examples()]
    strategies += [(operation.as_strategy(generation_mode=m), max_examples) for m in modes]
    cases: list[Any] = []
    for strategy, count in strategies:

        @hypothesis.settings(
            max_examples=count,
            database=None,
            deadline=None,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.seed(seed)
        @hypothesis.given(strategy)
        def draw(case: Any) -> None:
            cases.append(case)

        draw()
    return cases


class _Operation:
    """One operation's comparison: its cases sent to both sides, the distinct differences."""

    def __init__(
        self, api: str, operation: Any, documented: Mapping[str, tuple[str, ...]], masks: Secrets
    ) -> None:
        self.api = api
        self.operation = operation
        self.documented = documented
        self.masks = masks
        self.sent = 0
        # (aspect, detail) -> [count, (sandbox answer, real answer, where, curl) first seen]
        self.found: dict[tuple[str, str], list[Any]] = {}

    def send_all(
        self,
        cases: list[Any],
        sides: _Sides,
        urls: tuple[str, str],
        reach: tuple[Reach, Reach],
        book: Book,
    ) -> RunError | None:
        """Send each case to both sides; a case that cannot be put on the wire ends the
        operation's comparison with the error that says why."""
        from schemathesis.errors import SerializationError

        for case in cases:
            try:
                self.send(case, sides, urls, reach, book)
            except SerializationError as exc:
                return RunError(
                    self.api, self.operation.label, "Cannot send a case", _one_line(exc)
                )
        return None

    def send(
        self,
        case: Any,
        sides: _Sides,
        urls: tuple[str, str],
        reach: tuple[Reach, Reach],
        book: Book,
    ) -> None:
        headers = self.operation.schema.config.headers_for(operation=self.operation) or {}
        carried = {name.lower() for name in (*(case.headers or {}), *headers)}
        # The sandbox's own credentials replace what the request carries, never add to it: a
        # case generated without its credentials must reach both sides without them.
        ours = {**headers, **{k: v for k, v in sides.sandbox_headers if k.lower() in carried}}
        try:
            mine = _answer(case, urls[0], sides.ours, ours)
        except WriteRefused:
            return  # the read-only guard: sent to neither side
        theirs = _answer(case, urls[1], sides.theirs, dict(headers))
        self.sent += 1
        label = self.operation.label
        for side, answer in zip(reach, (mine, theirs), strict=True):
            side.count(label, answer.status, answer.content)
        status = str(mine.status)
        named = self.documented.get(status, ()) + self.documented.get("default", ())
        diffs = compare_diff.differences(mine, theirs, named)
        aspects = {d.aspect for d in diffs}
        for aspect in compare_diff.ASPECTS:
            book.count(self.api, label, aspect, aspect in aspects)
        for diff in diffs:
            seen = self.found.get((diff.aspect, diff.detail))
            if seen is None:
                curl = case.as_curl_command(headers=dict(headers), base_url=urls[1])
                self.found[(diff.aspect, diff.detail)] = [1, (mine, theirs, diff.where, curl)]
            else:
                seen[0] += 1

    def differences(self) -> list[DifferenceFound]:
        out = []
        for (aspect, detail), (count, (mine, theirs, where, curl)) in self.found.items():
            out.append(
                DifferenceFound(
                    api=self.api,
                    operation=self.operation.label,
                    aspect=aspect,
                    detail=self.masks.mask(detail),
                    count=count,
                    sandbox_status=mine.status,
                    real_status=theirs.status,
                    sandbox_excerpt=self._excerpt(mine, where),
                    real_excerpt=self._excerpt(theirs, where),
                    curl=self.masks.mask(curl),
                )
            )
        return out

    def _excerpt(self, answer: Answer, where: compare_diff.Path | None) -> str:
        if answer.status is None:
            return f"no answer: {answer.error}"
        return self.masks.mask(compare_diff.excerpt(answer, where, _EXCERPT))


def _answer(case: Any, base_url: str, session: requests.Session, headers: dict[str, str]) -> Answer:
    try:
        response = case.call(base_url=base_url, session=session, headers=headers)
    except requests.RequestException as exc:
        return Answer(None, error=_one_line(exc) or type(exc).__name__)
    names = {name.lower(): ", ".join(values) for name, values in response.headers.items()}
    return Answer(response.status_code, names, bytes(response.content or b""))


def _documented_headers(spec: dict[str, Any]) -> dict[str, dict[str, tuple[str, ...]]]:
    """label -> status -> the response header names the spec documents."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for op in specs.operations(spec):
        statuses: dict[str, tuple[str, ...]] = {}
        for status, response in (op.spec.get("responses") or {}).items():
            response = _resolved(spec, response)
            headers = response.get("headers") if isinstance(response, dict) else None
            if isinstance(headers, dict):
                statuses[str(status)] = tuple(str(name) for name in headers)
        out[f"{op.method.upper()} {op.path}"] = statuses
    return out


def _resolved(spec: dict[str, Any], node: Any) -> Any:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = spec
    for key in ref[2:].split("/"):
        target = target.get(key.replace("~1", "/").replace("~0", "~"), {})
    return target


def _notes(plans: list[ApiPlan]) -> tuple[str, ...]:
    if not any(plan.read_only for plan in plans):
        return ("writes were sent to both deployments (--allow-mutations)",)
    skipped = sum(len(plan.skipped) for plan in plans)
    return (
        "read-only comparison (the default; --allow-mutations sends writes too): nothing that "
        f"can change state was sent to either deployment; {skipped} operation(s) skipped",
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
