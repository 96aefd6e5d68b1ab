"""`GET /openapi.json` (the merged document every served API is in) and Swagger UI at `/ui/`.

Served by us, not by Connexion: Connexion's own `/openapi.json` inlines `$ref`s and fails on
recursive schemas, and it serves only the last API added.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

SPEC_PATH = "/openapi.json"
UI_PATH = "/ui"

_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>{title}</title>
  <link rel="stylesheet" type="text/css" href="{ui}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{ui}/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ui}/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="{ui}/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script>
    window.onload = function () {{
      window.ui = SwaggerUIBundle({{
        url: "{spec}", dom_id: "#swagger-ui", deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        plugins: [SwaggerUIBundle.plugins.DownloadUrl], layout: "StandaloneLayout"
      }});
    }};
  </script>
</body>
</html>
"""


def is_docs_path(path: str) -> bool:
    return path in (SPEC_PATH, UI_PATH) or path.startswith(UI_PATH + "/")


def docs_wanted(document: Mapping[str, Any]) -> bool:
    """False when a served API has a path of its own at /openapi.json or under /ui: it wins."""
    return not any(is_docs_path(path) for path in document.get("paths", {}))


def docs_app(document: Mapping[str, Any]) -> Starlette:
    """The docs endpoints for `document` (copied: later changes to it are not served)."""
    served = copy.deepcopy(dict(document))
    title = str(served.get("info", {}).get("title", "mockyard"))
    index = _INDEX.format(title=title, ui=UI_PATH, spec=SPEC_PATH)

    async def spec(_: Request) -> JSONResponse:
        return JSONResponse(served)

    async def ui(_: Request) -> HTMLResponse:
        return HTMLResponse(index)

    async def to_ui(_: Request) -> RedirectResponse:
        return RedirectResponse(UI_PATH + "/")

    return Starlette(
        routes=[
            Route(SPEC_PATH, spec, methods=["GET"]),
            Route(UI_PATH, to_ui, methods=["GET"]),
            Route(UI_PATH + "/", ui, methods=["GET"]),
            Mount(UI_PATH, app=StaticFiles(directory=str(swagger_ui_path))),
        ]
    )
