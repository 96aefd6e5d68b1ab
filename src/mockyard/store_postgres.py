"""The PostgreSQL backend: the same documents in a database that many instances share.

Isolation. Every write transaction is SERIALIZABLE and rerun when PostgreSQL aborts it to stay
serialisable (`Conflict`, handled by `Store.run`). Handlers are plain read-then-write functions
written without any notion of locks (any workspace's, not only ours): serialisable transactions
keep them exactly as correct as SQLite's one-writer-at-a-time, with no list of rows to lock.
Row locks (`SELECT ... FOR UPDATE`) would need each handler to name the rows it reads for
writing, and locking every row a write transaction reads would queue every write on the shared
catalogue rows every request reads. With SSI, writes to different records never wait for each
other; of two transactions that read and write one record, the second is aborted and rerun,
and then sees the first one's write (so the same money is never spent twice).
Read-only attempts are REPEATABLE READ READ ONLY: one snapshot, never aborted.

Round trips. BEGIN travels with the transaction's first statement, reads already made in it are
answered from memory, and writes wait for the commit: they and COMMIT are one statement string.
A typical write transaction is 4 round trips, not 8 (parameters are bound client-side, psycopg's
`ClientCursor`, which lets statements share a round trip; measured here, that beat psycopg's
pipeline mode).

Seeding. The first instance seeds; an instance that starts meanwhile waits on an advisory lock
and finds the seed there. A reset writes the seed row, which every running instance reads.

Failure. Connecting times out after 3 s and a statement after 5 s; a dead connection (the server
restarted) is noticed before use and replaced. While the database is away, every request gets
`StateUnavailable` (its API's documented 5xx), and the next one tries again.

Durability. Commits are acknowledged once PostgreSQL holds them (`synchronous_commit=off`): they
survive any crash of the sandbox instance, like the SQLite default. `--durable` waits for the
database's disk too (`synchronous_commit=on`).
"""

from __future__ import annotations

import json
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus

from mockyard.errors import Conflict, StateUnavailable
from mockyard.store import Records, Store, Transaction
from mockyard.types import Document

DOCS = "mockyard_docs"
META = "mockyard_meta"
_SCHEMA = (
    # byte order ("C"), as SQLite sorts keys, so both backends list records alike
    f'CREATE TABLE IF NOT EXISTS {DOCS} (api text COLLATE "C" NOT NULL, coll text COLLATE "C"'
    ' NOT NULL, key text COLLATE "C" NOT NULL, body text NOT NULL, PRIMARY KEY (api, coll, key))'
    " WITH (fillfactor = 70)",
    f"CREATE TABLE IF NOT EXISTS {META} (name text PRIMARY KEY, value text NOT NULL)",
)
_GET = f"SELECT body FROM {DOCS} WHERE api = %s AND coll = %s AND key = %s"
_SEED = f"SELECT value FROM {META} WHERE name = 'seed'"
_BEGIN_WRITE = "BEGIN ISOLATION LEVEL SERIALIZABLE"
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_LOCK_KEY = 0x6D6F636B79617264 & 0x7FFFFFFFFFFFFFFF  # "mockyard": the seeding lock
_LOCK_WAIT = 300.0  # s an instance waits for another one's seeding
_RETRY_CONNECT_AFTER = 1.0  # s after a failed connect during which requests fail at once
_CONFLICTS = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError)


def conninfo(url: str, *, durable: bool) -> str:
    """`url` with the timeouts and session settings mockyard relies on; the URL's own
    settings win where it has them."""
    params = conninfo_to_dict(url)
    params.setdefault("connect_timeout", "3")
    params.setdefault("application_name", "mockyard")
    params.setdefault("keepalives_idle", "10")
    params.setdefault("tcp_user_timeout", "10000")  # ms: a vanished server fails a write soon
    ours = (
        "-c statement_timeout=5000 -c idle_in_transaction_session_timeout=30000"
        f" -c synchronous_commit={'on' if durable else 'off'}"
    )
    params["options"] = f"{ours} {params.get('options', '')}".strip()
    return make_conninfo("", **params)


class PostgresStore(Store):
    """One PostgreSQL database, one connection per thread."""

    def __init__(self, url: str, *, durable: bool = False) -> None:
        self._conninfo = conninfo(url, durable=durable)
        self._local = threading.local()
        self._opened: list[psycopg.Connection] = []  # by every thread, so `close` ends them all
        self._opened_lock = threading.Lock()
        self._retry_at = 0.0
        self._last_seed: int | None = None
        with self._seeding_lock() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    # --- connections ---------------------------------------------------------------------------

    def _conn(self) -> psycopg.Connection:
        """This thread's connection; a new one if it has none or the server closed it."""
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and not _server_hung_up(conn):
            return conn
        self._discard()
        if time.monotonic() < self._retry_at:
            raise StateUnavailable("the state database is unreachable")
        try:
            conn = psycopg.connect(
                self._conninfo, autocommit=True, cursor_factory=psycopg.ClientCursor
            )
        except psycopg.Error as exc:
            self._retry_at = time.monotonic() + _RETRY_CONNECT_AFTER
            raise StateUnavailable(f"cannot reach the state database: {_first_line(exc)}") from exc
        self._local.conn = conn
        with self._opened_lock:
            self._opened = [c for c in self._opened if not c.closed] + [conn]
        return conn

    def _discard(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and not conn.closed:
            conn.close()

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """Database errors as the store's: a conflict to rerun, or the database away."""
        try:
            yield
        except _CONFLICTS as exc:
            raise Conflict from exc
        except _UNAVAILABLE as exc:
            conn = getattr(self._local, "conn", None)
            if conn is not None and conn.broken:
                self._discard()
            raise StateUnavailable(f"the state database failed: {_first_line(exc)}") from exc

    # --- transactions --------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[PostgresTransaction]:
        conn = self._conn()
        tx = PostgresTransaction(conn, write=write)
        self._local.tx = tx
        try:
            with self._failures():
                try:
                    yield tx
                    tx.commit()
                except BaseException:
                    self._roll_back(conn)
                    raise
        finally:
            self._local.tx = None
        if tx.seen_seed is not None:
            self._last_seed = tx.seen_seed

    def _roll_back(self, conn: psycopg.Connection) -> None:
        """End a failed transaction; a connection that cannot is dropped (the server ends it)."""
        try:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            self._discard()

    @contextmanager
    def _seeding_lock(self) -> Iterator[psycopg.Connection]:
        """Hold the advisory lock that makes seeding and resets one at a time across instances.
        A session lock, taken before any transaction, so the transaction that follows sees
        whatever the previous holder committed."""
        conn = self._conn()
        deadline = time.monotonic() + _LOCK_WAIT
        with self._failures():
            while not _fetched_true(conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,))):
                if time.monotonic() > deadline:
                    raise StateUnavailable("another instance held the seeding lock for 5 minutes")
                time.sleep(0.05)
            try:
                yield conn
            finally:
                if not conn.closed:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))

    def replace_all(self, records: Records, *, seed: int) -> None:
        with self._seeding_lock():
            self.run(lambda tx: cast(PostgresTransaction, tx).replace(records, seed), write=True)
        self._last_seed = seed

    def seed_once(self, build: Callable[[], tuple[Records, int]]) -> bool:
        built: list[tuple[Records, int]] = []

        def seed_if_empty(tx: PostgresTransaction) -> bool:
            if tx.seed() is not None:
                return False
            if not built:  # a rerun after a conflict reuses the records
                built.append(build())
            tx.replace(*built[0])
            return True

        with self._seeding_lock():
            return self.run(seed_if_empty, write=True)  # type: ignore[arg-type]

    def seed(self) -> int | None:
        tx: PostgresTransaction | None = getattr(self._local, "tx", None)
        try:
            with self._failures():
                if tx is not None:  # inside this thread's transaction: one of its reads
                    return tx.seed()
                row = self._conn().execute(_SEED).fetchone()
        except StateUnavailable:
            return self._last_seed
        self._last_seed = int(row[0]) if row else None
        return self._last_seed

    def close(self) -> None:
        """Close every thread's connection (a thread in a transaction must have ended it)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()


class PostgresTransaction(Transaction):
    """Reads and writes inside one PostgreSQL transaction, begun with its first statement."""

    def __init__(self, conn: psycopg.Connection, *, write: bool) -> None:
        self.conn = conn
        self.write = write
        self.seen_seed: int | None = None
        self._begin: str | None = _BEGIN_WRITE if write else _BEGIN_READ  # until first sent
        self._bodies: dict[tuple[str, str, str], str | None] = {}  # as read or written here
        self._pending: dict[tuple[str, str, str], str] = {}  # puts not sent yet

    def execute(self, query: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        """One statement, with BEGIN in front of it if it is the transaction's first."""
        if self._begin is None:
            return self.conn.execute(query, params)
        cursor = self.conn.execute(f"{self._begin}; {query}", params)
        self._begin = None
        cursor.nextset()  # past BEGIN's result, to the statement's
        return cursor

    def commit(self) -> None:
        """The held-back writes and COMMIT, in one round trip (none for an untouched one)."""
        if self._begin is not None and not self._pending:
            return
        writes, params = self._writes()
        self.execute(f"{writes}COMMIT", params)

    def get(self, api: str, coll: str, key: str) -> Document | None:
        name = (api, coll, key)
        if name in self._bodies:
            body = self._bodies[name]
        else:
            row = self.execute(_GET, name).fetchone()
            body = self._bodies[name] = row[0] if row else None
        return None if body is None else json.loads(body)

    def put(self, api: str, coll: str, key: str, doc: Document) -> None:
        self._require_write()
        body = json.dumps(doc, separators=(",", ":"))
        self._bodies[api, coll, key] = self._pending[api, coll, key] = body

    def delete(self, api: str, coll: str, key: str) -> bool:
        self._require_write()
        self.flush()
        row = self.execute(
            f"DELETE FROM {DOCS} WHERE api = %s AND coll = %s AND key = %s RETURNING 1",
            (api, coll, key),
        ).fetchone()
        self._bodies[api, coll, key] = None
        return row is not None

    def items(self, api: str, coll: str) -> Iterator[tuple[str, Document]]:
        self.flush()
        rows = self.execute(
            f"SELECT key, body FROM {DOCS} WHERE api = %s AND coll = %s ORDER BY key",
            (api, coll),
        ).fetchall()
        for key, body in rows:
            self._bodies[api, coll, key] = body  # a later get of one of them is answered here
        return ((key, json.loads(body)) for key, body in rows)

    def collections(self) -> dict[str, dict[str, int]]:
        self.flush()
        out: dict[str, dict[str, int]] = {}
        for api, coll, count in self.execute(
            f"SELECT api, coll, COUNT(*) FROM {DOCS} GROUP BY api, coll ORDER BY api, coll"
        ).fetchall():
            out.setdefault(api, {})[coll] = count
        return out

    def seed(self) -> int | None:
        row = self.execute(_SEED).fetchone()
        self.seen_seed = int(row[0]) if row else None
        return self.seen_seed

    def replace(self, records: Records, seed: int) -> None:
        """Every document dropped and `records` loaded instead (under the seeding lock)."""
        self._require_write()
        self._pending.clear()
        self._bodies.clear()
        self.execute(f"DELETE FROM {DOCS}")
        with self.conn.cursor().copy(f"COPY {DOCS} (api, coll, key, body) FROM STDIN") as copy:
            for api, colls in records.items():
                for coll, docs in colls.items():
                    for key, doc in docs.items():
                        copy.write_row((api, coll, key, json.dumps(doc, separators=(",", ":"))))
        self.execute(
            f"INSERT INTO {META} VALUES ('seed', %s)"
            " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            (str(seed),),
        )
        self.seen_seed = seed

    def flush(self) -> None:
        """Send the writes held back so far, before a statement that must see them."""
        writes, params = self._writes()
        if writes:
            self.execute(writes, params)

    def _writes(self) -> tuple[str, list[str]]:
        """The held-back writes as one upsert statement (with its `; `), and its parameters."""
        if not self._pending:
            return "", []
        rows = [(*name, body) for name, body in self._pending.items()]
        self._pending.clear()
        values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
        statement = (
            f"INSERT INTO {DOCS} VALUES {values}"
            " ON CONFLICT (api, coll, key) DO UPDATE SET body = EXCLUDED.body; "
        )
        return statement, [value for row in rows for value in row]


def _server_hung_up(conn: psycopg.Connection) -> bool:
    """An idle connection with something to read was closed by the server (a restart sends a
    FATAL message first); found without a round trip, so no request fails on it."""
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _fetched_true(cursor: Any) -> bool:
    """Whether a one-value query answered true."""
    row = cursor.fetchone()
    return bool(row and row[0])
