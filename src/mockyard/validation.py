"""Request validators that close the gaps JSON Schema leaves (plugged into Connexion's map).

A number that is not finite is never valid input: JSON Schema bounds cannot reject NaN (every
comparison with it is false), Python's `json` accepts the non-standard literals `NaN` and
`Infinity`, and a query string's `nan` becomes a float. Deeply nested bodies that exhaust the
parser's recursion are malformed input too, not a server error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, ValidationError
from starlette.types import Scope


def all_finite(value: Any) -> bool:
    """True when no float anywhere in `value` (nested lists and dicts too) is NaN or infinite."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
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


class FiniteJSONBodyValidator(JSONRequestBodyValidator):
    @property
    def _validator(self) -> Any:
        return compiled(self._schema, Draft4RequestValidator, FORMATS)

    async def _parse(self, stream: Any, scope: Scope) -> Any:
        try:
            body = await super()._parse(stream, scope)
        except RecursionError as exc:
            raise BadRequestProblem(detail="request body is nested too deeply") from exc
        if not all_finite(body):
            raise BadRequestProblem(detail="numbers in the request body must be finite")
        return body


def validator_map(body: Mapping[str, Any] = VALIDATOR_MAP["body"]) -> dict[str, Any]:
    """Connexion's validator map with these stricter validators; `body` maps other media types."""
    return {
        **VALIDATOR_MAP,
        "parameter": FiniteParameterValidator,
        "body": MediaTypeDict({**body, "*/*json": FiniteJSONBodyValidator}),
    }
