"""What a contract run tests, and as whom: APIs, specs, calibration, credentials, skips.

Only a mockyard sandbox (see `contract_target`) gets the catalogue's sandbox credentials and a
reset first. A read-only run (`--no-mutations`, implied for every target that is not a loopback
address unless `--allow-mutations`) sends nothing that can change state on the target, as the
spec says (`contract_writes`): it skips what always writes, narrows what writes for some values,
limits Schemathesis's undeclared-method probes to safe methods and resets nothing.

An API's calibration (the `contract:` section of its fixture file) applies to its own spec, or to
a `--spec` file only when `--api` names the API: a foreign spec is tested with Schemathesis's
defaults, so a calibration written for one document never hides a failure of another.
Credentials are placed as the spec's security schemes say (`contract_credentials`). Nothing here
is specific to one API."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from mockyard import contract_credentials as credentials
from mockyard import contract_writes, loader, specs, workspace
from mockyard.contract_credentials import Secret
from mockyard.contract_events import OperationSkipped, Target
from mockyard.errors import ContractError, FixtureError, SpecError, WorkspaceError
from mockyard.yamlfiles import read_yaml

# Undeclared methods Schemathesis may send to check for 405 in a read-only run.
SAFE_PROBE_METHODS = ["get", "options", "trace"]


@dataclass(frozen=True)
class PlanOptions:
    """The parts of a contract config that decide what is tested and how."""

    workspace: str = "."
    apis: tuple[str, ...] = ()
    specs: tuple[str, ...] = ()
    token: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    allow_mutations: bool = False
    no_mutations: bool = False
    # What a read-only run's skips say made it read-only, when not the target or --no-mutations.
    read_only_reason: str = ""

    def read_only(self, target: Target) -> bool:
        """Whether nothing that can change state may be sent to `target`."""
        return self.no_mutations or not (target.loopback or self.allow_mutations)


@dataclass
class ApiPlan:
    """One API (or `--spec` file) ready to hand to Schemathesis."""

    api: str
    spec_path: Path
    spec: dict[str, Any]
    base_url: str
    # Schemathesis settings in schemathesis.toml's shape: the fixture's `contract:` section, then
    # credentials and safety limits on top.
    settings: dict[str, Any] = field(default_factory=dict)
    credentials: str = "none"
    calibration: str = "none: Schemathesis's defaults"
    # Values no report may show (what the user passed), with the variables reproduce lines read.
    secrets: tuple[Secret, ...] = ()
    skipped: list[OperationSkipped] = field(default_factory=list)
    excluded: tuple[str, ...] = ()  # labels ("GET /x") Schemathesis must not test
    read_only: bool = False
    narrowed: tuple[str, ...] = ()  # values a read-only run does not send, per operation
    reset: bool = False


@dataclass(frozen=True)
class Selected:
    """An API chosen for the run, before anything is known about the target."""

    name: str
    spec_path: Path
    spec: dict[str, Any]
    source: workspace.ApiSource | None
    # Whether the API's calibration applies: its own spec, or a --spec file --api names it for.
    calibrated: bool = True


def select_apis(options: PlanOptions) -> list[Selected]:
    """The APIs to test and their specs: the workspace's (or `--api`'s), or `--spec` files."""
    ws = _load_workspace(options)
    if options.specs:
        if len(options.apis) > 1:
            raise ContractError("with --spec, name at most one --api (whose settings to use)")
        chosen = []
        for raw in options.specs:
            spec_path = Path(raw)
            spec = load_spec(spec_path)
            named = bool(ws and options.apis)
            source = ws.api(options.apis[0]) if ws and named else _matching_api(ws, spec)
            name = source.name if source else spec_path.stem
            chosen.append(Selected(name, spec_path, spec, source, calibrated=named))
        names = [s.name for s in chosen]
        return [  # several files of one API: tell their results apart
            dataclasses.replace(s, name=f"{s.name}:{s.spec_path.stem}")
            if names.count(s.name) > 1
            else s
            for s in chosen
        ]
    assert ws is not None
    sources = [ws.api(name) for name in options.apis] if options.apis else list(ws.apis)
    return [Selected(s.name, s.spec, load_spec(s.spec), s) for s in sources]


def plan_apis(selected: list[Selected], options: PlanOptions, target: Target) -> list[ApiPlan]:
    """One plan per API: base URL, Schemathesis settings, credentials, skipped operations."""
    return [_plan(s, options, target) for s in selected]


def merge_settings(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Schemathesis settings `base` with `top` on top, tables merged key by key."""
    merged = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def shown(path: Path) -> str:
    """`path` relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_spec(path: Path) -> dict[str, Any]:
    """An OpenAPI document (3.0 or 3.1) as a dict; anything else is a SpecError."""
    if not path.is_file():
        raise SpecError("spec file does not exist", path=path)
    spec = loader.read_bundled(path)  # YAML 1.2 or JSON, other local files bundled in
    if not str(spec.get("openapi", "")).startswith("3.") and spec.get("swagger") != "2.0":
        raise SpecError("not an OpenAPI 3 or Swagger 2.0 document", path=path)
    if not isinstance(spec.get("paths"), dict) or not spec["paths"]:
        raise SpecError("the document has no paths to test", path=path)
    dangling = next(_dangling_refs(spec, spec), None)
    if dangling is not None:
        raise SpecError(f"$ref {dangling!r} points at nothing in the document", path=path)
    return spec


def _dangling_refs(node: Any, root: dict[str, Any]) -> Iterator[str]:
    """Local `$ref`s that do not resolve (Schemathesis would silently test less)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#") and not _resolves(root, ref):
            yield ref
        for value in node.values():
            yield from _dangling_refs(value, root)
    elif isinstance(node, list):
        for value in node:
            yield from _dangling_refs(value, root)


def _resolves(root: dict[str, Any], ref: str) -> bool:
    target: Any = root
    for raw in unquote(ref[1:]).split("/")[1:]:
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and key in target:
            target = target[key]
        elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
            target = target[int(key)]
        else:
            return False
    return True


def _load_workspace(options: PlanOptions) -> workspace.Workspace | None:
    try:
        return workspace.load(options.workspace)
    except WorkspaceError as exc:
        if options.specs and not options.apis:
            return None  # a lone spec file can be tested without a workspace
        if not (Path(options.workspace) / workspace.CONFIG_FILE).is_file():
            raise WorkspaceError(
                f"{exc}; {Path(options.workspace).resolve()} is not a mockyard workspace: run "
                "from the workspace's directory, or pass --workspace DIR (or --spec FILE)"
            ) from exc
        raise


def _matching_api(
    ws: workspace.Workspace | None, spec: dict[str, Any]
) -> workspace.ApiSource | None:
    """The one workspace API whose effective spec shares an operation with `spec`, if any."""
    if ws is None:
        return None
    wanted = {(op.method, op.path) for op in specs.operations(spec)}
    matches = []
    for source in ws.apis:
        try:
            theirs = {(op.method, op.path) for op in specs.operations(load_spec(source.spec))}
        except SpecError:
            continue
        if wanted & theirs:
            matches.append(source)
    return matches[0] if len(matches) == 1 else None


def _plan(selected: Selected, options: PlanOptions, target: Target) -> ApiPlan:
    name, spec, source = selected.name, selected.spec, selected.source
    spec_path = selected.spec_path
    fixture = _fixture(source)
    settings = fixture.get("contract") or {}
    if not isinstance(settings, dict):
        raise FixtureError("'contract' must map Schemathesis settings", path=_fx(source))
    prefix = source.prefix if source else ""
    plan = ApiPlan(name, spec_path, spec, target.base_url + prefix)
    if selected.calibrated and settings:
        plan.settings = copy.deepcopy(settings)
    plan.calibration = _calibration(selected, settings)
    contract_writes.check(spec, spec_path)
    effective = load_spec(source.spec) if source and source.spec != spec_path else spec
    served = target.sandbox and source is not None and source.name in target.sandbox_apis
    # A sandbox starts every API's run from the same state, unless the run may change nothing.
    plan.reset = served and not options.read_only(target)
    creds = None
    if options.token or options.headers:
        creds = credentials.explicit(spec, effective, options.token, options.headers)
    elif served:
        where = source.fixtures.name if source and source.fixtures else "fixtures"
        creds = credentials.catalogue(spec, effective, fixture, where)
    if creds is not None:
        plan.settings = merge_settings(plan.settings, creds.settings)
        plan.credentials, plan.secrets = creds.description, creds.secrets
    if plan.credentials == "none" and credentials.requires_auth(spec):
        plan.credentials = "none, although the spec requires some: pass --token or --header"
    if options.read_only(target):
        _read_only(plan, options, target)
    return plan


def _calibration(selected: Selected, settings: Mapping[str, Any]) -> str:
    """Which calibration the run applies, in words for the report."""
    source = selected.source
    where = shown(source.fixtures) if source and source.fixtures else ""
    if selected.calibrated and settings:
        return f"{where} contract: ({', '.join(sorted(settings))})"
    if selected.calibrated and source:
        return f"none: {where or source.name} has no contract: section; Schemathesis's defaults"
    if source and settings:
        return (
            f"none: Schemathesis's defaults; this --spec file shares operations with the workspace "
            f"API {source.name}, whose calibration ({where} contract:) applies only with "
            f"--api {source.name}"
        )
    return "none: Schemathesis's defaults"


def _fixture(source: workspace.ApiSource | None) -> dict[str, Any]:
    if source is None or source.fixtures is None:
        return {}
    data = read_yaml(source.fixtures) or {}
    if not isinstance(data, dict):
        raise FixtureError("expected a mapping", path=source.fixtures)
    return data


def _fx(source: workspace.ApiSource | None) -> Path | None:
    return source.fixtures if source else None


def _read_only(plan: ApiPlan, options: PlanOptions, target: Target) -> None:
    narrowed = contract_writes.read_only(plan.spec)
    why = options.read_only_reason or (
        "--no-mutations"
        if options.no_mutations
        else f"{target.host} is not a loopback address; pass --allow-mutations to test it"
    )
    plan.spec, plan.read_only = narrowed.spec, True
    plan.excluded = tuple(narrowed.skipped)
    plan.narrowed = tuple(narrowed.narrowed)
    plan.skipped = [
        OperationSkipped(plan.api, label, f"{reason}: a read-only run ({why})")
        for label, reason in narrowed.skipped.items()
    ]
    phases = plan.settings.setdefault("phases", {})
    phases.setdefault("coverage", {})["unexpected-methods"] = SAFE_PROBE_METHODS
    plan.settings.setdefault("auth", {})["auto-signup"] = False
