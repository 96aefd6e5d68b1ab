"""`/__mockyard/state` and `/__mockyard/catalogue`: read and set the sandbox's records.

A test puts a record in any state with `PUT /__mockyard/state/{api}/{collection}/{key}`. So that
such a record is one the handlers can work with, an API's fixture file may declare a JSON Schema
per collection, and a PUT body must satisfy it (400 with every error otherwise):

    schemas:
      <collection>:
        type: object
        required: [id, status]
        x-mockyard-key: id        # optional: this field must equal the record's key
        properties: {...}

An API that declares schemas accepts PUTs to those collections only; one that declares none
accepts any JSON object in any collection. Writes go through the store's write transaction, like
a handler's, so they are atomic and every worker sees them at once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockyard import cache
from mockyard.errors import FixtureError
from mockyard.state import SandboxState
from mockyard.store import Transaction

KEY_FIELD = "x-mockyard-key"
HIDDEN_APIS = frozenset({"_mockyard"})  # engine bookkeeping (rate limits, fault counters)
DEFAULT_PAGE = 100
_FORMATS = Draft202012Validator.FORMAT_CHECKER  # formats are checked where jsonschema can


@dataclass(frozen=True)
class CollectionSchema:
    """What a record of one collection must look like."""

    validator: Draft202012Validator
    key_field: str | None = None

    def errors(self, key: str, record: Any) -> list[dict[str, str]]:
        found = [
            {"path": "/" + "/".join(map(str, e.absolute_path)), "message": e.message}
            for e in self.validator.iter_errors(record)
        ]
        field = self.key_field
        if field and isinstance(record, dict) and str(record.get(field, key)) != key:
            message = f"{record[field]!r} must equal the record's key {key!r}"
            found.append({"path": f"/{field}", "message": message})
        return sorted(found, key=lambda e: (e["path"], e["message"]))


def load_schemas(
    fixtures: Mapping[str, tuple[object, Any]],
) -> dict[str, dict[str, CollectionSchema]]:
    """api -> collection -> schema, from each fixture file's `schemas:` section."""
    out: dict[str, dict[str, CollectionSchema]] = {}
    for api, (path, fixture) in fixtures.items():
        declared = (fixture or {}).get("schemas") or {}
        if not isinstance(declared, dict):
            raise FixtureError("'schemas' must map collections to JSON Schemas", path=path)
        check = functools.partial(_schema_problem, declared)
        problem = cache.first_problem("valid-schemas", declared, "jsonschema", check)
        if problem:
            raise FixtureError(problem, path=path)
        for coll, schema in declared.items():
            out.setdefault(api, {})[coll] = CollectionSchema(
                Draft202012Validator(schema, format_checker=_FORMATS), schema.get(KEY_FIELD)
            )
    return out


def _schema_problem(declared: Mapping[str, Any]) -> str:
    """The first schema that breaks its metaschema, or "". Remembered when "" (`cache`): the
    check is a tenth of a warm start and gives the same answer every time."""
    for coll, schema in declared.items():
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            return f"schemas.{coll}: {exc.message}"
    return ""


def state_routes(
    state: SandboxState,
    schemas: Mapping[str, Mapping[str, CollectionSchema]],
    fixtures: Mapping[str, Any],
    prefix: str,
) -> list[Route]:
    """The routes; `fixtures` is api -> fixture file contents (for the catalogue)."""
    store = state.store

    def overview() -> dict[str, Any]:
        counts = store.run(lambda tx: tx.collections(), write=False)
        apis: dict[str, Any] = {}
        for api in state.apis:
            names = sorted(set(counts.get(api, {})) | set(schemas.get(api, {})))
            apis[api] = {
                "collections": {
                    coll: {
                        "count": counts.get(api, {}).get(coll, 0),
                        "schema": coll in schemas.get(api, {}),
                    }
                    for coll in names
                }
            }
        return {"seed": store.seed(), "apis": apis}

    def problem(request: Request) -> JSONResponse | None:
        api, coll = request.path_params["api"], request.path_params["collection"]
        if api not in state.apis or api in HIDDEN_APIS:
            known = ", ".join(state.apis)
            return JSONResponse({"error": f"no API {api!r} (this sandbox serves: {known})"}, 404)
        declared = schemas.get(api)
        if declared and coll not in declared:
            known = ", ".join(sorted(declared))
            return JSONResponse({"error": f"{api} has no collection {coll!r} ({known})"}, 404)
        return None

    async def index(_: Request) -> Response:
        return JSONResponse(await run_in_threadpool(overview))

    async def collection(request: Request) -> Response:
        if (refused := problem(request)) is not None:
            return refused
        try:
            limit = int(request.query_params.get("limit", DEFAULT_PAGE))
            offset = int(request.query_params.get("offset", 0))
            if limit < 1 or offset < 0:
                raise ValueError
        except ValueError:
            return JSONResponse({"error": "limit must be >= 1 and offset >= 0"}, 400)
        api, coll = request.path_params["api"], request.path_params["collection"]

        def read() -> dict[str, Any]:
            items = store.run(lambda tx: list(tx.items(api, coll)), write=False)
            page = items[offset : offset + limit]
            return {"count": len(items), "records": {key: doc for key, doc in page}}

        return JSONResponse(await run_in_threadpool(read))

    async def record(request: Request) -> Response:
        if (refused := problem(request)) is not None:
            return refused
        api, coll = request.path_params["api"], request.path_params["collection"]
        key = request.path_params["key"]
        if request.method == "GET":
            found = await run_in_threadpool(_get, state, api, coll, key)
            if found is None:
                return JSONResponse({"error": f"no record {key!r} in {api}/{coll}"}, 404)
            return JSONResponse(found)
        if request.method == "DELETE":
            if not await run_in_threadpool(_delete, state, api, coll, key):
                return JSONResponse({"error": f"no record {key!r} in {api}/{coll}"}, 404)
            return Response(status_code=204)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be a JSON object"}, 400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, 400)
        schema = schemas.get(api, {}).get(coll)
        errors = schema.errors(key, body) if schema else []
        if errors:
            return JSONResponse({"error": f"not a valid {coll} record", "errors": errors}, 400)
        created = await run_in_threadpool(_put, state, api, coll, key, body)
        return JSONResponse(body, 201 if created else 200)

    listing = {
        api: {
            "credentials": list((fixture or {}).get("credentials") or []),
            "records": (fixture or {}).get("catalogue") or {},
        }
        for api, fixture in fixtures.items()
    }
    listing = json.loads(json.dumps(listing, default=str))  # YAML dates become strings

    async def catalogue(_: Request) -> Response:
        return JSONResponse(listing)

    return [
        Route(f"{prefix}/state", index, methods=["GET"]),
        Route(f"{prefix}/state/{{api}}/{{collection}}", collection, methods=["GET"]),
        Route(
            f"{prefix}/state/{{api}}/{{collection}}/{{key:path}}",
            record,
            methods=["GET", "PUT", "DELETE"],
        ),
        Route(f"{prefix}/catalogue", catalogue, methods=["GET"]),
    ]


def _get(state: SandboxState, api: str, coll: str, key: str) -> Any:
    return state.store.run(lambda tx: tx.get(api, coll, key), write=False)


def _put(state: SandboxState, api: str, coll: str, key: str, doc: dict[str, Any]) -> bool:
    def put(tx: Transaction) -> bool:
        created = tx.get(api, coll, key) is None
        tx.put(api, coll, key, doc)
        return created

    return state.store.run(put, write=True)


def _delete(state: SandboxState, api: str, coll: str, key: str) -> bool:
    return state.store.run(lambda tx: tx.delete(api, coll, key), write=True)
