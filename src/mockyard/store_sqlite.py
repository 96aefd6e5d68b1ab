"""The SQLite backend: JSON documents per (api, collection, key) in one file.

Writes are serialised (`BEGIN IMMEDIATE`), so two requests can never spend the same money, and
transactions are serialisable without ever conflicting. The file is in WAL mode, so readers never
wait for the writer and several worker processes share one truth.

Durability: a transaction is committed before its response is sent. With `synchronous=NORMAL`
(the default) a committed transaction survives any crash of the sandbox process, SIGKILL
included, but not a power cut or kernel crash; `FULL` (`serve --durable`) also fsyncs every
commit to survive those too, at about 0.3 ms more per write. Copying the WAL back into the
file (a checkpoint) is left to a thread of the store's own (`Checkpointer`), not to a commit.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mockyard.store import Records, Store, Transaction
from mockyard.types import Document

_errors = logging.getLogger("mockyard")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    api TEXT NOT NULL, coll TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (api, coll, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


class ThreadConnections:
    """One connection to a WAL-mode SQLite file per thread (connections are not shared);
    `close` closes every thread's, so a sandbox built in a process that goes on (tests, an
    embedding app) leaves no file open behind it. `checkpoints=False`: a commit never copies
    the WAL back into the file, for a caller whose `Checkpointer` does (the journal's commits
    run on its writer thread, off the event loop, and keep SQLite's own checkpoints)."""

    def __init__(self, path: Path, synchronous: str, *, checkpoints: bool = True) -> None:
        self.path = path
        self.synchronous = synchronous
        self.checkpoints = checkpoints
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Used by one thread only; `check_same_thread` off so that `close` can close it.
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            if not self.checkpoints:
                conn.execute("PRAGMA wal_autocheckpoint=0")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


class WriterQueue:
    """Writers of every worker process take turns through a kernel lock (`flock`) on a file
    next to the state, before `BEGIN IMMEDIATE`. SQLite's own wait for a busy writer sleeps
    1, 2, 5, 10 ... ms between tries, and a worker sleeping there holds its whole event loop:
    with two workers paying, p99 reached 100-300 ms. The kernel wakes the next writer the
    moment the lock is free. One descriptor per thread, so threads queue as processes do."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._opened: list[int] = []
        self._lock = threading.Lock()

    @contextmanager
    def turn(self) -> Iterator[None]:
        fd: int | None = getattr(self._local, "fd", None)
        if fd is None:
            fd = self._local.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            with self._lock:
                self._opened.append(fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for fd in opened:
            os.close(fd)
        self._local = threading.local()


class Checkpointer:
    """Copies the WAL back into the database file on a thread of its own, soon after writes.

    SQLite's default is to do it inside the commit that takes the WAL past 1,000 pages: about
    every 300th pay, that commit spent 10-17 ms copying (36 µs a page, fsync included), on the
    event loop, and every request in flight waited (most of the bench's pay p99). Request
    connections here never checkpoint (`wal_autocheckpoint=0`); this thread does, at most
    every `interval` seconds while writes come:
    - beside readers and writers (SQLite's PASSIVE checkpoint waits for neither), again and
      again while writes go on: each pass copies what came during the one before, fewer pages
      each time;
    - then, when the WAL has grown past `_REWIND_AT` pages, once more in a writer's turn: the
      few pages left are copied, the WAL is all in the file, and the next write starts it over.
      A WAL that a pause in the writes lets be copied whole starts over without it.
    """

    def __init__(
        self, path: Path, writers: WriterQueue, synchronous: str, interval: float = 0.1
    ) -> None:
        self._wanted = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=_checkpoints,
            args=(path, synchronous, writers, self._wanted, self._stopped, interval),
            name="mockyard-checkpoints",
            daemon=True,
        )
        self._thread.start()
        weakref.finalize(self, _stop, self._wanted, self._stopped)  # a store never closed

    def written(self) -> None:
        """A write transaction committed: checkpoint soon."""
        self._wanted.set()

    def close(self) -> None:
        _stop(self._wanted, self._stopped)
        self._thread.join()


_REWIND_AT = 1000  # pages in the WAL (4 MB), as SQLite's own autocheckpoint
_FEW = 32  # pages a pass may leave to the writer's turn (about 1 ms to copy)
_PASSES = 8


def _checkpoints(
    path: Path,
    synchronous: str,
    writers: WriterQueue,
    wanted: threading.Event,
    stopped: threading.Event,
    interval: float,
) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA synchronous={synchronous}")  # the store's: as safe as its commits
    try:
        while wanted.wait() and not stopped.is_set():
            wanted.clear()
            try:
                if _catch_up(conn) > _REWIND_AT:
                    with writers.turn():
                        _checkpoint(conn)
            except sqlite3.Error as exc:  # the thread's boundary: the next write tries again
                _errors.warning("checkpoint of %s failed: %s", path, exc)
            stopped.wait(interval)
    finally:
        conn.close()


def _catch_up(conn: sqlite3.Connection) -> int:
    """Checkpoint until a pass copies only a few pages; the WAL's length, in pages."""
    before = 0
    for _ in range(_PASSES):
        in_wal, copied = _checkpoint(conn)
        if copied - before <= _FEW:
            break
        before = copied
    return in_wal


def _checkpoint(conn: sqlite3.Connection) -> tuple[int, int]:
    """A PASSIVE checkpoint: (pages in the WAL, pages of it now in the file)."""
    _busy, in_wal, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(in_wal), int(copied)


def _stop(wanted: threading.Event, stopped: threading.Event) -> None:
    stopped.set()
    wanted.set()


class SqliteStore(Store):
    """One SQLite file, one connection per thread (SQLite connections are not shared)."""

    def __init__(self, path: Path | str, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self._connections = ThreadConnections(self.path, synchronous, checkpoints=False)
        self._writers = WriterQueue(Path(f"{self.path}-writer.lock"))
        conn = self._connections.get()
        conn.executescript(_SCHEMA)
        self._checkpointer = Checkpointer(self.path, self._writers, synchronous)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[SqliteTransaction]:
        if not write:
            with self._open(write=False) as tx:
                yield tx
            return
        with self._writers.turn(), self._open(write=True) as tx:
            yield tx
        self._checkpointer.written()

    @contextmanager
    def _open(self, *, write: bool) -> Iterator[SqliteTransaction]:
        conn = self._connections.get()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield SqliteTransaction(conn, write=write)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def replace_all(self, records: Records, *, seed: int) -> None:
        with self.transaction(write=True) as tx:
            _replace(tx.conn, records, seed)

    def seed_once(self, build: Callable[[], tuple[Records, int]]) -> bool:
        with self.transaction(write=True) as tx:  # the writer lock: other workers wait here
            if tx.seed() is not None:
                return False
            records, seed = build()
            _replace(tx.conn, records, seed)
            return True

    def seed(self) -> int | None:
        return SqliteTransaction(self._connections.get(), write=False).seed()

    def close(self) -> None:
        self._checkpointer.close()
        self._connections.close()
        self._writers.close()


def _replace(conn: sqlite3.Connection, records: Records, seed: int) -> None:
    rows = [
        (api, coll, key, json.dumps(doc, separators=(",", ":")))
        for api, colls in records.items()
        for coll, docs in colls.items()
        for key, doc in docs.items()
    ]
    conn.execute("DELETE FROM docs")
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('seed', ?)", (str(seed),))


class SqliteTransaction(Transaction):
    """Reads and writes inside one open SQLite transaction. A document read or written once is
    read again from memory, as the PostgreSQL backend does: a transaction sees one snapshot
    (and a writer holds the lock), so a second `SELECT` could only return the same body. A
    handler reading the record its API's `authenticate` hook read costs one query, not two."""

    def __init__(self, conn: sqlite3.Connection, *, write: bool) -> None:
        self.conn = conn
        self.write = write
        self._bodies: dict[tuple[str, str, str], str | None] = {}  # as read or written here

    def get(self, api: str, coll: str, key: str) -> Document | None:
        name = (api, coll, key)
        if name in self._bodies:  # read or written before in this transaction
            body = self._bodies[name]
        else:
            row = self.conn.execute(
                "SELECT body FROM docs WHERE api = ? AND coll = ? AND key = ?", name
            ).fetchone()
            body = self._bodies[name] = row[0] if row else None
        return None if body is None else json.loads(body)  # a new object each time

    def put(self, api: str, coll: str, key: str, doc: Document) -> None:
        self._require_write()
        body = json.dumps(doc, separators=(",", ":"))
        self.conn.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?)", (api, coll, key, body))
        self._bodies[api, coll, key] = body

    def delete(self, api: str, coll: str, key: str) -> bool:
        self._require_write()
        cur = self.conn.execute(
            "DELETE FROM docs WHERE api = ? AND coll = ? AND key = ?", (api, coll, key)
        )
        self._bodies[api, coll, key] = None
        return cur.rowcount > 0

    def items(self, api: str, coll: str) -> Iterator[tuple[str, Document]]:
        rows = self.conn.execute(
            "SELECT key, body FROM docs WHERE api = ? AND coll = ? ORDER BY key", (api, coll)
        )
        for key, body in rows:
            yield key, json.loads(body)

    def collections(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for api, coll, count in self.conn.execute(
            "SELECT api, coll, COUNT(*) FROM docs GROUP BY api, coll ORDER BY api, coll"
        ):
            out.setdefault(api, {})[coll] = count
        return out

    def seed(self) -> int | None:
        row = self.conn.execute("SELECT value FROM meta WHERE name = 'seed'").fetchone()
        return int(row[0]) if row else None
