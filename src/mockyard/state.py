"""The sandbox's data: the store plus how to (re)build it from the workspace's fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mockyard import cache, fixtures
from mockyard.store import Store

Built = dict[str, dict[str, dict[str, Any]]]
"""api -> collection -> key -> record."""
Generated = Callable[[int, Built], Built]
"""Records for a seed beyond the fixtures' (given those): the inferred collections'."""


class SandboxState:
    """The store, seeded from every API's fixtures; `reset` rebuilds it, maybe with a new seed."""

    def __init__(
        self,
        store: Store,
        fixture_files: Mapping[str, tuple[Path | None, Any]],
        seed: int,
        generated: Generated | None = None,
    ):
        self.store = store
        self.fixture_files = fixture_files
        self.generated = generated
        self.apis = tuple(fixture_files)
        self._first_seed = seed  # used until the store holds state
        self._built: dict[int, dict[str, dict[str, Any]]] = {}  # seed -> records; builds are pure

    @property
    def seed(self) -> int:
        """The seed of the state as it is now: read from the store, so a reset with a new seed
        made through any worker process is seen by all of them."""
        current = self.store.seed()
        return self._first_seed if current is None else current

    def ensure_seeded(self) -> None:
        """Seed an empty store; keep one that already holds state (`--state FILE` or a
        database). Of workers or instances starting together, one seeds; the others wait."""
        seed = self._first_seed
        self.store.seed_once(lambda: (self.seeded(seed), seed))

    def reset(self, seed: int | None = None) -> dict[str, dict[str, int]]:
        """Rebuild every record for `seed` (default: the current seed)."""
        seed = self.seed if seed is None else seed
        records = self.seeded(seed)
        self.store.replace_all(records, seed=seed)
        return {
            api: {coll: len(docs) for coll, docs in colls.items()} for api, colls in records.items()
        }

    def seeded(self, seed: int | None = None) -> dict[str, dict[str, Any]]:
        """api -> collection -> key -> record as `seed` (default: the first) builds them."""
        seed = self._first_seed if seed is None else seed
        records = self._built.get(seed)
        if records is None:  # Faker is the slow part of a reset; the same seed builds the same
            records = seeded_records(self.fixture_files, seed, self.generated)
            self._built = {seed: records}
        return records


def seeded_records(
    fixture_files: Mapping[str, tuple[Path | None, Any]],
    seed: int,
    generated: Generated | None = None,
) -> Built:
    """Every record a reset to `seed` stores: the fixtures', then `generated`'s for the
    collections no fixture fills."""
    records: Built = {
        api: _built_records(fixture or {}, seed, path)
        for api, (path, fixture) in fixture_files.items()
    }
    for api, colls in (generated(seed, records) if generated else {}).items():
        mine = records.setdefault(api, {})
        for coll, docs in colls.items():
            mine.setdefault(coll, docs)
    return records


def _built_records(fixture: Mapping[str, Any], seed: int, path: Path | None) -> dict[str, Any]:
    """`fixtures.build`, remembered on disk (see `cache`) per fixture, seed and Faker version."""
    entry = cache.key(
        json.dumps(fixture, sort_keys=True, default=str),
        seed,
        cache.version_of("faker"),
        cache.source_of(fixtures.__file__),
    )
    records = cache.load("records", entry)
    if records is None:
        records = fixtures.build(fixture, seed, source=path)
        cache.save("records", entry, records)
    return records
