"""The SQLite backend's transactions, in process."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mockyard.store_sqlite import SqliteStore


def test_a_transaction_reads_a_document_once_and_each_get_is_a_new_object(tmp_path: Path) -> None:
    """SQLite answers a repeated read in one transaction from memory (as PostgreSQL's backend
    does): what it returns is what a query would, and a handler's changes to a document it
    got are never seen by a later get, only what it puts."""
    store = SqliteStore(tmp_path / "state.sqlite3")
    try:
        with store.transaction(write=True) as tx:
            tx.put("api", "coll", "a", {"n": 1})
        with store.transaction(write=True) as tx:
            first = tx.get("api", "coll", "a")
            assert first == {"n": 1}
            first["n"] = 99  # changed, not put
            assert tx.get("api", "coll", "a") == {"n": 1}
            assert tx.get("api", "coll", "a") is not tx.get("api", "coll", "a")
            tx.put("api", "coll", "a", {"n": 2})
            assert tx.get("api", "coll", "a") == {"n": 2}
            assert tx.get("api", "coll", "missing") is None
            tx.put("api", "coll", "missing", {"n": 3})
            assert tx.get("api", "coll", "missing") == {"n": 3}
            assert tx.delete("api", "coll", "missing")
            assert tx.get("api", "coll", "missing") is None
        with store.transaction(write=True) as tx:  # a new transaction queries again
            tx.conn.execute("UPDATE docs SET body = '{\"n\": 4}' WHERE key = 'a'")
            assert tx.get("api", "coll", "a") == {"n": 4}
        with store.transaction(write=False) as tx:
            assert tx.get("api", "coll", "a") == {"n": 4}
            assert tx.get("api", "coll", "missing") is None
    finally:
        store.close()


def _checkpoint_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "mockyard-checkpoints"}


def test_the_wal_stays_small_though_no_commit_copies_it(tmp_path: Path) -> None:
    """A commit never copies the WAL into the file (that stalled every 300th pay 10-17 ms on
    the event loop); the store's own thread does, so under a steady stream of writes (one per
    0.2 ms, as a loaded server's) the WAL stays within a few times SQLite's own 4 MB, and
    every write is in the file after a reopen."""
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    body = {"text": "x" * 1500}
    try:
        with store.transaction(write=False) as tx:
            assert tx.conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        for n in range(2000):
            with store.transaction(write=True) as tx:
                tx.put("api", "coll", str(n % 1000), {**body, "n": n})
            time.sleep(0.0002)
        wal = Path(f"{path}-wal").stat().st_size
        # Never copied, these writes make a WAL of 27 MB.
        assert wal < 12_000_000, f"the WAL grew to {wal / 1e6:.1f} MB"
    finally:
        store.close()
    reopened = SqliteStore(path)
    try:
        with reopened.transaction(write=False) as tx:
            assert tx.get("api", "coll", "999") == {**body, "n": 1999}
    finally:
        reopened.close()


def test_closing_a_store_stops_its_checkpoint_thread(tmp_path: Path) -> None:
    before = _checkpoint_threads()
    store = SqliteStore(tmp_path / "state.sqlite3")
    with store.transaction(write=True) as tx:
        tx.put("api", "coll", "a", {"n": 1})
    (started,) = _checkpoint_threads() - before
    store.close()
    assert not started.is_alive()
