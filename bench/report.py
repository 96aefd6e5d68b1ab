"""Issue 7's targets, checked against one run's results, and the table `make bench` prints."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MOCKYARD, CONNEXION, STARLETTE, TWO_WORKERS, PG_TWO, PRISM, BEFORE = (
    "mockyard",
    "connexion-mock",
    "starlette",
    "mockyard-2w",
    "mockyard-pg-2i",
    "prism",
    "mockyard-before",
)
APPS = (STARLETTE, CONNEXION, PRISM, BEFORE, MOCKYARD, TWO_WORKERS, PG_TWO)
LABELS = {
    STARLETTE: "starlette (ceiling)",
    CONNEXION: "connexion mock",
    PRISM: "prism static mock",
    MOCKYARD: "mockyard",
    TWO_WORKERS: "mockyard, 2 workers",
    PG_TWO: "mockyard, 2 on PG",
    BEFORE: "mockyard before",
}
OPERATIONS = ("validate", "pay")
RESOURCE_OPERATIONS = ("resource create", "resource read")  # mockyard only: no baseline has them


@dataclass(frozen=True)
class Target:
    """One target of issue 7: `value` compared with `limit`; None when it was not measured."""

    name: str
    value: float | None
    limit: float
    unit: str
    at_least: bool

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        compare: Callable[[float, float], bool] = operator.ge if self.at_least else operator.le
        return compare(self.value, self.limit)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": None if self.value is None else round(self.value, 3),
            "limit": self.limit,
            "unit": self.unit,
            "at_least": self.at_least,
            "met": self.met,
        }


def _rps(results: Mapping[str, Any], op: str, app: str) -> float | None:
    run = results["scenarios"].get(op, {}).get(app)
    return run["measured"]["rps"] if run else None


def ratio(results: Mapping[str, Any], op: str, app: str, base: str) -> float | None:
    mine, theirs = _rps(results, op, app), _rps(results, op, base)
    return mine / theirs if mine is not None and theirs else None


def targets(results: Mapping[str, Any]) -> list[Target]:
    out = []
    for op in OPERATIONS:
        run = results["scenarios"].get(op, {}).get(MOCKYARD)
        p99 = run["measured"]["p99_ms"] if run else None
        out += [
            Target(
                f"{op} vs connexion mock", ratio(results, op, MOCKYARD, CONNEXION), 2.3, "×", True
            ),
            Target(
                f"{op} vs bare starlette", ratio(results, op, MOCKYARD, STARLETTE), 0.25, "×", True
            ),
            Target(f"{op} p99", p99, 15.0, "ms", False),
            Target(f"{op} vs prism static", ratio(results, op, MOCKYARD, PRISM), 1.2, "×", True),
        ]
        if BEFORE in results["scenarios"].get(op, {}):  # issue 14: at least as fast as before
            out.append(
                Target(
                    f"{op} vs earlier commit", ratio(results, op, MOCKYARD, BEFORE), 1.0, "×", True
                )
            )
    cold = {app: c["median_s"] for app, c in results["cold_start"].items()}
    out.append(Target("cold start", cold.get(MOCKYARD), 0.7, "s", False))
    if cold.get(BEFORE):
        out.append(
            Target("cold start ÷ earlier commit", cold[MOCKYARD] / cold[BEFORE], 1.0, "×", False)
        )
    for op in OPERATIONS:
        out.append(
            Target(
                f"{op}: 2 workers vs 1", ratio(results, op, TWO_WORKERS, MOCKYARD), 1.7, "×", True
            )
        )
    pay_pg = results["scenarios"].get("pay", {}).get(PG_TWO)
    out += [
        Target(
            "pay: 2 on PG vs 1 SQLite",
            ratio(results, "pay", PG_TWO, MOCKYARD),
            1.3,
            "×",
            True,
        ),
        Target(
            "pay p99, 2 on PG",
            pay_pg["measured"]["p99_ms"] if pay_pg else None,
            20.0,
            "ms",
            False,
        ),
    ]
    rss = [results["rss_mb"][app] for app in (MOCKYARD, TWO_WORKERS) if app in results["rss_mb"]]
    out.append(Target("peak RSS per worker", max(rss, default=None), 150.0, "MB", False))
    out.append(Target("contract run", results["contract"].get("wall_s"), 60.0, "s", False))
    return out + big_spec_targets(results)


BIG_LIMITS = {  # issue 16: (cold start s, peak RSS MB) per generated spec
    "4 MB YAML, 450 operations": (3.0, 150.0),
    "13 MB JSON, 1,000 operations": (10.0, 300.0),
}


def big_spec_targets(results: Mapping[str, Any]) -> list[Target]:
    """Issue 16's start-up targets, when the big-spec starts were measured."""
    big = results.get("big_specs")
    if not big:
        return []
    out = []
    for label, (seconds, mb) in BIG_LIMITS.items():
        f = big.get(label, {})
        short = label.split(",")[0]
        rss = max(
            (v for v in (f.get("mockyard_cold_rss_mb"), f.get("mockyard_warm_rss_mb")) if v),
            default=None,
        )
        out += [
            Target(f"{short} cold start", f.get("mockyard_cold_s"), seconds, "s", False),
            Target(f"{short} peak RSS", rss, mb, "MB", False),
        ]
    warm = [f["mockyard_warm_s"] for f in big.values() if f.get("mockyard_warm_s") is not None]
    out.append(Target("big spec warm start", max(warm, default=None), 1.0, "s", False))
    return out


def _big_lines(big: Mapping[str, Any]) -> list[str]:
    if not big:
        return []
    lines = [
        "",
        "starts on big generated specs, process start → first 200 of a list operation "
        "(mockyard warm: its startup cache filled; Prism keeps none):",
    ]
    for label, f in big.items():
        prism = f.get("prism_s")
        mine = f.get("mockyard_cold_s")
        if prism is not None and mine:
            theirs = (
                f"Prism {prism:.2f} s, {f.get('prism_rss_mb') or 0:.0f} MB = {prism / mine:.1f}×"
            )
        elif f.get("prism_over_s") and mine:
            theirs = f"Prism {f['prism_note']} = over {f['prism_over_s'] / mine:.1f}×"
        else:
            theirs = f"Prism {f.get('prism_note', '—')}"
        lines.append(
            f"  {label} ({f['size_mb']:g} MB): mockyard cold {_num(mine, 2)} s, "
            f"{_num(f.get('mockyard_cold_rss_mb'))} MB; warm {_num(f.get('mockyard_warm_s'), 2)} s,"
            f" {_num(f.get('mockyard_warm_rss_mb'))} MB; {theirs}"
        )
    return lines


def _label(results: Mapping[str, Any], app: str) -> str:
    """An app's name in the table; the earlier commit is named by its hash."""
    if app == BEFORE and "before" in results:
        return f"mockyard {results['before']['commit']}"
    return LABELS[app]


def _num(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


def _mark(met: bool | None) -> str:
    return {True: "✓", False: "✗", None: "–"}[met]


def table(results: Mapping[str, Any]) -> str:
    """The whole report as text."""
    s = results["settings"]
    m = results["machine"]
    lines = [
        f"mockyard bench, {m['date']} on {m['cpu']} ({m['cpus']} CPUs), load {m['loadavg_start']}",
        f"{s['connections']} connections, {s['duration_s']:g} s measured after {s['warmup_s']:g} s"
        f" warm-up; {s['pinning']}",
        "",
        f"{'scenario':<30}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'×connexion':>12}{'×starlette':>12}{'non-2xx':>9}",
    ]
    for op in OPERATIONS + RESOURCE_OPERATIONS:
        for app in APPS:
            run = results["scenarios"].get(op, {}).get(app)
            if not run:
                continue
            r = run["measured"]
            cx = ratio(results, op, app, CONNEXION) if app != CONNEXION else None
            st = ratio(results, op, app, STARLETTE) if app != STARLETTE else None
            extra = ""
            if app == TWO_WORKERS:
                extra = f"   {_num(ratio(results, op, app, MOCKYARD), 2)}× one worker"
            if app == PG_TWO:
                extra = f"   {_num(ratio(results, op, app, MOCKYARD), 2)}× one on SQLite"
            if app == MOCKYARD:
                extra = "".join(
                    f"   {_num(ratio(results, op, app, other), 2)}× {name}"
                    for other, name in ((PRISM, "prism"), (BEFORE, "earlier commit"))
                    if other in results["scenarios"].get(op, {})
                )
            name = f"{op}  {_label(results, app)}"
            lines.append(
                f"{name:<30}{_num(r['rps']):>10}{_num(r['p50_ms'], 2):>9}"
                f"{_num(r['p99_ms'], 2):>9}{_num(cx, 2, '×'):>12}{_num(st, 2, '×'):>12}"
                f"{r['non_2xx'] + r['socket_errors']:>9}{extra}"
            )
    cold = results["cold_start"]
    lines += [
        "",
        "cold start, process start → first 200 of a validate, median of "
        f"{s['cold_runs']}: "
        + ", ".join(f"{_label(results, a)} {_num(c['median_s'], 2)} s" for a, c in cold.items()),
        "peak RSS per worker (VmHWM): "
        + ", ".join(f"{_label(results, a)} {_num(v)} MB" for a, v in results["rss_mb"].items()),
        f"contract run: {results['contract']['summary']}",
        *_profile_lines(results.get("pay_profile") or {}),
        *_big_lines(results.get("big_specs") or {}),
        "",
        "targets (issues 7 and 14; big specs: issue 16)",
    ]
    for t in targets(results):
        value = _num(t.value, 2 if t.unit in ("×", "s") else 1)
        sign = "≥" if t.at_least else "≤"
        lines.append(
            f"  {_mark(t.met)} {t.name:<26}{value:>10} {t.unit:<3} ({sign} {t.limit:g} {t.unit})"
        )
    for failure in results["failures"]:
        lines.append(f"FAILED: {failure}")
    return "\n".join(lines)


def _profile_lines(profile: Mapping[str, Any]) -> list[str]:
    """Where one pay's time goes, per backend (see `bench.profile`)."""
    if not profile:
        return []
    parts = next(iter(profile.values()))["parts_us"]
    lines = [
        "",
        "one pay, in process, one at a time (µs):  "
        + "  ".join(f"{name:>12}" for name in [*parts, "total"]),
    ]
    for backend, figures in profile.items():
        cells = [*figures["parts_us"].values(), figures["total_us"]]
        lines.append(f"  {backend:<39}" + "  ".join(f"{v:>12,.0f}" for v in cells))
    return lines
