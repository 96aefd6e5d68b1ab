"""The request's query string, parsed once: the fast path, the parameter validators and the
journal all read it, and `parse_qsl` cost a tenth of a request each time it ran."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl

SCOPE_KEY = "mockyard.query"


def query_pairs(scope: MutableMapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value) pairs in order, repeats kept, as Starlette's `QueryParams` reads them."""
    pairs = scope.get(SCOPE_KEY)
    if pairs is None:
        raw = scope.get("query_string", b"").decode("latin-1")
        pairs = scope[SCOPE_KEY] = parse_qsl(raw, keep_blank_values=True)
    return pairs
