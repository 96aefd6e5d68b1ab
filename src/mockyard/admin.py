"""The sandbox's own endpoints under /__mockyard/: health and reset, plus the routes other
modules contribute (the request journal, the state API).

Health reads the state, so a load balancer takes an instance whose database is away out of
rotation (503); every admin route answers 503 in JSON while the state is unavailable."""

from __future__ import annotations

import os
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from mockyard import jsonbody
from mockyard.errors import StateUnavailable
from mockyard.state import SandboxState

PREFIX = "/__mockyard"


def admin_app(state: SandboxState, routes: Sequence[BaseRoute] = ()) -> Starlette:
    async def health(_: Request) -> JSONResponse:
        seed = state.store.run(lambda tx: tx.seed(), write=False)
        return JSONResponse(
            {"status": "ok", "apis": sorted(state.apis), "seed": seed, "worker": os.getpid()}
        )

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"status": "unavailable", "error": str(exc)}, 503, {"Retry-After": "1"})

    async def reset(request: Request) -> JSONResponse:
        try:
            options = await jsonbody.read(request)
        except jsonbody.BadBody as exc:
            return JSONResponse({"error": exc.message}, exc.status)
        options = {} if options is None else options
        seed = options.get("seed") if isinstance(options, dict) else "bad"
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            return JSONResponse({"error": 'body must be {"seed": <integer>} or empty'}, 400)
        counts = state.reset(seed)
        return JSONResponse({"seed": state.seed, "collections": counts})

    return Starlette(
        routes=[
            Route(f"{PREFIX}/health", health, methods=["GET"]),
            Route(f"{PREFIX}/reset", reset, methods=["POST"]),
            *routes,
        ],
        exception_handlers={StateUnavailable: unavailable},
    )
