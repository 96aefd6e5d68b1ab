"""Reading one OpenAPI file as the plain JSON data it stands for.

OpenAPI documents are JSON, or YAML limited to what JSON can say (the spec asks for YAML 1.2's
JSON-compatible schema). So a `.json` file (or any file starting with `{`) is read with `json`,
and YAML with a YAML 1.2 parser (`yaml_rs`): `NO`, `yes` and `2024-01-01` stay strings, `010` is
ten, as Prism reads them; PyYAML's YAML 1.1 rules would turn Norway's code into `False` and a
date into a `datetime`. The result is always a tree of dicts, lists and JSON scalars:

- mapping keys are text (`200:` unquoted is the response code "200", not the integer 200);
- aliases (`*anchor`) are copies, so no part of the document is shared or cyclic;
- YAML merge keys (`<<: *base`) are applied, as PyYAML and most OpenAPI tools do.

Any problem is a `SpecError` of one line: the file, where (line and column, or a JSON pointer)
and what.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml_rs

from mockyard.errors import SpecError

_MERGE = "<<"


def read(path: Path) -> Any:
    """The JSON data in `path` (YAML 1.2 or JSON)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {_one_line(exc)}", path=path) from exc
    return parse(text, path)


def parse(text: str, path: Path) -> Any:
    """`text` (the content of `path`) as JSON data."""
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            if path.suffix == ".json":
                raise SpecError(f"invalid JSON: {_one_line(exc)}", path=path) from exc
    try:
        data = yaml_rs.loads(
            text,
            parse_datetime=False,
            duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.LastWins,  # as PyYAML and JSON.parse
        )
    except (yaml_rs.YAMLDecodeError, ValueError, RecursionError) as exc:
        raise SpecError(f"invalid YAML: {_one_line(exc)}", path=path) from exc
    return _plain(data, path, "", _MERGE in text)


def _plain(node: Any, path: Path, pointer: str, merges: bool) -> Any:
    """`node` with text keys and merge keys applied; YAML's non-JSON numbers refused."""
    if isinstance(node, dict):
        if merges and _MERGE in node:
            node = _merged(node, path, pointer)
        if all(type(k) is str for k in node) and not merges:
            for key, value in node.items():
                if isinstance(value, dict | list | float):
                    node[key] = _plain(value, path, f"{pointer}/{escape(key)}", merges)
            return node
        out = {}
        for key, value in node.items():
            text = _key_text(key)
            out[text] = _plain(value, path, f"{pointer}/{escape(text)}", merges)
        return out
    if isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, dict | list | float):
                node[i] = _plain(value, path, f"{pointer}/{i}", merges)
        return node
    if isinstance(node, float) and not math.isfinite(node):
        raise SpecError(f"{pointer or '/'}: {node} is not a JSON number", path=path)
    return node


def _merged(node: dict[Any, Any], path: Path, pointer: str) -> dict[Any, Any]:
    sources = node[_MERGE]
    sources = sources if isinstance(sources, list) else [sources]
    out: dict[Any, Any] = {}
    for source in reversed(sources):  # the first mapping listed wins
        if not isinstance(source, dict):
            raise SpecError(f"{pointer or '/'}: '<<' must merge mappings", path=path)
        out.update(source)
    out.update((k, v) for k, v in node.items() if k != _MERGE)
    return out


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    if len(lines) > 1 and not lines[-1].startswith(("|", "^")):
        text += f": {lines[-1]}"  # yaml_rs ends with what is wrong after the caret drawing
    return text[:300]
