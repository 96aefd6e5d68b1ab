"""The state store's interface: JSON documents per (api, collection, key), one transaction per
request. Two backends implement it, and nothing outside them knows which one runs:

- `store_sqlite`: one SQLite file (the default; one machine, any number of worker processes);
- `store_postgres`: a PostgreSQL database (`--state postgresql://...`; any number of instances on
  any number of machines are one sandbox).

Both promise the same: a transaction that raises changes nothing, and transactions are
serialisable, so two requests can never spend the same money. `Store.run` is the one way in: it
runs the work in a transaction, reruns a read-only attempt that turns out to write as a writer
(`WriteNeeded`), and reruns work that lost a serialisation conflict (`Conflict`, PostgreSQL only),
so handlers are plain functions that never see either.
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from mockyard.errors import Conflict, StateUnavailable, WriteNeeded
from mockyard.types import Document

Records = Mapping[str, Mapping[str, Mapping[str, Document]]]
"""Seed data: api -> collection -> key -> document."""
T = TypeVar("T")
URL_SCHEMES = ("postgresql://", "postgres://")
MAX_ATTEMPTS = 50  # serialisation conflicts in a row before a request gives up (never seen)
BOOKKEEPING_API = "_mockyard"  # the engine's own documents (counters), never business data
SEQUENCES = "sequences"


class Transaction(ABC):
    """Reads and writes inside one open transaction of a backend."""

    write: bool

    def api(self, name: str) -> ApiStore:
        return ApiStore(self, name)

    @abstractmethod
    def get(self, api: str, coll: str, key: str) -> Document | None: ...

    @abstractmethod
    def put(self, api: str, coll: str, key: str, doc: Document) -> None: ...

    @abstractmethod
    def delete(self, api: str, coll: str, key: str) -> bool: ...

    @abstractmethod
    def items(self, api: str, coll: str) -> Iterator[tuple[str, Document]]: ...

    @abstractmethod
    def collections(self) -> dict[str, dict[str, int]]:
        """api -> collection -> number of documents."""

    @abstractmethod
    def seed(self) -> int | None:
        """The seed of the state this transaction sees (None: never seeded)."""

    def _require_write(self) -> None:
        if not self.write:
            raise WriteNeeded


class Store(ABC):
    """A backend: transactions, plus replacing the whole state for a seed."""

    def run(self, work: Callable[[Transaction], T], *, write: bool) -> T:
        """`work(tx)` in one transaction, committed when it returns, rolled back if it raises.

        A read-only attempt that writes is rerun as a writer; work that lost a serialisation
        conflict is rerun after a short random pause, so concurrent retries spread out."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.transaction(write=write) as tx:
                    return work(tx)
            except WriteNeeded:
                if write:
                    raise
                write = True
            except Conflict:
                time.sleep(random.uniform(0, 0.0005 * min(attempt, 20)))
        raise StateUnavailable(f"gave up after {MAX_ATTEMPTS} serialisation conflicts in a row")

    @abstractmethod
    def transaction(self, *, write: bool) -> AbstractContextManager[Transaction]:
        """One attempt: commit when the block ends normally, roll back on any exception."""

    @abstractmethod
    def replace_all(self, records: Records, *, seed: int) -> None:
        """Drop every document and load `records` instead, in one transaction."""

    @abstractmethod
    def seed_once(self, build: Callable[[], tuple[Records, int]]) -> bool:
        """Seed an empty store with `build()`; leave a seeded one alone. However many workers or
        instances start together, one builds and the others wait for it. True if this one did."""

    @abstractmethod
    def seed(self) -> int | None:
        """The stored seed (None for an empty store); works inside this thread's open
        transaction. While the database is away, the last seed read, so errors still render."""

    @abstractmethod
    def close(self) -> None: ...


class ApiStore:
    """One API's view of a transaction: what a handler sees as `ctx.store`."""

    def __init__(self, tx: Transaction, api: str) -> None:
        self._tx = tx
        self._api = api

    def get(self, coll: str, key: Any) -> Document | None:
        return self._tx.get(self._api, coll, str(key))

    def put(self, coll: str, key: Any, doc: Document) -> None:
        self._tx.put(self._api, coll, str(key), doc)

    def delete(self, coll: str, key: Any) -> bool:
        return self._tx.delete(self._api, coll, str(key))

    def items(self, coll: str) -> Iterator[tuple[str, Document]]:
        return self._tx.items(self._api, coll)

    def sequence(self, coll: str, floor: Callable[[], int] = lambda: 0) -> int:
        """The next number of a counter kept for `coll`, in this transaction: 1 more than the
        last one, or than `floor()` the first time after a reset. Writers are serialised, so
        no two requests, in any worker, ever get the same number."""
        key = f"{self._api}/{coll}"
        last = self._tx.get(BOOKKEEPING_API, SEQUENCES, key)
        number = (int(last["last"]) if last else floor()) + 1
        self._tx.put(BOOKKEEPING_API, SEQUENCES, key, {"last": number})
        return number


def is_url(location: str) -> bool:
    """A database URL (PostgreSQL) rather than a file path (SQLite)."""
    return location.startswith(URL_SCHEMES)


def normalised(location: str) -> str:
    """A state location as every worker and instance can use it: a URL as given, a file path
    made absolute."""
    return location if is_url(location) else str(Path(location).resolve())


def shown(location: str) -> str:
    """A state location fit for a banner or a log: a URL's password hidden."""
    if not is_url(location):
        return location
    scheme, _, rest = location.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}://{userinfo}{at}{host}"


def open_store(location: str, *, durable: bool = False) -> Store:
    """The backend `location` names: a `postgresql://` URL, or a SQLite file path.

    `durable`: every commit reaches the disk before it is acknowledged, so acknowledged writes
    survive a power cut; without it they survive any crash of the sandbox process."""
    if is_url(location):
        from mockyard.store_postgres import PostgresStore  # psycopg only loads when used

        return PostgresStore(location, durable=durable)
    from mockyard.store_sqlite import SqliteStore

    return SqliteStore(Path(location), synchronous="FULL" if durable else "NORMAL")
