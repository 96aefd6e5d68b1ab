"""What can change state on a target, read from the spec: the basis of read-only contract runs.

A request can change state when its method is not one of RFC 9110's safe methods (GET, HEAD,
OPTIONS, TRACE), or when the spec says so with mockyard's `x-mockyard-writes` extension:

    get:
      x-mockyard-writes: true          # on an operation: this GET changes state
      parameters:
        - name: type
          in: query
          schema: {type: string, enum: [start, confirm]}
          x-mockyard-writes: [start]   # on a parameter: these values change state
        - name: refresh
          in: query
          x-mockyard-writes: true      # any value of this parameter changes state

`read_only(spec)` prepares a spec for a read-only run: the operations that always write are
listed to skip; a writing parameter value is taken out of what generation can choose (its enum
narrowed, or `not: {enum: [...]}` added; examples and defaults that write are dropped), and an
operation left with no value to send is skipped too. The rules go into the document's root
(`x-mockyard-read-only`), where `refusal` finds them before every request: a safety net, so a
request that could still change state is never sent.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mockyard import specs
from mockyard.errors import ContractError, SpecError

WRITES = "x-mockyard-writes"
RULES = "x-mockyard-read-only"
SAFE_METHODS = frozenset({"get", "head", "options", "trace"})


class WriteRefused(ContractError):
    """A read-only run was about to send a request that could change state."""


@dataclass
class ReadOnly:
    """A spec narrowed for a read-only run, and what the narrowing left out."""

    spec: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)  # operation label -> why
    narrowed: list[str] = field(default_factory=list)  # "GET /x: type never start"


def check(spec: Mapping[str, Any], path: Path | None = None) -> None:
    """Refuse a malformed `x-mockyard-writes` (a SpecError naming the operation)."""
    for op in specs.operations(dict(spec)):
        label = f"{op.method.upper()} {op.path}"
        marker = op.spec.get(WRITES)
        if marker is not None and not isinstance(marker, bool):
            raise SpecError(f"{label}: {WRITES} on an operation must be true or false", path=path)
        for param in _parameters(spec, op.path, op.method):
            marker = param.get(WRITES)
            if marker is None or marker is True:
                continue
            if not (isinstance(marker, list) and marker) or any(
                isinstance(v, dict | list) for v in marker
            ):
                raise SpecError(
                    f"{label}: {WRITES} on parameter {param.get('name')!r} must be true or a "
                    "non-empty list of the values that change state",
                    path=path,
                )


def read_only(spec: Mapping[str, Any]) -> ReadOnly:
    """The spec to hand Schemathesis for a read-only run (see the module docstring)."""
    narrowed = copy.deepcopy(dict(spec))
    result = ReadOnly(narrowed)
    rules: dict[str, Any] = {}
    for route, item in narrowed.get("paths", {}).items():
        shared = item.pop("parameters", None)  # each operation gets its own, resolved, list
        for method, op in item.items():
            if method not in specs.METHODS:
                continue
            label = f"{method.upper()} {route}"
            params = _merged(narrowed, shared or [], op.get("parameters") or [])
            op["parameters"] = params
            if method not in SAFE_METHODS:
                result.skipped[label] = f"{method.upper()} can change state"
                rules[label] = {"writes": True}
            elif op.get(WRITES) is True:
                result.skipped[label] = f"the spec marks it as changing state ({WRITES})"
                rules[label] = {"writes": True}
            else:
                reason = _narrow(narrowed, label, op, params, result, rules)
                if reason:
                    result.skipped[label] = reason
                    rules[label] = {"writes": True}
    narrowed[RULES] = rules
    return result


def refusal(case: Any) -> str | None:
    """Why sending `case` could change state in a read-only run; None if it cannot (or the run
    is not read-only)."""
    rules = case.operation.schema.raw_schema.get(RULES)
    if rules is None:
        return None
    label = case.operation.label
    if case.method.lower() not in SAFE_METHODS:
        return f"{case.method.upper()} {case.operation.path} can change state"
    rule = rules.get(label) or {}
    if rule.get("writes"):
        return f"{label} can change state"
    for param in rule.get("parameters", []):
        sent = _sent(case, param["in"], param["name"])
        if sent and (param["values"] is True or any(_writes(v, param["values"]) for v in sent)):
            where = f"{param['in']} parameter {param['name']}={sent[0]}"
            return f"{label} with {where} can change state"
    return None


def _narrow(
    spec: dict[str, Any],
    label: str,
    op: dict[str, Any],
    params: list[dict[str, Any]],
    result: ReadOnly,
    rules: dict[str, Any],
) -> str:
    """Take writing values out of `op`'s parameters; returns why the op is skipped, or ""."""
    kept = []
    for param in params:
        marker = param.get(WRITES)
        if marker is None:
            kept.append(param)
            continue
        name, where = param.get("name"), param.get("in")
        rules.setdefault(label, {}).setdefault("parameters", []).append(
            {"in": where, "name": name, "values": marker}
        )
        schema = _resolved(spec, param.get("schema"))
        allowed = None
        if marker is not True and isinstance(schema, dict):
            allowed = _allowed(schema, marker)
        if allowed == [] or marker is True or not isinstance(schema, dict):
            if param.get("required"):
                return f"every value of its {where} parameter {name} can change state ({WRITES})"
            result.narrowed.append(f"{label}: {name} never sent")
            continue  # an optional parameter that always writes is left out
        _drop_writing_samples(param, marker, allowed)
        _drop_writing_samples(schema, marker, allowed)
        if allowed is None and "not" in schema:
            schema = {"allOf": [schema, {"not": {"enum": list(marker)}}]}
        elif allowed is None:
            schema["not"] = {"enum": list(marker)}
        param["schema"] = schema
        shown = ", ".join(str(v) for v in marker)
        result.narrowed.append(f"{label}: {name} never {shown}")
        kept.append(param)
    op["parameters"] = kept
    return ""


def _allowed(schema: dict[str, Any], marker: list[Any]) -> list[Any] | None:
    """The enum without its writing values (None when the schema has no enum)."""
    if not isinstance(schema.get("enum"), list):
        return None
    schema["enum"] = [v for v in schema["enum"] if not _writes(v, marker)]
    return list(schema["enum"])


def _drop_writing_samples(
    node: dict[str, Any], marker: list[Any], allowed: list[Any] | None
) -> None:
    """Examples and defaults that write go; an example is replaced by an allowed value."""
    for key in ("example", "default"):
        if key in node and _writes(node[key], marker):
            if key == "example" and allowed:
                node[key] = allowed[0]
            else:
                del node[key]
    examples = node.get("examples")
    if isinstance(examples, dict):
        node["examples"] = {
            k: v
            for k, v in examples.items()
            if not (isinstance(v, dict) and _writes(v.get("value"), marker))
        }
        if not node["examples"]:
            del node["examples"]
    elif isinstance(examples, list):
        node["examples"] = [v for v in examples if not _writes(v, marker)]
        if not node["examples"]:
            del node["examples"]


def _writes(value: Any, marker: list[Any]) -> bool:
    return _norm(value) in {_norm(v) for v in marker}


def _norm(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sent(case: Any, where: str, name: str) -> list[Any]:
    """The values `case` sends for one parameter (header and cookie names: any case)."""
    container = {
        "path": case.path_parameters,
        "query": case.query,
        "header": case.headers,
        "cookie": case.cookies,
    }.get(where) or {}
    if where in ("header", "cookie"):
        container = {str(k).lower(): v for k, v in container.items()}
        name = name.lower()
    if name not in container:
        return []
    value = container[name]
    return list(value) if isinstance(value, list | tuple) else [value]


def _parameters(spec: Mapping[str, Any], route: str, method: str) -> Iterator[dict[str, Any]]:
    item = spec.get("paths", {}).get(route, {})
    yield from _merged(spec, item.get("parameters") or [], item[method].get("parameters") or [])


def _merged(spec: Mapping[str, Any], shared: list[Any], own: list[Any]) -> list[dict[str, Any]]:
    """Path-level parameters with the operation's own on top (same name and location wins)."""
    merged: dict[tuple[Any, Any], dict[str, Any]] = {}
    for param in [*shared, *own]:
        resolved = _resolved(spec, param)
        if isinstance(resolved, dict):
            merged[(resolved.get("name"), resolved.get("in"))] = copy.deepcopy(resolved)
    return list(merged.values())


def _resolved(spec: Mapping[str, Any], node: Any) -> Any:
    """`node` with a local `$ref` followed (a copy); anything else as it is."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 32:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return node
        target: Any = spec
        for part in ref[2:].split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            target = target.get(key) if isinstance(target, dict) else None
        if target is None:
            return node
        node, seen = copy.deepcopy(target), seen + 1
    return node
