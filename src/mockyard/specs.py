"""OpenAPI documents: load, check, and merge the workspace's specs into the one API served.

Connexion routes several specs on one base path badly, so every spec is merged into one document.
Each operation is tagged with the API it came from (`x-mockyard-api`); two specs that define the
same method on the same path stop the load with both file names. Two specs may well name different
components alike (`User`, `Error`): the later spec's component is renamed `<api>_<name>` and
every `$ref` (and security requirement) of that spec follows it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from mockyard import loader
from mockyard.convert import Conversion
from mockyard.errors import SpecError

API_TAG = "x-mockyard-api"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Operation:
    """One operation of a spec, as the engine indexes it."""

    api: str
    method: str
    path: str
    operation_id: str
    spec: dict[str, Any]


def load_spec(path: Path) -> dict[str, Any]:
    """Read an OpenAPI 3.0.x, 3.1.x or Swagger 2.0 document (YAML or JSON, maybe split over
    several local files) as the 3.0.3 the engine serves."""
    return loader.load(path).document


def checked(path: Path) -> Conversion:
    """`load_spec`, keeping the notes on what loading changed (for `mockyard specs`)."""
    return loader.load(path)


def operations(spec: dict[str, Any], api: str = "") -> Iterator[Operation]:
    for route, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in METHODS:
                op_id = op.get("operationId") or f"{method}_{route}"
                yield Operation(op.get(API_TAG, api), method, route, op_id, op)


def merge(specs: Iterable[tuple[str, Path, dict[str, Any], str]]) -> dict[str, Any]:
    """Merge (api, file, spec, prefix) tuples into one OpenAPI 3.0.3 document."""
    merged: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "mockyard sandbox", "version": "1"},
        "paths": {},
        "components": {},
    }
    owners: dict[tuple[str, str], Path] = {}
    op_ids: dict[str, Path] = {}
    for api, path, spec, prefix in specs:
        if _clashes(spec, merged["components"], api):  # copying 13 MB costs 0.2 s: only then
            spec = json.loads(json.dumps(spec))  # a copy to rename in; 4x faster than deepcopy
            rename_colliding_components(spec, merged["components"], api)
        top_security = spec.get("security")
        for route, item in spec["paths"].items():
            target = merged["paths"].setdefault(prefix + route, {})
            shared = {k: v for k, v in item.items() if k not in METHODS}
            for method, op in item.items():
                if method not in METHODS:
                    continue
                if method in target:
                    other = owners[(prefix + route, method)]
                    raise SpecError(
                        f"{method.upper()} {prefix + route} is defined in both {other} and {path}",
                        path=path,
                    )
                op_id = op.get("operationId")
                if op_id in op_ids:
                    raise SpecError(
                        f"operationId {op_id!r} is used in both {op_ids[op_id]} and {path}",
                        path=path,
                    )
                if op_id:
                    op_ids[op_id] = path
                op = dict(op)  # the merged document's own: the caller's spec stays as it was
                if "parameters" in shared:
                    op["parameters"] = _merge_parameters(shared["parameters"], op)
                if top_security is not None:
                    op.setdefault("security", top_security)
                op[API_TAG] = api
                target[method] = op
                owners[(prefix + route, method)] = path
            target.update({k: v for k, v in shared.items() if k != "parameters"})
        for section, items in spec.get("components", {}).items():
            bucket = merged["components"].setdefault(section, {})
            for name, obj in items.items():
                if name in bucket and bucket[name] != obj:
                    raise SpecError(
                        f"components/{section}/{name} differs from another spec's", path=path
                    )
                bucket[name] = obj
    return merged


def rename_colliding_components(
    spec: dict[str, Any], taken: dict[str, dict[str, Any]], api: str
) -> dict[tuple[str, str], str]:
    """Rename `spec`'s components that `taken` defines differently; returns (section, old) -> new.

    Renaming one component changes those that refer to it, which may then differ from their
    namesakes in `taken` too, so this repeats until nothing collides.
    """
    renamed: dict[tuple[str, str], str] = {}
    while clashes := _clashes(spec, taken, api):
        components = spec["components"]
        for (section, name), new in clashes.items():
            items = components[section]
            items[new] = items.pop(name)
        _rewrite_refs(spec, clashes)
        renamed.update(clashes)
    return renamed


def _clashes(
    spec: dict[str, Any], taken: dict[str, dict[str, Any]], api: str
) -> dict[tuple[str, str], str]:
    """(section, name) -> a free new name, for each of `spec`'s components that `taken`
    defines differently."""
    prefix = re.sub(r"[^A-Za-z0-9._-]", "_", api)
    clashes = {}
    for section, items in spec.get("components", {}).items():
        other = taken.get(section, {})
        for name, obj in items.items():
            if name in other and other[name] != obj:
                clashes[(section, name)] = _free_name(f"{prefix}_{name}", other, items)
    return clashes


def _free_name(wanted: str, *namespaces: dict[str, Any]) -> str:
    name, n = wanted, 1
    while any(name in ns for ns in namespaces):
        n += 1
        name = f"{wanted}_{n}"
    return name


def _rewrite_refs(node: Any, renames: dict[tuple[str, str], str]) -> None:
    """Point `$ref`s, discriminator mappings and security requirements at renamed components."""
    if isinstance(node, list):
        for item in node:
            _rewrite_refs(item, renames)
        return
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        if key == "$ref" and isinstance(value, str):
            node[key] = _renamed_ref(value, renames)
        elif key == "mapping" and isinstance(value, dict) and _all_str(value.values()):
            node[key] = {k: _renamed_ref(v, renames) for k, v in value.items()}
        elif key == "security" and isinstance(value, list):
            node[key] = [
                {renames.get(("securitySchemes", k), k): v for k, v in req.items()}
                if isinstance(req, dict)
                else req
                for req in value
            ]
        else:
            _rewrite_refs(value, renames)


def _all_str(values: Iterable[Any]) -> bool:
    return all(isinstance(v, str) for v in values)


def _renamed_ref(ref: Any, renames: dict[tuple[str, str], str]) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#/components/"):
        return ref
    parts = ref[2:].split("/")
    if len(parts) < 3:
        return ref
    name = unquote(parts[2]).replace("~1", "/").replace("~0", "~")
    new = renames.get((parts[1], name))
    if new is None:
        return ref
    return "#/" + "/".join([parts[0], parts[1], quote(new, safe=""), *parts[3:]])


def _merge_parameters(shared: list[Any], op: dict[str, Any]) -> list[Any]:
    own = {_parameter_key(p) for p in op.get("parameters", [])}
    extra = [p for p in shared if _parameter_key(p) not in own]
    return [*extra, *op.get("parameters", [])]


def _parameter_key(param: Any) -> tuple[Any, Any]:
    """(name, in), or the `$ref` of a referenced parameter: the same `$ref` on the path and the
    operation is one parameter."""
    return ("$ref", param["$ref"]) if "$ref" in param else (param.get("name"), param.get("in"))


def handler_name(operation_id: str) -> str:
    """`list-user-orders` -> `list_user_orders`: the name of the handler function."""
    return re.sub(r"\W|^(?=\d)", "_", operation_id)
