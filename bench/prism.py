"""Prism (Stoplight's OpenAPI mock server), run beside mockyard on the same spec files.

Installed with npm into `bench/.prism/` (git-ignored), never globally: `install()`, or
`python -m bench.prism install`. Then, like any other server under test:

    with prism.running(Path("specs/big.yaml"), log_dir, probe) as server:   # a free port
        ...  server.url, server.ready_s, server.peak_rss_kib()

    server = prism.start(spec, log_dir, probe, port=4010, dynamic=True)   # a chosen port
    server.stop()

`python -m bench.prism serve SPEC [--port N] [--dynamic]` runs it in the foreground.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.servers import ROOT, App, Probe, Server
from bench.servers import start as start_server

VERSION = "5.16.0"
PACKAGE = f"@stoplight/prism-cli@{VERSION}"
HOME = ROOT / "bench" / ".prism"
EXECUTABLE = HOME / "node_modules" / ".bin" / "prism"


class PrismUnavailable(RuntimeError):
    """Prism is not installed and cannot be (no npm, or npm failed)."""


def installed() -> bool:
    return EXECUTABLE.exists() and _installed_version() == VERSION


def install() -> Path:
    """Install Prism into `bench/.prism/` unless it is there already; returns the executable."""
    if installed():
        return EXECUTABLE
    npm = shutil.which("npm")
    if npm is None:
        raise PrismUnavailable("npm is not installed (apt-get install npm)")
    HOME.mkdir(parents=True, exist_ok=True)
    quiet = ("--no-audit", "--no-fund", "--loglevel=error")
    done = subprocess.run(
        [npm, "install", "--prefix", str(HOME), *quiet, PACKAGE],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 or not installed():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PrismUnavailable(f"npm install {PACKAGE} failed: {' '.join(tail)}")
    return EXECUTABLE


def app(spec: Path, *, dynamic: bool = False) -> App:
    """`prism mock` of `spec` on 127.0.0.1 (`{port}` filled in at start)."""
    args = ("mock", "-h", "127.0.0.1", "-p", "{port}", *(["--dynamic"] if dynamic else []))
    return App("prism", (*args, str(Path(spec).resolve())), program=str(EXECUTABLE))


def start(
    spec: Path,
    log_dir: Path,
    probe: Probe,
    *,
    port: int | None = None,
    dynamic: bool = False,
    cpu_list: Sequence[int] | None = None,
    timeout: float = 300.0,
) -> Server:
    """Start Prism on `spec` and wait until `probe` answers 200 (`install()` first)."""
    install()
    return start_server(
        app(spec, dynamic=dynamic), log_dir, probe, cpu_list=cpu_list, timeout=timeout, port=port
    )


@contextmanager
def running(spec: Path, log_dir: Path, probe: Probe, **options: object) -> Iterator[Server]:
    """A started Prism, stopped when the block ends, however it ends."""
    server = start(spec, log_dir, probe, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def _installed_version() -> str:
    package = HOME / "node_modules" / "@stoplight" / "prism-cli" / "package.json"
    try:
        return str(json.loads(package.read_text(encoding="utf-8")).get("version", ""))
    except (OSError, ValueError):
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.prism", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help=f"npm install {PACKAGE} into {HOME}")
    serve = sub.add_parser("serve", help="run prism mock on a spec in the foreground")
    serve.add_argument("spec", type=Path)
    serve.add_argument("--port", type=int, default=4010)
    serve.add_argument("--dynamic", action="store_true")
    opts = parser.parse_args(argv)
    try:
        install()
    except PrismUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if opts.command == "install":
        print(f"prism {VERSION}: {EXECUTABLE}")
        return 0
    command = app(opts.spec, dynamic=opts.dynamic).command(opts.port)
    return subprocess.call(command)


if __name__ == "__main__":
    raise SystemExit(main())
