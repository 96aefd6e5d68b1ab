"""Answers from the spec alone: a documented example, or data generated from the schema.

Every operation without a handler is answered here, and so is any operation (handled or not)
when the request carries a `Prefer` header. Nothing here touches the store: a preferred answer
on a stateful operation changes no state.

Which response: the one `Prefer: code=` names, else the first documented 2xx (then `2XX`, then
`default`). Which media type: the one the `Accept` header likes best, JSON first among equals
(`negotiation`; a 406 when it accepts none); an XML one is written from the value by its
schema's `xml` hints (`xmlbody`), unless the example is XML text already. Which body:
`Prefer: example=NAME`, else the first named example, else the media type's `example`, else a
value generated from the schema (`fakedata`), seeded by the sandbox seed, the operation and the
request's parameters, so the same request gets the same answer. `Prefer: dynamic=true` skips
the examples.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mockyard import negotiation
from mockyard.errors import UnsatisfiablePreference
from mockyard.fakedata import Generator, lazy_faker, resolve_ref
from mockyard.fixtures import seeded_faker
from mockyard.operations import Operation
from mockyard.prefer import Preference, response_key
from mockyard.xmlbody import to_xml

_ATTEMPTS = 4
_EMPTY = object()


@dataclass
class MockResponse:
    """What the mock answers: status, body (bytes, maybe empty), media type and headers."""

    status: int
    body: bytes = b""
    media_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Responder:
    """Answers the operations of one (merged) OpenAPI 3.0 document."""

    def __init__(self, document: Mapping[str, Any], seed: Callable[[], int]) -> None:
        self.document = document
        self.seed = seed

    def answer(
        self,
        operation: Operation,
        params: Mapping[str, Any],
        preference: Preference,
        accept: str | None = None,
    ) -> MockResponse:
        op, operation_id = operation.spec, operation.operation_id
        responses = {str(k): v for k, v in (op.get("responses") or {}).items()}
        key, response = self._response(responses, preference)
        status = preference.code or _status_of(key)
        response = self._deref(response)
        content = response.get("content") or {}
        media_type = negotiation.choose(content, accept)
        headers = self._headers(response, operation_id, params)
        if media_type is None:
            if preference.example:
                raise self._no_example(preference.example, responses)
            return MockResponse(status, b"", None, headers)
        media = self._deref(content[media_type]) or {}
        body = self._body(media, key, operation_id, params, preference, responses)
        structured = body is not _EMPTY and not isinstance(body, str | bytes | None)
        if structured and negotiation.is_xml(media_type):  # XML text examples are sent as they are
            body = to_xml(body, media.get("schema"), self.document)
        return MockResponse(status, _encode(body, media_type), media_type, headers)

    def shows_example(self, operation: Operation, code: int) -> bool:
        """Whether the response documented for `code` shows an example body (named or not); a
        status it does not document counts as shown: `answer` says it is not documented."""
        responses = {str(k): v for k, v in (operation.spec.get("responses") or {}).items()}
        key = response_key(code, responses)
        if key is None:
            return True
        for media in (self._deref(responses[key]).get("content") or {}).values():
            media = self._deref(media) or {}
            if media.get("examples") or "example" in media:
                return True
        return False

    # --- choosing -------------------------------------------------------------------------------

    def _response(self, responses: dict[str, Any], pref: Preference) -> tuple[str, Any]:
        if pref.code is not None:
            key = response_key(pref.code, responses)
            if key is None:
                raise UnsatisfiablePreference(
                    404,
                    f"no response is documented for status {pref.code}; documented: "
                    + ", ".join(responses),
                    documented=list(responses),
                )
            return key, responses[key]
        if pref.example:  # the first response that documents an example of that name
            for key in _by_status(responses):
                if pref.example in self._example_names(responses[key]):
                    return key, responses[key]
            raise self._no_example(pref.example, responses)
        key = _success_key(responses)
        return key, responses.get(key, {"description": "OK"})

    def _body(
        self,
        media: Mapping[str, Any],
        key: str,
        operation_id: str,
        params: Mapping[str, Any],
        pref: Preference,
        responses: dict[str, Any],
    ) -> Any:
        examples = {k: self._deref(v) for k, v in (media.get("examples") or {}).items()}
        if pref.example:
            if pref.example not in examples:
                raise self._no_example(pref.example, responses)
            return examples[pref.example].get("value")
        if not pref.dynamic:
            for example in examples.values():
                if "value" in example:
                    return example["value"]
            if "example" in media:
                return media["example"]
        schema = media.get("schema")
        if schema is None:
            return _EMPTY
        value = None
        for attempt in range(_ATTEMPTS):
            gen = self._generator(operation_id, key, params, attempt, use_examples=not pref.dynamic)
            value = gen.value(schema)
            if gen.valid(value, schema):
                break
        return value

    def _headers(
        self, response: Mapping[str, Any], operation_id: str, params: Mapping[str, Any]
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        gen = None
        for name, header in (response.get("headers") or {}).items():
            header = self._deref(header) or {}
            if name.lower() == "content-type":
                continue
            if "example" in header:
                value = header["example"]
            elif header.get("examples"):
                value = self._deref(next(iter(header["examples"].values()))).get("value")
            elif "schema" in header:
                gen = gen or self._generator(operation_id, f"headers:{name}", params, 0)
                value = gen.value(header["schema"], name)
            else:
                continue
            out[name] = _header_text(value)
        return out

    # --- helpers --------------------------------------------------------------------------------

    def _generator(
        self,
        operation_id: str,
        key: str,
        params: Mapping[str, Any],
        attempt: int,
        *,
        use_examples: bool = True,
    ) -> Generator:
        request = json.dumps(params, sort_keys=True, default=str)
        salt = ("mock", operation_id, key, request, attempt)
        digest = hashlib.sha256("|".join(map(str, (self.seed(), *salt))).encode()).digest()
        return Generator(
            self.document,
            lazy_faker(functools.partial(seeded_faker, self.seed(), *salt)),
            random.Random(int.from_bytes(digest[:8], "big")),
            use_examples=use_examples,
        )

    def _deref(self, node: Any) -> Any:
        for _ in range(32):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                break
            node = resolve_ref(self.document, node["$ref"])
        return node

    def _example_names(self, response: Any) -> Iterator[str]:
        for media in (self._deref(response).get("content") or {}).values():
            yield from (self._deref(media) or {}).get("examples") or {}

    def _no_example(self, name: str, responses: dict[str, Any]) -> UnsatisfiablePreference:
        documented = {k: list(self._example_names(v)) for k, v in responses.items()}
        listing = "; ".join(f"{k}: {', '.join(v)}" for k, v in documented.items() if v)
        return UnsatisfiablePreference(
            404,
            f"no example named {name!r} is documented"
            + (f"; documented examples: {listing}" if listing else "; none are documented"),
            examples={k: v for k, v in documented.items() if v},
        )


def _by_status(responses: Mapping[str, Any]) -> list[str]:
    first = _success_key(responses)
    return [first, *(k for k in sorted(responses, key=_order) if k != first)]


def _order(key: str) -> tuple[int, str]:
    if key[:3].isdigit():
        return (int(key), key)
    return (int(key[0]) * 100 + 99, key) if key[0].isdigit() else (999, key)


def _success_key(responses: Mapping[str, Any]) -> str:
    ordered = sorted(responses, key=_order)
    for key in ordered:
        if key.startswith("2"):
            return key
    if "default" in responses:
        return "default"
    return ordered[0] if ordered else "200"


def _status_of(key: str) -> int:
    if key[:3].isdigit():
        return int(key[:3])
    return int(key[0]) * 100 if key[0].isdigit() else 200


def _encode(value: Any, media_type: str) -> bytes:
    if value is _EMPTY or (value is None and "json" not in media_type.lower()):
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and "json" not in media_type.lower():
        return value.encode()
    return json.dumps(value).encode()


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_header_text(v) for v in value)
    return "" if value is None else str(value)
