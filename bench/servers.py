"""The servers under test: start one on a free loopback port, wait for its first 200, stop it.

Every server is a child process in its own session, so stopping it (SIGTERM, then SIGKILL to its
process group) also stops any worker processes it spawned, even when the harness fails midway.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    """A server exited or never answered 200; carries the tail of its log."""


@dataclass(frozen=True)
class Probe:
    """The request that proves a server is up: it must answer 200."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class App:
    """How to run one server: argv after the interpreter, with `{port}` filled in at start."""

    name: str
    args: tuple[str, ...]
    program: str = ""  # what runs `args`: this Python by default (Prism: its node script)
    env: tuple[tuple[str, str], ...] = ()  # added to the environment it starts in

    def command(self, port: int, *extra: str) -> list[str]:
        program = self.program or sys.executable
        return [program, *(a.format(port=port) for a in self.args), *extra]


def mockyard_specs(*files: Path) -> App:
    """`mockyard serve --spec FILE ...`: spec files alone, as a user tries a public spec."""
    specs = [a for f in files for a in ("--spec", str(f))]
    return App("mockyard", ("-m", "mockyard.cli", "serve", *specs, "--port", "{port}", "-q"))


def mockyard(workspace: Path = ROOT, *extra: str) -> App:
    """`mockyard serve` of a workspace, as a user runs it."""
    return App(
        "mockyard",
        ("-m", "mockyard.cli", "serve", "--workspace", str(workspace), "--port", "{port}", *extra),
    )


STARLETTE = App("starlette", ("-m", "bench.baselines.starlette_app", "--port", "{port}"))
CONNEXION_MOCK = App("connexion-mock", ("-m", "bench.baselines.connexion_mock", "--port", "{port}"))


def cpus() -> list[int]:
    """The CPUs this process may run on."""
    return sorted(os.sched_getaffinity(0))


def pin(cpu_list: Sequence[int] | None) -> list[str]:
    """A `taskset` prefix binding a command to `cpu_list`; nothing when it can't or needn't."""
    if not cpu_list or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", ",".join(map(str, cpu_list))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server: its base URL, process, log and how long it took to answer 200."""

    app: App
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    command: list[str]
    ready_s: float = 0.0

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's spawned workers, else the server itself."""
        workers = [
            pid
            for pid in _children(self.process.pid)
            if b"spawn_main" in _read(f"/proc/{pid}/cmdline")
        ]
        return workers or [self.process.pid]

    def peak_rss_kib(self) -> dict[int, int]:
        """Peak resident memory (VmHWM) of each worker process so far, by pid."""
        return {pid: kib for pid in self.worker_pids() if (kib := vm_hwm_kib(pid)) is not None}

    def stop(self) -> None:
        """SIGTERM, up to 20 s for a graceful exit, then SIGKILL to whatever is left of its
        session. The server is reaped last, so its process-group id can't have been reused."""
        pid = self.process.pid
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not _exited(pid):
                time.sleep(0.05)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start(
    app: App,
    log_dir: Path,
    probe: Probe,
    *extra: str,
    cpu_list: Sequence[int] | None = None,
    timeout: float = 90.0,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """Start `app` (on `port`, else a free one; `env` added to the environment) and poll
    `probe` until it answers 200; `ready_s` is start → that 200."""
    port = port or free_port()
    command = [*pin(cpu_list), *app.command(port, *extra)]
    log = log_dir / f"{app.name}-{port}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **dict(app.env), **(env or {})}
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = Server(app, f"http://127.0.0.1:{port}", port, process, log, command)
    try:
        server.ready_s = _wait_for_200(server, probe, started, timeout)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running(
    app: App,
    log_dir: Path,
    probe: Probe,
    *extra: str,
    cpu_list: Sequence[int] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """A started server, stopped when the block ends, however it ends."""
    server = start(app, log_dir, probe, *extra, cpu_list=cpu_list, env=env)
    try:
        yield server
    finally:
        server.stop()


def await_workers(server: Server, workers: int, timeout: float = 60.0) -> None:
    """Poll mockyard's /__mockyard/health on fresh connections until `workers` distinct worker
    pids have answered, so no worker is still booting when the load starts."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers and time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", "/__mockyard/health")
            seen.add(json.loads(conn.getresponse().read())["worker"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
        finally:
            conn.close()
    if len(seen) < workers:
        raise ServerError(f"only {len(seen)} of {workers} workers answered:\n{server.log_tail()}")


def _wait_for_200(server: Server, probe: Probe, started: float, timeout: float) -> float:
    deadline = started + timeout
    last = "no answer"
    while time.perf_counter() < deadline:
        if _exited(server.process.pid):
            raise ServerError(
                f"{server.app.name} exited before answering 200:\n{server.log_tail()}"
            )
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request(probe.method, probe.path, body=probe.body or None, headers=probe.headers)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return time.perf_counter() - started
            last = f"status {response.status}"
        except OSError as exc:
            last = repr(exc)
        finally:
            conn.close()
        time.sleep(0.005)
    raise ServerError(
        f"{server.app.name}: no 200 within {timeout:.0f} s ({last}):\n{server.log_tail()}"
    )


def _exited(pid: int) -> bool:
    """Whether `pid` (our child) has exited, without reaping it."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        kids += [int(p) for p in _read(f"{task}/children").split()]
    return kids


def vm_hwm_kib(pid: int) -> int | None:
    """A process's peak resident set size (VmHWM) in KiB, or None once it is gone."""
    for line in _read(f"/proc/{pid}/status").decode(errors="replace").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None
