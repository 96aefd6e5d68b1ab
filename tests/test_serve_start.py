"""`mockyard serve` that cannot start says why in one line and exits 2, before any banner.

Each case runs the real command in a child process, so what is checked is what a user sees: one
line `error: …` on stderr, nothing on stdout (the banner), exit status 2, no traceback. click's
own usage errors (a port out of range, an unknown option) take the same form.

The address that cannot be bound is 192.0.2.1 (TEST-NET-1, reserved for documentation and
assigned to no interface): bind() fails in the kernel and nothing is sent anywhere.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

from mockyard import startup
from mockyard.errors import StartError

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2  # <linux/prctl.h>, capability.h


def serve(*args: str, as_plain_user: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MOCKYARD_ADMIN_TOKEN"}
    cmd = [sys.executable, "-m", "mockyard.cli", "serve", "--workspace", str(ROOT), *args]
    drop = _drop_root_file_powers if as_plain_user and os.geteuid() == 0 else None
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env=env, preexec_fn=drop
    )


def _drop_root_file_powers() -> None:
    """In the child, before exec: root without the capabilities that let it write anywhere, so
    permission bits apply to it as to any user (CI runs as root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""  # no banner: the refusal comes first
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_port_in_use(taken_port: int) -> None:
    assert_refused(
        serve("--port", str(taken_port)), f"127.0.0.1:{taken_port}", "address already in use"
    )


def test_an_address_no_interface_has() -> None:
    done = serve("--host", "192.0.2.1", "--admin-token", "t", "--port", "9000")
    assert_refused(done, "192.0.2.1:9000", "no interface")


BAD_OPTIONS = [
    (["--port", "99999"], ["--port", "99999", "1<=x<=65535"]),
    (["--port", "-1"], ["--port", "-1"]),
    (["--port", "0"], ["--port"]),
    (["--port", "nine"], ["--port", "nine"]),
    (["--workers", "0"], ["--workers", "0"]),
    (["--latency", "soon"], ["--latency", "soon"]),
    (["--latency", "400-100"], ["--latency", "400-100"]),
    (["--prot", "9000"], ["--prot"]),
    (["--port"], ["--port"]),
    (["--reload", "--workers", "2"], ["--reload"]),
    (["surplus"], ["surplus"]),
]


@pytest.mark.parametrize(("args", "words"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_a_bad_option_is_one_line(args: list[str], words: list[str]) -> None:
    assert_refused(serve(*args), *words)


def test_a_state_file_in_a_missing_directory(tmp_path: Path) -> None:
    state = tmp_path / "nope" / "state.sqlite3"
    assert_refused(serve("--state", str(state)), "--state", "does not exist")


def test_a_state_file_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    state = tmp_path / "notes.txt" / "state.sqlite3"
    assert_refused(serve("--state", str(state)), "--state", "not a directory")


def test_a_state_file_that_is_not_a_file() -> None:
    assert_refused(serve("--state", os.devnull), "--state", "not a regular file")


def test_a_state_file_that_is_a_directory(tmp_path: Path) -> None:
    assert_refused(serve("--state", str(tmp_path)), "--state")


def test_a_state_file_that_is_not_sqlite(tmp_path: Path) -> None:
    text = tmp_path / "state.sqlite3"
    text.write_text("seed: 1\n")
    assert_refused(serve("--state", str(text)), "--state", "not an SQLite database")
    assert text.read_text() == "seed: 1\n"  # left as it was


def test_a_corrupt_sqlite_file(tmp_path: Path) -> None:
    broken = tmp_path / "state.sqlite3"
    broken.write_bytes(startup.SQLITE_MAGIC + b"\xff" * 200)
    assert_refused(serve("--state", str(broken)), "--state", "not a readable SQLite database")


def test_another_programs_sqlite_database(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    assert_refused(serve("--state", str(other)), "--state", "tables: users")
    with sqlite3.connect(other) as conn:  # not touched: no mockyard table was added
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"users"}


def test_a_state_file_in_a_directory_this_user_cannot_write() -> None:
    """As root every directory is writable, so there the command runs without root's power to
    override permission bits."""
    locked = Path(tempfile.mkdtemp(prefix="mockyard-ro-"))
    try:
        locked.chmod(0o555)
        done = serve("--state", str(locked / "state.sqlite3"), as_plain_user=True)
        assert_refused(done, "--state", "cannot write in", "permission denied")
    finally:
        locked.chmod(0o755)
        locked.rmdir()


@pytest.mark.parametrize("content", [b"", None])
def test_a_new_or_empty_state_file_is_accepted(tmp_path: Path, content: bytes | None) -> None:
    state = tmp_path / "state.sqlite3"
    if content is not None:
        state.write_bytes(content)
    startup.state_file(str(state))  # no StartError


def test_a_state_file_mockyard_made_is_accepted(tmp_path: Path) -> None:
    from mockyard.store import open_store

    state = tmp_path / "state.sqlite3"
    open_store(str(state)).run(lambda tx: tx.seed(), write=False)  # creates the tables
    startup.state_file(str(state))


def test_start_errors_name_their_option(taken_port: int, tmp_path: Path) -> None:
    with pytest.raises(StartError) as busy:
        startup.listen_address("127.0.0.1", taken_port)
    with pytest.raises(StartError) as missing:
        startup.state_file(str(tmp_path / "no" / "s.sqlite3"))
    assert (busy.value.option, busy.value.exit_code) == ("--port", 2)
    assert (missing.value.option, missing.value.exit_code) == ("--state", 2)


def test_a_bracketed_ipv6_host_is_what_uvicorn_takes() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            free = probe.getsockname()[1]
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    assert startup.listen_address("[::1]", free) == "::1"
