"""OpenAPI documents: load, check, and merge the workspace's specs into the one API served.

Connexion routes several specs on one base path badly, so every spec is merged into one document.
Each operation is tagged with the API it came from (`x-mockyard-api`); two specs that define the
same method on the same path stop the load with both file names. Two specs may well name different
components alike (`User`, `Error`): the later spec's component is renamed `<api>_<name>` and
every `$ref` (and security requirement) of that spec follows it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from referencing.exceptions import Unresolvable

from mockyard import cache
from mockyard.convert import Conversion, safe_component_names, to_openapi30
from mockyard.errors import SpecError
from mockyard.yamlfiles import read_yaml

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
    """Read an OpenAPI 3.0.x or 3.1.x document (YAML or JSON) as the 3.0.3 the engine serves."""
    return checked(path).document


def checked(path: Path) -> Conversion:
    """`load_spec`, keeping the conversion's notes (what a 3.1 document lost on the way)."""
    spec = read_yaml(path)
    if not isinstance(spec, dict) or "openapi" not in spec:
        raise SpecError("not an OpenAPI document (no 'openapi' field)", path=path)
    version = str(spec["openapi"])
    if not re.match(r"^3\.[01]\.\d+", version):
        raise SpecError(f"OpenAPI {version} is not supported; use 3.0.x or 3.1.x", path=path)
    if not isinstance(spec.get("paths", {}), dict):
        raise SpecError("'paths' must be a mapping", path=path)
    conversion = to_openapi30(spec)
    safe_component_names(conversion.document)
    _name_operations(conversion.document, path)
    problem = _first_problem(conversion.document)
    if problem:
        raise SpecError(f"invalid OpenAPI {version} document: {problem}", path=path)
    return conversion


def _name_operations(spec: dict[str, Any], path: Path) -> None:
    """Give every operation an operationId (`get /users/{id}` -> `get_users_id`); reject twins."""
    seen: set[str] = set()
    unnamed = []
    for route, item in spec["paths"].items():
        for method, op in (item or {}).items():
            if method not in METHODS or not isinstance(op, dict):
                continue
            if "operationId" not in op:
                unnamed.append((route, method, op))
            elif op["operationId"] in seen:
                raise SpecError(f"operationId {op['operationId']!r} is used twice", path=path)
            else:
                seen.add(op["operationId"])
    for route, method, op in unnamed:
        base = re.sub(r"[^A-Za-z0-9]+", "_", f"{method}_{route}").strip("_")
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        op["operationId"] = name
        seen.add(name)


def _first_problem(spec: dict[str, Any]) -> str:
    """The validator's first complaint about `spec`, or "". Valid documents are remembered (see
    `cache`): the validator is half a second of every start, and importing it a tenth."""

    def validate() -> str:
        from openapi_spec_validator import OpenAPIV30SpecValidator

        return _validate(spec, OpenAPIV30SpecValidator)

    return cache.first_problem("valid-specs", spec, "openapi-spec-validator", validate)


def _validate(spec: dict[str, Any], validator: Any) -> str:
    try:
        error = next(iter(validator(spec).iter_errors()), None)
    except Unresolvable as exc:
        return f"unresolvable reference {getattr(exc, 'ref', exc)!r}"
    if error is None:
        return ""
    where = "/".join(str(p) for p in getattr(error, "absolute_path", ()) or ())
    message = str(getattr(error, "message", error)).splitlines()[0]
    return f"{message} (at {where})" if where else message


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
        spec = copy.deepcopy(spec)
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
    prefix = re.sub(r"[^A-Za-z0-9._-]", "_", api)
    while True:
        components = spec.get("components", {})
        clashes = {}
        for section, items in components.items():
            for name, obj in items.items():
                other = taken.get(section, {})
                if name in other and other[name] != obj:
                    clashes[(section, name)] = _free_name(f"{prefix}_{name}", other, items)
        if not clashes:
            return renamed
        for (section, name), new in clashes.items():
            items = components[section]
            items[new] = items.pop(name)
        _rewrite_refs(spec, clashes)
        renamed.update(clashes)


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
    own = {(p.get("name"), p.get("in")) for p in op.get("parameters", []) if "name" in p}
    extra = [p for p in shared if (p.get("name"), p.get("in")) not in own]
    return [*extra, *op.get("parameters", [])]


def handler_name(operation_id: str) -> str:
    """`list-user-orders` -> `list_user_orders`: the name of the handler function."""
    return re.sub(r"\W|^(?=\d)", "_", operation_id)
