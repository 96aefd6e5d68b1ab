"""What the engine reads off an ASGI scope: one header, and the query string parsed once (the
fast reader, the credentials, the parameter validators and the journal all read it, and
`parse_qsl` cost a tenth of a request each time it ran)."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from itertools import repeat
from typing import Any
from urllib.parse import parse_qsl

QUERY_KEY = "mockyard.query"


def header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The first value of one request header (`name` in lower case), cheaper than a request
    object."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def query_pairs(scope: MutableMapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value) pairs in order, repeats kept, as Starlette's `QueryParams` reads them."""
    pairs = scope.get(QUERY_KEY)
    if pairs is None:
        raw = scope.get("query_string", b"").decode("latin-1")
        pairs = scope[QUERY_KEY] = _pairs(raw)
    return pairs  # type: ignore[no-any-return,unused-ignore]


def _pairs(raw: str) -> list[tuple[str, str]]:
    """`parse_qsl(raw, keep_blank_values=True)`; a query with nothing escaped (no `%`, no `+`,
    most requests) is only split, which is all `parse_qsl` does to it, at a fifth of the cost
    (it unquotes every name and value, two calls each)."""
    if "%" in raw or "+" in raw:
        return parse_qsl(raw, keep_blank_values=True)
    parts = filter(None, raw.split("&"))
    return [(name, value) for name, _, value in map(str.partition, parts, repeat("="))]
