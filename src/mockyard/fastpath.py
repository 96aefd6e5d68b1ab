"""The fast reader: the arguments of a plainly valid request, read without Connexion.

Connexion reads a request through a dozen middleware and decorator layers that rebuild
per-request objects two or three times; that was over half of a request's cost. Here each
operation is compiled once, on its first request: each parameter's coercion and validator, its
body's validator and the handler arguments it takes.

The fast reader only ever says yes. A request it cannot vouch for, for any reason (a parameter
that does not coerce or validate, a repeated query key or header, a parameter style or body
type it does not read, a body that does not validate), raises `Deferred`, and the endpoint
hands it to Connexion, whose answer it always was: every validation error is still
Connexion's. It reads nothing with a side effect. `tests/test_fastpath.py` sends the same
requests through both readers and requires the same answers and the same state.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from connexion.decorators.parameter import sanitized
from connexion.json_schema import Draft4RequestValidator
from connexion.utils import make_type
from jsonschema import Draft4Validator
from starlette.types import Message, Receive, Scope

from mockyard import forms
from mockyard.asgi_scope import query_pairs
from mockyard.errors import CyclicSchema, Deferred, MalformedForm
from mockyard.operations import Operation, deref, inline
from mockyard.validation import FORMATS, PLAIN_NUMBER, compiled, well_formed

_SCALARS = {"string", "integer", "number", "boolean"}
_BOOLEANS = {"true": True, "false": False}
_JSON_TYPES: tuple[bytes, ...] = (b"application/json", b"application/json; charset=utf-8")
_FORM_TYPES: tuple[bytes, ...] = (b"application/x-www-form-urlencoded",)
_ABSENT = object()
_UNREAD = "unread"  # the kind of an optional parameter the reader defers whenever it is sent


@dataclass(frozen=True)
class _Param:
    name: str  # as the spec names it (the query key, the header name)
    location: str  # path, query or header
    kind: str  # string, integer, number, boolean or _UNREAD
    required: bool
    validator: Any
    argument: str | None  # the handler argument it fills, None when not passed
    default: Any = _ABSENT
    header: bytes = b""  # a header parameter's name as the ASGI scope writes it

    def coerce(self, raw: str) -> Any:
        """The value Connexion would validate and pass, for a raw value written plainly."""
        if not raw:
            raise Deferred
        if self.kind == "string":
            return raw
        if self.kind == "boolean":
            if raw not in _BOOLEANS:
                raise Deferred
            return _BOOLEANS[raw]
        if not PLAIN_NUMBER[self.kind].fullmatch(raw):
            raise Deferred
        value = int(raw) if self.kind == "integer" else float(raw)
        if isinstance(value, float) and not math.isfinite(value):
            raise Deferred
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
            verdict = self.known[key] = bool(self.validator.is_valid(value))
        return verdict


@dataclass(frozen=True)
class _Plan:
    """How one operation's plain requests are read."""

    params: tuple[_Param, ...]
    body_types: tuple[bytes, ...]  # the Content-Types read; () means the operation takes no body
    body_schema: Mapping[str, Any] | None
    body_validator: Any
    body_argument: str


class FastReader:
    """Reads the plain requests of every operation whose parameters and body it can read."""

    def __init__(self) -> None:
        self._plans: dict[int, _Plan | None] = {}
        self.served = 0  # requests read here whose caller was accepted (counted by `Endpoint`)

    def plan(self, op: Operation) -> _Plan | None:
        key = id(op)
        if key not in self._plans:
            self._plans[key] = _compile(op)
        return self._plans[key]

    async def read(
        self,
        op: Operation,
        scope: Scope,
        receive: Receive,
        received: list[Message],
        path_params: Mapping[str, str],
    ) -> dict[str, Any]:
        """The handler's keyword arguments; raises `Deferred` for anything not plain. Body
        messages read from `receive` are appended to `received`, to be replayed if deferred."""
        plan = self.plan(op)
        if plan is None:
            raise Deferred
        raw_headers = scope["headers"]
        headers = dict(raw_headers)
        if len(headers) != len(raw_headers):  # a repeated header: Connexion decides
            raise Deferred
        kwargs = _arguments(plan, _query(scope), headers, path_params)
        body = await _body(plan, headers, receive, received)
        if body is not _ABSENT:
            kwargs[plan.body_argument] = body
        return kwargs


def _query(scope: Scope) -> dict[str, str]:
    pairs = query_pairs(scope)
    query = dict(pairs)
    if len(query) != len(pairs):  # a repeated key: Connexion decides which value counts
        raise Deferred
    return query


def _arguments(
    plan: _Plan, query: dict[str, str], headers: dict[bytes, bytes], path: Mapping[str, str]
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for param in plan.params:
        if param.kind == _UNREAD:
            if _present(param, query, headers):
                raise Deferred
            continue
        if param.location == "path":  # the route matched it: it converts as Connexion's does
            value = make_type(path[param.name], param.kind, None)
        else:
            if param.location == "query":
                raw = query.get(param.name)
            else:
                header = headers.get(param.header)
                raw = None if header is None else header.decode("latin-1")
            if raw is None:
                if param.required:
                    raise Deferred
                if param.argument and param.default is not _ABSENT:
                    kwargs[param.argument] = param.default
                continue
            value = param.coerce(raw)
        if not param.validator.is_valid(value):
            raise Deferred
        if param.argument:
            kwargs[param.argument] = value
    return kwargs


def _present(param: _Param, query: dict[str, str], headers: dict[bytes, bytes]) -> bool:
    if param.location == "header":
        return param.header in headers
    deep = param.name + "["
    return any(key == param.name or key.startswith(deep) for key in query)


async def _body(
    plan: _Plan, headers: dict[bytes, bytes], receive: Receive, received: list[Message]
) -> Any:
    length = headers.get(b"content-length")
    if not plan.body_types:
        if (length is not None and length != b"0") or b"transfer-encoding" in headers:
            raise Deferred
        return _ABSENT
    if not length or not length.isdigit() or int(length) == 0:
        raise Deferred
    content_type = headers.get(b"content-type", b"")
    if content_type not in plan.body_types:
        raise Deferred
    chunks = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            raise Deferred
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    raw = b"".join(chunks)
    try:
        if content_type in _FORM_TYPES:
            assert plan.body_schema is not None
            body = forms.parse(forms.fields_of(raw), plan.body_schema)
        else:
            body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError, MalformedForm) as exc:  # UnicodeDecodeError: ValueError
        raise Deferred from exc
    if body is None or well_formed(body) is not None:
        raise Deferred
    try:
        valid = plan.body_validator.is_valid(body)
    except Exception as exc:  # a value the compiled validator cannot take: Connexion decides
        raise Deferred from exc
    if not valid:
        raise Deferred
    return body


def _compile(op: Operation) -> _Plan | None:
    """The operation's reading plan, or None when it uses anything the reader does not read
    plainly (Connexion then reads every request to it). An optional query or header parameter
    it cannot read (Stripe's `expand[]` on every operation) only defers the requests that
    carry it."""
    try:
        params = tuple(_param_or_absent(op, p) for p in op.parameters)
        return _with_body(op, params)
    except (Deferred, CyclicSchema):  # a cycle in a schema is not plain either
        return None


def _param_or_absent(op: Operation, param: Mapping[str, Any]) -> _Param:
    try:
        return _param(op, param)
    except Deferred:
        if not _absence_is_visible(op, param):
            raise
    name, location = str(param["name"]), str(param["in"])
    return _Param(
        name=name,
        location=location,
        kind=_UNREAD,
        required=False,
        validator=None,
        argument=None,
        header=name.lower().encode("latin-1") if location == "header" else b"",
    )


def _absence_is_visible(op: Operation, param: Mapping[str, Any]) -> bool:
    """Whether a request without this parameter shows it plainly: it is optional, Connexion
    would pass no default for it, and no key of another name can be part of it (a form-style
    exploded object's keys are its properties' names)."""
    if param.get("required") or param.get("in") not in ("query", "header"):
        return False
    schema = deref(op.document, param.get("schema")) or {}
    if "default" in param or "default" in schema:
        return False
    if param["in"] == "header" or param.get("content"):
        return True
    exploded = param.get("explode", param.get("style", "form") == "form")
    kind = schema.get("type")
    return param.get("style") == "deepObject" or not (exploded and kind in (None, "object"))


def _param(op: Operation, param: Mapping[str, Any]) -> _Param:
    name, location = str(param["name"]), str(param["in"])
    schema = inline(op.document, param.get("schema"))
    if location not in ("path", "query", "header") or not isinstance(schema, dict):
        raise Deferred
    kind = schema.get("type")
    if kind not in _SCALARS or schema.get("nullable") or param.get("content"):
        raise Deferred
    if location == "path" and kind not in ("string", "integer"):
        raise Deferred
    if param.get("style") not in (None, "simple" if location != "query" else "form"):
        raise Deferred
    argument = None
    if location == "path":
        argument = name.replace("-", "_")  # as Connexion's router names it
    elif location == "query":
        if sanitized(name) != name:
            raise Deferred
        argument = name
    default = param.get("default", schema.get("default", _ABSENT))
    return _Param(
        name=name,
        location=location,
        kind=str(kind),
        required=bool(param.get("required")),
        validator=_Verdicts(fast_validator(schema, Draft4Validator)),
        argument=argument,
        default=default if default is _ABSENT else make_type(default, kind, None),
        header=name.lower().encode("latin-1") if location == "header" else b"",
    )


def _with_body(op: Operation, params: tuple[_Param, ...]) -> _Plan:
    request_body = deref(op.document, op.spec.get("requestBody"))
    if request_body is None:
        return _Plan(params, (), None, None, "body")
    name = str(request_body.get("x-body-name", "body"))
    content = request_body.get("content") or {}
    if "application/json" in content:
        media, types = content["application/json"], _JSON_TYPES
    elif forms.FORM_MEDIA_TYPE in content:
        media, types = content[forms.FORM_MEDIA_TYPE], _FORM_TYPES
    else:
        raise Deferred
    schema = inline(op.document, deref(op.document, media).get("schema"))
    if not isinstance(schema, dict) or schema.get("nullable") or sanitized(name) != name:
        raise Deferred
    return _Plan(params, types, schema, fast_validator(schema, Draft4RequestValidator), name)


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
            return jsonschema_rs.Draft4Validator(dict(schema), validate_formats=False)
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
