"""The sandbox's data: the store plus how to (re)build it from the workspace's fixtures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mockyard import fixtures
from mockyard.store import Store


class SandboxState:
    """The store, seeded from every API's fixtures; `reset` rebuilds it, maybe with a new seed."""

    def __init__(
        self, store: Store, fixture_files: Mapping[str, tuple[Path | None, Any]], seed: int
    ):
        self.store = store
        self.fixture_files = fixture_files
        self.apis = tuple(fixture_files)
        self.seed = seed
        self._built: dict[int, dict[str, dict[str, Any]]] = {}  # seed -> records; builds are pure

    def ensure_seeded(self) -> None:
        """Seed an empty store; keep one that already holds state (`--state FILE`)."""
        existing = self.store.seed()
        if existing is None:
            self.reset(self.seed)
        else:
            self.seed = existing

    def reset(self, seed: int | None = None) -> dict[str, dict[str, int]]:
        if seed is not None:
            self.seed = seed
        records = self._built.get(self.seed)
        if records is None:  # Faker is the slow part of a reset; the same seed builds the same
            records = {
                api: fixtures.build(fixture or {}, self.seed, source=path)
                for api, (path, fixture) in self.fixture_files.items()
            }
            self._built = {self.seed: records}
        self.store.replace_all(records, seed=self.seed)
        return {
            api: {coll: len(docs) for coll, docs in colls.items()} for api, colls in records.items()
        }
