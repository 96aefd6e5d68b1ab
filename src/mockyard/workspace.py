"""A workspace: `mockyard.yaml` plus `specs/`, `handlers/` and `fixtures/`, loaded once.

`load` finds each API's files: by default every `specs/<api>.yaml` (or `.yml`/`.json`) is an
API, with `handlers/<api>.py` and `fixtures/<api>.yaml` when they exist; `mockyard.yaml` can
list the APIs instead, and give each a mount `prefix`. The `Workspace` it returns reads the
rest on first use and keeps it, so every command and the server share one reading: the specs
(checked, 3.1 converted), the merged spec, the fixture files, the handler modules (imported only
by what serves them; `handler_names` reads their function names without running them) and the
operation index.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from mockyard import cache, resource_config, resource_handlers, resources, specs
from mockyard.convert import Conversion
from mockyard.errors import FixtureError, WorkspaceError
from mockyard.operations import OperationIndex
from mockyard.runtime import ApiHooks
from mockyard.store import is_url
from mockyard.yamlfiles import read_yaml

CONFIG_FILE = "mockyard.yaml"
DEFAULT_SEED = 20240601
_SPEC_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ApiSource:
    """Where one API's spec, handler module and fixtures live."""

    name: str
    spec: Path
    handlers: Path | None = None
    fixtures: Path | None = None
    prefix: str = ""
    idempotency: Any = None  # the `idempotency:` section of its mockyard.yaml entry, as written
    resources: resource_config.Settings = field(default_factory=resource_config.Settings)


@dataclass(frozen=True)
class Workspace:
    """The APIs of a workspace and its settings; every other part is read on first use."""

    root: Path
    apis: tuple[ApiSource, ...]
    seed: int = DEFAULT_SEED
    settings: dict[str, Any] = field(default_factory=dict)

    def api(self, name: str) -> ApiSource:
        for source in self.apis:
            if source.name == name:
                return source
        known = ", ".join(a.name for a in self.apis) or "none"
        raise WorkspaceError(f"unknown API {name!r} (this workspace serves: {known})")

    @property
    def state(self) -> str:
        """`state:` in mockyard.yaml: a database URL, or a file path relative to the workspace;
        "" when it names none."""
        state = self.settings.get("state")
        if state is None:
            return ""
        if not isinstance(state, str) or not state.strip():
            raise WorkspaceError(
                "'state' must be a file path or a postgresql:// URL", path=self.root / CONFIG_FILE
            )
        return state if is_url(state) else str(self.root / state)

    @functools.cached_property
    def conversions(self) -> dict[str, Conversion]:
        """Each API's spec, checked and converted to the 3.0.3 the engine serves."""
        return {source.name: specs.checked(source.spec) for source in self.apis}

    @property
    def specs(self) -> dict[str, dict[str, Any]]:
        return {name: conversion.document for name, conversion in self.conversions.items()}

    @functools.cached_property
    def merged(self) -> dict[str, Any]:
        """The one document every API is served from (see `specs.merge`)."""
        documents = self.specs
        return specs.merge((s.name, s.spec, documents[s.name], s.prefix) for s in self.apis)

    @functools.cached_property
    def merged_source(self) -> str:
        """A cache key of what `merged` is made from ("" if a spec's is unknown): hashing the
        merged document itself costs half a second on a 13 MB spec."""
        conversions = self.conversions
        if not all(c.source for c in conversions.values()):
            return ""
        made_of = [(s.name, s.prefix, conversions[s.name].source) for s in self.apis]
        return cache.key(made_of, cache.source_of(specs.__file__))

    @functools.cached_property
    def fixtures(self) -> dict[str, Mapping[str, Any]]:
        """Each API's fixture file, parsed ({} for an API without one)."""
        out: dict[str, Mapping[str, Any]] = {}
        for source in self.apis:
            data = read_yaml(source.fixtures) if source.fixtures else {}
            if not isinstance(data, Mapping):
                raise FixtureError("expected a mapping", path=source.fixtures)
            out[source.name] = data or {}
        return out

    @functools.cached_property
    def hooks(self) -> dict[str, ApiHooks]:
        """Each API's handler module, imported, with the hooks it defines."""
        return {
            s.name: ApiHooks(
                s.name,
                load_module(s.handlers, s.name) if s.handlers else None,
                self.fixtures[s.name],
            )
            for s in self.apis
        }

    @functools.cached_property
    def handler_names(self) -> dict[str, frozenset[str]]:
        """The functions each handler module defines, read from its source, not run."""
        return {
            s.name: _defined_names(s.handlers) if s.handlers else frozenset() for s in self.apis
        }

    @functools.cached_property
    def inference(self) -> resources.Inference:
        """The resources inferred from the specs, and the operations they answer: those no
        handler module function answers (read from the modules' source, not run)."""
        names = self.handler_names
        return resources.infer(
            OperationIndex(self.merged),
            {s.name: s.resources for s in self.apis},
            lambda op: specs.handler_name(op.operation_id) in names.get(op.api, ()),
        )

    @functools.cached_property
    def index(self) -> OperationIndex:
        """Every served operation, with what answers it: the handler module's function, else
        an inferred resource's (modules imported), else nothing (the spec's mock)."""
        hooks = self.hooks
        modules = {name: api.module for name, api in hooks.items()}
        return OperationIndex(
            self.merged,
            lambda api, op: hooks[api].handler(op) if api in hooks else None,
            resource_handlers.handlers(self.inference, self.merged, modules),
        )


def _defined_names(path: Path) -> frozenset[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise WorkspaceError(f"cannot read handler module: {exc}", path=path) from exc
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)


def load_module(path: Path, api: str) -> ModuleType:
    """Import a workspace handler file under a private name."""
    name = "_mockyard_handlers_" + re.sub(r"\W", "_", api)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise WorkspaceError("cannot import handler module", path=path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise WorkspaceError(f"handler module failed to import: {exc!r}", path=path) from exc
    return module


def load(root: Path | str) -> Workspace:
    """Read `root/mockyard.yaml` (optional) and find every API's files."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise WorkspaceError("workspace directory does not exist", path=root)
    config_path = root / CONFIG_FILE
    config = read_yaml(config_path) if config_path.exists() else {}
    if not isinstance(config, dict):
        raise WorkspaceError("expected a mapping", path=config_path)
    declared = config.get("apis")
    shared = {"resources": config["resources"]} if "resources" in config else {}
    if declared is None:
        apis = tuple(_source(root, path.stem, shared) for path in _spec_files(root))
    elif isinstance(declared, dict):
        apis = tuple(
            _source(root, name, {**shared, **(opts or {})}) for name, opts in declared.items()
        )
    else:
        raise WorkspaceError("'apis' must map API names to options", path=config_path)
    if not apis:
        raise WorkspaceError("no OpenAPI specs found in specs/", path=root)
    settings = {k: v for k, v in config.items() if k not in ("apis", "seed", "resources")}
    return Workspace(root, apis, int(config.get("seed", DEFAULT_SEED)), settings)


def from_specs(paths: Iterable[Path | str]) -> Workspace:
    """Spec files alone (`serve --spec`): each file, or each spec in a folder, is an API named
    after its file; no handlers, no fixtures."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in _SPEC_SUFFIXES and p.is_file())
            if not found:
                raise WorkspaceError("no OpenAPI specs (.yaml, .yml, .json) in folder", path=path)
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise WorkspaceError("spec file does not exist", path=path)
    if not files:
        raise WorkspaceError("no spec files given")
    apis: list[ApiSource] = []
    for path in files:
        name, n = path.stem, 1
        while any(a.name == name for a in apis):
            n += 1
            name = f"{path.stem}-{n}"
        apis.append(ApiSource(name, path))
    return Workspace(files[0].parent, tuple(apis))


WATCHED_FILES = ("*.py", "*.yaml", "*.yml", "*.json")
"""What `serve --reload` restarts for, in the folders `watched_dirs` names."""


def watched_dirs(ws: Workspace) -> list[Path]:
    """The folders holding the workspace's specs, handlers and fixtures (not the root, which
    may hold a virtualenv)."""
    dirs = [ws.root / name for name in ("specs", "handlers", "fixtures")]
    for source in ws.apis:
        dirs.extend(p.parent for p in (source.spec, source.handlers, source.fixtures) if p)
    unique = sorted({d.resolve() for d in dirs if d.is_dir()})
    return [d for d in unique if not any(o != d and o in d.parents for o in unique)]


def _spec_files(root: Path) -> list[Path]:
    specs = root / "specs"
    return sorted(p for p in specs.glob("*") if p.suffix in _SPEC_SUFFIXES and p.is_file())


def _source(root: Path, name: str, opts: dict[str, Any]) -> ApiSource:
    spec = _find(root, opts.get("spec"), [root / "specs" / f"{name}{s}" for s in _SPEC_SUFFIXES])
    if spec is None:
        raise WorkspaceError(f"no spec found for API {name!r}", path=root / "specs")
    handlers = _find(root, opts.get("handlers"), [root / "handlers" / f"{name}.py"])
    fixtures = _find(
        root, opts.get("fixtures"), [root / "fixtures" / f"{name}{s}" for s in _SPEC_SUFFIXES]
    )
    if not isinstance(opts, dict):
        raise WorkspaceError(f"apis.{name} must be a mapping", path=root / CONFIG_FILE)
    prefix = str(opts.get("prefix", "")).rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    inferred = resource_config.settings(opts.get("resources"), root / CONFIG_FILE)
    return ApiSource(name, spec, handlers, fixtures, prefix, opts.get("idempotency"), inferred)


def _find(root: Path, explicit: str | None, candidates: list[Path]) -> Path | None:
    if explicit:
        path = (root / explicit).resolve()
        if not path.exists():
            raise WorkspaceError("file named in mockyard.yaml does not exist", path=path)
        return path
    return next((p for p in candidates if p.exists()), None)
