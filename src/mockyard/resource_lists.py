"""A list's query parameters and the fields beside its array: paging, filters, totals.

Paging parameters are known by name and type: a limit (`limit`, `per_page`, `page_size`, ...),
an offset (`offset`, `skip`, `start`), a page number (`page`; 0-based when its minimum is 0),
or a cursor (`cursor`, `after`, `page_token`, ..., or an `offset` that is a string). Any other
query parameter named like a top-level record property (also `status[is]`, `status[eq]`) is an
equality filter. Beside the array, a field named like a total (`total`, `count`, ...), a next
cursor (`next_cursor`, `next_offset`, ...), `has_more`, or the page, limit or offset is filled
in; up to two levels deep (`{"meta": {"total": 3}}`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mockyard.operations import Operation, argument, deref
from mockyard.resource_config import Envelope
from mockyard.resource_schemas import is_array, is_object, match_property, norm, properties

_LIMITS = {"limit", "perpage", "pagesize", "size", "maxresults", "top", "take", "count"}


_OFFSETS = {"offset", "skip", "start"}


_PAGES = {"page", "pagenumber", "pageno", "pageindex"}


_CURSORS = {"cursor", "after", "startingafter", "pagetoken", "nexttoken", "continuation"}
_CURSORS |= {"continuationtoken", "nextpagetoken", "next", "offset"}


_META = {
    "next": {"nextcursor", "nextoffset", "nextpagetoken", "nexttoken", "cursor", "next", "after"}
    | {"endcursor", "continuation", "continuationtoken"},
    "total": {"total", "totalcount", "count", "totalresults", "totalitems", "totalrecords"}
    | {"totalsize", "totalelements"},
    "has_more": {"hasmore", "hasnext", "hasnextpage", "more"},
    "page": {"page", "pagenumber", "currentpage"},
    "limit": {"limit", "perpage", "pagesize", "size"},
    "offset": {"offset", "skip", "start"},
}


_FILTER_OPERATORS = ("is", "eq")
_TOTAL_HEADERS = {"xtotalcount", "xtotal", "totalcount", "xtotalresults"}


@dataclass(frozen=True)
class Meta:
    """A field beside a list's array the sandbox fills: `kind` is next, total, has_more, page,
    limit or offset."""

    path: tuple[str, ...]
    kind: str
    required: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class Paging:
    """A list's paging parameters (argument names) and the fields beside its array."""

    limit: str | None = None
    offset: str | None = None
    page: str | None = None
    page_base: int = 1
    cursor: str | None = None
    default_limit: int | None = None
    meta: tuple[Meta, ...] = ()
    max_items: int | None = None
    total_header: str | None = None  # a documented response header for the total (X-Total-Count)


def filters(op: Operation, record_schema: Any, scoped: set[str]) -> tuple[tuple[str, str], ...]:
    """(argument, record property) of each query parameter that filters a list: one named like
    a record property (and not one the path already scopes), bare or as `name[is]`."""
    props = properties(op.document, record_schema)
    out = []
    for param in op.parameters:
        if param["in"] != "query" or _paging_kind(param, op) is not None:
            continue
        name = str(param["name"])
        base, _, operator = name.partition("[")
        if operator and operator.rstrip("]") not in _FILTER_OPERATORS:
            continue
        prop = base if base in props else match_property(base, props)
        if prop is not None and prop not in scoped:
            out.append((argument(param), prop))
    return tuple(out)


def _paging_kind(param: Mapping[str, Any], op: Operation) -> str | None:
    name = norm(str(param["name"]))
    kind = (deref(op.document, param.get("schema")) or {}).get("type")
    if name in _CURSORS and (kind == "string" or name != "offset"):
        return "cursor" if name != "next" or kind == "string" else None
    if kind not in ("integer", "number"):
        return None
    if name in _LIMITS:
        return "limit"
    if name in _OFFSETS:
        return "offset"
    if name in _PAGES:
        return "page"
    return None


def paging(op: Operation, schema: Any, envelope: Envelope | None) -> Paging:
    """How a list's answer (`schema`, its array where `envelope` says) is paged."""
    found: dict[str, Mapping[str, Any]] = {}
    for param in op.parameters:
        if param["in"] == "query":
            kind = _paging_kind(param, op)
            if kind is not None and kind not in found:
                found[kind] = param
    limit = found.get("limit")
    limit_schema = deref(op.document, (limit or {}).get("schema")) or {}
    default = (limit or {}).get("default", limit_schema.get("default"))
    page = found.get("page")
    page_schema = deref(op.document, (page or {}).get("schema")) or {}
    array = _array_at(op.document, schema, envelope)
    return Paging(
        limit=argument(limit) if limit else None,
        offset=argument(found["offset"]) if "offset" in found else None,
        page=argument(page) if page else None,
        page_base=0 if page_schema.get("minimum") == 0 else 1,
        cursor=argument(found["cursor"]) if "cursor" in found else None,
        default_limit=int(default) if isinstance(default, int) else limit_schema.get("maximum"),
        meta=tuple(_meta(op.document, schema, envelope)),
        max_items=array.get("maxItems") if array else None,
        total_header=_total_header(op),
    )


def _total_header(op: Operation) -> str | None:
    for key, response in (op.spec.get("responses") or {}).items():
        if str(key).startswith("2"):
            for name in (deref(op.document, response) or {}).get("headers") or {}:
                if norm(name) in _TOTAL_HEADERS:
                    return str(name)
    return None


def _array_at(doc: Mapping[str, Any], schema: Any, envelope: Envelope | None) -> Any:
    node = deref(doc, schema) or {}
    for part in envelope.path if envelope else ():
        node = deref(doc, properties(doc, node).get(part)) or {}
    return node if is_array(doc, node) else None


def _meta(doc: Mapping[str, Any], schema: Any, envelope: Envelope | None) -> Iterator[Meta]:
    """The fields beside a list's array the sandbox knows how to fill, up to two levels deep."""
    if envelope is None or not envelope.path:
        return
    seen: set[str] = set()
    for path, sub, required in _leaves(doc, schema, 2):
        if path == envelope.path[: len(path)]:
            continue
        kind = next((k for k, names in _META.items() if norm(path[-1]) in names), None)
        if kind is None or kind in seen:
            continue
        expected = {"next": "string", "has_more": "boolean"}.get(kind, "integer")
        actual = sub.get("type")
        if actual == expected or (expected == "integer" and actual == "number"):
            seen.add(kind)
            yield Meta(path, kind, required, bool(sub.get("nullable")))


def _leaves(
    doc: Mapping[str, Any], schema: Any, depth: int, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any], bool]]:
    required = set((deref(doc, schema) or {}).get("required") or [])
    for prop, sub in properties(doc, schema).items():
        sub = deref(doc, sub) or {}
        yield (*prefix, prop), sub, prop in required
        if depth > 1 and is_object(doc, sub):
            yield from _leaves(doc, sub, depth - 1, (*prefix, prop))
