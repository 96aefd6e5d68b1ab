"""What `mockyard specs` reports: every operation and who answers it (a handler, an inferred
resource, or the generator), each inferred resource and why an operation is not one's, and
where each effective spec departs from the vendor's own blocks in `specs/upstream/<api>/`.

Both sides are read the way the sandbox reads them (3.1 converted to 3.0, component names made
safe, `$ref`s followed), then compared by operation (method and path), parameters (presence,
`required`, schema type), request body fields (presence and `required`, nested ones as
`a.b`, array items as `a[]`) and response statuses and fields. Reading validates every file,
so an invalid spec stops the report with a `SpecError` naming the file and the problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mockyard import specs
from mockyard.fakedata import resolve_ref
from mockyard.resources import Inference
from mockyard.workspace import Workspace

UPSTREAM_DIR = Path("specs") / "upstream"
_MAX_DEPTH = 6


@dataclass(frozen=True)
class OperationInfo:
    """One served operation and what answers it: `handler`, `resource` or `generator`."""

    api: str
    method: str
    path: str
    operation_id: str
    answered_by: str


@dataclass(frozen=True)
class ResourceOperation:
    """An operation an inferred resource answers, and how."""

    method: str
    path: str
    operation_id: str
    action: str  # list, create, read, replace, merge or delete
    envelope: str  # where the record sits in the answer ("" for the body itself)


@dataclass(frozen=True)
class ResourceInfo:
    """One inferred resource: its paths, store collection, id property and operations."""

    api: str
    name: str
    collection: str
    collection_path: str
    item_path: str | None
    id_property: str
    parents: list[str]  # record property <- path parameter, for a nested collection
    where: dict[str, Any]
    view: str | None
    records: int  # seeded when no fixture fills the collection
    operations: list[ResourceOperation]


@dataclass(frozen=True)
class NotMapped:
    """An operation no inferred resource answers, and why."""

    api: str
    method: str
    path: str
    operation_id: str
    reason: str


@dataclass(frozen=True)
class Departure:
    """One difference between an effective spec and its upstream blocks."""

    api: str
    method: str
    path: str
    detail: str


@dataclass
class SpecReport:
    """Everything `mockyard specs` shows."""

    operations: list[OperationInfo] = field(default_factory=list)
    resources: list[ResourceInfo] = field(default_factory=list)
    not_mapped: list[NotMapped] = field(default_factory=list)
    departures: list[Departure] = field(default_factory=list)
    upstream: dict[str, list[Path]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)  # what 3.1 conversion dropped


def report(ws: Workspace) -> SpecReport:
    """Read and check every spec of `ws` (and its upstream blocks) and compare them."""
    out = SpecReport()
    inference = ws.inference
    for source in ws.apis:
        conversion = ws.conversions[source.name]
        doc = conversion.document
        if conversion.notes:
            out.notes[source.name] = conversion.notes
        defined = ws.handler_names[source.name]
        for op in specs.operations(doc, source.name):
            answered = "handler" if specs.handler_name(op.operation_id) in defined else "generator"
            if op.operation_id in inference.mapped and answered == "generator":
                answered = "resource"
            out.operations.append(
                OperationInfo(
                    source.name, op.method, source.prefix + op.path, op.operation_id, answered
                )
            )
        upstream_dir = ws.root / UPSTREAM_DIR / source.name
        files = _spec_files(upstream_dir)
        if files:
            out.upstream[source.name] = files
            out.departures.extend(compare(source.name, doc, [specs.load_spec(f) for f in files]))
    out.resources, out.not_mapped = _resources(inference)
    return out


def _resources(inference: Inference) -> tuple[list[ResourceInfo], list[NotMapped]]:
    infos = []
    for resource in inference.resources:
        ops = [
            ResourceOperation(
                method,
                path,
                mapped.operation_id,
                mapped.action,
                str(mapped.envelope) if mapped.envelope is not None else "",
            )
            for (method, path), mapped in inference.operations_of(resource)
        ]
        infos.append(
            ResourceInfo(
                api=resource.api,
                name=resource.name,
                collection=resource.collection,
                collection_path=resource.collection_path,
                item_path=resource.item_path,
                id_property=resource.id_property,
                parents=[f"{p.property} <- {{{p.param}}}" for p in resource.scope],
                where=dict(resource.where),
                view=resource.view,
                records=resource.records,
                operations=ops,
            )
        )
    skipped = [
        NotMapped(u.api, u.method, u.path, u.operation_id, u.reason) for u in inference.unmapped
    ]
    return infos, skipped


def compare(
    api: str, effective: Mapping[str, Any], upstream: list[Mapping[str, Any]]
) -> Iterator[Departure]:
    """The departures of `effective` from the union of the `upstream` documents."""
    mine = dict(_operations(effective))
    theirs: dict[tuple[str, str], tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
    for doc in upstream:
        theirs.update(_operations(doc))
    for key in sorted(mine.keys() | theirs.keys(), key=lambda k: (k[1], k[0])):
        method, path = key
        if key not in theirs:
            yield Departure(api, method, path, "operation not in upstream")
            continue
        if key not in mine:
            yield Departure(api, method, path, "upstream operation not served")
            continue
        (op, doc), (up, up_doc) = mine[key], theirs[key]
        for detail in _operation_diff(op, doc, up, up_doc):
            yield Departure(api, method, path, detail)


# --- comparison ----------------------------------------------------------------------------------


def _operations(doc: Mapping[str, Any]) -> Iterator[tuple[tuple[str, str], tuple[Any, Any]]]:
    for path, item in (doc.get("paths") or {}).items():
        item = _deref(doc, item)
        for method, op in item.items():
            if method in specs.METHODS and isinstance(op, Mapping):
                yield (method.upper(), path), (_with_path_params(op, item), doc)


def _with_path_params(op: Mapping[str, Any], item: Mapping[str, Any]) -> Mapping[str, Any]:
    shared = item.get("parameters")
    return {**op, "parameters": [*(shared or []), *(op.get("parameters") or [])]}


def _operation_diff(op: Any, doc: Any, up: Any, up_doc: Any) -> Iterator[str]:
    yield from _parameter_diff(_parameters(op, doc), _parameters(up, up_doc))
    yield from _fields_diff(
        "request body", _body_fields(op, doc), _body_fields(up, up_doc), presence=True
    )
    mine = {str(k): v for k, v in (op.get("responses") or {}).items()}
    theirs = {str(k): v for k, v in (up.get("responses") or {}).items()}
    for status in sorted(mine.keys() - theirs.keys()):
        yield f"response {status} not in upstream"
    for status in sorted(theirs.keys() - mine.keys()):
        yield f"upstream response {status} not documented"
    for status in sorted(mine.keys() & theirs.keys()):
        yield from _fields_diff(
            f"response {status}",
            _response_fields(mine[status], doc),
            _response_fields(theirs[status], up_doc),
            presence=True,
            required=False,
        )


def _parameters(op: Mapping[str, Any], doc: Any) -> dict[tuple[str, str], Mapping[str, Any]]:
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for param in op.get("parameters") or []:
        param = _deref(doc, param)
        out[(param.get("in", ""), param.get("name", ""))] = {
            "required": bool(param.get("required")),
            "type": _type_name(doc, param.get("schema")),
        }
    return out


def _parameter_diff(mine: dict[Any, Any], theirs: dict[Any, Any]) -> Iterator[str]:
    for key in sorted(mine.keys() | theirs.keys()):
        where, name = key
        if key not in theirs:
            yield f"parameter {where} {name} not in upstream"
        elif key not in mine:
            yield f"upstream parameter {where} {name} not served"
        else:
            a, b = mine[key], theirs[key]
            if a["required"] != b["required"]:
                yield (
                    f"parameter {where} {name} is {_req(a['required'])} "
                    f"(upstream: {_req(b['required'])})"
                )
            if a["type"] != b["type"]:
                yield f"parameter {where} {name} is {a['type']} (upstream: {b['type']})"


def _fields_diff(
    label: str,
    mine: dict[str, bool],
    theirs: dict[str, bool],
    *,
    presence: bool,
    required: bool = True,
) -> Iterator[str]:
    if presence:
        added = _topmost(mine.keys() - theirs.keys())
        removed = _topmost(theirs.keys() - mine.keys())
        if added:
            yield f"{label} fields not in upstream: {', '.join(added)}"
        if removed:
            yield f"{label} upstream fields not served: {', '.join(removed)}"
    if required:
        changed = [
            f"{name} {_req(mine[name])} (upstream: {_req(theirs[name])})"
            for name in sorted(mine.keys() & theirs.keys())
            if mine[name] != theirs[name]
        ]
        if changed:
            yield f"{label} required fields differ: {'; '.join(changed)}"


def _topmost(paths: set[str]) -> list[str]:
    """Drop `a.b` when `a` is listed too: a new object's own fields are news to no one."""
    return sorted(
        p for p in paths if not any(p.startswith(q) and p[len(q)] in ".[" for q in paths if q != p)
    )


def _body_fields(op: Mapping[str, Any], doc: Any) -> dict[str, bool]:
    body = _deref(doc, op.get("requestBody") or {})
    return _content_fields(body.get("content") or {}, doc)


def _response_fields(response: Any, doc: Any) -> dict[str, bool]:
    return _content_fields(_deref(doc, response).get("content") or {}, doc)


def _content_fields(content: Mapping[str, Any], doc: Any) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for media in content.values():
        schema = (media or {}).get("schema")
        if schema is not None:
            _fields(doc, schema, "", out, 0)
            break  # the first media type stands for the others
    return out


def _fields(doc: Any, schema: Any, prefix: str, out: dict[str, bool], depth: int) -> None:
    """Field path -> required, through properties, items and allOf/anyOf/oneOf."""
    schema = _deref(doc, schema)
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return
    required = set(schema.get("required") or [])
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        out[path] = out.get(path, False) or name in required
        _fields(doc, sub, path, out, depth + 1)
    if "items" in schema:
        _fields(doc, schema["items"], f"{prefix}[]", out, depth + 1)
    for kind in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(kind) or []:
            _fields(doc, branch, prefix, out, depth + 1)


def _type_name(doc: Any, schema: Any) -> str:
    schema = _deref(doc, schema or {})
    if not isinstance(schema, Mapping):
        return "any"
    if "type" in schema:
        return str(schema["type"])
    for kind in ("allOf", "anyOf", "oneOf"):
        if schema.get(kind):
            return "|".join(sorted({_type_name(doc, b) for b in schema[kind]}))
    return "any"


def _deref(doc: Any, node: Any) -> Any:
    for _ in range(32):
        if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
            break
        node = resolve_ref(doc, node["$ref"])
    return node


def _req(required: bool) -> str:
    return "required" if required else "optional"


def _spec_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
