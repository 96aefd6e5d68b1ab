"""`serve`'s start. Checks of its options that only this machine can answer (is the state
file a usable SQLite file, can the address be listened on): each failure is a `StartError`
(exit 2) naming the option, raised before any banner, so a start that cannot work ends in one
line, not a traceback from SQLite or uvicorn half-way through.

The collector is paused while the sandbox is built (`long_lived`): see its docstring.

The address is tried the way uvicorn will bind it (every address the host resolves to, with
`SO_REUSEADDR`) and released at once: another process could still take the port in between,
and uvicorn then reports that itself.
"""

from __future__ import annotations

import errno
import gc
import socket
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mockyard.errors import StartError

SQLITE_MAGIC = b"SQLite format 3\x00"
OWN_TABLES = frozenset({"docs", "meta"})  # what `store.Store` creates; anything else is not ours
_HINTS = {
    errno.EADDRINUSE: "another server holds the port; stop it or pass another --port",
    errno.EADDRNOTAVAIL: "no interface of this machine has that address",
    errno.EACCES: "ports below 1024 need root",
}


@contextmanager
def long_lived() -> Iterator[None]:
    """Build what lives as long as the server with the cyclic collector paused, then freeze it.

    A start makes objects that live until the server stops (the spec, its index, the app):
    millions for a 13 MB spec. Every full collection walks them all, which is 0.2 s of a
    13 MB warm start, and, while serving, a pause in the middle of some request (12 ms for
    this repository's workspace). Frozen (CPython's `gc.freeze`), they are out of the
    collector's sight; what the start left as cyclic garbage stays too (peak RSS measured
    unchanged).
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def state_file(path: str) -> None:
    """Refuse a `--state` that SQLite could not use, or that holds another program's data."""
    file = Path(path).absolute()
    parent = file.parent
    try:
        missing, not_dir = not parent.exists(), not parent.is_dir()
    except OSError as exc:  # a directory on the way that this user may not enter
        message = f"--state {path}: cannot reach {parent} ({_reason(exc)})"
        raise StartError(message, option="--state") from None
    if missing:
        raise StartError(f"--state {path}: the directory {parent} does not exist", option="--state")
    if not_dir:
        raise StartError(f"--state {path}: {parent} is not a directory", option="--state")
    try:  # the store writes its WAL and lock files next to the state file
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        message = f"--state {path}: cannot write in {parent} ({_reason(exc)})"
        raise StartError(message, option="--state") from None
    if not file.exists():
        return
    if not file.is_file():
        raise StartError(f"--state {path}: not a regular file", option="--state")
    try:
        with file.open("r+b") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        message = f"--state {path}: cannot be written ({_reason(exc)})"
        raise StartError(message, option="--state") from None
    if not head:
        return  # an empty file is a new database to SQLite
    if head != SQLITE_MAGIC:
        message = f"--state {path}: not an SQLite database; name a new file or an earlier state"
        raise StartError(message, option="--state")
    foreign = _tables(file, path) - OWN_TABLES
    if foreign:
        message = (
            f"--state {path}: an SQLite database of something else (tables: "
            f"{', '.join(sorted(foreign))}); mockyard keeps its state in a file of its own"
        )
        raise StartError(message, option="--state")


def _tables(file: Path, path: str) -> set[str]:
    try:
        conn = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        message = f"--state {path}: not a readable SQLite database ({exc})"
        raise StartError(message, option="--state") from None
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def listen_address(host: str, port: int) -> str:
    """Refuse an address that cannot be listened on; returns the host as uvicorn takes it
    (`[::1]` without its brackets)."""
    bare = host.strip().removeprefix("[").removesuffix("]")
    where = f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"
    try:
        found = socket.getaddrinfo(
            bare or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError) as exc:
        message = f"cannot listen on {host!r}: {getattr(exc, 'strerror', None) or exc}"
        raise StartError(message, option="--host") from None
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                hint = _HINTS.get(exc.errno or 0)
                message = f"cannot listen on {where}: {_reason(exc)}" + (
                    f" ({hint})" if hint else ""
                )
                option = "--port" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "--host"
                raise StartError(message, option=option) from None
    return bare


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
