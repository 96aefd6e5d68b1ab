"""The SQLite backend's transactions, in process."""

from __future__ import annotations

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
