"""`/__mockyard/state` and `/__mockyard/catalogue`: read and set the sandbox's records.

A test puts a record in any state with `PUT /__mockyard/state/{api}/{collection}/{key}`. So that
such a record is one the handlers can work with, every collection has a JSON Schema (declared in
the API's fixture file or inferred from its seeded records, see `record_schemas`) and a PUT body
must satisfy it (400 with every error otherwise); a collection without one is not writable.
Bodies are strict JSON (`jsonbody`). Writes go through the store's write transaction, like a
handler's, so they are atomic and every worker sees them at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockyard import jsonbody
from mockyard.record_schemas import CollectionSchema, canonical
from mockyard.state import SandboxState
from mockyard.store import Transaction

HIDDEN_APIS = frozenset({"_mockyard"})  # engine bookkeeping (rate limits, fault counters)
DEFAULT_PAGE = 100


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
        declared = schemas.get(api, {})
        if coll not in declared and (request.method == "PUT" or coll not in counts(api)):
            known = ", ".join(sorted(declared)) or "none with a schema"
            return JSONResponse({"error": f"{api} has no collection {coll!r} ({known})"}, 404)
        return None

    def counts(api: str) -> Mapping[str, int]:
        with store.transaction(write=False) as tx:
            return tx.collections().get(api, {})

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
            body = await jsonbody.read(request)
        except jsonbody.BadBody as exc:
            return JSONResponse({"error": exc.message}, exc.status)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, 400)
        body = canonical(body)
        errors = schemas[api][coll].errors(key, body)
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
