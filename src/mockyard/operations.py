"""The operation index: every operation the sandbox serves, built once per start.

`OperationIndex` is made from the merged spec and the APIs' handlers. Each `Operation` holds
what every later step needs: its API, operationId, method and path, who answers it (a handler,
or the mock), its parameters, security alternatives and body, and (compiled on first use) the
validators the fast reader checks them with. `MatchRequest`, the outermost step of the pipeline
but the catch-all, matches each request once and leaves the `Match` on the ASGI scope, where
controls, the journal, the endpoint and the error layers read it (`match_of`).

Matching is Connexion's router's (Starlette's): routes in the order the spec lists paths and
methods; the first whose path and method match wins; HEAD reaches GET; a path parameter typed
integer matches `[+-]?[0-9]+`, number `[+-]?[0-9]*(\\.[0-9]*)?`, `format: path` anything, any
other one path segment. A path some route has, but not for this method, is a 405 whose `Allow`
lists every method the path has. A path that matches nothing, but would with (or without) a
trailing slash, is redirected there with 307, as Starlette's router does.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from connexion.decorators.parameter import sanitized
from connexion.utils import is_json_mimetype
from starlette.types import ASGIApp, Receive, Scope, Send

from mockyard.errors import CyclicSchema
from mockyard.specs import API_TAG, METHODS

Handler = Callable[..., Any]
MATCH_KEY = "mockyard.match"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_CONVERTERS = {
    "integer": r"[+-]?[0-9]+",
    "number": r"[+-]?[0-9]*(?:\.[0-9]*)?",
    "path": r".*",
}


@dataclass(frozen=True)
class Scheme:
    """One security scheme of the spec, as a request presents it."""

    name: str  # its key in components.securitySchemes
    kind: str  # bearer, basic, http (another HTTP scheme), apiKey, oauth2, openIdConnect, ...
    location: str = "header"  # apiKey: header, query or cookie
    key: str = "authorization"  # apiKey: the header (lower case), query or cookie name
    http_scheme: str = ""  # the `scheme` of an http security scheme, lower case


Requirement = tuple[Scheme, ...]
"""Schemes that must all be presented (one security requirement object)."""


@dataclass(frozen=True)
class Operation:
    """One served operation; `spec` is its operation object in the merged document."""

    api: str
    operation_id: str
    method: str  # upper case
    path: str  # the template, mount prefix included
    spec: Mapping[str, Any]
    path_item: Mapping[str, Any]
    document: Mapping[str, Any] = field(repr=False)
    handler: Handler | None = field(default=None, repr=False)
    security: tuple[Requirement, ...] = ()  # alternatives; () means no authentication
    answered_by: str = "generator"  # handler, resource (inferred from the spec) or generator

    @property
    def writes(self) -> bool:
        """Whether the method may change state (a handler then starts as a writer)."""
        return self.method not in SAFE_METHODS

    @functools.cached_property
    def parameters(self) -> tuple[Mapping[str, Any], ...]:
        """The path item's and the operation's parameter objects, references resolved."""
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in [*self.path_item.get("parameters", []), *self.spec.get("parameters", [])]:
            param = deref(self.document, raw)
            if isinstance(param, Mapping) and "name" in param and "in" in param:
                merged[(str(param["name"]), str(param["in"]))] = param
        return tuple(merged.values())

    @functools.cached_property
    def body_argument(self) -> str:
        """The argument the request body is passed as (`x-body-name`, else `body`)."""
        request_body = deref(self.document, self.spec.get("requestBody")) or {}
        return str(request_body.get("x-body-name", "body"))

    @functools.cached_property
    def produces(self) -> tuple[str, ...]:
        """Every media type the operation's responses are documented in."""
        types: dict[str, None] = {}
        for response in (self.spec.get("responses") or {}).values():
            for media_type in (deref(self.document, response) or {}).get("content") or {}:
                types[media_type] = None
        return tuple(types)

    @functools.cached_property
    def success_types(self) -> tuple[str, ...]:
        """The media types a success is documented in: its 2xx, `2XX` and `default` responses'."""
        types: dict[str, None] = {}
        for key, response in (self.spec.get("responses") or {}).items():
            if str(key)[0] == "2" or str(key) == "default":
                types.update(
                    dict.fromkeys((deref(self.document, response) or {}).get("content") or {})
                )
        return tuple(types)

    def success_schema(self, media_type: str) -> Any:
        """The schema of the first success response documented in `media_type`."""
        responses = (self.spec.get("responses") or {}).items()
        for key, response in sorted(responses, key=lambda item: str(item[0])):
            media = ((deref(self.document, response) or {}).get("content") or {}).get(media_type)
            if media is not None and (str(key)[0] == "2" or str(key) == "default"):
                return (deref(self.document, media) or {}).get("schema")
        return None

    @functools.cached_property
    def json_type(self) -> str:
        """The JSON media type a JSON body is answered in: the first documented, else the
        default."""
        return next((t for t in self.produces if is_json_mimetype(t)), "application/json")

    @functools.cached_property
    def accepts(self) -> Callable[[str], bool] | None:
        """Which keyword arguments the handler takes (None: it takes any, `**kwargs`)."""
        if self.handler is None:
            return None
        params = list(inspect.signature(self.handler).parameters.values())[1:]
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return frozenset(p.name for p in params).__contains__


def argument(param: Mapping[str, Any]) -> str:
    """The keyword a path or query parameter is passed to its handler as, as Connexion names it
    (`pythonic_params` off): `pet-id` in a path is `pet_id`, `a[b]` in a query `a_b`."""
    name = str(param["name"])
    return str(sanitized(name.replace("-", "_") if param.get("in") == "path" else name))


class Match(NamedTuple):
    """What the index found for one request (a tuple: one is made per request).

    `operation` is None when no route matched: `allowed` then lists the methods the path has
    (a 405), `redirect` names the path with (or without) its trailing slash that does match,
    `near` is the operation the path would reach were its parameters of their types (its 404
    is the answer), and `api` is the API the path looks closest to, whose error format the
    answer uses.
    """

    operation: Operation | None
    api: str | None
    path_params: Mapping[str, str] = MappingProxyType({})
    allowed: tuple[str, ...] = ()
    redirect: str | None = None
    near: Operation | None = None


NO_MATCH = Match(None, None)


def match_of(scope: Mapping[str, Any]) -> Match:
    """The match `MatchRequest` left on the scope (none for requests it did not see)."""
    found = scope.get(MATCH_KEY)
    return found if isinstance(found, Match) else NO_MATCH


@dataclass(frozen=True)
class _Route:
    path: str
    pattern: re.Pattern[str]
    groups: Mapping[str, str]  # regex group -> path parameter name
    operations: Mapping[str, Operation]  # method -> operation, in the spec's order
    loose: re.Pattern[str]  # the path with any one segment for each parameter


class OperationIndex:
    """Every operation of a merged spec: by operationId, and by (method, path) for requests."""

    def __init__(
        self,
        document: Mapping[str, Any],
        handler: Callable[[str, str], Handler | None] = lambda _api, _op: None,
        inferred: Mapping[str, Handler] = MappingProxyType({}),
    ) -> None:
        """`handler(api, operation_id)` is the workspace's function that answers an operation,
        or None; `inferred` (operationId -> function) answers, for the resources inferred from
        the spec, the operations no such function answers."""
        self.document = document
        self.by_id: dict[str, Operation] = {}
        schemes = _schemes(document)
        self._routes: list[_Route] = []
        for path, item in (document.get("paths") or {}).items():
            if not isinstance(item, Mapping):
                continue
            ops: dict[str, Operation] = {}
            for method in METHODS:
                spec = item.get(method)
                if not isinstance(spec, Mapping):
                    continue
                api = str(spec.get(API_TAG, ""))
                op_id = str(spec.get("operationId") or f"{method}_{path}")
                requirements = spec.get("security", document.get("security")) or []
                fn = handler(api, op_id)
                answered_by = "handler" if fn is not None else "generator"
                if fn is None and op_id in inferred:
                    fn, answered_by = inferred[op_id], "resource"
                op = Operation(
                    api=api,
                    operation_id=op_id,
                    method=method.upper(),
                    path=path,
                    spec=spec,
                    path_item=item,
                    document=document,
                    handler=fn,
                    security=_requirements(requirements, schemes),
                    answered_by=answered_by,
                )
                ops[op.method] = op
                self.by_id[op_id] = op
            if ops:
                pattern, groups = _compile_path(path, ops.values())
                loose = _regex(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)))
                self._routes.append(_Route(path, pattern, groups, ops, loose))
        self.apis = tuple(dict.fromkeys(op.api for op in self.by_id.values()))
        self._literal = frozenset(r.path for r in self._routes if "{" not in r.path)
        self._static: dict[str, list[_Route]] = {}  # a literal path -> the routes it meets

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.by_id.values())

    def match(self, method: str, path: str) -> Match:
        """The operation `method path` reaches, or why none does."""
        found = self._find(method, path)
        if found is not None:
            return found
        allowed: dict[str, None] = {}
        for route in self._candidates(path):
            if route.pattern.fullmatch(path):
                allowed.update(dict.fromkeys(route.operations))
        if "GET" in allowed:
            allowed["HEAD"] = None
        api = self.closest_api(path)
        if allowed:
            return Match(None, api, allowed=tuple(allowed))
        if path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            if self._find(method, other) is not None:
                return Match(None, api, redirect=other)
        wanted = "GET" if method == "HEAD" else method
        for route in self._routes:
            near = route.operations.get(wanted)
            if near is not None and route.loose.fullmatch(path):
                return Match(None, near.api, near=near)
        return Match(None, api)

    def _candidates(self, path: str) -> list[_Route]:
        static = self._static.get(path)
        if static is None:
            if path not in self._literal:
                return self._routes
            # found on its first request, not at start: every literal path against every
            # route is 160,000 matches on a spec of 800 paths
            static = self._static[path] = [r for r in self._routes if r.pattern.fullmatch(path)]
        return static

    def _find(self, method: str, path: str) -> Match | None:
        wanted = "GET" if method == "HEAD" else method
        for route in self._candidates(path):
            op = route.operations.get(method) or route.operations.get(wanted)
            if op is None:
                continue
            if route.path == path and not route.groups:  # a literal route: nothing to match
                return Match(op, op.api)
            matched = route.pattern.fullmatch(path)
            if matched is not None:
                params = {route.groups[g]: v for g, v in matched.groupdict().items()}
                return Match(op, op.api, params)
        return None

    def closest_api(self, path: str) -> str | None:
        """The API whose path templates share the longest leading segments with `path`."""
        parts = path.strip("/").split("/")
        best, best_len = (self.apis[0] if self.apis else None), 0
        for route in self._routes:
            common = 0
            for a, b in zip(parts, route.path.strip("/").split("/"), strict=False):
                if a != b and not b.startswith("{"):
                    break
                common += 1
            if common > best_len:
                best, best_len = next(iter(route.operations.values())).api, common
        return best


class MatchRequest:
    """Pipeline step: match the request once and leave the `Match` on the scope."""

    def __init__(self, app: ASGIApp, index: OperationIndex) -> None:
        self.app = app
        self.index = index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[MATCH_KEY] = self.index.match(scope["method"], scope["path"])
        await self.app(scope, receive, send)


def deref(document: Mapping[str, Any], node: Any, depth: int = 32) -> Any:
    """`node` with its own `$ref` followed (within `document`), as often as it chains."""
    while depth and isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        node = _pointer(document, node["$ref"])
        depth -= 1
    return node


def inline(document: Mapping[str, Any], node: Any, seen: tuple[str, ...] = ()) -> Any:
    """`node` with every `$ref` in it replaced by what it points at (a validator compiled from
    it needs no document); `CyclicSchema` when they lead back to themselves."""
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen or len(seen) > 32:
                raise CyclicSchema(ref)
            return inline(document, deref(document, {"$ref": ref}, 1), (*seen, ref))
        return {k: inline(document, v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [inline(document, v, seen) for v in node]
    return node


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        return {}
    node: Any = document
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        else:
            return {}
    return node


def _compile_path(path: str, ops: Any) -> tuple[re.Pattern[str], dict[str, str]]:
    kinds: dict[str, str] = {}
    for op in ops:
        for param in op.parameters:
            if param.get("in") == "path":
                schema = deref(op.document, param.get("schema")) or {}
                kind = schema.get("type")
                if kind == "string" and schema.get("format") == "path":
                    kind = "path"
                kinds[str(param["name"])] = str(kind)
    groups: dict[str, str] = {}
    regex = ""
    for i, part in enumerate(re.split(r"\{([^}]*)\}", path)):
        if i % 2 == 0:
            regex += re.escape(part)
        else:
            group = f"p{len(groups)}"
            groups[group] = part
            regex += f"(?P<{group}>{_CONVERTERS.get(kinds.get(part, ''), '[^/]+')})"
    return _regex(regex), groups


# A spec's route patterns, compiled once per process: the served index and the one resources
# are inferred from both compile every path, more than `re`'s own cache of 512 holds.
_regex = functools.lru_cache(maxsize=None)(re.compile)


def _schemes(document: Mapping[str, Any]) -> dict[str, Scheme]:
    schemes = {}
    for name, raw in ((document.get("components") or {}).get("securitySchemes") or {}).items():
        scheme = deref(document, raw)
        if not isinstance(scheme, Mapping):
            continue
        kind = str(scheme.get("type", ""))
        if kind == "http":
            http_scheme = str(scheme.get("scheme", "")).lower()
            kind = http_scheme if http_scheme in ("bearer", "basic") else "http"
            schemes[name] = Scheme(name, kind, http_scheme=http_scheme)
        elif kind == "apiKey":
            location = str(scheme.get("in", "header"))
            key = str(scheme.get("name", ""))
            schemes[name] = Scheme(
                name, kind, location, key.lower() if location == "header" else key
            )
        else:
            schemes[name] = Scheme(name, kind)
    return schemes


def _requirements(raw: Any, schemes: Mapping[str, Scheme]) -> tuple[Requirement, ...]:
    """Security requirement objects as scheme tuples; `{}` (anonymous) is the empty tuple."""
    out = []
    for requirement in raw if isinstance(raw, list) else []:
        if isinstance(requirement, Mapping):
            out.append(tuple(schemes[name] for name in requirement if name in schemes))
    return tuple(out)
