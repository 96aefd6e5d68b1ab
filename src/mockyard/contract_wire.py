"""What a contract run puts on the wire, through Schemathesis's public extension points.

- Form bodies: an array inside a bracketed (`deepObject`) form field is sent with indices,
  `items[id][0]=a&items[id][1]=b`, as Rails-, PHP- and Stripe-style APIs and their SDKs send
  it. Schemathesis sends `items[id]=a&items[id]=b`, which OpenAPI leaves undefined and which
  most such servers read as one value. A top-level
  array field keeps the form style's repeated keys (`tag=a&tag=b`).
- Read-only runs: a request that could change state is never sent (`before_call` raises), a
  safety net under the narrowed spec `contract_writes.read_only` hands Schemathesis.

`install()` registers both once per process; they are inert for runs they do not concern.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from mockyard import contract_writes

FORM = "application/x-www-form-urlencoded"


@functools.cache
def install() -> None:
    """Register the form serializer and the read-only guard with Schemathesis, once."""
    import schemathesis

    schemathesis.serializer(FORM)(form_body)
    schemathesis.hook("before_call")(_refuse_writes)


def form_body(_ctx: Any, value: Any) -> bytes | None:
    """An urlencoded body; arrays under bracketed keys get indices (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if not isinstance(value, Mapping):  # out-of-spec negative bodies go as their JSON text
        return json.dumps(value).encode()
    return urlencode(list(form_pairs(value))).encode()


def form_pairs(body: Mapping[str, Any]) -> Iterator[tuple[str, str | bytes]]:
    """(key, value) pairs as they go on the wire; None values are left out, as `requests` does."""
    for key, value in body.items():
        if isinstance(value, list | tuple):
            indexed = str(key).endswith("]")
            for index, item in enumerate(value):
                if item is not None:
                    yield (f"{key}[{index}]" if indexed else str(key)), _text(item)
        elif value is not None:
            yield str(key), _text(value)


def _text(value: Any) -> str | bytes:
    return value if isinstance(value, str | bytes) else str(value)


def _refuse_writes(_context: Any, case: Any, _kwargs: Any) -> None:
    reason = contract_writes.refusal(case)
    if reason is not None:
        raise contract_writes.WriteRefused(reason)
