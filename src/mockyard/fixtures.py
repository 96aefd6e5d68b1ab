"""Fixture files: the fixed catalogue of sandbox records plus a Faker recipe for bulk data.

A fixture file has four parts, all optional:

    catalogue:                 # fixed records, the same whatever the seed
      <collection>: {<key>: {<field>: <value>}}
    credentials:               # who can call the sandbox; shown in the banner, used by `contract`
      - {scheme: bearerAuth, value: sandbox-token, note: "the default customer", default: true}
    contract:                  # per-API Schemathesis settings (schemathesis.toml shape)
      checks: {negative_data_rejection: {expected-statuses: ["400"]}}
    generate:                  # bulk records, deterministic for a seed
      <collection>:
        count: 50
        locale: en_US          # optional Faker locale(s)
        key: {field: id}       # the record's key: a value spec, or {field: NAME} of the record
        fields: {<field>: <value spec>}

A value spec is a literal, a nested mapping or list of value specs, or one of:
    {faker: PROVIDER, <kwargs>}        Faker call (dates come out ISO-8601; `format:` for strftime)
    {choice: [..], weights: [..]}      one of the options
    {sequence: START}                  START + index of the record
    {template: "cus_{n:04d}"}          str.format with n (1-based) and the fields built so far
    {ref: COLLECTION, field: NAME}     a generated record of another collection (its key, or field)
    {optional: P, value: SPEC}         the field is present with probability P
    {round: DIGITS, value: SPEC}       a number rounded to DIGITS decimals
    {switch: FIELD, cases: {..}, default: SPEC}   by the value of a field built before this one
    {field: NAME}                      a copy of a field built before this one

"Built before" counts the enclosing mappings too: a field of a nested mapping (an order line)
can copy a field of the record around it (the order's total).
"""

from __future__ import annotations

import hashlib
import random
from collections import ChainMap
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mockyard.errors import FixtureError
from mockyard.types import Document

if TYPE_CHECKING:
    from faker import Faker

_ABSENT = object()


def seeded_faker(seed: int, *salt: object, locale: str | list[str] | None = None) -> Faker:
    """A Faker with its own reproducible stream for (seed, salt): independent of call order.

    Faker is imported here, on first use, not with the module: a start whose records come from
    the cache never needs it, and importing it is a tenth of a cold start."""
    from faker import Faker

    return reseeded(Faker(locale), seed, *salt)


def reseeded(fake: Faker, seed: int, *salt: object) -> Faker:
    """`fake` set to the stream `seeded_faker(seed, *salt)` starts with: building a Faker takes
    5 ms, reseeding one microseconds, so a loop making many records (one thread) reuses one."""
    fake.seed_instance(_derive(seed, *salt))
    return fake


def _derive(seed: int, *salt: object) -> int:
    digest = hashlib.sha256("|".join(map(str, (seed, *salt))).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def build(
    fixture: Mapping[str, Any], seed: int, *, source: object = None
) -> dict[str, dict[str, Any]]:
    """Collection -> key -> record: the catalogue, then the generated records for `seed`."""
    try:
        catalogue = fixture.get("catalogue") or {}
        records: dict[str, dict[str, Document]] = {
            coll: {str(k): dict(v) for k, v in docs.items()} for coll, docs in catalogue.items()
        }
        generated: dict[str, list[tuple[str, Document]]] = {}
        for coll, recipe in (fixture.get("generate") or {}).items():
            generated[coll] = _generate(coll, recipe, seed, generated)
            bucket = records.setdefault(coll, {})
            for key, record in generated[coll]:
                if key in bucket:
                    raise FixtureError(f"generated {coll} key {key!r} clashes with the catalogue")
                bucket[key] = record
        return records
    except FixtureError as exc:
        raise FixtureError(str(exc), path=source) from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise FixtureError(f"bad recipe: {exc!r}", path=source) from exc


def _generate(
    coll: str, recipe: Mapping[str, Any], seed: int, done: Mapping[str, list[tuple[str, Document]]]
) -> list[tuple[str, Document]]:
    fake = seeded_faker(seed, coll, locale=recipe.get("locale"))
    rng = random.Random(_derive(seed, coll, "choices"))
    key_spec = recipe.get("key", {"template": "{n}"})
    out = []
    for n in range(1, int(recipe["count"]) + 1):
        env = _Env(fake, rng, n, done)
        record: Document = {}
        for name, spec in (recipe.get("fields") or {}).items():
            value = env.value(spec, record)
            if value is not _ABSENT:
                record[name] = value
        if isinstance(key_spec, Mapping) and "field" in key_spec:
            key = record[key_spec["field"]]
        else:
            key = env.value(key_spec, record)
        out.append((str(key), record))
    return out


class _Env:
    """Evaluates value specs for record number `n` of a collection."""

    def __init__(
        self,
        fake: Faker,
        rng: random.Random,
        n: int,
        done: Mapping[str, list[tuple[str, Document]]],
    ) -> None:
        self.fake, self.rng, self.n, self.done = fake, rng, n, done

    def value(self, spec: Any, record: Mapping[str, Any]) -> Any:
        if isinstance(spec, list):
            return [self.value(item, record) for item in spec]
        if not isinstance(spec, Mapping):
            return spec
        if "faker" in spec:
            return self._faker(spec)
        if "choice" in spec:
            return self.rng.choices(list(spec["choice"]), weights=spec.get("weights"))[0]
        if "sequence" in spec:
            return int(spec["sequence"]) + self.n - 1
        if "template" in spec:
            return str(spec["template"]).format(n=self.n, **record)
        if "ref" in spec:
            key, target = self.rng.choice(self.done[spec["ref"]])
            return target[spec["field"]] if "field" in spec else key
        if "optional" in spec:
            if self.rng.random() >= float(spec["optional"]):
                return _ABSENT
            return self.value(spec["value"], record)
        if "switch" in spec:
            case = spec["cases"].get(record[spec["switch"]], spec.get("default"))
            return self.value(case, record)
        if "round" in spec:
            return _number(round(float(self.value(spec["value"], record)), int(spec["round"])))
        if "field" in spec:
            return record[spec["field"]]
        nested: Document = {}
        scope = ChainMap(nested, record)  # type: ignore[arg-type]
        for name, sub in spec.items():
            value = self.value(sub, scope)
            if value is not _ABSENT:
                nested[name] = value
        return nested

    def _faker(self, spec: Mapping[str, Any]) -> Any:
        kwargs = {k: v for k, v in spec.items() if k not in ("faker", "format")}
        value = getattr(self.fake, spec["faker"])(**kwargs)
        if isinstance(value, date | datetime):
            return value.strftime(spec["format"]) if "format" in spec else value.isoformat()
        if isinstance(value, Decimal):
            return _number(float(value))
        return value


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
