"""Request validators that close the gaps JSON Schema leaves (plugged into Connexion's map).

A number that is not finite is never valid input: JSON Schema bounds cannot reject NaN (every
comparison with it is false), Python's `json` accepts the non-standard literals `NaN` and
`Infinity`, and a query string's `nan` becomes a float. Other JSON that parses but is not well
formed is malformed input too, not a server error: bodies nested so deeply that they exhaust the
parser's recursion, integers longer than Python will convert (4,300 digits), and strings that
carry a lone UTF-16 surrogate (`"\\ud800"`), which no UTF-8 consumer (the state store included)
can take.

Query parameters typed integer or number must be plain decimal literals: Python's `int()` and
`float()` also read `1_000`, Arabic-Indic or fullwidth digits and `infinity`, which no real gateway
takes for a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, ValidationError
from starlette.types import Scope

from mockyard.asgi_scope import query_pairs

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


FORMATS = Draft4Validator.FORMAT_CHECKER
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
        parameter_type: str, value: Any, param: dict, param_name: str | None = None
    ) -> str | None:
        if is_nullable(param) and is_null(value):
            return None
        if value is None:
            if param.get("required"):
                return f"Missing {parameter_type} parameter '{param['name']}'"
            return None
        try:
            compiled(param.get("schema", param), Draft4Validator, FORMATS).validate(value)
        except ValidationError as exc:
            return str(exc)
        if not all_finite(value):
            return f"{parameter_type} parameter '{param['name']}' must be a finite number"
        return None

    def validate_query_parameter(self, param: dict, request: Any) -> str | None:
        kind = param.get("schema", param).get("type")
        if kind in PLAIN_NUMBER:
            raw = [v for k, v in query_pairs(request.scope) if k == param["name"]]
            if any(not PLAIN_NUMBER[kind].fullmatch(value.strip()) for value in raw):
                return f"query parameter '{param['name']}' must be a plain decimal {kind}"
        return super().validate_query_parameter(param, request)


class FiniteJSONBodyValidator(JSONRequestBodyValidator):
    @property
    def _validator(self) -> Any:
        return compiled(self._schema, Draft4RequestValidator, FORMATS)

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
