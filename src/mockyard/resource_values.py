"""The values an inferred resource makes or compares: ids, times, cursors, merge patches."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import random
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mockyard import regexgen


def new_id(schema: Mapping[str, Any], number: int, salt: str = "") -> Any:
    """The `number`-th id of a collection, in its schema's type and format: the number itself,
    a UUID (derived from `salt` and the number when a salt is given, else random), text that
    matches the schema's pattern, or the number as text. An enum's ids are its values, in
    turn (a collection of them holds at most one record per value)."""
    choices = schema.get("enum")
    if isinstance(choices, list) and choices:
        return choices[(number - 1) % len(choices)]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        low = schema.get("minimum")
        return number + (int(low) - 1 if isinstance(low, int | float) and low > 1 else 0)
    if schema.get("format") == "uuid":
        if not salt:
            return str(uuid.uuid4())
        digest = hashlib.sha256(f"{salt}|{number}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))
    if schema.get("pattern"):
        rng = random.Random(f"{salt}|{number}")
        text = regexgen.matching(
            schema["pattern"],
            rng,
            min_length=schema.get("minLength", 0),
            max_length=schema.get("maxLength"),
        )
        if text is not None:
            return text
    return str(number).zfill(int(schema.get("minLength", 0) or 0))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, `null` removes a member, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def stamp(now: datetime, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(now.timestamp())
    if kind == "number":
        return round(now.timestamp(), 3)
    if schema.get("format") == "date":
        return now.date().isoformat()
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_cursor(order: tuple[int, Any]) -> str:
    raw = json.dumps(list(order), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: Any) -> tuple[int, Any] | None:
    """The position a cursor this sandbox issued stands for; None (the start) for any other."""
    try:
        raw = base64.urlsafe_b64decode(str(text) + "=" * (-len(str(text)) % 4))
        kind, value = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        return None
    if kind == 0 and isinstance(value, int | float):
        return (0, value)
    if kind == 1 and isinstance(value, str):
        return (1, value)
    return None


def matches(record: Mapping[str, Any], prop: str, wanted: Any) -> bool:
    value = record.get(prop)
    if isinstance(wanted, list):
        return any(same(value, w) for w in wanted)
    return same(value, wanted)


def same(value: Any, wanted: Any) -> bool:
    """Equal, or equal as text: a path or query parameter may be typed unlike the property."""
    if value == wanted and type(value) is type(wanted):
        return True
    if isinstance(value, bool) or isinstance(wanted, bool):
        return str(value).lower() == str(wanted).lower()
    return value is not None and str(value) == str(wanted)
