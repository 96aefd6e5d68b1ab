"""A throwaway PostgreSQL server on a free loopback port, for the tests and `make bench`.

The server binaries come from the `pgserver` wheel (a dev dependency, so `make test` installs
them on any Linux or macOS machine), else from the system (`postgres` and `initdb` on PATH, or
Debian's /usr/lib/postgresql/*/bin). The data lives in a temporary directory that `stop` removes.

PostgreSQL refuses to run as root. As root (CI, containers) the server runs as `nobody`: the data
directory is handed to that user, and when the binaries are not readable by it (a checkout under
/root) they are copied next to the data first.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

UNPRIVILEGED_USER = "nobody"
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",  # TCP on loopback only: no socket file to place or clean up
    "max_connections": "200",
    "shared_buffers": "128MB",
    "max_pred_locks_per_transaction": "256",
    "log_min_messages": "warning",
}


def binaries() -> Path:
    """The directory holding `initdb` and `postgres`."""
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        wheel = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (wheel / "postgres").exists():
            return wheel
    found = shutil.which("postgres")
    candidates = [found] if found else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
    for candidate in candidates:
        bindir = Path(candidate).resolve().parent
        if (bindir / "initdb").exists():
            return bindir
    raise PostgresError("no PostgreSQL server binaries: pip install pgserver (make test does)")


class PostgresError(RuntimeError):
    """The throwaway server could not be found, set up or started."""


class TempPostgres:
    """initdb in a temp directory, then `postgres` on 127.0.0.1:`port` until `stop`."""

    def __init__(self, *, fsync: bool = True, settings: dict[str, str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mockyard-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.settings = {**SETTINGS, "fsync": "on" if fsync else "off", **(settings or {})}
        self._user = _unprivileged() if os.geteuid() == 0 else None
        self._bin = self._usable_binaries()
        self.process: subprocess.Popen[Any] | None = None
        if self._user:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self, timeout: float = 30.0) -> None:
        """Start the server (again, after `stop(remove=False)`), on the same port and data."""
        options = [f"--{name}={value}" for name, value in self.settings.items()]
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [str(self._bin / "postgres"), "-D", str(self.data), "-p", str(self.port), *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            **self._as_user(),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise PostgresError(f"PostgreSQL did not start: {self.log_tail()}")
            time.sleep(0.05)

    def stop(self, *, remove: bool = True) -> None:
        """Fast shutdown (open sessions are ended); the data directory goes unless kept."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            text = (self.root / "server.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def _accepts(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self._bin / program), *args], check=True, capture_output=True, **self._as_user()
        )

    def _as_user(self) -> dict[str, Any]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _usable_binaries(self) -> Path:
        """The binaries, or a copy the unprivileged user can read and run."""
        found = binaries()
        if self._user is None:
            return found
        try:
            check = subprocess.run(
                [str(found / "postgres"), "--version"], capture_output=True, **self._as_user()
            )
            if check.returncode == 0:
                return found
        except PermissionError:  # a folder on the way is closed to the user
            pass
        # The wheel's binaries find their libraries at $ORIGIN/../../../pgserver.libs: the copy
        # keeps both trees side by side.
        install = found.parent
        package = install.parent
        copy = self.root / "install"
        shutil.copytree(install, copy / package.name / install.name, symlinks=True)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy / libs.name, symlinks=True)
        for folder in (self.root, copy, copy / package.name):
            folder.chmod(0o755)
        return copy / package.name / install.name / found.name


@contextlib.contextmanager
def temp_postgres(**options: object) -> Iterator[TempPostgres]:
    server = TempPostgres(**options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def _unprivileged() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError as exc:
        raise PostgresError(
            f"PostgreSQL cannot run as root and there is no {UNPRIVILEGED_USER!r}"
        ) from exc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
