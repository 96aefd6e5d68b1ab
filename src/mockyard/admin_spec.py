"""The admin API described in OpenAPI 3.1, served at `/__mockyard/openapi.json`.

It is built for the sandbox at hand: one path per served API and collection, whose `PUT` body is
that collection's record schema (JSON Schema 2020-12, the dialect of OpenAPI 3.1), so a client
sees what each record must look like, and Schemathesis can generate records, valid and invalid,
like requests to any API. Every operation may be refused with 403 (`origins`: a web page of an
origin not allowed) and, when the sandbox has an admin token, 401.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockyard.record_schemas import CollectionSchema

SPEC_PATH = "/openapi.json"
_ERROR = {"$ref": "#/components/schemas/Error"}


def document(
    prefix: str,
    schemas: Mapping[str, Mapping[str, CollectionSchema]],
    *,
    apis: Sequence[str],
    journal_size: int,
    guarded: bool,
) -> dict[str, Any]:
    """The OpenAPI document of this sandbox's admin API."""
    paths: dict[str, Any] = {
        f"{prefix}/health": {"get": _op("health", "The sandbox answers.", _ok(_HEALTH))},
        f"{prefix}/reset": {"post": _reset()},
        f"{prefix}/catalogue": {
            "get": _op("catalogue", "Per API: sandbox credentials and records.", _ok(_OBJECT))
        },
        f"{prefix}/state": {"get": _op("state", "Per API: each collection.", _ok(_OBJECT))},
        f"{prefix}/requests": {
            "get": _journal(journal_size),
            "delete": _op("clear-requests", "Empty the journal.", {"204": _none("Emptied.")}),
        },
    }
    components: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    for api in apis:
        for coll, schema in sorted(schemas.get(api, {}).items()):
            base = f"{prefix}/state/{api}/{coll}"
            paths[base] = {"get": _listing(api, coll)}
            record = _hoisted(f"{api}.{coll}", schema.schema, components)
            paths[base + "/{key}"] = _record(api, coll, schema, record)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "mockyard admin API", "version": "1"},
        "paths": paths,
        "components": {"schemas": components},
    }
    if guarded:
        doc["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "header": {"type": "apiKey", "in": "header", "name": "X-Mockyard-Admin-Token"},
        }
        doc["security"] = [{"bearer": []}, {"header": []}]
    return doc


def route(prefix: str, spec: Callable[[], dict[str, Any]]) -> Route:
    """The admin API's document, made on its first request (it holds every collection's
    record schema, which a start does not otherwise need)."""
    made = functools.cache(spec)

    async def serve(_: Request) -> Response:
        return JSONResponse(made())

    return Route(prefix + SPEC_PATH, serve, methods=["GET"])


_OBJECT: dict[str, Any] = {"type": "object"}
_HEALTH = {
    "type": "object",
    "required": ["status", "apis", "seed"],
    "properties": {
        "status": {"const": "ok"},
        "apis": {"type": "array", "items": {"type": "string"}},
        "seed": {"type": "integer"},
        "worker": {"type": "integer"},
    },
}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _op(op_id: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    refusals = {
        "401": _json("The admin token is missing or wrong (only with --admin-token).", _ERROR),
        "403": _json("A web page of an origin not allowed, or a rebinding Host.", _ERROR),
    }
    return {
        "operationId": op_id,
        "summary": summary,
        **more,
        "responses": {**responses, **refusals},
    }


def _json(description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ok(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"200": _json("OK", schema)}


def _none(description: str) -> dict[str, Any]:
    return {"description": description}


def _reset() -> dict[str, Any]:
    body = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"seed": {"type": "integer", "description": "reseed with this seed"}},
    }
    responses = {
        **_ok({"type": "object", "required": ["seed", "collections"]}),
        "400": _json("Not {} or {seed: integer}.", _ERROR),
        "413": _json("A body over 1 MiB.", _ERROR),
    }
    return _op(
        "reset",
        "Reseed every record, with the current seed or the one given.",
        responses,
        requestBody={"required": False, "content": {"application/json": {"schema": body}}},
    )


def _journal(size: int) -> dict[str, Any]:
    parameters = [
        _query("method", {"type": "string"}, "only this HTTP method"),
        _query("path", {"type": "string"}, "only paths matching this glob (/api/*)"),
        _query("status", {"type": "string", "pattern": "^[1-5]([0-9]{2}|xx)$"}, "404 or 4xx"),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": size}, "newest N"),
    ]
    responses = {
        **_ok({"type": "object", "required": ["requests", "size"]}),
        "400": _json("A bad filter.", _ERROR),
    }
    return _op("requests", "The request journal, newest first.", responses, parameters=parameters)


def _listing(api: str, coll: str) -> dict[str, Any]:
    parameters = [
        _query("limit", {"type": "integer", "minimum": 1}, "records per page (100)"),
        _query("offset", {"type": "integer", "minimum": 0}, "records to skip"),
    ]
    responses = {
        **_ok({"type": "object", "required": ["count", "records"]}),
        "400": _json("A bad limit or offset.", _ERROR),
    }
    return _op(
        f"list-{api}-{coll}", f"{api} {coll}, a page at a time.", responses, parameters=parameters
    )


def _hoisted(name: str, schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$defs` moved to components (as `<name>.<def>`): inside an OpenAPI
    document, `#/$defs/...` would point at the document's root, not at the record schema."""
    defs = {key: value for key, value in (schema.get("$defs") or {}).items()}
    target = {f"#/$defs/{key}": f"#/components/schemas/{name}.{key}" for key in defs}

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: target.get(v, v) if k == "$ref" else rewrite(v)
                for k, v in value.items()
                if k != "$defs"
            }
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    for key, value in defs.items():
        components[f"{name}.{key}"] = rewrite(value)
    rewritten: dict[str, Any] = rewrite(schema)
    return rewritten


def _record(
    api: str, coll: str, schema: CollectionSchema, record: dict[str, Any]
) -> dict[str, Any]:
    key_of = f" (its {schema.key_field})" if schema.key_field else ""
    key = {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": "the record's key" + key_of,
    }
    missing = {"404": _json("No such record.", _ERROR)}
    put_responses = {
        "200": _json("Replaced.", record),
        "201": _json("Created.", record),
        "400": _json("Not a valid record: `errors` lists every problem.", _ERROR),
        "413": _json("A body over 1 MiB.", _ERROR),
    }
    origin = "declared in the fixture file" if schema.declared else "inferred from the seed"
    return {
        "parameters": [key],
        "get": _op(f"get-{api}-{coll}", "One record as stored.", {**_ok(record), **missing}),
        "put": _op(
            f"put-{api}-{coll}",
            f"Store a record ({origin} schema).",
            put_responses,
            requestBody={"required": True, "content": {"application/json": {"schema": record}}},
        ),
        "delete": _op(
            f"delete-{api}-{coll}", "Remove a record.", {"204": _none("Removed."), **missing}
        ),
    }


def _query(name: str, schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }
