"""The state store: JSON documents per (api, collection, key) in one SQLite file.

Every request runs in one transaction, so a request that fails changes nothing, and writes are
serialised (`BEGIN IMMEDIATE`), so two requests can never spend the same money. The file is in WAL
mode, so readers never wait for the writer and several worker processes share one truth.

Durability: a transaction is committed before its response is sent. With `synchronous=NORMAL`
(the default) a committed transaction survives any crash of the sandbox process, SIGKILL
included, but not a power cut or kernel crash; `FULL` (`serve --durable`) also fsyncs every
commit to survive those too, at about 0.3 ms more per write.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mockyard.types import Document

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    api TEXT NOT NULL, coll TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (api, coll, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""

Records = Mapping[str, Mapping[str, Mapping[str, Document]]]
"""Seed data: api -> collection -> key -> document."""
BOOKKEEPING_API = "_mockyard"  # the engine's own documents (counters), never business data
SEQUENCES = "sequences"


class ThreadConnections:
    """One connection to a WAL-mode SQLite file per thread (connections are not shared)."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class WriterQueue:
    """Writers of every worker process take turns through a kernel lock (`flock`) on a file
    next to the state, before `BEGIN IMMEDIATE`. SQLite's own wait for a busy writer sleeps
    1, 2, 5, 10 ... ms between tries, and a worker sleeping there holds its whole event loop:
    with two workers paying, p99 reached 100-300 ms. The kernel wakes the next writer the
    moment the lock is free. One descriptor per thread, so threads queue as processes do."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    @contextmanager
    def turn(self) -> Iterator[None]:
        fd: int | None = getattr(self._local, "fd", None)
        if fd is None:
            fd = self._local.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd = getattr(self._local, "fd", None)
        if fd is not None:
            os.close(fd)
            self._local.fd = None


class WriteNeeded(Exception):
    """A read-only transaction tried to write; the caller reruns the work in a write transaction."""


class Store:
    """One SQLite file, one connection per thread (SQLite connections are not shared)."""

    def __init__(self, path: Path | str, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self._connections = ThreadConnections(self.path, synchronous)
        self._writers = WriterQueue(Path(f"{self.path}-writer.lock"))
        conn = self._connections.get()
        conn.executescript(_SCHEMA)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Transaction]:
        """Commit when the block ends normally, roll back on any exception."""
        if not write:
            with self._open(write=False) as tx:
                yield tx
            return
        with self._writers.turn(), self._open(write=True) as tx:
            yield tx

    @contextmanager
    def _open(self, *, write: bool) -> Iterator[Transaction]:
        conn = self._connections.get()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Transaction(conn, write=write)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def replace_all(self, records: Records, *, seed: int) -> None:
        """Drop every document and load `records` instead, in one transaction."""
        rows = [
            (api, coll, key, json.dumps(doc, separators=(",", ":")))
            for api, colls in records.items()
            for coll, docs in colls.items()
            for key, doc in docs.items()
        ]
        with self.transaction(write=True) as tx:
            tx.conn.execute("DELETE FROM docs")
            tx.conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
            tx.conn.execute("INSERT OR REPLACE INTO meta VALUES ('seed', ?)", (str(seed),))

    def seed(self) -> int | None:
        """The seed the current state was built from (by any worker), or None for an empty store.

        One plain read, so it also works inside this thread's open transaction."""
        conn = self._connections.get()
        row = conn.execute("SELECT value FROM meta WHERE name = 'seed'").fetchone()
        return int(row[0]) if row else None

    def close(self) -> None:
        self._connections.close()
        self._writers.close()


class Transaction:
    """Reads and writes inside one open SQLite transaction."""

    def __init__(self, conn: sqlite3.Connection, *, write: bool) -> None:
        self.conn = conn
        self.write = write

    def api(self, name: str) -> ApiStore:
        return ApiStore(self, name)

    def get(self, api: str, coll: str, key: str) -> Document | None:
        row = self.conn.execute(
            "SELECT body FROM docs WHERE api = ? AND coll = ? AND key = ?", (api, coll, key)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, api: str, coll: str, key: str, doc: Document) -> None:
        self._require_write()
        self.conn.execute(
            "INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?)",
            (api, coll, key, json.dumps(doc, separators=(",", ":"))),
        )

    def delete(self, api: str, coll: str, key: str) -> bool:
        self._require_write()
        cur = self.conn.execute(
            "DELETE FROM docs WHERE api = ? AND coll = ? AND key = ?", (api, coll, key)
        )
        return cur.rowcount > 0

    def items(self, api: str, coll: str) -> Iterator[tuple[str, Document]]:
        rows = self.conn.execute(
            "SELECT key, body FROM docs WHERE api = ? AND coll = ? ORDER BY key", (api, coll)
        )
        for key, body in rows:
            yield key, json.loads(body)

    def collections(self) -> dict[str, dict[str, int]]:
        """api -> collection -> number of documents."""
        out: dict[str, dict[str, int]] = {}
        for api, coll, count in self.conn.execute(
            "SELECT api, coll, COUNT(*) FROM docs GROUP BY api, coll ORDER BY api, coll"
        ):
            out.setdefault(api, {})[coll] = count
        return out

    def _require_write(self) -> None:
        if not self.write:
            raise WriteNeeded


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
