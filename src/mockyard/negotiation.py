"""Content negotiation: which documented media type answers a request's `Accept` header.

The header is read as RFC 9110 12.5.1 says, by werkzeug's parser: q-values weigh the
choices, `q=0` refuses a type, `type/*` and `*/*` match what they cover, and the most
specific match's quality counts. Of types the client likes equally, the one it names first
wins (as Prism's negotiator does), and of those only a wildcard covers, JSON, then the spec's
order. No `Accept`, or one with no media range in it, accepts anything. When
nothing documented is acceptable the answer is a 406 (`NotAcceptable`), except for an answer
that has no body at all, which no media type describes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from mockyard.errors import NotAcceptable


def is_json(media_type: str) -> bool:
    """`application/json`, `application/problem+json`, `text/json; charset=utf-8`, ..."""
    return _essence(media_type).endswith(("/json", "+json"))


def is_xml(media_type: str) -> bool:
    """`application/xml`, `text/xml`, `application/atom+xml`, ..."""
    return _essence(media_type).endswith(("/xml", "+xml"))


def choose(offered: Iterable[str], accept: str | None) -> str | None:
    """The media type of `offered` that answers `accept`; None when `offered` is empty.
    Raises `NotAcceptable` when the client accepts none of them.

    Every request of an operation asks this of the same `offered` (a tuple), mostly with the
    same few `Accept` values (none at all, `*/*`, `application/json`): those answers are
    remembered rather than parsed again per request (short headers only: a client sending
    long ones cannot make the memory grow)."""
    if isinstance(offered, tuple) and (accept is None or len(accept) <= _REMEMBERED_LENGTH):
        return _choose_remembered(offered, accept)
    return _choose(tuple(offered), accept)


_REMEMBERED_LENGTH = 200


@functools.lru_cache(maxsize=512)
def _choose_remembered(offered: tuple[str, ...], accept: str | None) -> str | None:
    return _choose(offered, accept)  # a NotAcceptable raised is not remembered: it is rare


def _choose(offered: tuple[str, ...], accept: str | None) -> str | None:
    ordered = sorted(offered, key=lambda t: not is_json(t))  # stable: JSON first, then as listed
    if not ordered:
        return None
    ranges = _ranges(accept)
    if ranges is None:
        return ordered[0]
    liked = [t for t in ordered if ranges.quality(_essence(t)) > 0]
    if not liked:
        raise NotAcceptable(ordered)
    return min(liked, key=lambda t: (-ranges.quality(_essence(t)), ranges.find(_essence(t))))


def _ranges(accept: str | None) -> MIMEAccept | None:
    """The header's media ranges without their parameters (a client's `charset=utf-8` asks
    nothing of a JSON answer), most specific first; None for no header, or one without a
    single media range (RFC 9110 12.5.1: then anything is acceptable)."""
    parsed = parse_accept_header(accept or "", MIMEAccept)
    ranges = [(_essence(value), quality) for value, quality in parsed if "/" in value]
    return MIMEAccept(ranges) if ranges else None


def _essence(media_type: str) -> str:
    return media_type.split(";")[0].strip().lower()
