"""Reading the workspace's YAML and JSON files, naming the file in any error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mockyard.errors import WorkspaceError

# libyaml's loader parses ten times faster than the pure-Python one (startup time); same results.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """Parse a YAML (or JSON) file, naming the file in any error."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise WorkspaceError(f"cannot read: {exc}", path=path) from exc
