"""Where two answers to one request disagree, in the terms a client of the API notices.

Values are not compared: ids, timestamps and generated data differ between any two deployments.
What is compared is what a client's code depends on:

- the status code;
- the body's *shape*: which fields are present, and each one's JSON type (`integer` and
  `number` are one type, as JSON has one; an array's items are merged, so a field some items
  have counts as present);
- for an error answer, its format (the shape) and its messages and codes (`message`, `detail`,
  `code` ... fields): a client shows or branches on those;
- the headers that matter: the media type, `Location`, `WWW-Authenticate` (its scheme),
  `Allow` (its methods), `Retry-After`, rate-limit headers, and those the spec documents for the
  answer. `Date`, `Server`, `Content-Length`, request ids and the like are noise, not compared.

When the statuses differ, only that is reported (the bodies of a 200 and a 404 differ by
nature), except that two error answers still have their formats compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

STATUS = "status"
BODY = "body shape"
ERROR_FORMAT = "error format"
ERROR_MESSAGE = "error message"
HEADERS = "headers"
ASPECTS = (STATUS, BODY, ERROR_FORMAT, ERROR_MESSAGE, HEADERS)

# Headers whose presence matters to a client (values compared where noted in `_header_diffs`).
PRESENCE_HEADERS = ("location", "www-authenticate", "allow", "retry-after")
RATE_LIMIT_MARKERS = ("ratelimit", "rate-limit")
# Fields of an error body whose text a client shows or branches on.
MESSAGE_FIELDS = frozenset(
    {
        "message",
        "msg",
        "detail",
        "title",
        "reason",
        "error",
        "error_description",
        "error_msg",
        "code",
        "error_code",
        "api_error_code",
        "type",
    }
)
_MESSAGE_DEPTH = 3


@dataclass(frozen=True)
class Answer:
    """One response as the comparison sees it; `status` None when nothing answered."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased
    content: bytes = b""
    error: str = ""  # why there was no answer

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON data, or `_NOT_JSON`."""
        if "json" not in self.media_type or not self.content:
            return _NOT_JSON
        try:
            return json.loads(self.content)
        except ValueError:
            return _NOT_JSON


Path = tuple[str | int, ...]  # keys, and 0 for an array's (first) item


@dataclass(frozen=True)
class Difference:
    """One way two answers differ; `where` is the JSON path it concerns, if any."""

    aspect: str
    detail: str
    where: Path | None = None


class _NotJson:
    def __repr__(self) -> str:
        return "not JSON"


_NOT_JSON: Any = _NotJson()


def differences(
    sandbox: Answer, real: Answer, documented_headers: Iterable[str] = ()
) -> list[Difference]:
    """Every way `real` answers differently from `sandbox`."""
    if sandbox.status is None or real.status is None:
        if sandbox.status == real.status:
            return []
        return [Difference(STATUS, f"sandbox {_status(sandbox)}, real {_status(real)}", ())]
    both_errors = sandbox.status >= 400 and real.status >= 400
    found: list[Difference] = []
    if sandbox.status != real.status:
        found.append(Difference(STATUS, f"sandbox {sandbox.status}, real {real.status}", ()))
        if both_errors:
            found += [Difference(ERROR_FORMAT, d, w) for w, d in _shape_diffs(sandbox, real)]
        return found
    aspect = ERROR_FORMAT if both_errors else BODY
    shape = [Difference(aspect, d, w) for w, d in _shape_diffs(sandbox, real)]
    found += shape
    if both_errors and not shape:
        found += [
            Difference(ERROR_MESSAGE, d, w) for w, d in _message_diffs(sandbox.json(), real.json())
        ]
    found += [Difference(HEADERS, d) for d in _header_diffs(sandbox, real, documented_headers)]
    return found


def excerpt(answer: Answer, where: Path | None, limit: int = 300) -> str:
    """What a report shows of `answer` for a difference: the JSON at `where` (or at the
    nearest part of it the answer has), else the start of the body."""
    data = answer.json()
    if where is None or data is _NOT_JSON or not where:
        return answer.content[:limit].decode("utf-8", "replace")
    path = "$"
    for key in where:
        inner = _step(data, key)
        if inner is _NOT_JSON:
            break
        data, path = inner, (f"{path}[{key}]" if isinstance(key, int) else _join(path, key))
    text = json.dumps(data, ensure_ascii=False)
    return f"{path} = {text if len(text) <= limit else text[:limit] + '…'}"


def _step(data: Any, key: str | int) -> Any:
    if isinstance(key, int):
        return data[key] if isinstance(data, list) and len(data) > key else _NOT_JSON
    return data[key] if isinstance(data, dict) and key in data else _NOT_JSON


def _status(answer: Answer) -> str:
    # Why there was no answer (a refused connection, a timeout) is in the report's excerpt: in
    # the detail, each wording would be a difference of its own.
    return str(answer.status) if answer.status is not None else "no answer"


def shape(value: Any) -> Any:
    """A JSON value's shape: objects as {key: shape}, arrays as [merged item shape] (or [] when
    empty), scalars as their JSON type name."""
    if isinstance(value, dict):
        return {str(k): shape(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = _merge(merged, shape(item))
        return [] if merged is None else [merged]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _merge(a: Any, b: Any) -> Any:
    """Two item shapes as one: objects' fields united; differing types kept as a set."""
    if a is None:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in {**a, **b}}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if a or b else []
    if a == b:
        return a
    return frozenset(_types(a) | _types(b))


def _types(s: Any) -> frozenset[str]:
    if isinstance(s, frozenset):
        return s
    return frozenset({_type_name(s)})


def _type_name(s: Any) -> str:
    if isinstance(s, dict):
        return "object"
    if isinstance(s, list):
        return "array"
    if isinstance(s, frozenset):
        return " or ".join(sorted(s))
    return str(s)


def _shape_diffs(sandbox: Answer, real: Answer) -> Iterator[tuple[Path, str]]:
    ours, theirs = sandbox.json(), real.json()
    if ours is _NOT_JSON or theirs is _NOT_JSON:
        if (ours is _NOT_JSON) != (theirs is _NOT_JSON):
            yield (), f"$: sandbox {_kind(ours, sandbox)}, real {_kind(theirs, real)}"
        return
    yield from _walk((), "$", shape(ours), shape(theirs))


def _kind(value: Any, answer: Answer) -> str:
    if value is _NOT_JSON:
        return f"{answer.media_type or 'no media type'} (not JSON)" if answer.content else "empty"
    return "JSON"


def _walk(where: Path, path: str, ours: Any, theirs: Any) -> Iterator[tuple[Path, str]]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in ours:
            if key not in theirs:
                yield (
                    (*where, key),
                    f"{_join(path, key)}: present in the sandbox, absent in the real answer",
                )
        for key in theirs:
            if key not in ours:
                yield (
                    (*where, key),
                    f"{_join(path, key)}: absent in the sandbox, present in the real answer",
                )
        for key in ours:
            if key in theirs:
                yield from _walk((*where, key), _join(path, key), ours[key], theirs[key])
    elif isinstance(ours, list) and isinstance(theirs, list):
        if ours and theirs:  # an empty array says nothing of its items
            yield from _walk((*where, 0), f"{path}[]", ours[0], theirs[0])
    elif _type_name(ours) != _type_name(theirs):
        detail = f"{_type_name(ours)} in the sandbox, {_type_name(theirs)} in the real answer"
        yield where, f"{path}: {detail}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"


def _messages(value: Any, where: Path = (), depth: int = 0) -> Iterator[tuple[Path, str]]:
    if depth > _MESSAGE_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            here = (*where, str(key))
            if str(key).lower() in MESSAGE_FIELDS and isinstance(item, str | int | bool):
                yield here, str(item)
            else:
                yield from _messages(item, here, depth + 1)
    elif isinstance(value, list) and value:
        yield from _messages(value[0], (*where, 0), depth + 1)


def _message_diffs(ours: Any, theirs: Any) -> Iterator[tuple[Path, str]]:
    mine, others = dict(_messages(ours)), dict(_messages(theirs))
    for where, text in mine.items():
        if where in others and others[where] != text:
            path = "$" + "".join(f"[{k}]" if isinstance(k, int) else _join("", k) for k in where)
            yield where, f"{path}: sandbox {_quoted(text)}, real {_quoted(others[where])}"


def _quoted(text: str, limit: int = 120) -> str:
    return json.dumps(text if len(text) <= limit else text[:limit] + "…", ensure_ascii=False)


def _header_diffs(sandbox: Answer, real: Answer, documented: Iterable[str]) -> Iterator[str]:
    if sandbox.media_type != real.media_type:
        mine, others = sandbox.media_type or "none", real.media_type or "none"
        yield f"Content-Type: sandbox {mine}, real {others}"
    names = {*PRESENCE_HEADERS, *(n.lower() for n in documented)}
    names |= {
        n for n in (*sandbox.headers, *real.headers) if any(m in n for m in RATE_LIMIT_MARKERS)
    }
    for name in sorted(names - {"content-type"}):
        ours, theirs = sandbox.headers.get(name), real.headers.get(name)
        shown = _title(name)
        if ours is None and theirs is not None:
            yield f"{shown}: absent in the sandbox, present in the real answer"
        elif ours is not None and theirs is None:
            yield f"{shown}: present in the sandbox, absent in the real answer"
        elif ours is not None and theirs is not None:
            detail = _header_value_diff(name, ours, theirs)
            if detail:
                yield f"{shown}: {detail}"


def _header_value_diff(name: str, ours: str, theirs: str) -> str:
    if name == "allow":
        mine = sorted({m.strip().upper() for m in ours.split(",") if m.strip()})
        others = sorted({m.strip().upper() for m in theirs.split(",") if m.strip()})
        if mine != others:
            return f"sandbox {', '.join(mine)}, real {', '.join(others)}"
    if name == "www-authenticate":
        mine_scheme, other_scheme = ours.split()[0].lower(), theirs.split()[0].lower()
        if mine_scheme != other_scheme:
            return f"scheme {mine_scheme} in the sandbox, {other_scheme} in the real answer"
    return ""


def _title(name: str) -> str:
    special = {"www-authenticate": "WWW-Authenticate"}
    return special.get(name, "-".join(part.capitalize() for part in name.split("-")))
