"""The records an inferred collection starts with: a few Faker records valid for its schema.

A collection the API's fixture file fills (catalogue or `generate`) starts with those records
alone. Any other inferred collection gets `records` (default 5) generated ones, the same for
the same seed: the n-th has the n-th id (1, 2, ... or a UUID derived from the seed), and a
nested collection's records belong to its parent's records in turn. Built once per seed and
remembered on disk (`cache`), like the fixtures' records.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mockyard import cache, fakedata, regexgen, resource_handlers, resource_values
from mockyard.fixtures import reseeded, seeded_faker
from mockyard.resource_handlers import Checker
from mockyard.resource_values import new_id
from mockyard.resources import Inference, Resource

if TYPE_CHECKING:
    from faker import Faker

Records = dict[str, dict[str, dict[str, Any]]]
_ATTEMPTS = 4


def seed_records(
    inference: Inference,
    document: Mapping[str, Any],
    seed: int,
    existing: Mapping[str, Mapping[str, Mapping[str, Any]]],
    document_source: str = "",
) -> Records:
    """api -> collection -> key -> record for every inferred collection `existing` (the
    fixtures' records) does not fill. `document_source` keys the document in the cache (see
    `Conversion.source`); without one the document itself is hashed."""
    wanted = _unfilled(inference, existing)
    if not wanted:
        return {}
    entry = cache.key(
        document_source or json.dumps(document, sort_keys=True, default=str),
        repr(wanted),
        json.dumps(_parents(wanted, existing), sort_keys=True, default=str),
        seed,
        cache.version_of("faker"),
        *(
            cache.source_of(m.__file__ or "")
            for m in (resource_handlers, resource_values, fakedata, regexgen)
        ),
        cache.source_of(__file__),
    )
    found = cache.load("resource-records", entry)
    if found is None:
        found = _build(wanted, document, seed, existing)
        cache.save("resource-records", entry, found)
    return found  # type: ignore[no-any-return,unused-ignore]


def _unfilled(inference: Inference, existing: Mapping[str, Mapping[str, Any]]) -> list[Resource]:
    """One resource per (api, collection) to seed, parents before the collections in them."""
    out: dict[tuple[str, str], Resource] = {}
    for resource in sorted(inference.resources, key=lambda r: len(r.scope)):
        key = (resource.api, resource.collection)
        if (
            resource.records
            and key not in out
            and resource.collection not in existing.get(resource.api, {})
        ):
            out[key] = resource
    return list(out.values())


def _parents(
    wanted: list[Resource], existing: Mapping[str, Mapping[str, Mapping[str, Any]]]
) -> dict[str, list[Any]]:
    """For each parent of a nested collection that is not seeded here, the ids of the fixtures'
    records of its collection, for the seeded records to belong to."""
    seeded = {(r.api, r.collection) for r in wanted}
    out = {}
    for resource in wanted:
        for parent in resource.scope:
            if parent.collection and (resource.api, parent.collection) not in seeded:
                records = existing.get(resource.api, {}).get(parent.collection, {})
                out[f"{resource.api}/{parent.collection}"] = [
                    _number(k) for k in sorted(records)[:50]
                ]
    return out


def _build(
    wanted: list[Resource],
    document: Mapping[str, Any],
    seed: int,
    existing: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> Records:
    out: Records = {}
    checker = Checker(document, remembers=1)  # one resource's records, then the next
    fake = seeded_faker(seed)
    fixture_parents = _parents(wanted, existing)
    by_collection = {(r.api, r.collection): r for r in wanted}
    for resource in wanted:
        bucket = out.setdefault(resource.api, {}).setdefault(resource.collection, {})
        salt = f"{seed}|{resource.api}|{resource.collection}"
        for n in range(1, resource.records + 1):
            record = _record(resource, document, checker, fake, seed, n)
            record[resource.id_property] = new_id(resource.id_schema, n, salt)
            for parent in resource.scope:
                owner = by_collection.get((resource.api, parent.collection or ""))
                if owner is not None:
                    siblings = out.get(owner.api, {}).get(owner.collection, {}).values()
                    ids = [r[owner.id_property] for r in siblings]
                else:
                    ids = fixture_parents.get(f"{resource.api}/{parent.collection}", [])
                if ids:
                    record[parent.property] = ids[(n - 1) % len(ids)]
            record.update(json.loads(json.dumps(dict(resource.where), default=str)))
            bucket[str(record[resource.id_property])] = record
    return out


def _record(
    resource: Resource,
    document: Mapping[str, Any],
    checker: Checker,
    fake: Faker,
    seed: int,
    n: int,
) -> dict[str, Any]:
    record: Any = {}
    for attempt in range(_ATTEMPTS):
        salt = (seed, "resource", resource.api, resource.collection, n, attempt)
        rng = random.Random("|".join(map(str, salt)))
        generator = fakedata.Generator(document, reseeded(fake, *salt), rng)
        record = generator.value(resource.record_schema)
        if not checker.errors(record, resource.record_schema):
            break
    return dict(record) if isinstance(record, dict) else {}


def _number(key: str) -> Any:
    return int(key) if key.isdigit() else key
