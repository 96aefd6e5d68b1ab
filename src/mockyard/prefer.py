"""The `Prefer` request header, as Prism reads it: which documented response to answer with.

    Prefer: code=404                    the response documented for 404 (its first example)
    Prefer: example=already-paid        that named example (of the first 2xx, or of `code`)
    Prefer: dynamic=true                data generated from the schema, ignoring examples
    Prefer: code=400, example=wrong-amount
    Prefer: delay=250                   hold the response 250 ms (up to 60000; see `controls`)

Preferences may be separated by `,` or `;`; values may be quoted; unknown ones are ignored (RFC
7240). A preference that cannot be honoured is the client's mistake, so it gets a 4xx in problem
JSON that names what the operation does document (`UnsatisfiablePreference`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mockyard.errors import UnsatisfiablePreference

HEADER = "prefer"
MAX_DELAY_MS = 60_000
_PAIR = re.compile(r'\s*([A-Za-z][\w-]*)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,;\s]*))?\s*')


@dataclass(frozen=True)
class Preference:
    """What the client asked for; `None` means it did not say."""

    code: int | None = None
    example: str | None = None
    dynamic: bool | None = None
    delay: float | None = None  # ms; holds the answer, does not choose it

    def __bool__(self) -> bool:
        """True when the client chose the answer (a delay alone does not)."""
        return self.code is not None or self.example is not None or self.dynamic is not None


def parse(header: str | None) -> Preference:
    """`code=404, example=x; dynamic=true` -> Preference(404, "x", True); a malformed value of
    a preference mockyard knows is an `UnsatisfiablePreference` (400)."""
    if not header:
        return Preference()
    values: dict[str, str] = {}
    for part in _split(header):
        match = _PAIR.fullmatch(part)
        if match and match.group(1):
            value = match.group(2) or ""
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            values.setdefault(match.group(1).lower(), value)
    code = values.get("code")
    if code is not None and not re.fullmatch(r"[1-5]\d\d", code):
        raise UnsatisfiablePreference(400, f"Prefer code={code!r} is not an HTTP status code")
    dynamic = values.get("dynamic")
    if dynamic is not None and dynamic.lower() not in ("true", "false"):
        raise UnsatisfiablePreference(400, f"Prefer dynamic={dynamic!r}: use true or false")
    delay = values.get("delay")
    if delay is not None and not re.fullmatch(r"\d{1,12}(?:\.\d{1,6})?", delay):
        detail = f"Prefer delay={delay!r} is not a number of milliseconds"
        raise UnsatisfiablePreference(400, detail)
    return Preference(
        code=int(code) if code else None,
        example=values.get("example") or None,
        dynamic=None if dynamic is None else dynamic.lower() == "true",
        delay=None if delay is None else min(float(delay), MAX_DELAY_MS),
    )


def from_headers(headers: Mapping[str, str]) -> Preference:
    return parse(headers.get(HEADER))


def response_key(code: int, documented: Iterable[str]) -> str | None:
    """The responses key that documents `code`: exact, else its range (`4XX`), else `default`."""
    keys = {str(k).upper(): str(k) for k in documented}
    for candidate in (str(code), f"{str(code)[0]}XX", "DEFAULT"):
        if candidate in keys:
            return keys[candidate]
    return None


def _split(header: str) -> list[str]:
    parts, current, quoted, escaped = [], "", False, False
    for ch in header:
        if escaped:
            current, escaped = current + ch, False
        elif ch == "\\" and quoted:
            current, escaped = current + ch, True
        elif ch == '"':
            current, quoted = current + ch, not quoted
        elif ch in ",;" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts
