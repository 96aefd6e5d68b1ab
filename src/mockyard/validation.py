"""Request validators that close the gaps JSON Schema leaves (plugged into Connexion's map).

A number that is not finite is never valid input: JSON Schema bounds cannot reject NaN (every
comparison with it is false), Python's `json` accepts the non-standard literals `NaN` and
`Infinity`, and a query string's `nan` becomes a float. Other JSON that parses but is not well
formed is malformed input too, not a server error: bodies nested so deeply that they exhaust the
parser's recursion, integers longer than Python will convert (4,300 digits), and strings that
carry a lone UTF-16 surrogate (`"\\ud800"`), which no UTF-8 consumer (the state store included)
can take.

Numbers are held to their OpenAPI `format` (`FORMATS`): an `int32` between -2**31 and 2**31-1, an
`int64` between -2**63 and 2**63-1, a `float` within single precision's range (3.4e38); JSON
Schema's own checker knows none of them.

Header and cookie parameters are validated as the typed values their style writes (`styles`),
not as the raw text Connexion would check.

Query parameters typed integer or number must be plain decimal literals: Python's `int()` and
`float()` also read `1_000`, Arabic-Indic or fullwidth digits and `infinity`, which no real gateway
takes for a number.

What a validator refuses is an `InvalidInput` naming the parameter at fault as the request names
it and saying in a few words what is wrong with it (`comment`, "cannot be longer than 300
characters"), never a schema dump: each API renders that in its own error format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, FormatChecker, ValidationError
from starlette.types import Scope

from mockyard import styles
from mockyard.asgi_scope import query_pairs
from mockyard.errors import InvalidInput
from mockyard.fakedata import INTEGER_FORMATS

PLAIN_NUMBER = {
    "integer": re.compile(r"[+-]?[0-9]+"),
    "number": re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"),
}


def all_finite(value: Any) -> bool:
    """True when no float anywhere in `value` (nested lists and dicts too) is NaN or infinite."""
    return _first_flaw(value, strings=False) is None


def well_formed(value: Any) -> str | None:
    """Why `value` (parsed JSON) is not well formed, or None: a number that is not finite, or a
    string (a value or an object key) that is not valid Unicode."""
    return _first_flaw(value, strings=True)


def _first_flaw(value: Any, *, strings: bool) -> str | None:
    pending = [value]
    while pending:  # a loop, not recursion: the body may be nested as deep as the parser allows
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return "numbers must be finite"
        if strings and isinstance(item, str) and not _is_unicode(item):
            return "strings must be valid Unicode (no lone surrogates)"
        if isinstance(item, dict):
            pending.extend(item.values())
            if strings:
                pending.extend(item.keys())
        elif isinstance(item, list):
            pending.extend(item)
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_TYPES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


def dotted(path: Sequence[Any]) -> str:
    """A JSON body's path as its parameter name: `order.items.0.price`."""
    return ".".join(str(part) for part in path)


def invalid_input(
    error: ValidationError, name: Callable[[Sequence[Any]], str], prefix: Sequence[Any] = ()
) -> InvalidInput:
    """A schema's refusal as the client should read it: the parameter at fault (`name` spells a
    path the way the request does) and what is wrong with it, in a few words."""
    path = [*prefix, *error.path]
    kind = error.validator
    limit: Any = error.validator_value
    schema: Any = error.schema
    if kind == "required" and isinstance(error.instance, Mapping):
        path.append(next((p for p in limit if p not in error.instance), limit[0]))
        reason = "cannot be blank"
    elif kind == "additionalProperties" and isinstance(error.instance, Mapping):
        known = schema.get("properties") or {}
        path.append(next((k for k in error.instance if k not in known), ""))
        reason = "is not a parameter of this operation"
    else:
        reason = _reason(str(kind), limit, schema)
    return InvalidInput(reason, param=name(path) if path else "")


def _reason(kind: str, limit: Any, schema: Mapping[str, Any]) -> str:
    if kind == "minLength":
        return "cannot be blank" if limit == 1 else f"cannot be shorter than {limit} characters"
    if kind == "maxLength":
        return f"cannot be longer than {limit} characters"
    if kind == "minimum":
        return (
            f"must be greater than {limit}"
            if schema.get("exclusiveMinimum")
            else (f"cannot be less than {limit}")
        )
    if kind == "maximum":
        return (
            f"must be less than {limit}"
            if schema.get("exclusiveMaximum")
            else (f"cannot be more than {limit}")
        )
    if kind == "type":
        kinds = limit if isinstance(limit, list) else [limit]
        return "must be " + " or ".join(_TYPES.get(str(k), str(k)) for k in kinds)
    if kind == "enum":
        shown = ", ".join(str(v) for v in list(limit)[:12])
        return f"must be one of {shown}" + (", ..." if len(limit) > 12 else "")
    if kind == "pattern":
        return "is not in the expected format"
    if kind == "format":
        return _FORMAT_REASONS.get(str(limit), f"must be a valid {limit}")
    if kind == "minItems":
        return f"needs at least {limit} value" + ("s" if limit != 1 else "")
    if kind == "maxItems":
        return f"cannot have more than {limit} values"
    if kind == "uniqueItems":
        return "cannot repeat a value"
    if kind == "multipleOf":
        return f"must be a multiple of {limit}"
    return "has an invalid value"


FLOAT_MAX = 3.4028234663852886e38  # the largest finite IEEE 754 single-precision number


def _is_float(instance: object) -> bool:
    return not isinstance(instance, int | float) or abs(instance) <= FLOAT_MAX


_FORMAT_REASONS = {
    **{
        fmt: f"must be between {low} and {high} ({fmt})"
        for fmt, (low, high) in INTEGER_FORMATS.items()
    },
    "float": f"must be within ±{FLOAT_MAX:.7g} (float)",
}
# Draft 4's formats plus OpenAPI's numeric ones, kept here rather than taken from
# openapi-schema-validator, whose import would cost every start (tests/test_cache.py).
FORMATS = FormatChecker()
FORMATS.checkers = dict(Draft4Validator.FORMAT_CHECKER.checkers)
for _fmt, (_low, _high) in INTEGER_FORMATS.items():
    FORMATS.checks(_fmt)(
        lambda value, low=_low, high=_high: not isinstance(value, int) or low <= value <= high
    )
FORMATS.checks("float")(_is_float)
_compiled: dict[tuple[int, type], tuple[Mapping[str, Any], Any]] = {}


def compiled(schema: Mapping[str, Any], cls: type, checker: Any) -> Any:
    """One validator per schema, built once: Connexion builds a new one (and deep-copies each
    parameter's schema) on every request, which was a fifth of a request's cost."""
    key = (id(schema), cls)
    hit = _compiled.get(key)
    if hit is None or hit[0] is not schema:  # the id of a collected schema can be reused
        hit = _compiled[key] = (schema, cls(schema, format_checker=checker))
    return hit[1]


class FiniteParameterValidator(ParameterValidator):
    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        if is_nullable(param) and is_null(value):
            return None
        name = str(param["name"])
        if value is None:
            if param.get("required"):
                raise InvalidInput("cannot be blank", param=name)
            return None
        try:
            compiled(param.get("schema", param), Draft4Validator, FORMATS).validate(value)
        except ValidationError as exc:
            raise invalid_input(exc, dotted, [name]) from None
        if not all_finite(value):
            raise InvalidInput("must be a finite number", param=name)
        return None

    def validate_header_parameter(self, param: dict[str, Any], request: Any) -> str | None:
        raw = request.headers.get(param["name"])
        value = None if raw is None else styles.decode(param, raw)
        return self.validate_parameter("header", value, param)

    def validate_cookie_parameter(self, param: dict[str, Any], request: Any) -> str | None:
        raw = request.cookies.get(param["name"])
        value = None if raw is None else styles.decode(param, raw)
        return self.validate_parameter("cookie", value, param)

    def validate_query_parameter(self, param: dict[str, Any], request: Any) -> str | None:
        kind = param.get("schema", param).get("type")
        if kind in PLAIN_NUMBER:
            raw = [v for k, v in query_pairs(request.scope) if k == param["name"]]
            if any(not PLAIN_NUMBER[kind].fullmatch(value.strip()) for value in raw):
                raise InvalidInput(f"must be a plain decimal {kind}", param=param["name"])
        problem: str | None = super().validate_query_parameter(param, request)
        return problem


class FiniteJSONBodyValidator(JSONRequestBodyValidator):
    @property
    def _validator(self) -> Any:
        return compiled(self._schema, Draft4RequestValidator, FORMATS)

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if body is None:  # "must not be empty", unless the body is nullable
            checked: dict[str, Any] | None = super()._validate(body)
            return checked
        try:
            return self._validator.validate(body)  # type: ignore[no-any-return]
        except ValidationError as exc:
            raise invalid_input(exc, dotted) from None

    async def _parse(self, stream: Any, scope: Scope) -> Any:
        try:
            body = await super()._parse(stream, scope)
        except RecursionError as exc:
            raise BadRequestProblem(detail="request body is nested too deeply") from exc
        except UnicodeDecodeError:
            raise  # rendered as "not valid UTF-8" by `responses`
        except ValueError as exc:  # an integer too long to convert (json's own errors are caught)
            raise BadRequestProblem(detail=f"request body is not valid JSON: {exc}") from exc
        flaw = well_formed(body)
        if flaw is not None:
            raise BadRequestProblem(detail=f"request body: {flaw}")
        return body


def validator_map(body: Mapping[str, Any] = VALIDATOR_MAP["body"]) -> dict[str, Any]:
    """Connexion's validator map with these stricter validators; `body` maps other media types."""
    return {
        **VALIDATOR_MAP,
        "parameter": FiniteParameterValidator,
        "body": MediaTypeDict({**body, "*/*json": FiniteJSONBodyValidator}),
    }
