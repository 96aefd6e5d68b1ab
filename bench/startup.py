"""Starting on big specs: mockyard's cold and warm start beside Prism's, on the same files.

The bench makes its own specs (`bigspec`: a Stripe-sized 4 MB YAML of 450 operations, a
GitHub-sized 13 MB JSON of 1,000), so no public spec is downloaded. For each:

- mockyard cold: `mockyard serve --spec FILE` with an empty startup cache, from process start
  to the first 200 of a list operation;
- mockyard warm: the same again, the cache now filled (what every later start of that spec is);
- Prism 5.16: `prism mock FILE`, to its first 200 of the same request (it keeps no cache);
- the peak RSS (VmHWM) of each server once it answers.

Prism's time over mockyard's is the ratio reported (above 1: mockyard starts faster). Prism can
take minutes on these; past `prism_timeout` it is stopped and reported as "over" that time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import bigspec, prism, servers
from bench.servers import Probe, ServerError

SPECS = {
    "4 MB YAML, 450 operations": ("big.yaml", bigspec.STRIPE_LIKE),
    "13 MB JSON, 1,000 operations": ("huge.json", bigspec.GITHUB_LIKE),
}


def measure(
    scratch: Path,
    *,
    cpu_list: Sequence[int] | None,
    with_prism: bool = True,
    prism_timeout: float = 300.0,
) -> dict[str, Any]:
    """{spec label: figures}, each server started and stopped in turn."""
    out: dict[str, Any] = {}
    for label, (name, size) in SPECS.items():
        spec = bigspec.write(scratch / name, size)
        probe = Probe("GET", bigspec.first_list_route(size), {"Authorization": "Bearer bench"})
        cache = scratch / f"cache-{spec.stem}"
        figures: dict[str, Any] = {
            "file": spec.name,
            "size_mb": round(spec.stat().st_size / 1e6, 1),
            "operations": size.operations,
        }
        for phase in ("cold", "warm"):
            server = servers.start(
                servers.mockyard_specs(spec),
                scratch,
                probe,
                cpu_list=cpu_list,
                timeout=180,
                env={"MOCKYARD_CACHE_DIR": str(cache)},
            )
            figures[f"mockyard_{phase}_s"] = round(server.ready_s, 2)
            figures[f"mockyard_{phase}_rss_mb"] = _mb(server)
            server.stop()
        figures.update(_prism(spec, scratch, probe, cpu_list, with_prism, prism_timeout))
        out[label] = figures
    return out


def _prism(
    spec: Path,
    scratch: Path,
    probe: Probe,
    cpu_list: Sequence[int] | None,
    wanted: bool,
    timeout: float,
) -> dict[str, Any]:
    if not wanted:
        return {"prism_s": None, "prism_note": "skipped (--no-prism)"}
    try:
        server = prism.start(spec, scratch, probe, cpu_list=cpu_list, timeout=timeout)
    except prism.PrismUnavailable as exc:
        return {"prism_s": None, "prism_note": f"n/a ({exc})"}
    except ServerError as exc:
        if "no 200 within" in str(exc):
            return {"prism_s": None, "prism_over_s": timeout, "prism_note": f"over {timeout:g} s"}
        raise
    try:
        return {"prism_s": round(server.ready_s, 2), "prism_rss_mb": _mb(server)}
    finally:
        server.stop()


def _mb(server: servers.Server) -> float | None:
    peak = max(server.peak_rss_kib().values(), default=None)
    return None if peak is None else round(peak * 1024 / 1e6, 1)
