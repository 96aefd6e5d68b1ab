"""Form bodies with bracketed keys, nested and typed before they are validated.

Connexion hands `application/x-www-form-urlencoded` fields on flat and as strings, so a nested
schema is neither validated nor typed. Here the keys are nested first:

    transactions[id][0]=txn_1&transactions[amount][0]=500&comment=hi
    -> {"transactions": {"id": ["txn_1"], "amount": [500]}, "comment": "hi"}

then every leaf is typed by the operation's schema (integer, number, boolean; anything that does
not parse stays a string, so validation reports it). Where the schema says array, a member may be
indexed (`a[0]`, `a[1]`: indices 0..n-1), appended (`a[]`) or repeated (`a=1&a=2`). A key that
cannot be nested (`a[b]]`, `a=1&a[b]=2`, `a[x]` where `a` is an array) raises `MalformedForm`: a
400 rendered in the API's own error format, never a crash. So is a body that is not UTF-8 once
percent-decoded (Starlette would quietly turn it into replacement characters) and one with more
than `MAX_FIELDS` fields.

The nested body is what the handler receives as `body` (see `routing`), so it sees exactly what was
validated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from connexion.datastructures import MediaTypeDict
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import VALIDATOR_MAP, FormDataValidator
from jsonschema import ValidationError
from starlette.types import Scope

from mockyard.errors import MalformedForm
from mockyard.styles import flatten, scalar
from mockyard.validation import FORMATS, compiled, invalid_input

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
SCOPE_KEY = "mockyard_form"
MAX_DEPTH = 16
MAX_FIELDS = 1000

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INDEX = re.compile(r"0|[1-9][0-9]{0,5}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Values(list[str]):
    """The values given for one complete key (a leaf of the nested form)."""


def split_key(key: str) -> list[str]:
    """`transactions[id][0]` -> ['transactions', 'id', '0']; `a[]` -> ['a', '']."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise MalformedForm(f"malformed form key {key!r}")
    path = [match.group(1), *_SEGMENT.findall(match.group(2))]
    if "" in path[1:-1]:
        raise MalformedForm(f"malformed form key {key!r}: '[]' may only end a key")
    if len(path) > MAX_DEPTH:
        raise MalformedForm(f"form key {key!r} is nested deeper than {MAX_DEPTH} levels")
    return path


def nest(fields: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest flat (key, value) pairs by their brackets; leaves are lists of the values given."""
    tree: dict[str, Any] = {}
    for key, value in fields:
        path = split_key(key)
        if path[-1] == "":
            path.pop()
        node = tree
        for depth, segment in enumerate(path[:-1]):
            child = node.setdefault(segment, {})
            if isinstance(child, _Values):
                raise MalformedForm(f"{key!r} conflicts with {_name(path[: depth + 1])!r}")
            node = child
        leaf = node.setdefault(path[-1], _Values())
        if not isinstance(leaf, _Values):
            raise MalformedForm(f"{key!r} conflicts with {_name(path)}[...]")
        leaf.append(value)
    return tree


def shape(tree: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a nested form into plain data typed by `schema` (the request body's schema)."""
    return _object(tree, schema, [])


def fields_of(raw: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of an urlencoded body, strictly UTF-8 once percent-decoded."""
    pairs = [part for part in raw.split(b"&") if part]
    if len(pairs) > MAX_FIELDS:
        raise MalformedForm(f"a form body has at most {MAX_FIELDS} fields")
    fields = []
    for pair in pairs:
        name, _, value = pair.partition(b"=")
        try:
            key = _decode(name)
            fields.append((key, _decode(value)))
        except UnicodeDecodeError:
            raise MalformedForm("the form body is not valid UTF-8") from None
        if _CONTROL.search(key):  # no field of any schema is named so: hostile, not unknown
            raise MalformedForm(f"form field name {key!r} holds control characters")
    return fields


def _decode(part: bytes) -> str:
    return unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")


def parse(fields: Iterable[tuple[str, str]], schema: Mapping[str, Any]) -> dict[str, Any]:
    """`nest` then `shape`: what a form body means under its schema."""
    return shape(nest(fields), schema)


def parsed_body(scope: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The form body `NestedFormValidator` parsed for this request, if it parsed one."""
    if scope is None:
        return None
    parsed: dict[str, Any] | None = scope.get("extensions", {}).get(SCOPE_KEY)
    return parsed


class NestedFormValidator(FormDataValidator):
    """Connexion's form validator, validating the nested, typed body instead of the flat one,
    with OpenAPI's numeric formats checked (`validation.FORMATS`)."""

    @property
    def _validator(self) -> Any:
        return compiled(self._schema, Draft4RequestValidator, FORMATS)

    async def _parse(self, stream: Any, scope: Scope) -> dict[str, Any]:
        raw = b"".join([chunk async for chunk in stream])
        body = parse(fields_of(raw), self._schema)
        scope.setdefault("extensions", {})[SCOPE_KEY] = body
        return body

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not isinstance(body, dict) or self._strict_validation:
            return super()._validate(body)  # type: ignore[no-any-return]
        try:
            self._validator.validate(body)
        except ValidationError as exc:
            raise invalid_input(exc, bracketed) from None
        return None


def body_validators() -> MediaTypeDict:
    """Connexion's body validators, with bracketed form keys nested before validation."""
    log = logging.getLogger("connexion.decorators.parameter")
    if not any(isinstance(f, _NestedKeysFilter) for f in log.filters):
        log.addFilter(_NestedKeysFilter())
    return MediaTypeDict({**VALIDATOR_MAP["body"], FORM_MEDIA_TYPE: NestedFormValidator})


class _NestedKeysFilter(logging.Filter):
    """Connexion still builds the flat body and logs each bracketed key as undeclared; the handler
    gets the nested body instead, so those records are noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Body property '") and "[" in message)


# --- typing the nested form by its schema --------------------------------------------------------


def _node(node: Any, schema: Mapping[str, Any], path: list[str]) -> Any:
    schema = flatten(schema)
    if isinstance(node, _Values):
        if schema.get("type") == "array":
            items = schema.get("items", {})
            return [scalar(value, items) for value in node]
        if len(node) > 1:
            raise MalformedForm(f"{_name(path)} is given {len(node)} times")
        return scalar(node[0], schema)
    if schema.get("type") == "array":
        return _array(node, schema, path)
    return _object(node, schema, path)


def _object(node: Mapping[str, Any], schema: Mapping[str, Any], path: list[str]) -> dict[str, Any]:
    schema = flatten(schema)
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    fallback = extra if isinstance(extra, Mapping) else {}
    return {
        name: _node(child, properties.get(name, fallback), [*path, name])
        for name, child in node.items()
    }


def _array(node: Mapping[str, Any], schema: Mapping[str, Any], path: list[str]) -> list[Any]:
    for index in node:
        if not _INDEX.fullmatch(index):
            raise MalformedForm(f"{_name([*path, index])}: {_name(path)} takes indices 0, 1, ...")
    indices = sorted(int(i) for i in node)
    if indices != list(range(len(indices))):
        raise MalformedForm(f"the indices of {_name(path)} must run 0..n-1 without gaps")
    items = schema.get("items", {})
    return [_node(node[str(i)], items, [*path, str(i)]) for i in indices]


def bracketed(path: Sequence[Any]) -> str:
    """A form body's path as its field name: `transactions[amount][0]`."""
    return str(path[0]) + "".join(f"[{segment}]" for segment in path[1:]) if path else ""


def _name(path: list[str]) -> str:
    return bracketed(path) or "the body"
