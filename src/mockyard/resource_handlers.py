"""Inferred resources at work: one handler function per operation a resource answers.

Each is called like a workspace handler, `fn(ctx, **arguments)`, inside the request's one store
transaction (`runtime.Runtime.run`), and reads and writes the same collections through
`ctx.store`; so a record a handler stores is the one an inferred read returns, and an error
rolls everything back. What is refused is raised (`RecordRefused`), and answered, like every
error, by `responses`: the API's `render_failure` hook, else the operation's documented
response for that status.

- create: the request body (out of its envelope), plus what the server makes: the id (a
  counter kept in the store, or a UUID when the id's format says so), creation and update
  times, the schema's defaults, and any other property the record's schema requires. An id
  the client chose that exists is a 409 (or the documented 422/400 when no 409 is).
- read: the stored record, or a 404. replace (PUT) stores the body in its place (keeping the
  server-made fields); merge (PATCH) applies it as a JSON merge patch (RFC 7386); delete
  removes it. A record that would break its schema is refused and nothing is stored.
- list: the records of the collection (of its parent, for a nested one), equality filters
  applied, sorted by id, one page of them with the fields beside the array filled.
"""

from __future__ import annotations

import copy
import functools
import inspect
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import quote

import jsonschema_rs

from mockyard import fakedata
from mockyard.convert import normalise_ref
from mockyard.documents import escape
from mockyard.errors import RecordRefused, WorkspaceError
from mockyard.operations import deref
from mockyard.resource_schemas import norm, properties, required_of
from mockyard.resource_values import (
    decode_cursor,
    encode_cursor,
    matches,
    merge_patch,
    new_id,
    stamp,
)
from mockyard.resources import Inference, Mapped, Resource
from mockyard.types import Context

Record = dict[str, Any]
View = Callable[[Context, Record], Any]
_CREATED = {"createdat", "created", "createdon", "creationdate", "datecreated", "createtime"}
_CREATED |= {"creationtime", "insertedat"}
_UPDATED = {"updatedat", "updated", "updatedon", "modifiedat", "modified", "lastmodified"}
_UPDATED |= {"lastupdated", "updatetime", "lastmodifiedat"}
# How jsonschema-rs stands to OpenAPI 3.0's format checks (`oas30_format_checker`, whose list a
# test holds this to). It checks these as strictly:
_CHECKED_FORMATS = frozenset({"date", "date-time", "time", "email", "ipv4", "ipv6"})
# OpenAPI's validator passes any JSON value for these, so they are dropped before compiling:
_PASSING_FORMATS = frozenset({"float", "double", "password", "binary"})
# `fakedata.INTEGER_FORMATS` are bounds, compiled as `minimum`/`maximum`;
# and these it does not check (or less strictly): a schema naming one is left to OpenAPI's.
_UNCHECKED_FORMATS = frozenset({"byte", "idn-email", "idn-hostname", "regex", "uuid"})
# Any other format neither checks, and jsonschema-rs may check more strictly: a no is asked again.
_VALUES = frozenset({"enum", "default", "example", "examples", "const"})  # data, not schemas
_NAMED = ("properties", "patternProperties", "definitions")  # name -> schema: every name counts


def handlers(
    inference: Inference, document: Mapping[str, Any], modules: Mapping[str, ModuleType | None]
) -> dict[str, ResourceHandler]:
    """operationId -> the handler of every operation an inferred resource answers; `modules`
    are the APIs' handler modules, where a resource's `view` function lives."""
    checker = Checker(document)
    return {
        op_id: ResourceHandler(mapped, document, checker, _view(mapped.resource, modules))
        for op_id, mapped in inference.mapped.items()
    }


def _view(resource: Resource, modules: Mapping[str, ModuleType | None]) -> View | None:
    """The handler module's function that shows a stored record as the API documents it."""
    if resource.view is None:
        return None
    fn = getattr(modules.get(resource.api), resource.view, None)
    if not callable(fn):
        raise WorkspaceError(
            f"resources: view {resource.view!r} of {resource.name!r} is not a function of "
            f"{resource.api}'s handler module",
            path="mockyard.yaml",
        )
    if len(inspect.signature(fn).parameters) >= 2:
        return fn  # type: ignore[no-any-return]
    return lambda _ctx, record: fn(record)


class Checker:
    """Whether a record is valid for its schema, as a response shows it (OpenAPI 3.0).

    A compiled validator (jsonschema-rs) says yes fast, for schemas whose formats it checks at
    least as strictly, everything they refer to included; only a no is asked again of the
    OpenAPI 3.0 validator, which has the last word, so the check is never stricter than the
    spec. The compiled validators share one rewritten copy of the components, in which their
    `$ref`s (cycles too) are resolved: compiling a schema then costs half a millisecond, not
    the schema written out in full. `remembers` caps the compiled validators kept (seeding
    checks one schema's records, then the next: keeping them all would be a third of a big
    spec's peak memory)."""

    def __init__(self, document: Mapping[str, Any], *, remembers: int = 0) -> None:
        self.document = document
        self.remembers = remembers  # 0: every one
        self._validator: Any = None
        self._fast: dict[int, tuple[Any, Any]] = {}
        self._components: _FastComponents | None = None

    def errors(self, record: Any, schema: Any) -> list[str]:
        fast = self._compiled(schema)
        if fast is not None and fast.is_valid(record):
            return []
        if self._validator is None:  # imported on first use, as in `fakedata`
            from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

            self._validator = OAS30ReadValidator(
                dict(self.document), format_checker=oas30_format_checker
            )
        found = self._validator.evolve(schema=schema).iter_errors(record)
        return [e.message for e in sorted(found, key=lambda e: list(e.absolute_path))]

    def _compiled(self, schema: Any) -> Any:
        hit = self._fast.get(id(schema))
        if hit is None or hit[0] is not schema:
            if self._components is None:
                self._components = _FastComponents(self.document.get("components") or {})
            if self.remembers and len(self._fast) >= self.remembers:
                self._fast.clear()
            hit = self._fast[id(schema)] = (schema, self._components.validator(schema))
        return hit[1]


_BASE = "urn:mockyard:spec"  # where the compiled validators find the rewritten components


class _FastComponents:
    """The spec's component schemas rewritten for jsonschema-rs (`_for_fast_validator`), in
    one registry, and which of them it can judge as strictly as OpenAPI 3.0's validator (a
    `$ref` anywhere else, to a parameter say, is left to that validator)."""

    def __init__(self, components: Mapping[str, Any]) -> None:
        found = components.get("schemas")
        schemas: dict[str, Any] = {}
        self._judged: dict[str, bool] = {}  # "#/components/schemas/<name>" -> it can
        self._refs: dict[str, set[str]] = {}  # the same -> the `$ref`s written in it
        for name, schema in found.items() if isinstance(found, dict) else ():
            pointer = f"#/components/schemas/{escape(name)}"
            self._refs[pointer] = set()
            schemas[name] = _registry_copy(schema, self._refs[pointer])
            self._judged[pointer] = _for_fast_validator(schemas[name])
        self._registry = jsonschema_rs.Registry(
            [(_BASE, {"components": {"schemas": schemas}})], draft=jsonschema_rs.Draft4
        )

    def validator(self, schema: Any) -> Any:
        """A compiled validator for `schema`, or None where jsonschema-rs could be more
        lenient than OpenAPI 3.0's validator."""
        refs: set[str] = set()
        own = _registry_copy(schema, refs)
        if not _for_fast_validator(own) or not self._all_judged(refs):
            return None
        try:
            return jsonschema_rs.Draft4Validator(own, registry=self._registry)
        except (ValueError, jsonschema_rs.ReferencingError):  # a pattern it cannot take
            return None

    def _all_judged(self, refs: set[str]) -> bool:
        seen: set[str] = set()
        pending = list(refs)
        while pending:
            ref = pending.pop()
            if ref in seen:
                continue
            seen.add(ref)
            if not self._judged.get(ref, False):  # outside the components, or not judged
                return False
            pending.extend(self._refs[ref])
        return True


_ANNOTATIONS = frozenset({"description", "title", "example", "examples", "externalDocs", "xml"})


def _registry_copy(schema: Any, refs: set[str]) -> Any:
    """A copy of `schema` for the registry: without what no validator reads (a big spec's
    descriptions are most of its size), its local `$ref`s pointing into the registry, and each
    of them (as `normalise_ref` writes it) added to `refs`."""
    if isinstance(schema, list):
        return [_registry_copy(s, refs) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "$ref" and isinstance(value, str):
            refs.add(normalise_ref(value))
            out[key] = _BASE + value if value.startswith("#") else value
        elif key in _VALUES:  # data: never rewritten, so shared
            out[key] = value
        elif key in _NAMED and isinstance(value, dict):
            out[key] = {name: _registry_copy(s, refs) for name, s in value.items()}
        else:
            out[key] = _registry_copy(value, refs)
    return out


def _for_fast_validator(schema: Any) -> bool:
    """Rewrite a schema (in place) so that jsonschema-rs judges it no more leniently
    than OpenAPI 3.0's validator; False when it cannot, for a format it does not check."""
    if isinstance(schema, list):
        return all([_for_fast_validator(s) for s in schema])
    if not isinstance(schema, dict):
        return True
    if schema.get("writeOnly") is True:  # in a response it must be absent: a check of its own
        return False
    if schema.get("nullable") is True and isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]  # as OpenAPI 3.0.3 reads it
    fmt = schema.get("format")
    if isinstance(fmt, str):
        if fmt in _UNCHECKED_FORMATS:
            return False
        if fmt in _PASSING_FORMATS:
            del schema["format"]
        elif fmt in fakedata.INTEGER_FORMATS:
            low, high = fakedata.INTEGER_FORMATS[fmt]
            if not all(_is_number(schema.get(k, 0)) for k in ("minimum", "maximum")):
                return False
            del schema["format"]
            schema["minimum"] = max(low, schema.get("minimum", low))
            schema["maximum"] = min(high, schema.get("maximum", high))
    subschemas = [v for k, v in schema.items() if k not in _VALUES and k not in _NAMED]
    for k in _NAMED:
        if isinstance(schema.get(k), dict):
            subschemas.extend(schema[k].values())
    return all([_for_fast_validator(s) for s in subschemas])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Field:
    """What the server does with one property of a record, read off its schema once."""

    name: str
    schema: Mapping[str, Any]  # resolved
    raw: Any  # as written (a `default` may sit beside a `$ref`)
    stamp: str = ""  # created or updated: a time the server writes
    read_only: bool = False
    write_only: bool = False

    @property
    def default(self) -> Any:
        raw = self.raw if isinstance(self.raw, Mapping) else {}
        return raw.get("default", self.schema.get("default"))


def _fields(document: Mapping[str, Any], schema: Any) -> tuple[_Field, ...]:
    out = []
    for name, raw in properties(document, schema).items():
        sub = deref(document, raw) or {}
        key = norm(name)
        made = "updated" if key in _UPDATED else "created" if key in _CREATED else ""
        read_only, write_only = bool(sub.get("readOnly")), bool(sub.get("writeOnly"))
        out.append(_Field(name, sub, raw, made, read_only, write_only))
    return tuple(out)


class ResourceHandler:
    """Answers one operation for one resource (see the module's docstring)."""

    def __init__(
        self,
        mapped: Mapped,
        document: Mapping[str, Any],
        checker: Checker,
        view: View | None = None,
    ) -> None:
        self.mapped = mapped
        self.resource = mapped.resource
        self.document = document
        self.checker = checker
        self.view = view
        self._action = getattr(self, "_" + mapped.action)

    # What the schemas say, read on the operation's first request: a big spec has hundreds of
    # inferred operations, and a start need not read every one's schemas.

    @functools.cached_property
    def _fields(self) -> tuple[_Field, ...]:
        return _fields(self.document, self.resource.record_schema)

    @functools.cached_property
    def _request_defaults(self) -> tuple[tuple[str, Any], ...]:
        schema = self.mapped.request_schema
        asked = _fields(self.document, schema) if schema else ()
        return tuple((f.name, f.default) for f in asked if f.default is not None)

    @functools.cached_property
    def _required(self) -> tuple[str, ...]:
        return tuple(required_of(self.document, self.resource.record_schema))

    @functools.cached_property
    def _write_only(self) -> frozenset[str]:
        return frozenset(f.name for f in self._fields if f.write_only)

    @functools.cached_property
    def _around(self) -> tuple[str, ...]:
        response = self.mapped.response_schema
        return tuple(required_of(self.document, response)) if response is not None else ()

    def __call__(self, ctx: Context, **kwargs: Any) -> Any:
        if self.resource.scope:
            self._parents_exist(ctx, kwargs)
        return self._action(ctx, kwargs)

    # --- the actions ----------------------------------------------------------------------------

    def _read(self, ctx: Context, kwargs: dict[str, Any]) -> Any:
        return self._answer(ctx, self._existing(ctx, kwargs), self.mapped.status)

    def _delete(self, ctx: Context, kwargs: dict[str, Any]) -> Any:
        record = self._existing(ctx, kwargs)
        ctx.store.delete(self.resource.collection, self._key(kwargs))
        if self.mapped.envelope is None:
            return None, self.mapped.status
        return self._answer(ctx, record, self.mapped.status)

    def _create(self, ctx: Context, kwargs: dict[str, Any]) -> Any:
        record = self._body(kwargs)
        self._scope_into(record, kwargs)
        id_property = self.resource.id_property
        if record.get(id_property) is not None:
            if ctx.store.get(self.resource.collection, record[id_property]) is not None:
                raise self._refused(
                    (409, 422, 400), f"{id_property} {record[id_property]!r} is taken"
                )
        else:
            record[id_property] = self._new_id(ctx)
        self._server_fields(ctx, record)
        self._store(ctx, record)
        headers = {"Location": self._location(kwargs, record)} if self.mapped.location else {}
        return self._answer(ctx, record, self.mapped.status, headers)

    def _replace(self, ctx: Context, kwargs: dict[str, Any]) -> Any:
        old = self._existing(ctx, kwargs, missing_ok=self.mapped.creates)
        record = self._body(kwargs)
        self._keep_identity(record, kwargs, old)
        self._server_fields(ctx, record)
        self._store(ctx, record)
        status = self.mapped.status
        if self.mapped.creates:
            other = sorted(s for s in self.mapped.documented if s[0] == "2" and s != "201")
            status = 201 if old is None else int(other[0]) if other else 200
        return self._answer(ctx, record, status)

    def _merge(self, ctx: Context, kwargs: dict[str, Any]) -> Any:
        old = self._existing(ctx, kwargs)
        record = merge_patch(old, self._body(kwargs))
        self._keep_identity(record, kwargs, old)
        self._server_fields(ctx, record)
        self._store(ctx, record)
        return self._answer(ctx, record, self.mapped.status)

    def _list(self, ctx: Context, kwargs: dict[str, Any]) -> Any:
        scope = self._scope_values(kwargs)
        wanted = [(prop, kwargs[arg]) for arg, prop in self.mapped.filters if arg in kwargs]
        found = [
            record
            for _, record in ctx.store.items(self.resource.collection)
            if self._belongs(record, scope) and all(matches(record, p, v) for p, v in wanted)
        ]
        found.sort(key=self._order)
        return self._page(ctx, kwargs, found)

    # --- records ------------------------------------------------------------------------------

    def _key(self, kwargs: dict[str, Any]) -> Any:
        """The id the item path names."""
        return kwargs[self.mapped.path_args[self.resource.id_param or ""]]

    def _existing(self, ctx: Context, kwargs: dict[str, Any], missing_ok: bool = False) -> Any:
        key = self._key(kwargs)
        record = ctx.store.get(self.resource.collection, key)
        if record is not None and self._belongs(record, self._scope_values(kwargs)):
            return record
        if missing_ok:
            return None
        raise RecordRefused(404, "Not Found", f"no {self.resource.name} {key!r}")

    def _body(self, kwargs: dict[str, Any]) -> Record:
        body: Any = kwargs.get(self.mapped.body_argument)
        for part in self.mapped.request_envelope:
            body = body.get(part) if isinstance(body, Mapping) else None
        if not isinstance(body, Mapping):
            raise self._refused((422, 400), "the body must be a JSON object")
        return copy.deepcopy(dict(body))

    def _keep_identity(self, record: Record, kwargs: dict[str, Any], old: Record | None) -> None:
        """The path's id (not the body's) and, from the stored record, what the client does
        not write: read-only and server-made fields."""
        record[self.resource.id_property] = self._key(kwargs)
        self._scope_into(record, kwargs)
        if old is None:
            return
        for field in self._fields:
            kept = field.stamp == "created" or (field.read_only and field.name not in record)
            if kept and field.name in old:
                record[field.name] = old[field.name]

    def _scope_into(self, record: Record, kwargs: dict[str, Any]) -> None:
        record.update(self._scope_values(kwargs))
        record.update(copy.deepcopy(dict(self.resource.where)))

    def _scope_values(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {p.property: kwargs[self.mapped.path_args[p.param]] for p in self.resource.scope}

    def _parents_exist(self, ctx: Context, kwargs: dict[str, Any]) -> None:
        """A nested collection's parent must exist (a 404 otherwise, as for a missing record)."""
        for parent in self.resource.scope:
            key = kwargs[self.mapped.path_args[parent.param]]
            if parent.collection is not None and ctx.store.get(parent.collection, key) is None:
                raise RecordRefused(404, "Not Found", f"no {parent.param} {key!r}")

    def _belongs(self, record: Record, scope: Mapping[str, Any]) -> bool:
        return all(matches(record, k, v) for k, v in scope.items()) and all(
            record.get(k) == v for k, v in self.resource.where.items()
        )

    def _new_id(self, ctx: Context) -> Any:
        coll = self.resource.collection

        def highest() -> int:
            numbers = [r.get(self.resource.id_property) for _, r in ctx.store.items(coll) if r]
            return max((n for n in numbers if isinstance(n, int)), default=0)

        while True:
            candidate = new_id(self.resource.id_schema, ctx.store.sequence(coll, highest))
            if ctx.store.get(coll, candidate) is None:
                return candidate

    def _server_fields(self, ctx: Context, record: Record) -> None:
        """Times, defaults and whatever else the record's schema requires that the client did
        not send; then the record must be valid for that schema, or nothing is stored."""
        now = ctx.now()
        schema = self.resource.record_schema
        for name, default in self._request_defaults:  # what the request's schema defaults
            record.setdefault(name, copy.deepcopy(default))
        for field in self._fields:
            if field.stamp == "updated" or (field.stamp == "created" and field.name not in record):
                record[field.name] = stamp(now, field.schema)
            elif field.name not in record and field.default is not None:
                record[field.name] = copy.deepcopy(field.default)  # beside a $ref too, as in 3.1
        missing = [name for name in self._required if name not in record]
        if missing:
            seed = f"{ctx.operation_id}|{record.get(self.resource.id_property)}"
            generator = fakedata.Generator(
                self.document, fakedata.lazy_faker(lambda: ctx.faker), random.Random(seed)
            )
            schemas = {f.name: f.schema for f in self._fields}
            for name in missing:
                record[name] = generator.value(schemas.get(name, {}), name)
        problems = self.checker.errors(self._readable(record), schema)
        if problems:
            raise self._refused((422, 400), "; ".join(problems[:3]))

    def _store(self, ctx: Context, record: Record) -> None:
        ctx.store.put(self.resource.collection, record[self.resource.id_property], record)

    def _refused(self, statuses: tuple[int, ...], detail: str) -> RecordRefused:
        """The first of `statuses` the operation documents, else the first."""
        status = next((s for s in statuses if str(s) in self.mapped.documented), statuses[0])
        titles = {400: "Bad Request", 409: "Conflict", 422: "Unprocessable Content"}
        return RecordRefused(status, titles.get(status, "Bad Request"), detail)

    # --- answers ------------------------------------------------------------------------------

    def _shown(self, ctx: Context, record: Record) -> Any:
        return self.view(ctx, record) if self.view is not None else self._readable(record)

    def _readable(self, record: Record) -> Record:
        if not self._write_only:
            return record
        return {k: v for k, v in record.items() if k not in self._write_only}

    def _answer(
        self, ctx: Context, record: Record, status: int, headers: Mapping[str, str] | None = None
    ) -> Any:
        envelope = self.mapped.envelope
        if envelope is None:
            return None, status, dict(headers or {})
        body = self._wrapped(_nest(envelope.path, self._shown(ctx, record)), ctx)
        return body, status, dict(headers or {})

    def _page(self, ctx: Context, kwargs: dict[str, Any], found: list[Record]) -> Any:
        paging = self.mapped.paging
        start = 0
        if paging.cursor and kwargs.get(paging.cursor):
            after = decode_cursor(kwargs[paging.cursor])
            if after is not None:
                start = next((i for i, r in enumerate(found) if self._order(r) > after), len(found))
        limit = kwargs.get(paging.limit) if paging.limit else None
        limit = limit if isinstance(limit, int) and limit > 0 else paging.default_limit
        if paging.max_items is not None:
            limit = min(limit or paging.max_items, paging.max_items)
        if paging.offset and isinstance(kwargs.get(paging.offset), int):
            start = max(0, kwargs[paging.offset])
        page_number = kwargs.get(paging.page) if paging.page else None
        if isinstance(page_number, int) and limit:
            start = max(0, page_number - paging.page_base) * limit
        page = found[start : start + limit] if limit else found[start:]
        more = start + len(page) < len(found)
        envelope = self.mapped.envelope
        assert envelope is not None
        items = [_nest(envelope.inner, self._shown(ctx, r)) for r in page]
        body: Any = _nest(envelope.path, items)
        values = {
            "total": len(found),
            "has_more": more,
            "next": encode_cursor(self._order(page[-1])) if more and page else None,
            "page": page_number if isinstance(page_number, int) else paging.page_base,
            "limit": limit if limit is not None else len(page),
            "offset": start,
        }
        for meta in paging.meta:
            value = values[meta.kind]
            if value is None and not meta.nullable:
                if not meta.required:
                    continue
                value = ""
            _put(body, meta.path, value)
        headers = {paging.total_header: str(len(found))} if paging.total_header else {}
        return self._wrapped(body, ctx), self.mapped.status, headers

    def _wrapped(self, body: Any, ctx: Context) -> Any:
        """`body` with the properties its schema requires around the record filled in (from
        the schema: they say nothing the sandbox knows)."""
        if not self._around or not isinstance(body, dict):
            return body
        missing = [name for name in self._around if name not in body]
        if missing:
            generator = fakedata.Generator(
                self.document, fakedata.lazy_faker(lambda: ctx.faker), random.Random(0)
            )
            props = properties(self.document, self.mapped.response_schema)
            for name in missing:
                body[name] = generator.value(props.get(name, {}), name)
        return body

    def _location(self, kwargs: dict[str, Any], record: Record) -> str:
        path = self.resource.item_path or ""
        values = {**{p: kwargs[a] for p, a in self.mapped.path_args.items()}}
        values[self.resource.id_param or ""] = record[self.resource.id_property]
        return re.sub(r"\{([^}]+)\}", lambda m: quote(str(values.get(m[1], "")), safe=""), path)

    def _order(self, record: Record) -> tuple[int, Any]:
        value = record.get(self.resource.id_property)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return (0, value) if is_number else (1, str(value))


# --- ids, times, patches ------------------------------------------------------------------------


def _nest(path: tuple[str, ...], value: Any) -> Any:
    for part in reversed(path):
        value = {part: value}
    return value


def _put(body: Any, path: tuple[str, ...], value: Any) -> None:
    node = body
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
