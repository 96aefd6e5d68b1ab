"""Resources inferred from a spec: which operations create, read, list, update and delete what.

Pure: it reads the merged document (through the operation index) and the API's `resources:`
settings, and says, for every operation, which resource action answers it or why none does.
`resource_handlers` turns the answer into handler functions, `resource_seeds` into records.

A resource is found from its paths: an item path ends in one path parameter, maybe with a
suffix (`/pets/{petId}`, `/users/{userId}/orders/{orderId}`, `/receipts/{receipt-id}.json`);
its collection path is the same without that segment (`/pets`, `/receipts.json`). A collection
path with a list (`GET` answering an array of records) is a resource too. Then:

- the collection is the last literal segment (`orders`); nested ones are scoped to their parent
  by a record property named like the parent's path parameter (`userId`, `user_id`);
- the id property is the record property the item's parameter names: its own name, `id`, or its
  name without the resource's (`petId` -> `id`, `orderNumber` -> `number`);
- the record's schema, and its envelope in each response, are found by looking for an object
  with that id property: the body itself, a property of it (`{"data": {...}}`, `{"pet": ...}`),
  or, for a list, the items of an array in it (`{"items": [...], "total": 3}`), maybe each
  wrapped once more (`{"list": [{"pet": {...}}]}`);
- a list's query parameters are paging (`limit`/`offset`, `page`/`per_page`, a cursor) or
  equality filters when named like a record property (`status`, `status[is]`), and the fields
  beside its array say what the sandbox fills in (`total`, `next_cursor`, `has_more`, ...).

Actions: `GET` collection = list, `POST` collection = create, `GET` item = read, `PUT` item =
replace (and create, when a 201 is documented), `PATCH` item = merge, `DELETE` item = delete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mockyard.operations import Operation, OperationIndex, argument, deref
from mockyard.resource_config import DEFAULT_RECORDS, Envelope, Override, Settings
from mockyard.resource_lists import Paging, filters, paging
from mockyard.resource_schemas import (
    WRAPPERS,
    closed,
    find_list,
    find_record,
    id_candidates,
    is_object,
    match_property,
    properties,
    request_schema,
    singular,
    success_schema,
)

ACTIONS = {("GET", False): "list", ("POST", False): "create", ("GET", True): "read"}
ACTIONS |= {("PUT", True): "replace", ("PATCH", True): "merge", ("DELETE", True): "delete"}
_ITEM = re.compile(r"^\{([^}]+)\}(\.[A-Za-z0-9]+)?$")


@dataclass(frozen=True)
class Parent:
    """What scopes a nested collection to one parent: the record property holding the parent's
    id, the path parameter naming it, and the parent's collection when it is a resource too
    (its record must then exist)."""

    property: str
    param: str
    collection: str | None = None


@dataclass(frozen=True)
class Resource:
    """One inferred resource: where its records live and how they are named."""

    api: str
    name: str  # the inferred collection name (the last literal segment of its path)
    collection: str  # the store collection (the name, unless mockyard.yaml says otherwise)
    collection_path: str
    item_path: str | None
    id_property: str
    id_schema: Mapping[str, Any]
    record_schema: Mapping[str, Any]
    scope: tuple[Parent, ...] = ()  # for a nested collection
    where: Mapping[str, Any] = field(default_factory=dict)
    view: str | None = None
    records: int = DEFAULT_RECORDS
    id_param: str | None = None


@dataclass(frozen=True)
class Mapped:
    """An operation a resource answers."""

    operation_id: str
    method: str
    path: str
    action: str  # list, create, read, replace, merge or delete
    resource: Resource
    status: int  # the documented success status
    envelope: Envelope | None  # of the success response; None: it has no JSON body
    request_envelope: tuple[str, ...] = ()
    request_schema: Any = None  # of the record in the request body (out of its envelope)
    creates: bool = False  # a PUT that creates what does not exist (201 documented)
    filters: tuple[tuple[str, str], ...] = ()  # (argument, record property)
    paging: Paging = field(default_factory=Paging)
    path_args: Mapping[str, str] = field(default_factory=dict)  # path parameter -> argument
    location: bool = False  # answer a create with a Location header (there is an item path)
    body_argument: str = "body"
    response_schema: Any = None  # of the success response
    documented: frozenset[str] = frozenset()  # the statuses its responses document


@dataclass(frozen=True)
class Unmapped:
    """An operation no resource answers, and why."""

    api: str
    operation_id: str
    method: str
    path: str
    reason: str


@dataclass
class Inference:
    """Every API's resources, the operations they answer and those they do not."""

    resources: list[Resource] = field(default_factory=list)
    mapped: dict[str, Mapped] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)

    def operations_of(self, resource: Resource) -> list[tuple[tuple[str, str], Mapped]]:
        """((method, path), how) for each operation `resource` answers."""
        return [
            ((m.method, m.path), m)
            for m in self.mapped.values()
            if (m.resource.api, m.resource.collection_path)
            == (resource.api, resource.collection_path)
        ]


def infer(
    index: OperationIndex,
    settings_of: Mapping[str, Settings],
    handled: Callable[[Operation], bool] = lambda _op: False,
) -> Inference:
    """The resources of every API in `index`; `handled(op)` says a workspace function answers
    `op` (it keeps it: such operations are listed, never mapped)."""
    out = Inference()
    by_api: dict[str, list[Operation]] = {}
    for op in index:
        by_api.setdefault(op.api, []).append(op)
    for api, ops in by_api.items():
        _infer_api(api, ops, settings_of.get(api, Settings()), handled, out)
    return out


def _infer_api(
    api: str,
    ops: list[Operation],
    config: Settings,
    handled: Callable[[Operation], bool],
    out: Inference,
) -> None:
    def skip(op: Operation, reason: str) -> None:
        out.unmapped.append(Unmapped(api, op.operation_id, op.method, op.path, reason))

    if config.off:
        for op in ops:
            skip(
                op, "answered by its handler" if handled(op) else "resources: off in mockyard.yaml"
            )
        return
    groups = _groups(ops)
    grouped = {id(op) for ops_ in groups.values() for op in ops_.values()}
    stored_in = {
        item: (config.collections.get(name) or Override()).collection or name
        for (coll, item) in groups
        if item is not None and (name := collection_name(coll))
    }
    for op in ops:
        if id(op) not in grouped:
            skip(op, _why_not_grouped(op))
    for (collection_path, item_path), members in groups.items():
        name = collection_name(collection_path)
        resource_config = config.collections.get(name, Override())
        found = _resource(
            api, name, collection_path, item_path, members, resource_config, config, stored_in
        )
        if isinstance(found, str):
            for op in members.values():
                skip(op, "answered by its handler" if handled(op) else found)
            continue
        if not resource_config.off:
            out.resources.append(found)
        for (method, is_item), op in members.items():
            if handled(op):
                skip(op, "answered by its handler")
                continue
            override = config.operations.get(op.operation_id, Override())
            if resource_config.off or override.off:
                skip(op, "off in mockyard.yaml")
                continue
            mapped = _map(op, ACTIONS[(method, is_item)], _overridden(found, override), override)
            if isinstance(mapped, str):
                skip(op, mapped)
            else:
                out.mapped[op.operation_id] = mapped


def _overridden(resource: Resource, override: Override) -> Resource:
    changes: dict[str, Any] = {}
    if override.collection:
        changes["collection"] = override.collection
    if override.where is not None:
        changes["where"] = override.where
    if override.view:
        changes["view"] = override.view
    if override.id:
        changes["id_property"] = override.id
    return replace(resource, **changes) if changes else resource


# --- paths ------------------------------------------------------------------------------------


def _groups(ops: list[Operation]) -> dict[tuple[str, str | None], dict[tuple[str, bool], Any]]:
    """(collection path, item path) -> {(method, is_item): operation}, for every path that is
    an item path, or the collection path of one, or has a list or create of its own."""
    paths: dict[str, dict[str, Operation]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method] = op
    items = {path: _collection_of(path) for path in paths if _collection_of(path)}
    collections: dict[str, str | None] = {}
    for item, coll in items.items():
        if coll is not None and collection_name(coll):
            collections.setdefault(coll, item)
    for path, methods in paths.items():
        own = path not in items and path not in collections and collection_name(path)
        if own and ("GET" in methods or "POST" in methods):
            collections[path] = None
    out: dict[tuple[str, str | None], dict[tuple[str, bool], Any]] = {}
    for coll_path, item_path in collections.items():
        members: dict[tuple[str, bool], Any] = {}
        for method, op in paths.get(coll_path, {}).items():
            if (method, False) in ACTIONS:
                members[(method, False)] = op
        for method, op in paths.get(item_path or "", {}).items():
            if (method, True) in ACTIONS:
                members[(method, True)] = op
        if members:
            out[(coll_path, item_path)] = members
    return out


def _collection_of(path: str) -> str | None:
    """`/pets/{petId}` -> `/pets`; `/receipts/{id}.json` -> `/receipts.json`; else None."""
    head, _, last = path.rpartition("/")
    match = _ITEM.match(last)
    if match is None or not head:
        return None
    return head + (match.group(2) or "")


def collection_name(path: str) -> str:
    """The last literal segment without its suffix: `/users/{id}/orders.json` -> `orders`."""
    last = path.rstrip("/").rpartition("/")[2]
    if not last or "{" in last:
        return ""
    return re.sub(r"\.[A-Za-z0-9]+$", "", last)


def _why_not_grouped(op: Operation) -> str:
    if op.method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        return f"no resource action is a {op.method}"
    if _collection_of(op.path) is not None:
        return f"{op.method} on an item is not a resource action"
    if not collection_name(op.path):
        return "the path ends in a parameter with no collection before it"
    return f"{op.method} on a collection is not a resource action"


# --- the resource -----------------------------------------------------------------------------


def _resource(
    api: str,
    name: str,
    collection_path: str,
    item_path: str | None,
    members: Mapping[tuple[str, bool], Operation],
    override: Override,
    config: Settings,
    stored_in: Mapping[str, str],
) -> Resource | str:
    if item_path is None and ("GET", False) not in members:
        return "a create with no item path and no list: an action, not a collection"
    some = next(iter(members.values()))
    id_param = _last_param(item_path) if item_path else None
    wanted = [override.id] if override.id else id_candidates(id_param, name)
    schema, id_property = _record_schema(members, wanted, name)
    if schema is None or id_property is None:
        return f"no JSON record with an id property ({', '.join(wanted)}) in its responses"
    props = properties(some.document, schema)
    scope = []
    for param in _path_params(collection_path):
        prop = match_property(param, props) or param
        if prop not in props and closed(some.document, schema):
            return f"the record has no property for the parent parameter {param!r}"
        parent_path = collection_path.partition("{" + param + "}")[0] + "{" + param + "}"
        scope.append(Parent(prop, param, stored_in.get(parent_path)))
    return Resource(
        api=api,
        name=name,
        collection=override.collection or name,
        collection_path=collection_path,
        item_path=item_path,
        id_property=id_property,
        id_schema=deref(some.document, props.get(id_property)) or {},
        record_schema=schema,
        scope=tuple(scope),
        where=dict(override.where or {}),
        view=override.view,
        records=override.records if override.records is not None else config.records,
        id_param=id_param,
    )


def _record_schema(
    members: Mapping[tuple[str, bool], Operation], wanted: list[str], name: str
) -> tuple[Mapping[str, Any] | None, str | None]:
    """The record's schema and id property, from the first response that has one: the item's
    read, then the others, then the list's items."""
    order = [("GET", True), ("POST", False), ("PUT", True), ("PATCH", True), ("DELETE", True)]
    for key in order:
        op = members.get(key)
        if op is None:
            continue
        schema = success_schema(op)[1]
        found = find_record(op.document, schema, wanted, name) if schema is not None else None
        if found is not None:
            return found[1], found[2]
    op = members.get(("GET", False))
    schema = success_schema(op)[1] if op is not None else None
    if op is not None and schema is not None:
        listed = find_list(op.document, schema, wanted, name)
        if listed is not None:
            return listed[1], listed[2]
    return None, None


# --- one operation ----------------------------------------------------------------------------


def _map(op: Operation, action: str, resource: Resource, override: Override) -> Mapped | str:
    status, schema = success_schema(op)
    if status is None:
        return "no documented success response"
    doc = op.document
    wanted = [resource.id_property]
    envelope: Envelope | None = None
    if schema is None and action in ("read", "list"):
        return "its success response has no JSON schema"
    if override.envelope is not None:
        envelope = override.envelope
        if envelope.array != (action == "list"):
            return "envelope: a list's has [] (data[]), an item's has not (data)"
    elif schema is not None:
        if action == "list":
            found = find_list(doc, schema, wanted, resource.name)
            if found is None:
                return f"its response has no array of records with {resource.id_property!r}"
        else:
            found = find_record(doc, schema, wanted, resource.name)
            if found is None and action in ("read", "create", "replace", "merge"):
                return f"its response has no record with {resource.id_property!r}"
        envelope = found[0] if found is not None else None
    body = request_schema(op)
    if action in ("create", "replace", "merge") and body is None:
        return "it takes no JSON request body"
    responses = {str(k) for k in (op.spec.get("responses") or {})}
    wrapper = _request_envelope(doc, body, resource) if body is not None else ()
    return Mapped(
        operation_id=op.operation_id,
        method=op.method,
        path=op.path,
        action=action,
        resource=resource,
        status=status,
        envelope=envelope,
        request_envelope=wrapper,
        request_schema=_unwrapped(doc, body, wrapper),
        creates=action == "replace" and "201" in responses,
        filters=filters(op, resource.record_schema, {p.property for p in resource.scope})
        if action == "list"
        else (),
        paging=paging(op, schema, envelope) if action == "list" else Paging(),
        path_args={str(p["name"]): argument(p) for p in op.parameters if p["in"] == "path"},
        location=action == "create" and resource.item_path is not None,
        body_argument=op.body_argument,
        response_schema=schema,
        documented=frozenset(responses),
    )


def _request_envelope(doc: Mapping[str, Any], schema: Any, resource: Resource) -> tuple[str, ...]:
    """A request body that wraps the record in one property named for it (`{"pet": {...}}`,
    `{"data": {...}}`) is unwrapped; any other body is the record."""
    props = properties(doc, schema)
    record = properties(doc, resource.record_schema)
    if len(props) == 1:
        ((name, sub),) = props.items()
        wrapped = name in (singular(resource.name), resource.name, *WRAPPERS)
        if wrapped and name not in record and is_object(doc, deref(doc, sub) or {}):
            return (name,)
    return ()


def _unwrapped(doc: Mapping[str, Any], schema: Any, wrapper: tuple[str, ...]) -> Any:
    for part in wrapper:
        schema = properties(doc, schema).get(part)
    return schema


# --- names and schemas ------------------------------------------------------------------------


def _last_param(path: str) -> str:
    match = _ITEM.match(path.rpartition("/")[2])
    assert match is not None
    return match.group(1)


def _path_params(path: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", path)
