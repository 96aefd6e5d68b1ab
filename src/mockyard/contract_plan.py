"""What a contract run tests, and as whom: APIs, specs, credentials, skipped operations.

Only a local sandbox (see `contract_target`) gets the catalogue's sandbox credentials and a reset
first. Against any other host, operations that can change state (every method but GET, HEAD,
OPTIONS) are skipped unless mutations are allowed, and Schemathesis's undeclared-method probes
are limited to safe methods.

Credentials come from each API's fixture file (`credentials:`, the `default: true` entry) and are
placed as the spec's `components.securitySchemes` entry says: bearer, basic, or an API key in a
header, query parameter or cookie. Nothing here is specific to one API.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from mockyard import loader, specs, workspace
from mockyard.contract_events import OperationSkipped, Target
from mockyard.errors import ContractError, FixtureError, SpecError, WorkspaceError

SAFE_METHODS = frozenset({"get", "head", "options"})
# Undeclared methods Schemathesis may send to check for 405 when mutations are not allowed.
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
    sanitize: bool = True
    skipped: list[OperationSkipped] = field(default_factory=list)
    excluded_methods: tuple[str, ...] = ()
    reset: bool = False


@dataclass(frozen=True)
class Selected:
    """An API chosen for the run, before anything is known about the target."""

    name: str
    spec_path: Path
    spec: dict[str, Any]
    source: workspace.ApiSource | None


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
            source = ws.api(options.apis[0]) if ws and options.apis else _matching_api(ws, spec)
            name = source.name if source else spec_path.stem
            chosen.append(Selected(name, spec_path, spec, source))
        names = [s.name for s in chosen]
        return [  # several files of one API: tell their results apart
            Selected(f"{s.name}:{s.spec_path.stem}", s.spec_path, s.spec, s.source)
            if names.count(s.name) > 1
            else s
            for s in chosen
        ]
    assert ws is not None
    sources = [ws.api(name) for name in options.apis] if options.apis else list(ws.apis)
    return [Selected(s.name, s.spec, load_spec(s.spec), s) for s in sources]


def plan_apis(selected: list[Selected], options: PlanOptions, target: Target) -> list[ApiPlan]:
    """One plan per API: base URL, Schemathesis settings, credentials, skipped operations."""
    return [_plan(s.name, s.spec_path, s.spec, s.source, options, target) for s in selected]


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
    except WorkspaceError:
        if options.specs and not options.apis:
            return None  # a lone spec file can be tested without a workspace
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


def _plan(
    name: str,
    spec_path: Path,
    spec: dict[str, Any],
    source: workspace.ApiSource | None,
    options: PlanOptions,
    target: Target,
) -> ApiPlan:
    fixture = _fixture(source)
    settings = fixture.get("contract") or {}
    if not isinstance(settings, dict):
        raise FixtureError("'contract' must map Schemathesis settings", path=_fx(source))
    prefix = source.prefix if source else ""
    plan = ApiPlan(name, spec_path, spec, target.base_url + prefix, copy.deepcopy(settings))
    effective = load_spec(source.spec) if source and source.spec != spec_path else spec
    served = target.sandbox and source is not None and source.name in target.sandbox_apis
    plan.reset = served  # a local sandbox starts every API's run from the same state
    if options.token or options.headers:
        _explicit_credentials(plan, options, effective)
    elif served:
        assert source is not None
        _catalogue_credentials(plan, fixture, effective, source)
    if plan.credentials == "none" and _requires_auth(spec):
        plan.credentials = "none, although the spec requires some: pass --token or --header"
    if not target.loopback and not options.allow_mutations:
        _skip_mutations(plan, target)
    return plan


def _requires_auth(spec: Mapping[str, Any]) -> bool:
    if spec.get("security"):
        return True
    return any(op.spec.get("security") for op in specs.operations(dict(spec)))


def _fixture(source: workspace.ApiSource | None) -> dict[str, Any]:
    if source is None or source.fixtures is None:
        return {}
    data = workspace.read_yaml(source.fixtures) or {}
    if not isinstance(data, dict):
        raise FixtureError("expected a mapping", path=source.fixtures)
    return data


def _fx(source: workspace.ApiSource | None) -> Path | None:
    return source.fixtures if source else None


def _schemes(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    return {k: v for k, v in schemes.items() if isinstance(v, dict)}


def _explicit_credentials(
    plan: ApiPlan, options: PlanOptions, effective: Mapping[str, Any]
) -> None:
    """--token goes wherever the spec's security schemes say; --header as given."""
    parts = []
    if options.headers:
        plan.settings["headers"] = dict(options.headers)
        parts.append("--header " + ", ".join(k for k, _ in options.headers))
    if options.token:
        declared = _schemes(plan.spec)
        if declared:
            for scheme_name, scheme in declared.items():
                _place(plan, scheme_name, scheme, options.token, "", declared=True)
            parts.append("--token for " + ", ".join(declared))
        else:
            schemes = _schemes(effective)
            if len(schemes) == 1:
                scheme_name, scheme = next(iter(schemes.items()))
                _place(plan, scheme_name, scheme, options.token, "", declared=False)
                parts.append(f"--token as {scheme_name} (the workspace spec's scheme)")
            else:
                headers = plan.settings.setdefault("headers", {})
                headers.setdefault("Authorization", f"Bearer {options.token}")
                parts.append("--token as Authorization: Bearer")
    plan.credentials = "; ".join(parts)


def _catalogue_credentials(
    plan: ApiPlan,
    fixture: Mapping[str, Any],
    effective: Mapping[str, Any],
    source: workspace.ApiSource,
) -> None:
    entries = [c for c in fixture.get("credentials") or [] if isinstance(c, dict)]
    if not entries:
        return
    cred = next((c for c in entries if c.get("default")), entries[0])
    scheme_name = str(cred.get("scheme", ""))
    declared = _schemes(plan.spec)
    scheme = declared.get(scheme_name) or _schemes(effective).get(scheme_name)
    if scheme is None:
        raise FixtureError(
            f"credential scheme {scheme_name!r} is not in the spec's securitySchemes",
            path=source.fixtures,
        )
    value, password = str(cred.get("value", "")), str(cred.get("password", ""))
    _place(plan, scheme_name, scheme, value, password, declared=scheme_name in declared)
    shown = f"{value}:{password}" if password else value
    where = source.fixtures.name if source.fixtures else "fixtures"
    plan.credentials = f"{scheme_name} = {shown} (sandbox catalogue default, {where})"
    if scheme_name not in declared:
        plan.credentials += "; sent with every request, as the tested spec declares no such scheme"
    plan.sanitize = False  # public sandbox values: keep the reproduction commands runnable


def _place(
    plan: ApiPlan,
    scheme_name: str,
    scheme: Mapping[str, Any],
    value: str,
    password: str,
    *,
    declared: bool,
) -> None:
    """Put one credential where `scheme` says.

    A scheme the tested spec declares goes to Schemathesis's `auth.openapi`, so it applies the
    credential per operation and knows what `ignored_auth` should remove. A scheme only the
    workspace's spec knows (e.g. a vendor spec that forgot it) is sent on every request instead.
    """
    kind = str(scheme.get("type", "")).lower()
    http_scheme = str(scheme.get("scheme", "")).lower()
    if kind == "http" and http_scheme == "basic" and password == "" and ":" in value:
        value, password = value.split(":", 1)
    if declared:
        if kind == "http" and http_scheme == "basic":
            entry = {"username": value, "password": password}
        elif kind == "http" and http_scheme == "bearer":
            entry = {"bearer": value}
        elif kind == "apikey":
            entry = {"api_key": value}
        else:
            raise _unsupported(scheme_name, kind)
        plan.settings.setdefault("auth", {}).setdefault("openapi", {})[scheme_name] = entry
        return
    headers = plan.settings.setdefault("headers", {})
    if kind == "http" and http_scheme == "basic":
        pair = base64.b64encode(f"{value}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    elif kind == "http" and http_scheme == "bearer":
        headers["Authorization"] = f"Bearer {value}"
    elif kind == "apikey" and scheme.get("in") == "header":
        headers[str(scheme["name"])] = value
    elif kind == "apikey" and scheme.get("in") == "cookie":
        headers["Cookie"] = f"{scheme['name']}={value}"
    elif kind == "apikey" and scheme.get("in") == "query":
        plan.settings.setdefault("parameters", {})[f"query.{scheme['name']}"] = value
    else:
        raise _unsupported(scheme_name, kind)


def _unsupported(scheme_name: str, kind: str) -> ContractError:
    return ContractError(f"security scheme {scheme_name!r} of type {kind!r} is not supported")


def _skip_mutations(plan: ApiPlan, target: Target) -> None:
    methods = set()
    for op in specs.operations(plan.spec):
        if op.method in SAFE_METHODS:
            continue
        methods.add(op.method)
        plan.skipped.append(
            OperationSkipped(
                plan.api,
                f"{op.method.upper()} {op.path}",
                f"{op.method.upper()} can move money or change state and {target.host} is not a "
                "loopback address (pass --allow-mutations to test it)",
            )
        )
    plan.excluded_methods = tuple(sorted(methods))
    phases = plan.settings.setdefault("phases", {})
    phases.setdefault("coverage", {})["unexpected-methods"] = SAFE_PROBE_METHODS
    plan.settings.setdefault("auth", {})["auto-signup"] = False
