"""The fast path: plainly valid requests to handled operations, served without Connexion's
per-request stack.

Connexion routes, authenticates, validates and calls a handler through a dozen middleware and
decorator layers that rebuild per-request objects (a request, coerced parameter maps, a context)
two or three times; that was over half of a request's cost. Here each handled operation is
compiled once, at startup: its route, its security alternatives, each parameter's coercion and
validator, its body's validator and the handler arguments it takes.

The fast path only ever says yes. A request it cannot vouch for, for any reason (an unknown
route, a parameter that does not coerce or validate, a header it does not read plainly, missing
or refused credentials, a `Prefer` header, a chunked body), goes to Connexion untouched, with
its body replayed, and Connexion gives the answer it always gave: every error, and every
refusal, is still Connexion's. It is therefore at least as strict as Connexion and runs nothing
with a side effect before it has decided: authentication (which counts the rate limit) comes
after every check, and a refusal by the API's `authenticate` hook changes nothing.
`tests/test_fastpath.py` proves both paths answer alike and leave the same state.
"""

from __future__ import annotations

import base64
import copy
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import jsonschema_rs
from connexion.context import _operation as connexion_operation
from connexion.decorators.parameter import sanitized
from connexion.decorators.response import BaseResponseDecorator
from connexion.frameworks.starlette import Starlette as StarletteFramework
from connexion.json_schema import Draft4RequestValidator, resolve_refs
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionResponse
from connexion.utils import is_json_mimetype, make_type
from jsonschema import Draft4Validator
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard import auth
from mockyard.errors import ApiError, RequestRefused
from mockyard.guards import replay
from mockyard.query import query_pairs
from mockyard.responses import asgi_response, exception_response
from mockyard.routing import Handler, Runtime
from mockyard.specs import API_TAG
from mockyard.store import ApiStore
from mockyard.types import Credentials, Principal
from mockyard.validation import FORMATS, PLAIN_NUMBER, compiled, well_formed

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SCALARS = {"string", "integer", "number", "boolean"}
_BOOLEANS = {"true": True, "false": False}
_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")
_ABSENT = object()


class _NotPlain(Exception):
    """The request is not one the fast path vouches for: Connexion answers it."""


@dataclass(frozen=True)
class _Param:
    name: str  # as the spec names it (the query key, the header name)
    location: str  # path, query or header
    kind: str  # string, integer, number or boolean
    required: bool
    validator: Any
    argument: str | None  # the handler argument it fills, None when not passed
    default: Any = _ABSENT
    header: bytes = b""  # a header parameter's name as the ASGI scope writes it

    def coerce(self, raw: str) -> Any:
        """The value Connexion would validate and pass, for a raw value written plainly."""
        if not raw:
            raise _NotPlain
        if self.kind == "string":
            return raw
        if self.kind == "boolean":
            if raw not in _BOOLEANS:
                raise _NotPlain
            return _BOOLEANS[raw]
        if not PLAIN_NUMBER[self.kind].fullmatch(raw):
            raise _NotPlain
        value = int(raw) if self.kind == "integer" else float(raw)
        if isinstance(value, float) and not math.isfinite(value):
            raise _NotPlain
        return value


class _Verdicts:
    """A validator's answers by (type, value). Parameter values repeat (enums, ids, amounts) and
    validation is a pure function of the value, so each distinct value is validated once."""

    def __init__(self, validator: Any, size: int = 4096) -> None:
        self.validator = validator
        self.size = size
        self.known: dict[tuple[type, Any], bool] = {}

    def is_valid(self, value: Any) -> bool:
        key = (value.__class__, value)  # 1, 1.0 and True are equal keys otherwise
        verdict = self.known.get(key)
        if verdict is None:
            if len(self.known) >= self.size:
                self.known.clear()
            verdict = self.known[key] = self.validator.is_valid(value)
        return verdict


@dataclass(frozen=True)
class _Scheme:
    """One way to present credentials: `kind` is bearer, basic or apiKey."""

    kind: str
    location: str = "header"
    name: bytes | str = b"authorization"


@dataclass(frozen=True)
class Operation:
    """One handled operation, prepared for the fast path."""

    api: str
    operation_id: str
    method: str
    fn: Handler
    params: tuple[_Param, ...]
    security: tuple[_Scheme, ...]  # alternatives, in order; empty means no authentication
    body_validator: Any  # None: the operation takes no body
    body_argument: str | None
    takes: Callable[[str], bool]  # which handler arguments it accepts
    produces: tuple[str, ...]
    json_type: str | None  # the only media type it answers in, when that is JSON


class FastPath:
    """ASGI app in place of the Connexion app: serves what it can vouch for, passes the rest."""

    def __init__(
        self,
        app: ASGIApp,
        runtime: Runtime,
        merged_spec: Mapping[str, Any],
        *,
        max_body: int,
        max_headers: int,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.max_body = max_body
        self.max_headers = max_headers
        self.routes = _Routes(resolve_refs(copy.deepcopy(dict(merged_spec))), runtime)
        self.jsonifier = Jsonifier()  # the one Connexion's AsyncApp uses
        # Connexion's own conversion of other return values (tuples, strings, None), so both
        # paths answer alike; the class is only nominally abstract.
        self.responses = BaseResponseDecorator(
            framework=StarletteFramework, jsonifier=self.jsonifier
        )
        self.served = 0  # requests this worker answered here rather than through Connexion

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.routes.match(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        op, path_params = found
        received: list[Message] = []
        try:
            headers = self._headers(scope)
            body = await self._body(op, headers, receive, received)
            query = _query(scope)
            kwargs = self._arguments(op, query, headers, path_params, body)
            credentials = self._credentials(op, query, headers)
            response = self._respond(op, scope, kwargs, credentials)
        except _NotPlain:
            await self.app(scope, replay(received, receive), send)
            return
        self.served += 1
        await response(scope, receive, send)

    def _headers(self, scope: Scope) -> dict[bytes, bytes]:
        raw = scope["headers"]
        headers = dict(raw)
        if len(headers) != len(raw) or b"prefer" in headers:  # repeated headers; mock answers
            raise _NotPlain
        if sum(len(k) + len(v) + 4 for k, v in raw) > self.max_headers:
            raise _NotPlain
        return headers

    async def _body(
        self, op: Operation, headers: dict[bytes, bytes], receive: Receive, received: list[Message]
    ) -> Any:
        length = headers.get(b"content-length")
        if op.body_validator is None:
            if (length is not None and length != b"0") or b"transfer-encoding" in headers:
                raise _NotPlain
            return _ABSENT
        if not length or not length.isdigit() or not 0 < int(length) <= self.max_body:
            raise _NotPlain
        if headers.get(b"content-type", b"").lower() not in _JSON_TYPES:
            raise _NotPlain
        chunks = []
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                raise _NotPlain
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            body = json.loads(b"".join(chunks).decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise _NotPlain from exc
        if body is None or well_formed(body) is not None:
            raise _NotPlain
        try:
            valid = op.body_validator.is_valid(body)
        except Exception as exc:  # a value the compiled validator cannot take: Connexion decides
            raise _NotPlain from exc
        if not valid:
            raise _NotPlain
        return body

    def _arguments(
        self,
        op: Operation,
        query: dict[str, str],
        headers: dict[bytes, bytes],
        path_params: dict[str, str],
        body: Any,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for param in op.params:
            if param.location == "path":  # the route matched it: it converts as Connexion's does
                value = make_type(path_params[param.argument], param.kind, None)
            else:
                if param.location == "query":
                    raw = query.get(param.name)
                else:
                    header = headers.get(param.header)
                    raw = None if header is None else header.decode("latin-1")
                if raw is None:
                    if param.required:
                        raise _NotPlain
                    if param.argument and param.default is not _ABSENT:
                        kwargs[param.argument] = param.default
                    continue
                value = param.coerce(raw)
            if not param.validator.is_valid(value):
                raise _NotPlain
            if param.argument:
                kwargs[param.argument] = value
        if body is not _ABSENT and op.body_argument:
            kwargs[op.body_argument] = body
        return {k: v for k, v in kwargs.items() if op.takes(k)}

    def _credentials(
        self, op: Operation, query: dict[str, str], headers: dict[bytes, bytes]
    ) -> Credentials | None:
        """The credentials of the first security alternative the request presents."""
        if not op.security:
            return None
        for scheme in op.security:
            credentials = _credentials(scheme, query, headers)
            if credentials is not None:
                return credentials
        raise _NotPlain

    def _respond(
        self, op: Operation, scope: Scope, kwargs: dict[str, Any], credentials: Credentials | None
    ) -> ASGIApp:
        """Identify the caller and run the handler in one transaction. A refusal raises
        `_NotPlain` from inside it, so it is rolled back and Connexion answers."""
        runtime = self.runtime
        identify = None
        if credentials is not None:

            def identify(store: ApiStore) -> Principal:
                try:
                    principal = auth.identify(runtime, op.api, credentials, store)
                except (ApiError, RequestRefused) as exc:
                    raise _NotPlain from exc
                if principal is None or principal.rate_limit is not None:
                    raise _NotPlain  # a rate limit is counted in its own transaction, by Connexion
                return principal

        try:
            result = runtime.run(op.api, op.operation_id, op.method, op.fn, kwargs, None, identify)
        except _NotPlain:
            raise
        except ApiError as exc:
            return asgi_response(exc)
        except Exception as exc:
            return asgi_response(exception_response(runtime, scope, exc, op.operation_id))
        if op.json_type and result.__class__ in (dict, list):  # the usual answer, built directly
            headers = {"Content-Type": op.json_type}
            return Response(self.jsonifier.dumps(result), 200, headers, op.json_type)
        if isinstance(result, ConnexionResponse):
            return StarletteFramework.connexion_to_framework_response(result)
        token = connexion_operation.set(SimpleNamespace(produces=op.produces))  # type: ignore[arg-type]
        try:
            return self.responses.build_framework_response(result)
        finally:
            connexion_operation.reset(token)


def _query(scope: Scope) -> dict[str, str]:
    pairs = query_pairs(scope)
    query = dict(pairs)
    if len(query) != len(pairs):  # a repeated key: Connexion decides which value counts
        raise _NotPlain
    return query


def _credentials(
    scheme: _Scheme, query: dict[str, str], headers: dict[bytes, bytes]
) -> Credentials | None:
    """The credentials `scheme` finds, as Connexion's security handlers read them."""
    if scheme.kind == "apiKey":
        if scheme.location == "query":
            value = query.get(str(scheme.name))
        else:
            raw = headers.get(scheme.name)  # type: ignore[arg-type]
            value = None if raw is None else raw.decode("latin-1")
        return None if value is None else Credentials("apiKey", value)
    authorization = headers.get(b"authorization")
    if not authorization:
        return None
    parts = authorization.decode("latin-1").split(maxsplit=1)
    if len(parts) != 2:
        raise _NotPlain
    kind, value = parts[0].lower(), parts[1]
    if kind != scheme.kind:
        return None
    if kind == "bearer":
        return Credentials("bearer", value)
    try:
        user, password = base64.b64decode(value).decode("latin1").split(":", 1)
    except Exception as exc:
        raise _NotPlain from exc
    return Credentials("basic", user, password)


class _Routes:
    """(method, path) -> the compiled operation, for paths exactly one route template matches."""

    def __init__(self, spec: Mapping[str, Any], runtime: Runtime) -> None:
        self.static: dict[str, dict[str, Operation]] = {}
        self.templated: list[tuple[re.Pattern[str], dict[str, Operation]]] = []
        schemes = spec.get("components", {}).get("securitySchemes", {})
        patterns = []
        for route, item in spec.get("paths", {}).items():
            ops = {}
            for method in METHODS:
                op = item.get(method)
                if isinstance(op, dict) and API_TAG in op:
                    compiled_op = _compile(runtime, op, method, item, spec, schemes)
                    if compiled_op is not None:
                        ops[method.upper()] = compiled_op
            patterns.append((route, _route_pattern(route, item), ops))
        for route, pattern, ops in patterns:
            if "{" not in route:
                ambiguous = any(p.fullmatch(route) for r, p, _ in patterns if "{" in r)
                self.static[route] = {} if ambiguous else ops
            else:
                self.templated.append((pattern, ops))

    def match(self, scope: Scope) -> tuple[Operation, dict[str, str]] | None:
        if scope.get("root_path"):
            return None
        path, method = scope["path"], scope["method"]
        ops = self.static.get(path)
        if ops is not None:
            op = ops.get(method)
            return None if op is None else (op, {})
        found = None
        for pattern, ops in self.templated:
            matched = pattern.fullmatch(path)
            if matched:
                if found is not None:
                    return None  # two templates match: the router's order decides
                found = (ops.get(method), matched)
        if found is None or found[0] is None:
            return None
        op, matched = found
        return op, matched.groupdict()


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


_PATH_REGEX = {"integer": r"[+-]?[0-9]+"}


def _route_pattern(route: str, item: Mapping[str, Any]) -> re.Pattern[str]:
    """The route as Connexion's router matches it (an integer path parameter only matches
    digits there; anything else is one path segment)."""
    kinds = {}
    for op in [item, *(item.get(m) or {} for m in METHODS)]:
        for param in op.get("parameters", []) if isinstance(op, dict) else []:
            if param.get("in") == "path":
                kinds[param["name"]] = param.get("schema", {}).get("type")
    parts = re.split(r"\{([^}]*)\}", route)
    regex = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(part)
        else:
            regex += f"(?P<{_group(part)}>{_PATH_REGEX.get(kinds.get(part) or '', '[^/]+')})"
    return re.compile(regex)


def _compile(
    runtime: Runtime,
    op: Mapping[str, Any],
    method: str,
    item: Mapping[str, Any],
    spec: Mapping[str, Any],
    schemes: Mapping[str, Any],
) -> Operation | None:
    """The operation prepared for the fast path, or None when it uses anything the fast path
    does not read plainly (Connexion then serves every request to it)."""
    op_id = op.get("operationId", "")
    api = op[API_TAG]
    fn = runtime.apis[api].handler(op_id) if api in runtime.apis else None
    if fn is None:
        return None
    signature = list(inspect.signature(fn).parameters.values())[1:]
    if any(p.kind is p.VAR_KEYWORD for p in signature):
        return None  # Connexion would also pass its context (token_info, user)
    accepted = frozenset(p.name for p in signature)

    params = _params(op, item)
    security = _security(op.get("security", spec.get("security")) or [], schemes)
    body = _body(op.get("requestBody"))
    if params is None or security is None or body is None:
        return None
    body_validator, body_argument = body
    produces = tuple(
        {t for response in op.get("responses", {}).values() for t in response.get("content", {})}
    )
    return Operation(
        api=api,
        operation_id=op_id,
        method=method,
        fn=fn,
        params=params,
        security=security,
        body_validator=body_validator,
        body_argument=body_argument,
        takes=accepted.__contains__,
        produces=produces,
        json_type=produces[0] if len(produces) == 1 and is_json_mimetype(produces[0]) else None,
    )


def _params(op: Mapping[str, Any], item: Mapping[str, Any]) -> tuple[_Param, ...] | None:
    merged = {(p["name"], p["in"]): p for p in item.get("parameters", [])}
    merged.update({(p["name"], p["in"]): p for p in op.get("parameters", [])})
    params = []
    for (name, location), param in merged.items():
        schema = param.get("schema")
        if location not in ("path", "query", "header") or not isinstance(schema, dict):
            return None
        kind = schema.get("type")
        if kind not in _SCALARS or schema.get("nullable") or param.get("content"):
            return None
        if location == "path" and kind not in ("string", "integer"):
            return None
        argument = None
        if location == "path":
            argument = _group(name)
        elif location == "query":
            if sanitized(name) != name:
                return None
            argument = name
        default = param.get("default", schema.get("default", _ABSENT))
        params.append(
            _Param(
                name=name,
                location=location,
                kind=kind,
                required=bool(param.get("required")),
                validator=_Verdicts(fast_validator(schema, Draft4Validator)),
                argument=argument,
                default=default if default is _ABSENT else make_type(default, kind, None),
                header=name.lower().encode("latin-1") if location == "header" else b"",
            )
        )
    return tuple(params)


def _security(
    requirements: Iterable[Mapping[str, Any]], schemes: Mapping[str, Any]
) -> tuple[_Scheme, ...] | None:
    alternatives = []
    for requirement in requirements:
        if len(requirement) != 1:
            return None  # several schemes at once, or an anonymous alternative ({})
        scheme = schemes.get(next(iter(requirement)), {})
        kind = scheme.get("type")
        if kind == "http" and str(scheme.get("scheme", "")).lower() in ("bearer", "basic"):
            alternatives.append(_Scheme(scheme["scheme"].lower()))
        elif kind == "apiKey" and scheme.get("in") == "header":
            alternatives.append(_Scheme("apiKey", "header", scheme["name"].lower().encode()))
        elif kind == "apiKey" and scheme.get("in") == "query":
            alternatives.append(_Scheme("apiKey", "query", scheme["name"]))
        else:
            return None
    return tuple(alternatives)


def _body(request_body: Mapping[str, Any] | None) -> tuple[Any, str | None] | None:
    """(validator, handler argument) for a JSON body; (None, None) for no body; None when the
    body is something else."""
    if request_body is None:
        return None, None
    schema = request_body.get("content", {}).get("application/json", {}).get("schema")
    name = request_body.get("x-body-name", "body")
    if not isinstance(schema, dict) or schema.get("nullable") or sanitized(name) != name:
        return None
    return fast_validator(schema, Draft4RequestValidator), name


# Keywords on which jsonschema-rs is at least as strict as Connexion's Python validators: the same
# Draft 4 meaning, except that Connexion also lets `nullable` schemas take null and its Python
# `re` patterns let `$` match before a final newline and `\d` match any Unicode digit. Schemas
# with any other keyword (`format`, `multipleOf`, ...) keep the Python validator.
_RS_KEYWORDS = frozenset(
    {
        "type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "minLength", "maxLength", "pattern", "properties", "required", "additionalProperties",
        "items", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
        "allOf", "anyOf", "oneOf", "not", "title", "description", "default", "example",
        "nullable", "readOnly", "writeOnly", "deprecated",
    }
)  # fmt: skip


def fast_validator(schema: Mapping[str, Any], python_cls: type) -> Any:
    """A compiled (jsonschema-rs) validator when every keyword in `schema` is one it reads at
    least as strictly as `python_cls`, else the cached Python one. The fast path only needs a
    validator that never says yes where Connexion's would say no: a no sends the request on."""
    if _rs_safe(schema):
        try:
            return jsonschema_rs.Draft4Validator(schema, validate_formats=False)
        except Exception:  # a pattern the Rust regex engine does not take
            pass
    return compiled(schema, python_cls, FORMATS)


def _rs_safe(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    for key, value in schema.items():
        if key.startswith("x-"):
            continue
        if key not in _RS_KEYWORDS:
            return False
        if key == "properties":
            subschemas = list(value.values())
        elif key in ("allOf", "anyOf", "oneOf"):
            subschemas = list(value)
        elif key in ("items", "not") or (key == "additionalProperties" and value is not True):
            subschemas = [value] if value is not False else []
        else:
            continue
        if not all(_rs_safe(sub) for sub in subschemas):
            return False
    return True
