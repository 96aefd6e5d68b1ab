"""Data generated from an OpenAPI 3.0 schema: realistic (Faker), valid, and the same for a seed.

Why our own walker rather than a generator library: hypothesis-jsonschema (what Schemathesis
builds on) is made for fuzzing. It searches for edge cases, needs Hypothesis's engine to draw
one value (slow, and not reproducible from a plain seed), and produces `"0"`-style data. jsf and
json-schema-faker know no OpenAPI `nullable` and are not installed. A mock wants the opposite:
one plausible value, fast, the same for the same seed and request. So:

Constraints first, then names, then context:

- `enum`, bounds (exclusive too, and int32/int64), `multipleOf`, `pattern` (see `regexgen`),
  lengths, item and property counts, `required`, `additionalProperties`, `nullable`,
  `readOnly`/`writeOnly` are honoured; `allOf` is merged, one branch of `anyOf`/`oneOf` is
  chosen; `format` picks a Faker provider (email, date, date-time, uuid, uri, ipv4, byte,
  unix-time, ...);
- then the property name does (name, email, phone, city, country, currency, amount, iban,
  company, description, last4, ...), tokenised so `customerEmail` and `home_city` match: a
  `country` is a two-letter ISO code, an integer `created`/`*_at`/`expires` a Unix time in
  2023-2025, `last4` four digits;
- then the object it sits in (its component's name, `title`, `x-resourceId`, or the property
  that holds it): a `name` in a pet, a product, an event, a company or a file is one of those,
  a person's name only in a person-like object or where nothing says otherwise;
- arrays have 1-3 items (within minItems/maxItems; one when nested four levels deep); each
  optional property is present with probability `OPTIONAL_RATE` (0.9: over a list of three, a
  frontend sees a field with probability 0.999), and `data`/`items`/`results`/`id` always;
- generation stops growing (optional parts left out, arrays at minItems, nullable values null)
  past `max_depth` levels, inside the second expansion of a recursive schema, or once
  `budget` values are drawn, so every answer ends and stays small; only what is required
  grows further, and `_REQUIRED_DEPTH` levels on a value is null: a schema that requires itself
  (`next: {$ref: Node}`, required) has no finite value, and an invalid one beats no start;
- a value the schema documents as its `example` is used when it is valid (unless `dynamic`).

Where a choice can go wrong (`oneOf` overlap, `not`, several patterns) the candidate is checked
with an OpenAPI 3.0 validator and drawn again; `Generator.valid` does the same for a whole body.
"""

from __future__ import annotations

import base64
import copy
import functools
import math
import random
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from mockyard import regexgen
from mockyard.convert import normalise_ref

if TYPE_CHECKING:
    from faker import Faker

_COMBINATORS = ("allOf", "anyOf", "oneOf", "not")
_EPOCH = (datetime(2023, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC))
# The integer formats of OpenAPI's format registry, as their bounds: what a value must stay within.
INTEGER_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_RETRIES = 8
_REQUIRED_DEPTH = 8  # levels past max_depth that required properties still grow
OPTIONAL_RATE = 0.9
_FEWER_ITEMS_FROM = 4  # nesting depth from which arrays have one item (not 1-3)
_ALWAYS = frozenset({"id", "data", "items", "results"})  # what a list or an object is for
_UNIX_TIME = (int(_EPOCH[0].timestamp()), int(_EPOCH[1].timestamp()))


def lazy_faker(make: Callable[[], Faker]) -> Faker:
    """The Faker `make()` returns, made on first use: building one takes 5 ms (the first in a
    process a third of a second, to import Faker), and many values need none."""
    return cast("Faker", _LazyFaker(make))


class _LazyFaker:
    def __init__(self, make: Callable[[], Faker]) -> None:
        self._make = make
        self._made: Faker | None = None

    def __getattr__(self, name: str) -> Any:
        if self._made is None:
            self._made = self._make()
        return getattr(self._made, name)


class Generator:
    """Draws values for schemas of one OpenAPI document (`root`, for `$ref`s)."""

    def __init__(
        self,
        root: Mapping[str, Any],
        faker: Faker,
        rng: random.Random,
        *,
        use_examples: bool = True,
        max_depth: int = 12,
        budget: int = 2000,
    ) -> None:
        self.root = root
        self.faker = faker
        self.rng = rng
        self.use_examples = use_examples
        self.max_depth = max_depth
        self.budget = budget
        self._validator: Any = None
        self._expanding: dict[str, int] = {}  # $ref -> how many times it is being expanded
        self._repeats = 0  # expansions of a $ref inside itself, now under way

    def _spent(self, depth: int) -> bool:
        """Whether to stop growing: too deep, inside a recursion, or out of budget."""
        return depth >= self.max_depth or self._repeats > 0 or self.budget <= 0

    # --- public ---------------------------------------------------------------------------------

    def value(self, schema: Any, name: str = "", depth: int = 0, context: str = "") -> Any:
        """One value for `schema`; `name` is the property (or parameter) it is for, if any, and
        `context` what the object holding it is (`pet`, `customer`)."""
        ref = schema.get("$ref") if isinstance(schema, Mapping) else None
        if not isinstance(ref, str):
            return self._value(schema, name, depth, context, name)
        seen = self._expanding.get(ref, 0)
        self._expanding[ref] = seen + 1
        self._repeats += seen > 0
        try:
            return self._value(schema, name, depth, context, _ref_name(ref))
        finally:
            self._expanding[ref] = seen
            self._repeats -= seen > 0

    def _value(self, schema: Any, name: str, depth: int, context: str, kind: str) -> Any:
        self.budget -= 1
        schema = self.deref(schema)
        if not isinstance(schema, Mapping) or depth > self.max_depth + _REQUIRED_DEPTH:
            return None
        kind = str(schema.get("x-resourceId") or schema.get("title") or kind)
        if any(k in schema for k in _COMBINATORS):
            return self._combined(schema, name, depth, context, kind)
        return self._plain(schema, name, depth, context, kind)

    def valid(self, value: Any, schema: Any) -> bool:
        """Whether `value` is valid against `schema` (OpenAPI 3.0, as a response body)."""
        return bool(self._checker(schema).is_valid(value))

    def deref(self, schema: Any, _seen: int = 0) -> Any:
        while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str) and _seen < 64:
            schema = resolve_ref(self.root, schema["$ref"])
            _seen += 1
        return schema

    # --- combinators ----------------------------------------------------------------------------

    def _combined(
        self, schema: Mapping[str, Any], name: str, depth: int, context: str, kind: str
    ) -> Any:
        risky = any(k in schema for k in ("oneOf", "not")) or _nested_risk(schema, self)
        candidate: Any = None
        for _ in range(_RETRIES if risky else 1):
            merged = self.flatten(schema)
            candidate = self._plain(merged, name, depth, context, kind)
            if not risky or self.valid(candidate, schema):
                return candidate
        return candidate

    def flatten(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """One combinator-free schema: allOf merged, one anyOf/oneOf branch chosen, `not` kept."""
        merged: dict[str, Any] = {}
        pending: list[Any] = [schema]
        guard = 0
        while pending and guard < 200:
            guard += 1
            part = self.deref(pending.pop(0))
            if not isinstance(part, Mapping):
                continue
            merged = merge(merged, {k: v for k, v in part.items() if k not in _COMBINATORS})
            pending.extend(part.get("allOf") or [])
            for kind in ("anyOf", "oneOf"):
                branches = part.get(kind) or []
                if branches:
                    pending.append(self._pick_branch(branches, merged))
        return merged

    def _pick_branch(self, branches: list[Any], base: Mapping[str, Any]) -> Any:
        """A branch, preferring those whose type agrees with what is already known."""
        wanted = base.get("type")
        fitting = [b for b in branches if _type_of(self.deref(b)) in (None, wanted)] or branches
        if base.get("nullable") is False:
            fitting = [b for b in fitting if self.deref(b) != {"enum": [None], "nullable": True}]
        return self.rng.choice(fitting or branches)

    # --- by type --------------------------------------------------------------------------------

    def _plain(
        self, schema: Mapping[str, Any], name: str, depth: int, context: str = "", kind: str = ""
    ) -> Any:
        if self.use_examples and "example" in schema:
            example = schema["example"]
            if self.valid(example, schema):
                return copy.deepcopy(example)
        nullable = bool(schema.get("nullable"))
        if "enum" in schema:
            options = [v for v in schema["enum"] if v is not None or nullable]
            return copy.deepcopy(self.rng.choice(options)) if options else None
        if nullable and (self._spent(depth) or self.rng.random() < 0.1):
            return None
        type_ = _type_of(schema) or _guess_type(schema)
        if type_ == "object":
            return self._object(schema, depth, kind or name)
        if type_ == "array":
            return self._array(schema, name, depth, context)
        if type_ in ("integer", "number"):
            return self._number(schema, name, integer=type_ == "integer")
        if type_ == "boolean":
            return self.rng.random() < 0.5
        return self._string(schema, name, context)

    def _object(self, schema: Mapping[str, Any], depth: int, kind: str) -> dict[str, Any]:
        props: Mapping[str, Any] = schema.get("properties") or {}
        allowed = schema.get("x-mockyard-allowed")
        extra = schema.get("additionalProperties", True)
        required = [r for r in schema.get("required") or [] if r in props or extra is not False]
        readable = {k: v for k, v in props.items() if not self.deref(v or {}).get("writeOnly")}
        lo = int(schema.get("minProperties", 0))
        hi = int(schema.get("maxProperties", 10**6))
        keys = [k for k in required if k in readable or k not in props]
        deep = self._spent(depth)
        for key in readable:
            if key in keys or (allowed is not None and key not in allowed):
                continue
            wanted = key in _ALWAYS or self.rng.random() < OPTIONAL_RATE
            if len(keys) < lo or (not deep and len(keys) < hi and wanted):
                keys.append(key)
        out: dict[str, Any] = {}
        for key in keys[: max(hi, len(required))]:
            sub = props.get(key, extra if isinstance(extra, Mapping) else {})
            out[key] = self.value(sub, key, depth + 1, kind)
        free = extra is not False and allowed is None
        want_map = isinstance(extra, Mapping) and not props and not deep
        target = max(lo, self.rng.randint(1, 3) if want_map else 0)
        attempts = 0
        while free and len(out) < min(target, hi) and attempts < 50:
            attempts += 1
            key = self.faker.word()
            if key not in out and key not in props:
                sub = extra if isinstance(extra, Mapping) else {"type": "string"}
                out[key] = self.value(sub, key, depth + 1, kind)
        return out

    def _array(self, schema: Mapping[str, Any], name: str, depth: int, context: str) -> list[Any]:
        lo = int(schema.get("minItems", 0))
        hi = int(schema.get("maxItems", max(lo, 3)))
        if self._spent(depth):
            count = lo
        elif depth >= _FEWER_ITEMS_FROM:  # nested lists: one item each, so answers stay small
            count = min(max(lo, 1), hi)
        else:
            count = self.rng.randint(min(max(lo, 1), hi), min(hi, max(lo, 1) + 2))
        items = schema.get("items") or {}
        unique = bool(schema.get("uniqueItems"))
        out: list[Any] = []
        seen: list[Any] = []
        for _ in range(count * (8 if unique else 1)):
            if len(out) >= count:
                break
            item = self.value(items, _singular(name), depth + 1, context)
            if unique and item in seen:
                continue
            seen.append(item)
            out.append(item)
        return out

    def _number(self, schema: Mapping[str, Any], name: str, *, integer: bool) -> int | float:
        lo, hi = _explicit_bounds(schema, integer)
        fmt = INTEGER_FORMATS.get(schema.get("format", ""))
        if fmt:
            lo, hi = max(lo, fmt[0]), min(hi, fmt[1])
        hint = _UNIX_HINT if schema.get("format") in _UNIX_FORMATS else _numeric_hint(name)
        money = False
        if hint is not None and max(lo, hint[0]) <= min(hi, hint[1]):  # the schema's bounds first
            lo, hi, money = max(lo, hint[0]), min(hi, hint[1]), hint[2]
        else:
            lo, hi = _finite(lo, hi)
            if max(lo, 1) <= min(hi, 1000):
                lo, hi = max(lo, 1), min(hi, 1000)
        step = schema.get("multipleOf")
        if step:
            return _multiple(self.rng, lo, hi, step, integer)
        if integer:
            low, high = math.ceil(lo), math.floor(hi)
            return self.rng.randint(low, high) if low <= high else low
        value = self.rng.uniform(lo, hi)
        rounded = round(value, 2) if money or abs(hi - lo) > 1 else value
        return rounded if _within(rounded, schema) else (value if _within(value, schema) else lo)

    def _string(self, schema: Mapping[str, Any], name: str, context: str = "") -> str:
        lo = int(schema.get("minLength", 0))
        hi = schema.get("maxLength")
        patterns = [p for p in [schema.get("pattern"), *schema.get("x-mockyard-patterns", [])] if p]
        fmt = schema.get("format", "")

        def fits(text: str) -> bool:
            return lo <= len(text) and (hi is None or len(text) <= hi)

        if patterns:
            for _ in range(_RETRIES):
                text = regexgen.matching(patterns[0], self.rng, min_length=lo, max_length=hi)
                if text is not None and all(re.search(p, text) for p in patterns[1:]):
                    return text
        if fmt in _FORMATS:
            text = _FORMATS[fmt](self.faker, self.rng)
            if fits(text):
                return text
        by_name = _string_hint(name, context)
        if by_name is not None:
            text = str(by_name(self.faker))
            if fits(text):
                return text
        return _fit(self.faker.word() if (hi or 20) < 40 else self.faker.sentence(), lo, hi)

    def _checker(self, schema: Any) -> Any:
        if self._validator is None:
            # Imported on first use: it pulls in pydantic-settings, a fifth of a cold start, and
            # a sandbox whose operations all have handlers never draws a checked value.
            from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

            self._validator = OAS30ReadValidator(
                dict(self.root), format_checker=oas30_format_checker
            )
        return self._validator.evolve(schema=schema)


def resolve_ref(root: Mapping[str, Any], ref: str) -> Any:
    """The object a local `$ref` (`#/a/b`, raw or percent-encoded) points at in `root`."""
    ref = normalise_ref(ref)
    if not ref.startswith("#"):
        raise KeyError(f"only local references are supported: {ref}")
    node: Any = root
    for token in ref[1:].split("/")[1:] if ref != "#" else []:
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """`allOf: [a, b]` as one schema (neither may hold combinators)."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        if key == "properties":
            props = dict(mine)
            for name, sub in value.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out[key] = props
        elif key == "required":
            out[key] = [*mine, *(r for r in value if r not in mine)]
        elif key == "enum":
            out[key] = [v for v in mine if v in value] or mine
        elif key in ("minimum", "minLength", "minItems", "minProperties"):
            out[key] = max(mine, value)
            if key == "minimum" and value > mine:
                out["exclusiveMinimum"] = b.get("exclusiveMinimum", False)
        elif key in ("maximum", "maxLength", "maxItems", "maxProperties"):
            out[key] = min(mine, value)
            if key == "maximum" and value < mine:
                out["exclusiveMaximum"] = b.get("exclusiveMaximum", False)
        elif key == "type" and {mine, value} == {"integer", "number"}:
            out[key] = "integer"
        elif key == "pattern" and value != mine:
            out["x-mockyard-patterns"] = [*out.get("x-mockyard-patterns", []), value]
        elif key == "items" or (
            key == "additionalProperties"
            and isinstance(mine, Mapping)
            and isinstance(value, Mapping)
        ):
            out[key] = {"allOf": [mine, value]}
        elif key == "additionalProperties" and value is False:
            out[key] = False
    for side in (a, b):  # additionalProperties: false limits the keys to that side's properties
        if side.get("additionalProperties") is False:
            keys = list(side.get("properties") or {})
            before = out.get("x-mockyard-allowed")
            out["x-mockyard-allowed"] = keys if before is None else [k for k in before if k in keys]
    if "nullable" in a or "nullable" in b:  # null must pass every part that has a type
        out["nullable"] = _accepts_null(a) and _accepts_null(b)
    return out


# --- helpers ---------------------------------------------------------------------------------


def _accepts_null(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get("nullable")) or "type" not in schema


def _nested_risk(schema: Mapping[str, Any], gen: Generator) -> bool:
    return any(
        isinstance(s, Mapping) and any(k in gen.deref(s) for k in ("oneOf", "not"))
        for kind in ("allOf", "anyOf")
        for s in schema.get(kind) or []
    )


def _type_of(schema: Any) -> str | None:
    return schema.get("type") if isinstance(schema, Mapping) else None


def _guess_type(schema: Mapping[str, Any]) -> str:
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "minItems" in schema or "maxItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return "string"


def _explicit_bounds(schema: Mapping[str, Any], integer: bool) -> tuple[float, float]:
    """The inclusive bounds the schema sets (infinite where it sets none)."""
    lo = schema.get("minimum", -math.inf)
    hi = schema.get("maximum", math.inf)
    if schema.get("exclusiveMinimum") and lo != -math.inf:
        lo = math.floor(lo) + 1 if integer else _nudge(lo, up=True)
    if schema.get("exclusiveMaximum") and hi != math.inf:
        hi = math.ceil(hi) - 1 if integer else _nudge(hi, up=False)
    return lo, hi


def _finite(lo: float, hi: float) -> tuple[float, float]:
    """Finite bounds to draw from, near the ones given."""
    if lo == -math.inf and hi == math.inf:
        return (0, 10**6)
    if lo == -math.inf:
        return (min(0, hi - 1000), hi)
    if hi == math.inf:
        return (lo, max(lo + 1000, 1000))
    return (lo, hi)


def _nudge(value: float, *, up: bool) -> float:
    step = max(abs(value) * 1e-9, 1e-9)
    return value + step if up else value - step


def _within(value: float, schema: Mapping[str, Any]) -> bool:
    if "minimum" in schema:
        m = schema["minimum"]
        if value < m or (schema.get("exclusiveMinimum") and value == m):
            return False
    if "maximum" in schema:
        m = schema["maximum"]
        if value > m or (schema.get("exclusiveMaximum") and value == m):
            return False
    return True


def _multiple(rng: random.Random, lo: float, hi: float, step: float, integer: bool) -> int | float:
    k_lo, k_hi = math.ceil(lo / step), math.floor(hi / step)
    if k_lo > k_hi:
        k_lo = k_hi = math.ceil(lo / step)
    places = max(0, -Decimal(str(step)).as_tuple().exponent)  # type: ignore[operator]
    value: int | float = 0
    for _ in range(20):
        k = rng.randint(k_lo, min(k_hi, k_lo + 10**6))
        value = k * step
        if isinstance(step, float) or not float(step).is_integer():
            value = round(value, places)
            quotient = value / step
            if int(quotient) != quotient:
                continue
        if integer:
            if not float(value).is_integer():
                continue
            value = int(value)
        return value
    return int(value) if integer else value


def _fit(text: str, lo: int, hi: int | None) -> str:
    if hi is not None and len(text) > hi:
        text = text[:hi].rstrip(" .")
    if len(text) < lo:
        filler = " lorem ipsum dolor sit amet"
        text = (text + filler * (lo // len(filler) + 1))[:lo]
    return text


def _ref_name(ref: str) -> str:
    """`#/components/schemas/line_item` -> `line_item`: what a referenced schema describes."""
    return normalise_ref(ref).rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("ses") or name.endswith("xes"):
        return name[:-2]
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _date_time(fake: Faker) -> datetime:
    return fake.date_time_between(start_date=_EPOCH[0], end_date=_EPOCH[1], tzinfo=UTC)


_FORMATS: dict[str, Callable[[Faker, random.Random], str]] = {
    "email": lambda f, _: f.email(),
    "idn-email": lambda f, _: f.email(),
    "date": lambda f, _: _date_time(f).date().isoformat(),
    "date-time": lambda f, _: _date_time(f).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "time": lambda f, _: _date_time(f).strftime("%H:%M:%SZ"),
    "uuid": lambda f, _: str(f.uuid4()),
    "uri": lambda f, _: f.url(),
    "url": lambda f, _: f.url(),
    "uri-reference": lambda f, _: f.uri_path(),
    "hostname": lambda f, _: f.domain_name(),
    "idn-hostname": lambda f, _: f.domain_name(),
    "ipv4": lambda f, _: f.ipv4(),
    "ipv6": lambda f, _: f.ipv6(),
    "byte": lambda f, _: base64.b64encode(f.binary(length=12)).decode(),
    "binary": lambda f, _: f.pystr(min_chars=8, max_chars=16),
    "password": lambda f, _: f.password(length=12),
    "phone": lambda f, _: f.phone_number(),
    "iban": lambda f, _: f.iban(),
    "currency": lambda f, _: f.currency_code(),
    "country": lambda f, _: f.country_code(),
    "regex": lambda f, _: "^[a-z]+$",
}

_MONEY = {"amount", "price", "total", "balance", "cost", "fee", "subtotal", "tax", "sum", "paid"}
_MONEY |= {"payable", "charge", "discount", "credit", "debit", "salary", "revenue", "value"}
_UNIX_FORMATS = frozenset({"unix-time", "unixtime", "timestamp", "epoch"})
_UNIX_HINT = (*_UNIX_TIME, False)
_NUMERIC: list[tuple[set[str], tuple[float, float, bool]]] = [
    (
        {"created", "updated", "modified", "expires", "timestamp", "at", "deleted", "canceled"}
        | {"cancelled", "date", "datetime", "epoch"},
        _UNIX_HINT,
    ),
    (_MONEY, (1, 10000, True)),
    ({"quantity", "qty", "count"}, (1, 20, False)),
    ({"age"}, (18, 90, False)),
    ({"year"}, (2000, 2030, False)),
    ({"month"}, (1, 12, False)),
    ({"day"}, (1, 28, False)),
    ({"percent", "percentage", "pct"}, (0, 100, False)),
    ({"rate", "ratio"}, (0.5, 2, False)),
    ({"latitude", "lat"}, (-90, 90, False)),
    ({"longitude", "lng", "lon"}, (-180, 180, False)),
    ({"id", "code", "number", "no", "num"}, (1, 100000, False)),
    ({"page"}, (1, 10, False)),
    ({"limit", "size", "per"}, (1, 100, False)),
]


def _numeric_hint(name: str) -> tuple[float, float, bool] | None:
    for token in reversed(_tokens(name)):
        variants = {token, _singular(token)}
        for words, hint in _NUMERIC:
            if variants & words:
                return hint
    return None


@functools.lru_cache(maxsize=8192)
def _string_hint(name: str, context: str = "") -> Callable[[Faker], Any] | None:
    """A Faker provider the property name (then the object holding it) asks for; the last
    matching word wins. Remembered: a spec's records ask it of the same names thousands of
    times."""
    tokens = _tokens(name)
    joined = " ".join(tokens)
    for phrase, provider in _STRING_PHRASES:
        if joined.endswith(phrase):
            return provider
    for token in reversed(tokens):
        variants = {token, _singular(token)}
        if "country" in variants:  # ISO 3166-1 alpha-2, as APIs exchange them
            return lambda f: f.country_code()
        if "date" in variants:
            return lambda f: _date_time(f).date().isoformat()
        if variants & _DATE_TIME_WORDS:
            return lambda f: _date_time(f).strftime("%Y-%m-%dT%H:%M:%SZ")
        if variants & {"name", "title", "label"} and context and not set(tokens) & _PERSONS:
            named = _named_thing(context)
            if named is not None:
                return named
        for words, provider in _STRING_WORDS:
            if variants & words:
                return provider
    return None


def _named_thing(context: str) -> Callable[[Faker], Any] | None:
    """What a `name` is in an object of kind `context` (`Pet`, `line_item`), unless a person."""
    words = set()
    for token in _tokens(context):
        words |= {token, _singular(token)}
    if words & _PERSONS:
        return None
    for kinds, provider in _NAMED_THINGS:
        if words & kinds:
            return provider
    return None


_PERSONS = {
    "customer", "user", "person", "owner", "contact", "member", "employee", "author", "holder",
    "recipient", "cardholder", "individual", "profile", "patient", "student", "driver", "guest",
    "client", "buyer", "seller", "payee", "payer", "beneficiary", "representative", "director",
    "applicant", "people", "staff", "agent", "passenger", "subscriber",
}  # fmt: skip
_PET_NAMES = ("Rex", "Bella", "Max", "Luna", "Milo", "Coco", "Bailey", "Daisy", "Charlie", "Nala")
_PRODUCT_NOUNS: tuple[str, ...] = (
    "Desk Lamp",
    "Backpack",
    "Coffee Mug",
    "Notebook",
    "Headphones",
    "Water Bottle",
)
_PRODUCT_NOUNS += ("Plan", "Subscription", "Gift Card", "T-Shirt", "Sneakers", "Keyboard")
_EVENT_NOUNS = ("Summit", "Meetup", "Conference", "Workshop", "Launch", "Webinar", "Festival")
_PLACE_NOUNS = ("Store", "Office", "Warehouse", "Branch", "Studio", "Depot")
_NAMED_THINGS: list[tuple[set[str], Callable[[Faker], Any]]] = [
    (
        {"pet", "dog", "cat", "animal", "horse", "puppy", "kitten"},
        lambda f: f.random_element(_PET_NAMES),
    ),
    (
        {"product", "item", "plan", "price", "sku", "article", "offer", "service", "package"}
        | {"bundle", "feature", "listing", "coupon", "good", "catalog", "line", "variant"},
        lambda f: f"{f.color_name()} {f.random_element(_PRODUCT_NOUNS)}",
    ),
    (
        {"event", "meeting", "conference", "webinar", "appointment", "booking", "concert"}
        | {"show", "course", "campaign", "session", "schedule"},
        lambda f: f"{f.word().title()} {f.random_element(_EVENT_NOUNS)}",
    ),
    (
        {"company", "organization", "organisation", "business", "merchant", "vendor"}
        | {"supplier", "employer", "brand", "partner", "account", "tenant"},
        lambda f: f.company(),
    ),
    (
        {"place", "location", "store", "shop", "venue", "warehouse", "branch", "office", "site"},
        lambda f: f"{f.city()} {f.random_element(_PLACE_NOUNS)}",
    ),
    (
        {"file", "document", "attachment", "upload", "image", "photo", "report", "export"},
        lambda f: f.file_name(),
    ),
    (
        {"project", "app", "application", "repository", "repo", "workspace", "board", "channel"}
        | {"tag", "label", "category", "group", "team", "webhook", "endpoint", "queue", "topic"}
        | {"bucket", "database", "cluster", "server", "instance", "volume", "network", "domain"}
        | {"key", "role", "permission", "environment", "region", "zone", "device", "reader"},
        lambda f: f"{f.word()}-{f.word()}",
    ),
]


_DATE_TIME_WORDS = {"at", "time", "timestamp", "created", "updated", "modified", "expires"}
_DATE_TIME_WORDS |= {"expiry", "deadline", "datetime"}
_STRING_PHRASES: list[tuple[str, Callable[[Faker], Any]]] = [
    ("first name", lambda f: f.first_name()),
    ("given name", lambda f: f.first_name()),
    ("last name", lambda f: f.last_name()),
    ("family name", lambda f: f.last_name()),
    ("user name", lambda f: f.user_name()),
    ("company name", lambda f: f.company()),
    ("account number", lambda f: f.bban()),
    ("ip address", lambda f: f.ipv4()),
    ("postal code", lambda f: f.postcode()),
    ("zip code", lambda f: f.postcode()),
    ("street address", lambda f: f.street_address()),
    ("address line", lambda f: f.street_address()),
    ("currency code", lambda f: f.currency_code()),
    ("country code", lambda f: f.country_code()),
    ("country name", lambda f: f.country()),
    ("last 4", lambda f: f.numerify("####")),
    ("last four", lambda f: f.numerify("####")),
    ("phone number", lambda f: f.phone_number()),
]
_STRING_WORDS: list[tuple[set[str], Callable[[Faker], Any]]] = [
    ({"email", "mail"}, lambda f: f.email()),
    ({"last4", "lastfour"}, lambda f: f.numerify("####")),
    ({"cvc", "cvv", "cvc2", "cvv2"}, lambda f: f.numerify("###")),
    ({"iin", "bin"}, lambda f: f.numerify("######")),
    ({"fingerprint"}, lambda f: f.bothify("????????????????")),
    ({"firstname"}, lambda f: f.first_name()),
    ({"lastname", "surname"}, lambda f: f.last_name()),
    ({"name", "fullname", "customer", "owner", "holder"}, lambda f: f.name()),
    ({"username", "login", "handle"}, lambda f: f.user_name()),
    (
        {"company", "organization", "organisation", "business", "merchant", "vendor", "employer"},
        lambda f: f.company(),
    ),
    ({"phone", "mobile", "telephone", "tel", "fax", "msisdn", "cell"}, lambda f: f.phone_number()),
    ({"city", "town"}, lambda f: f.city()),
    ({"state", "province", "region", "county"}, lambda f: f.state()),
    ({"street", "line1", "line2"}, lambda f: f.street_address()),
    ({"address"}, lambda f: f.address().replace("\n", ", ")),
    ({"zip", "zipcode", "postcode", "postal"}, lambda f: f.postcode()),
    ({"currency"}, lambda f: f.currency_code()),
    ({"iban"}, lambda f: f.iban()),
    ({"bic", "swift"}, lambda f: f.swift()),
    (
        {
            "description",
            "summary",
            "comment",
            "note",
            "message",
            "text",
            "detail",
            "reason",
            "memo",
        },
        lambda f: f.sentence(),
    ),
    ({"title", "subject", "headline"}, lambda f: f.sentence(nb_words=4).rstrip(".")),
    (
        {"url", "uri", "website", "link", "href", "homepage", "avatar", "image", "logo", "photo"},
        lambda f: f.url(),
    ),
    ({"id", "uuid", "guid"}, lambda f: str(f.uuid4())),
    ({"token", "secret", "key", "signature"}, lambda f: f.sha1()),
    ({"hash", "checksum"}, lambda f: f.sha256()),
    ({"ip", "ipv4"}, lambda f: f.ipv4()),
    ({"color", "colour"}, lambda f: f.color_name()),
    ({"language", "lang", "locale"}, lambda f: f.language_code()),
    ({"timezone", "tz"}, lambda f: f.timezone()),
    ({"sku", "reference", "ref"}, lambda f: f.bothify("REF-####-????").upper()),
    ({"status"}, lambda f: f.random_element(["active", "pending", "completed"])),
    ({"type", "kind", "category"}, lambda f: f.word()),
    ({"job", "occupation", "role"}, lambda f: f.job()),
    ({"domain", "hostname", "host"}, lambda f: f.domain_name()),
]
