"""The load generator: wrk with `bench/wrk/walk.lua`, and the figures it reports."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
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
            str(self.threads),
        ]

    def run(self, url: str, request_list: Path, seconds: float, offset: int = 0) -> WrkResult:
        if shutil.which("wrk") is None:
            raise LoadError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
        command = self.command(url, request_list, seconds, offset)
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise LoadError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
        return parse(done.stdout)
