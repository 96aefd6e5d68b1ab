"""The load generator: wrk with `bench/wrk/walk.lua`, and the figures it reports."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.servers import pin

WALK_LUA = Path(__file__).resolve().parent / "wrk" / "walk.lua"
MARKER = "WRK_JSON "


class LoadError(RuntimeError):
    """wrk is missing, failed, or printed no result line."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run, from walk.lua's done() line."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    errors: dict[str, int]
    issued: int
    wrapped: int
    next_offset: int

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    @property
    def socket_errors(self) -> int:
        """Connect, read, write and timeout errors (wrk's `status` error is counted in non_2xx)."""
        return sum(n for kind, n in self.errors.items() if kind != "status")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["statuses"] = {str(k): v for k, v in sorted(self.statuses.items())}
        data["rps"] = round(self.rps, 1)
        return data


def parse(stdout: str) -> WrkResult:
    """The result line walk.lua's done() prints among wrk's own output."""
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise LoadError(f"wrk printed no {MARKER.strip()} line:\n{stdout[-2000:]}")
    raw = json.loads(lines[-1][len(MARKER) :])
    lat = raw["latency_us"]
    return WrkResult(
        requests=int(raw["requests"]),
        duration_s=raw["duration_us"] / 1e6,
        p50_ms=lat["p50"] / 1000,
        p90_ms=lat["p90"] / 1000,
        p99_ms=lat["p99"] / 1000,
        max_ms=lat["max"] / 1000,
        statuses={int(k): int(v) for k, v in raw["statuses"].items()},
        errors={k: int(v) for k, v in raw["errors"].items()},
        issued=int(raw["issued"]),
        wrapped=int(raw["wrapped"]),
        next_offset=int(raw["next_offset"]),
    )


@dataclass(frozen=True)
class Wrk:
    """How wrk is run: connections, threads, and the CPUs it is pinned to (if any)."""

    connections: int = 16
    threads: int = 2
    cpu_list: Sequence[int] | None = None
    timeout_s: int = 10
    stride: int | None = None  # entries between a thread's requests [default: threads]; two
    # wrk runs in parallel, each with one thread, stride 2 and offsets o and o + 1, share a list

    def command(self, url: str, request_list: Path, seconds: float, offset: int) -> list[str]:
        return [
            *pin(self.cpu_list),
            "wrk",
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={self.timeout_s}s",
            "--latency",
            "-s",
            str(WALK_LUA),
            url,
            "--",
            str(request_list),
            str(offset),
            str(self.stride or self.threads),
        ]

    def run(self, url: str, request_list: Path, seconds: float, offset: int = 0) -> WrkResult:
        """One wrk run against `url`, walking `request_list` from `offset`."""
        if shutil.which("wrk") is None:
            raise LoadError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
        command = self.command(url, request_list, seconds, offset)
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise LoadError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
        return parse(done.stdout)


def run_parallel(
    wrk: Wrk, urls: Sequence[str], request_list: Path, seconds: float, offset: int = 0
) -> WrkResult:
    """One wrk per URL at once (a server each), sharing one walk of `request_list`: run i takes
    entries offset + i, offset + i + n, ... (`wrk.stride` must be n, with one thread each)."""
    assert wrk.threads == 1 and wrk.stride == len(urls)
    with ThreadPoolExecutor(len(urls)) as pool:
        runs = list(
            pool.map(
                lambda i: wrk.run(urls[i], request_list, seconds, offset + i), range(len(urls))
            )
        )
    return combined(runs)


def combined(runs: Sequence[WrkResult]) -> WrkResult:
    """Parallel runs as one: counts added, throughput over the longest run. wrk reports only
    percentiles, which cannot be merged exactly: p90, p99 and max are the worst run's, p50 the
    mean of the runs' medians."""
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    for run in runs:
        for status, n in run.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
        for kind, n in run.errors.items():
            errors[kind] = errors.get(kind, 0) + n
    return WrkResult(
        requests=sum(r.requests for r in runs),
        duration_s=max(r.duration_s for r in runs),
        p50_ms=sum(r.p50_ms for r in runs) / len(runs),
        p90_ms=max(r.p90_ms for r in runs),
        p99_ms=max(r.p99_ms for r in runs),
        max_ms=max(r.max_ms for r in runs),
        statuses=statuses,
        errors=errors,
        issued=sum(r.issued for r in runs),
        wrapped=sum(r.wrapped for r in runs),
        next_offset=max(r.next_offset for r in runs),
    )
