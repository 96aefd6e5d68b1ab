"""Content negotiation: which documented media type answers a request's `Accept` header.

The header is read as RFC 9110 12.5.1 says, by werkzeug's parser: q-values weigh the
choices, `q=0` refuses a type, `type/*` and `*/*` match what they cover, and the most
specific match's quality counts. Among the types the client likes equally, JSON comes first,
then the spec's order, as Prism does. No `Accept` (or an empty one) accepts anything. When
nothing documented is acceptable the answer is a 406 (`NotAcceptable`), except for an answer
that has no body at all, which no media type describes.
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from mockyard.errors import NotAcceptable


def is_json(media_type: str) -> bool:
    """`application/json`, `application/problem+json`, `text/json; charset=utf-8`, ..."""
    essence = media_type.split(";")[0].strip().lower()
    return essence.endswith(("/json", "+json"))


def is_xml(media_type: str) -> bool:
    """`application/xml`, `text/xml`, `application/atom+xml`, ..."""
    essence = media_type.split(";")[0].strip().lower()
    return essence.endswith(("/xml", "+xml"))


def choose(offered: Iterable[str], accept: str | None) -> str | None:
    """The media type of `offered` that answers `accept`; None when `offered` is empty.
    Raises `NotAcceptable` when the client accepts none of them."""
    ordered = sorted(offered, key=lambda t: not is_json(t))  # stable: JSON first, then as listed
    if not ordered:
        return None
    if accept is None or not accept.strip():
        return ordered[0]
    best = parse_accept_header(accept, MIMEAccept).best_match(ordered)
    if best is None:
        raise NotAcceptable(ordered)
    return str(best)
