"""Deliberately broken deployments of `spec.yaml`: the faithful app, and one app per defect.

`build(defect, ...)` returns a Starlette app that honours the spec except for those defects;
`build()` honours it fully. `DEFECTS` maps each defect to the Schemathesis check that must name
it; `COMBINED` deployments carry several defects at once. Nothing here is part of the product.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

SPEC = Path(__file__).with_name("spec.yaml")
TOKEN = "test-token"

DEFECTS = {
    "missing-field": "response_schema_conformance",  # GET drops the required `price`
    "wrong-type": "response_schema_conformance",  # GET sends `price` as a string
    "server-error": "not_a_server_error",  # POST crashes on a free item (price 0)
    "undocumented-status": "status_code_conformance",  # POST answers 202, not the documented 201
    "accepts-invalid": "negative_data_rejection",  # POST stores whatever it gets
    "wrong-content-type": "content_type_conformance",  # GET answers text/plain
    "no-auth": "ignored_auth",  # no token needed
    "forgets-items": "ensure_resource_availability",  # a created item is never found
    "rejects-valid": "positive_data_acceptance",  # POST refuses names longer than 10 chars
    "no-allow-header": "unsupported_method",  # 405 without the Allow header
}

# Deployments with several defects on one operation: a run must list every one of them.
COMBINED = {"two-faults": ("server-error", "undocumented-status")}


def _body_schema() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC.read_text())
    post = spec["paths"]["/items"]["post"]
    return post["requestBody"]["content"]["application/json"]["schema"]


def build(*defects: str) -> Starlette:
    unknown = set(defects) - set(DEFECTS)
    if unknown:
        raise ValueError(unknown)
    items: dict[int, dict[str, Any]] = {}
    validator = jsonschema.Draft4Validator(_body_schema())

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"message": message}, status)

    def authorised(request: Request) -> bool:
        return "no-auth" in defects or request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def create_item(request: Request) -> Response:
        if not authorised(request):
            return error(401, "Unauthorized")
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if "accepts-invalid" in defects:
            body = body if isinstance(body, dict) else {}
        elif request.headers.get("content-type", "").split(";")[0] != "application/json":
            return error(400, "expected application/json")
        elif body is None or not validator.is_valid(body):
            return error(400, "invalid item")
        if "server-error" in defects and body.get("price") == 0:
            return PlainTextResponse("Internal Server Error", 500)
        if "rejects-valid" in defects and len(str(body.get("name", ""))) > 10:
            return error(400, "name too long")
        item = {"id": len(items) + 1, "name": body.get("name"), "price": body.get("price")}
        items[item["id"]] = item
        return JSONResponse(item, 202 if "undocumented-status" in defects else 201)

    async def get_item(request: Request) -> Response:
        if not authorised(request):
            return error(401, "Unauthorized")
        raw = request.path_params["id"]
        if not raw.isdigit() or int(raw) < 1:
            return error(400, "id must be a positive integer")
        item = items.get(int(raw))
        if item is None or "forgets-items" in defects:
            return error(404, "Not found")
        if "missing-field" in defects:
            item = {k: v for k, v in item.items() if k != "price"}
        elif "wrong-type" in defects:
            item = {**item, "price": str(item["price"])}
        elif "wrong-content-type" in defects:
            return PlainTextResponse(json.dumps(item))
        return JSONResponse(item)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = {} if "no-allow-header" in defects else dict(exc.headers or {})
        return JSONResponse({"message": "Method Not Allowed"}, 405, headers=headers)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, "Not found")

    return Starlette(
        routes=[
            Route("/items", create_item, methods=["POST"]),
            Route("/items/{id}", get_item, methods=["GET"]),
        ],
        exception_handlers={405: not_allowed, 404: not_found},
    )


class Deployments:
    """Every deployment on one server, /faithful/... and /<defect>/..., logging each request."""

    def __init__(self) -> None:
        mounts = [Mount("/faithful", app=build())]
        mounts += [Mount(f"/{defect}", app=build(defect)) for defect in DEFECTS]
        mounts += [Mount(f"/{name}", app=build(*defects)) for name, defects in COMBINED.items()]
        self.app = Starlette(routes=mounts)
        self.requests: list[tuple[str, str]] = []  # (method, path)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)
