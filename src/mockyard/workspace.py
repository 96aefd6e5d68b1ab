"""A workspace: `mockyard.yaml` plus `specs/`, `handlers/` and `fixtures/`.

Reading a workspace finds each API's files; it imports nothing and serves nothing. By default
every `specs/<api>.yaml` (or `.yml`/`.json`) is an API, with `handlers/<api>.py` and
`fixtures/<api>.yaml` when they exist. `mockyard.yaml` can list the APIs instead, and give each a
mount `prefix`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mockyard.errors import WorkspaceError
from mockyard.store import is_url

CONFIG_FILE = "mockyard.yaml"
# libyaml's loader parses ten times faster than the pure-Python one (startup time); same results.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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


@dataclass(frozen=True)
class Workspace:
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


def read_yaml(path: Path) -> Any:
    """Parse a YAML (or JSON) file, naming the file in any error."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise WorkspaceError(f"cannot read: {exc}", path=path) from exc


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
    if declared is None:
        apis = tuple(_source(root, path.stem, {}) for path in _spec_files(root))
    elif isinstance(declared, dict):
        apis = tuple(_source(root, name, opts or {}) for name, opts in declared.items())
    else:
        raise WorkspaceError("'apis' must map API names to options", path=config_path)
    if not apis:
        raise WorkspaceError("no OpenAPI specs found in specs/", path=root)
    settings = {k: v for k, v in config.items() if k not in ("apis", "seed")}
    return Workspace(root, apis, int(config.get("seed", DEFAULT_SEED)), settings)


def state_setting(root: Path | str, spec_files: Iterable[str] = ()) -> str:
    """`state:` in `root/mockyard.yaml` (a database URL, or a file path relative to the
    workspace); "" when it names none or spec files stand in for the workspace."""
    config_path = Path(root).resolve() / CONFIG_FILE
    if tuple(spec_files) or not config_path.exists():
        return ""
    config = read_yaml(config_path)
    state = config.get("state") if isinstance(config, dict) else None
    if state is None:
        return ""
    if not isinstance(state, str) or not state.strip():
        raise WorkspaceError("'state' must be a file path or a postgresql:// URL", path=config_path)
    if is_url(state):
        return state
    return str(config_path.parent / state)


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
    prefix = str(opts.get("prefix", "")).rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    return ApiSource(name, spec, handlers, fixtures, prefix)


def _find(root: Path, explicit: str | None, candidates: list[Path]) -> Path | None:
    if explicit:
        path = (root / explicit).resolve()
        if not path.exists():
            raise WorkspaceError("file named in mockyard.yaml does not exist", path=path)
        return path
    return next((p for p in candidates if p.exists()), None)
