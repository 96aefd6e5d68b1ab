"""Admin request bodies as strict JSON. `json.loads` lets through what the sandbox could not
store and send back (NaN and infinities, lone surrogates) and fails on deep nesting with a
RecursionError; here each of those, and a body over 1 MiB, is a `BadBody` (400 or 413) instead
of a 500 later."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request

MAX_BODY = 1024 * 1024
MAX_DEPTH = 64


class BadBody(Exception):
    """A request body the admin API refuses; `status` is 400 or 413."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read(request: Request) -> Any:
    """The body as JSON (None when empty); BadBody when it is not plain, finite JSON."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BadBody(413, f"the body must be at most {MAX_BODY} bytes")
    if not raw.strip():
        return None
    try:
        value = json.loads(bytes(raw), parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise BadBody(400, f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # bad JSON, bad encoding, NaN, an integer of 4,300+ digits
        raise BadBody(400, f"the body is not JSON: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise BadBody(400, f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody(400, "the body holds a lone surrogate (\\ud800-\\udfff)") from None
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (the value may be as deep as json.loads allows)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest
