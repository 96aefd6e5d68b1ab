"""`GET /openapi.json` (the merged document every served API is in) and Swagger UI at `/ui/`.

Served by us, not by Connexion: Connexion's own `/openapi.json` inlines `$ref`s and fails on
recursive schemas, and it serves only the last API added.

The docs work out of the box: each API's operations are grouped under a tag of its own (the API's
name, described by its spec's title), each security scheme's description lists the sandbox
credentials of the fixtures, the default ones are filled in the Authorize dialog already, and
`/` leads to `/ui/` (unless a served API has a path `/` of its own).

Swagger UI 4 sends an object field of a form body as JSON text, whatever the operation's
`encoding` says; for the fields a form body encodes as `style: deepObject`, its request
interceptor sends bracketed keys instead (`items[sku][0]=...`), as the spec declares.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

SPEC_PATH = "/openapi.json"
UI_PATH = "/ui"
ROOT_PATH = "/"
API_KEY = "x-mockyard-api"  # the merged document names each operation's API here (`specs`)
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Credential:
    """A sandbox credential the docs show (and, if `default`, fill in) for a security scheme."""

    scheme: str
    value: str
    password: str = ""
    note: str = ""
    default: bool = False


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
      const defaults = {defaults};
      const deepObjects = {deep_objects}.map(([method, path, fields]) =>
        [method, new RegExp("^" + path + "$"), fields]);
      const bracketed = (prefix, value, out) => {{
        if (value !== null && typeof value === "object") {{
          for (const [k, v] of Object.entries(value)) bracketed(`${{prefix}}[${{k}}]`, v, out);
        }} else out.push([prefix, String(value)]);
      }};
      const asDeepObjects = (req) => {{
        const path = new URL(req.url, location.href).pathname;
        const method = (req.method || "get").toLowerCase();
        const found = deepObjects.find(([m, p]) => m === method && p.test(path));
        if (!found || typeof req.body !== "string") return req;
        const out = [];
        for (const [key, value] of new URLSearchParams(req.body)) {{
          let parsed = null;
          try {{ parsed = found[2].includes(key) ? JSON.parse(value) : null; }} catch (e) {{}}
          if (parsed !== null && typeof parsed === "object") bracketed(key, parsed, out);
          else out.push([key, value]);
        }}
        req.body = new URLSearchParams(out).toString();
        return req;
      }};
      window.ui = SwaggerUIBundle({{
        url: "{spec}", dom_id: "#swagger-ui", deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        plugins: [SwaggerUIBundle.plugins.DownloadUrl], layout: "StandaloneLayout",
        requestInterceptor: asDeepObjects,
        onComplete: () => defaults.forEach(([scheme, kind, value, password]) => kind === "basic"
          ? window.ui.preauthorizeBasic(scheme, value, password)
          : window.ui.preauthorizeApiKey(scheme, value))
      }});
    }};
  </script>
</body>
</html>
"""


def is_docs_path(path: str, document: Mapping[str, Any]) -> bool:
    """Whether the docs answer `path`: /openapi.json, /ui..., and / unless an API serves it."""
    if path == ROOT_PATH:
        return ROOT_PATH not in document.get("paths", {})
    return path in (SPEC_PATH, UI_PATH) or path.startswith(UI_PATH + "/")


def docs_wanted(document: Mapping[str, Any]) -> bool:
    """False when a served API has a path of its own at /openapi.json or under /ui: it wins."""
    return not any(
        is_docs_path(path, {}) for path in document.get("paths", {}) if path != ROOT_PATH
    )


def docs_app(
    document: Mapping[str, Any],
    titles: Mapping[str, str] | None = None,
    credentials: Iterable[Credential] = (),
) -> Starlette:
    """The docs endpoints for `document`, each API's operations under its own tag (`titles`:
    API name -> what the tag says), and the sandbox `credentials` shown and filled in. The page
    and the copy of `document` it serves are made on the first request for either: copying a
    big spec is a third of a warm start, for a page few starts are asked for."""
    known = list(credentials)

    @functools.cache
    def made() -> tuple[dict[str, Any], str]:
        served = copy.deepcopy(dict(document))
        _tag_by_api(served, titles or {})
        _describe_credentials(served, known)
        title = str(served.get("info", {}).get("title", "mockyard"))
        defaults = [
            [c.scheme, _kind(served, c.scheme), c.value, c.password] for c in known if c.default
        ]
        index = _INDEX.format(
            title=title,
            ui=UI_PATH,
            spec=SPEC_PATH,
            defaults=_script_value(defaults),
            deep_objects=_script_value(list(_deep_objects(served))),
        )
        return served, index

    async def spec(_: Request) -> JSONResponse:
        return JSONResponse(made()[0])

    async def ui(_: Request) -> HTMLResponse:
        return HTMLResponse(made()[1])

    async def to_ui(_: Request) -> RedirectResponse:
        return RedirectResponse(UI_PATH + "/")

    routes = (
        [] if ROOT_PATH in document.get("paths", {}) else [Route(ROOT_PATH, to_ui, methods=["GET"])]
    )
    return Starlette(
        routes=[
            *routes,
            Route(SPEC_PATH, spec, methods=["GET"]),
            Route(UI_PATH, to_ui, methods=["GET"]),
            Route(UI_PATH + "/", ui, methods=["GET"]),
            Mount(UI_PATH, app=StaticFiles(directory=str(swagger_ui_path))),
        ]
    )


def _tag_by_api(document: dict[str, Any], titles: Mapping[str, str]) -> None:
    """One tag per API: operations of two APIs never share a group, whatever their own tags."""
    used: dict[str, None] = {}
    for item in (document.get("paths") or {}).values():
        for method in _METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            if isinstance(op, dict) and op.get(API_KEY):
                op["tags"] = [str(op[API_KEY])]
                used[str(op[API_KEY])] = None
    document["tags"] = [{"name": api, "description": titles.get(api, api)} for api in used]


def _describe_credentials(document: dict[str, Any], known: list[Credential]) -> None:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    for name, scheme in schemes.items():
        mine = [c for c in known if c.scheme == name]
        if not mine or not isinstance(scheme, dict):
            continue
        lines = [
            f"- `{c.value}`"
            + (f" / `{c.password}`" if c.password else "")
            + (f": {c.note}" if c.note else "")
            + (" (filled in)" if c.default else "")
            for c in mine
        ]
        sandbox = "Sandbox credentials:\n\n" + "\n".join(lines)
        own = str(scheme.get("description", "")).strip()
        scheme["description"] = f"{own}\n\n{sandbox}" if own else sandbox


def _kind(document: Mapping[str, Any], name: str) -> str:
    scheme = ((document.get("components") or {}).get("securitySchemes") or {}).get(name) or {}
    is_basic = scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "basic"
    return "basic" if is_basic else "value"


def _script_value(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c")  # no `</script>` can end the script early


def _deep_objects(document: Mapping[str, Any]) -> Iterator[list[Any]]:
    """[method, path pattern, fields] for each form body with `style: deepObject` fields."""
    for path, item in (document.get("paths") or {}).items():
        for method in _METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            body = (op or {}).get("requestBody") or {}
            media = (body.get("content") or {}).get("application/x-www-form-urlencoded") or {}
            fields = [
                name
                for name, encoding in (media.get("encoding") or {}).items()
                if isinstance(encoding, dict) and encoding.get("style") == "deepObject"
            ]
            if fields:
                pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path))
                yield [method, pattern, fields]
