"""`make bench`: mockyard against its ceiling and Connexion's mock, measured in one run.

Scenarios, each on a server started for it on a free 127.0.0.1 port and stopped after it:

- cold start: process start → first 200 of a validate request, for mockyard (fresh state, seeded
  at start), Connexion's mock and bare Starlette, interleaved, median of `--cold-runs`;
- validate and pay at 16 connections: bare Starlette, Connexion's mock, Prism 5.16's static mock
  of the same spec (`prism mock specs/cargoextra.yaml`, its examples), mockyard with one worker
  (server pinned to one CPU, wrk to another, when the machine has two), then mockyard with two
  workers on one shared state (nothing pinned: the workers need both CPUs), then two mockyard
  instances on one PostgreSQL database (a throwaway server), each loaded by its own wrk with
  half the connections, as a load balancer would share them;
- where a pay's time goes on each backend (`bench.profile`, in process, one pay at a time);
- a create and a read of an inferred resource (the pet store of `tests/resource_workspace/`, no
  handler), mockyard with one worker, the reads on the state the creates left;
- the same cold start, validate and pay for an earlier commit of mockyard (`--before`, by default
  the commit the request pipeline was redesigned from), interleaved with this one's;
- the peak RSS of every worker process, read from /proc at the end of each load scenario;
- the wall time of `mockyard contract` against a fresh sandbox, when the command exists;
- cold and warm starts on big generated specs (4 MB, 13 MB) beside Prism's (`startup`).

Exit status 1 when a measurement is not trustworthy (a non-2xx answer, a socket error, a pay list
that ran out), or, with `--check`, when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import before, loadgen, prism, profile, report, servers, startup, workload
from bench.machine import describe_machine
from bench.report import BEFORE, CONNEXION, MOCKYARD, PG_TWO, PRISM, STARLETTE, TWO_WORKERS
from bench.servers import ROOT, App, Probe
from mockyard import pgtemp

RESULTS = ROOT / "bench" / "results" / "latest.json"
RESOURCES = ROOT / "tests" / "resource_workspace"
CARGOEXTRA_SPEC = ROOT / "specs" / "cargoextra.yaml"  # what validate and pay are served from


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--cold-runs", type=int, default=5, help="cold starts per app")
    parser.add_argument(
        "--pay-invoices",
        type=int,
        default=150_000,
        help="distinct payable invoices in the pay state (the list must outlast both pay runs)",
    )
    parser.add_argument("--no-contract", action="store_true", help="skip the contract run")
    parser.add_argument(
        "--no-big-specs", action="store_true", help="skip the starts on big generated specs"
    )
    parser.add_argument("--no-prism", action="store_true", help="big specs: skip Prism")
    parser.add_argument(
        "--prism-timeout", type=float, default=300.0, help="big specs: seconds Prism may take"
    )
    parser.add_argument(
        "--before",
        default=before.DEFAULT_REF,
        metavar="REF",
        help=f"an earlier commit measured beside this one (default {before.DEFAULT_REF})",
    )
    parser.add_argument("--no-before", action="store_true", help="skip the earlier commit")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


class Bench:
    """One bench run: its settings, its scratch directory and the results so far."""

    def __init__(self, opts: argparse.Namespace, scratch: Path) -> None:
        self.opts = opts
        self.scratch = scratch
        self.failures: list[str] = []
        usable = servers.cpus()
        self.pinned = len(usable) >= 2 and shutil.which("taskset") is not None
        self.server_cpus = usable[:1] if self.pinned else None
        self.wrk = loadgen.Wrk(
            connections=opts.connections,
            threads=1 if self.pinned else 2,
            cpu_list=usable[1:2] if self.pinned else None,
        )
        self.unpinned_wrk = loadgen.Wrk(connections=opts.connections, threads=self.wrk.threads)
        self.with_prism = not opts.no_prism
        if self.with_prism:
            try:
                prism.install()
            except prism.PrismUnavailable as exc:  # measured when it can be; said when not
                self.failures.append(f"Prism not measured: {exc}")
                self.with_prism = False
        self.contract_cli = [sys.executable, "-m", "mockyard.cli"]
        self.pay_check: dict[str, dict[str, int]] = {}
        self.profile: dict[str, Any] = {}
        self.resource_check: dict[str, int] = {}
        self.before: before.Before | None = None
        if not opts.no_before:
            try:
                self.before = before.export(opts.before, scratch)
            except before.BeforeUnavailable as exc:  # as for Prism: said, not hidden
                self.failures.append(f"earlier commit not measured: {exc}")

    def prepare(self) -> None:
        """Request lists and the pay state, from the workspace's own records."""
        records = workload.load_records(ROOT)[workload.API]
        validate = workload.validate_requests(records)
        self.validate_list = self.scratch / "validate.tsv"
        workload.write_requests(self.validate_list, validate)
        self.probe = Probe(
            "GET", validate[0].path, {"Authorization": f"Bearer {validate[0].token}"}
        )

        base = len(workload.payable_invoices(records))
        copies = max(0, -(-self.opts.pay_invoices // base) - 1)
        scaled, payable = workload.scale_for_pay(records, copies)
        self.pay_list = self.scratch / "pay.tsv"
        self.pay_count = workload.write_requests(self.pay_list, workload.pay_requests(payable))
        self.pay_state = self.scratch / "pay-state.sqlite3"
        workload.write_state(self.pay_state, scaled, _workspace_seed())
        self.pay_records = scaled
        self.pay_requests = workload.pay_requests(payable)
        self.pay_base = base
        if self.before:  # its own copy of the same records: its pays must not find them paid
            self.before_pay_state = self.scratch / "pay-state-before.sqlite3"
            self.before.write_state(
                self.before_pay_state, {workload.API: scaled}, _workspace_seed()
            )

    def cold_starts(self) -> dict[str, Any]:
        apps = {MOCKYARD: servers.mockyard(), CONNEXION: servers.CONNEXION_MOCK}
        apps[STARLETTE] = servers.STARLETTE
        if self.before:
            apps[BEFORE] = self.before.app()
        runs: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(self.opts.cold_runs):
            for name, app in apps.items():  # interleaved, so background load hits all alike
                server = servers.start(app, self.scratch, self.probe, cpu_list=self.server_cpus)
                server.stop()
                runs[name].append(server.ready_s)
        return {
            name: {"median_s": statistics.median(times), "runs_s": [round(t, 3) for t in times]}
            for name, times in runs.items()
        }

    def load(
        self,
        label: str,
        app: App,
        request_list: Path,
        *extra: str,
        workers: int = 1,
        offset: int = 0,
        stateful: bool = False,
        probe: Probe | None = None,
    ) -> dict[str, Any]:
        """Warm up, then measure, one server under the walk of `request_list`."""
        pinned = workers == 1
        wrk = self.wrk if pinned else self.unpinned_wrk
        cpu_list = self.server_cpus if pinned else None
        probe = probe or self.probe
        with servers.running(app, self.scratch, probe, *extra, cpu_list=cpu_list) as server:
            if workers > 1:
                servers.await_workers(server, workers)
            warm = wrk.run(server.url, request_list, self.opts.warmup, offset)
            measured = wrk.run(server.url, request_list, self.opts.duration, warm.next_offset)
            rss = server.peak_rss_kib()
            master = servers.vm_hwm_kib(server.process.pid) if workers > 1 else None
            command = server.command
        return (
            self._figures(label, warm, measured, stateful)
            | {
                "peak_rss_kib": {str(pid): kib for pid, kib in rss.items()},
                "master_peak_rss_kib": master,  # uvicorn's supervisor, which seeded the state
                "server": command,
                "wrk": wrk.command("URL", request_list, self.opts.duration, 0)[:-3],
                "server_pinned": cpu_list is not None,
            }
        )

    def scenarios(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {"validate": {}, "pay": {}}
        for op, requests in (("validate", self.validate_list), ("pay", self.pay_list)):
            out[op][STARLETTE] = self.load(f"{op} starlette", servers.STARLETTE, requests)
            out[op][CONNEXION] = self.load(f"{op} connexion mock", servers.CONNEXION_MOCK, requests)
            if self.with_prism:  # the main peer: its static mock of the same spec, examples out
                out[op][PRISM] = self.load(f"{op} prism", prism.app(CARGOEXTRA_SPEC), requests)
        v = out["validate"]
        v[MOCKYARD] = self.load("validate mockyard", servers.mockyard(), self.validate_list)
        if self.before:
            v[BEFORE] = self.load("validate mockyard before", self.before.app(), self.validate_list)
        v[TWO_WORKERS] = self.load(
            "validate mockyard 2 workers",
            servers.mockyard(),
            self.validate_list,
            "--workers",
            "2",
            workers=2,
        )
        paid_before = workload.paid_count(self.pay_state)
        state = ("--state", str(self.pay_state))
        p = out["pay"]
        p[MOCKYARD] = self.load(
            "pay mockyard", servers.mockyard(ROOT, *state), self.pay_list, stateful=True
        )
        if self.before:
            paid_by_before = workload.paid_count(self.before_pay_state)
            before_pay = self.before.app("--state", str(self.before_pay_state))
            p[BEFORE] = self.load("pay mockyard before", before_pay, self.pay_list, stateful=True)
            self._check_paid(
                "sqlite, earlier commit",
                [p[BEFORE]],
                workload.paid_count(self.before_pay_state) - paid_by_before,
            )
        p[TWO_WORKERS] = self.load(
            "pay mockyard 2 workers",
            servers.mockyard(ROOT, *state, "--workers", "2"),
            self.pay_list,
            workers=2,
            offset=p[MOCKYARD]["measured"]["next_offset"],
            stateful=True,
        )
        self._check_paid(
            "sqlite",
            [p[MOCKYARD], p[TWO_WORKERS]],
            workload.paid_count(self.pay_state) - paid_before,
        )
        with pgtemp.temp_postgres() as pg:
            v[PG_TWO] = self.two_instances(
                "validate mockyard 2 instances on PostgreSQL",
                pg.create_database("validate"),
                self.validate_list,
            )
            pay_db = pg.create_database("pay")
            workload.write_state(pay_db, self.pay_records, _workspace_seed())
            paid_before = workload.paid_count(pay_db)
            p[PG_TWO] = self.two_instances(
                "pay mockyard 2 instances on PostgreSQL", pay_db, self.pay_list, stateful=True
            )
            self._check_paid("postgresql", [p[PG_TWO]], workload.paid_count(pay_db) - paid_before)
            # The profile pays invoices the load runs left: from the end of the list.
            pays = self.pay_requests[-2 * profile.PAYS :]
            self.profile = {
                "sqlite": profile.pay_profile(str(self.pay_state), pays[: profile.PAYS]),
                "postgresql": profile.pay_profile(pay_db, pays[profile.PAYS :]),
            }
        for backend, figures in self.profile.items():
            if figures["statuses"] != {"200": figures["pays"]}:
                self.failures.append(f"pay profile on {backend}: statuses {figures['statuses']}")
        out.update(self.resources())
        return out

    def resources(self) -> dict[str, dict[str, Any]]:
        """A create, then a read of every record created, of an inferred resource."""
        state = self.scratch / "resource-state.sqlite3"
        app = servers.mockyard(RESOURCES, "--state", str(state))
        probe = Probe("GET", workload.PETS)
        creates = self.scratch / "create.tsv"
        workload.write_requests(creates, workload.create_requests(20_000))
        create = self.load("resource create mockyard", app, creates, probe=probe)
        keys = workload.stored_keys(state)
        made = sum(create[p]["statuses"].get("201", 0) for p in ("warmup", "measured"))
        sent = sum(create[p]["issued"] for p in ("warmup", "measured"))
        self.resource_check = {"stored": len(keys), "answered_201": made, "sent": sent}
        if not made <= len(keys) - 5 <= sent:  # 5 seeded pets, then one per create
            self.failures.append(f"resource create: {len(keys)} pets stored, {made} created")
        reads = self.scratch / "read.tsv"
        workload.write_requests(reads, workload.read_requests(keys))
        read = self.load("resource read mockyard", app, reads, probe=probe)
        return {"resource create": {MOCKYARD: create}, "resource read": {MOCKYARD: read}}

    def two_instances(
        self, label: str, state: str, request_list: Path, *, stateful: bool = False
    ) -> dict[str, Any]:
        """Two `mockyard serve` on one PostgreSQL state, each loaded by a wrk of its own with
        half the connections; both walk one request list (no entry used twice)."""
        app = servers.mockyard(ROOT, "--state", state)
        wrk = loadgen.Wrk(connections=max(1, self.opts.connections // 2), threads=1, stride=2)
        with (
            servers.running(app, self.scratch, self.probe) as first,
            servers.running(app, self.scratch, self.probe) as second,
        ):
            urls = [first.url, second.url]
            warm = loadgen.run_parallel(wrk, urls, request_list, self.opts.warmup)
            measured = loadgen.run_parallel(
                wrk, urls, request_list, self.opts.duration, warm.next_offset
            )
            rss = {**first.peak_rss_kib(), **second.peak_rss_kib()}
            command = first.command
        return self._figures(label, warm, measured, stateful) | {
            "peak_rss_kib": {str(pid): kib for pid, kib in rss.items()},
            "server": command,
            "wrk": [*wrk.command("URL", request_list, self.opts.duration, 0)[:-3], "(×2)"],
            "server_pinned": False,
        }

    def _figures(
        self, label: str, warm: loadgen.WrkResult, measured: loadgen.WrkResult, stateful: bool
    ) -> dict[str, Any]:
        """A scenario's wrk figures; a run they show cannot be trusted fails the whole bench."""
        for phase, result in (("warm-up", warm), ("measured", measured)):
            if result.non_2xx or result.socket_errors:
                self.failures.append(
                    f"{label}: {phase} run had statuses {result.statuses}, errors {result.errors}"
                )
            if stateful and result.wrapped:
                self.failures.append(
                    f"{label}: the request list ran out ({result.wrapped} reused); "
                    "raise --pay-invoices"
                )
        return {
            "warmup": warm.as_dict(),
            "measured": measured.as_dict()
            | {"non_2xx": measured.non_2xx, "socket_errors": measured.socket_errors},
        }

    def _check_paid(self, backend: str, pays: list[dict[str, Any]], paid: int) -> None:
        """Every 200 of a pay must be an invoice marked paid in the state, and nothing more than
        what was sent may be: proof that each pay did real work."""
        runs = [pay[phase] for pay in pays for phase in ("warmup", "measured")]
        ok = sum(r["statuses"].get("200", 0) for r in runs)
        sent = sum(r["issued"] for r in runs)
        self.pay_check[backend] = {"paid_in_state": paid, "answered_200": ok, "sent": sent}
        if not ok <= paid <= sent:
            self.failures.append(
                f"pay on {backend}: {paid} invoices paid in the state, {ok} answered 200, "
                f"{sent} sent"
            )

    def contract(self) -> dict[str, Any]:
        if self.opts.no_contract:
            return {"available": None, "wall_s": None, "summary": "skipped (--no-contract)"}
        cli = self.contract_cli
        help_text = subprocess.run(
            [*cli, "contract", "--help"], capture_output=True, text=True, cwd=ROOT
        )
        if help_text.returncode != 0:
            return {
                "available": False,
                "wall_s": None,
                "summary": "n/a (mockyard contract not available)",
            }
        with servers.running(servers.mockyard(), self.scratch, self.probe) as server:
            command = [*cli, "contract", "--base-url", server.url]
            if "--workspace" in help_text.stdout:
                command += ["--workspace", str(ROOT)]
            if "--max-examples" in help_text.stdout:
                command += ["--max-examples", "100"]
            log = self.scratch / "contract.log"
            with log.open("wb") as out:
                started = time.perf_counter()
                done = subprocess.run(
                    command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=900
                )
                wall = time.perf_counter() - started
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        summary = f"{wall:.1f} s, exit {done.returncode} ({tail[0][:100]})"
        if done.returncode != 0:
            self.failures.append(f"contract run exited {done.returncode}: see {log}")
        return {
            "available": True,
            "wall_s": wall,
            "exit_code": done.returncode,
            "command": command,
            "summary": summary,
        }


def _workspace_seed() -> int:
    from mockyard import workspace

    return workspace.load(ROOT).seed


def main(argv: list[str] | None = None) -> int:
    opts = options(argv)
    if shutil.which("wrk") is None:
        print(
            "make bench needs wrk: `make bench` installs it (apt-get install wrk)", file=sys.stderr
        )
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="mockyard-bench-"))
    bench = Bench(opts, scratch)
    results: dict[str, Any] = {"machine": describe_machine()}
    started = time.monotonic()
    try:
        print("preparing request lists and the pay state …", flush=True)
        bench.prepare()
        print("cold starts …", flush=True)
        results["cold_start"] = bench.cold_starts()
        if not opts.no_big_specs:
            print("starts on big generated specs, mockyard and Prism …", flush=True)
            results["big_specs"] = startup.measure(
                scratch,
                cpu_list=bench.server_cpus,
                with_prism=not opts.no_prism,
                prism_timeout=opts.prism_timeout,
            )
        print("load: validate, pay, and a resource's create and read …", flush=True)
        results["scenarios"] = bench.scenarios()
        print("contract run …", flush=True)
        results["contract"] = bench.contract()
    except (
        servers.ServerError,
        loadgen.LoadError,
        subprocess.SubprocessError,
        pgtemp.PostgresError,
    ) as exc:
        _keep_only_logs(scratch)
        print(f"bench failed: {exc}\nlogs kept in {scratch}", file=sys.stderr)
        return 1
    results["rss_mb"] = _rss_mb(results["scenarios"])
    results["settings"] = {
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "connections": opts.connections,
        "wrk_threads": bench.wrk.threads,
        "cold_runs": opts.cold_runs,
        "pay_invoices": bench.pay_count,
        "payable_bulk_invoices": bench.pay_base,
        "pinning": (
            f"one-worker servers pinned to CPU {bench.server_cpus[0]}, wrk to CPU "
            f"{bench.wrk.cpu_list[0]}; two-worker runs unpinned"
            if bench.pinned and bench.server_cpus and bench.wrk.cpu_list
            else "nothing pinned (fewer than 2 CPUs or no taskset)"
        ),
        "wall_s": round(time.monotonic() - started, 1),
    }
    if bench.before:
        results["before"] = {"ref": bench.before.ref, "commit": bench.before.commit}
    results["pay_check"] = bench.pay_check
    results["pay_profile"] = bench.profile
    results["resource_check"] = bench.resource_check
    results["failures"] = bench.failures
    results["targets"] = [t.as_dict() for t in report.targets(results)]
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print()
    print(report.table(results))
    print(f"\nresults: {opts.json}  ({results['settings']['wall_s']:.0f} s)")
    if bench.failures:
        _keep_only_logs(scratch)
        print(f"logs kept in {scratch}", file=sys.stderr)
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    missed = [t for t in report.targets(results) if t.met is False]
    return 1 if opts.check and missed else 0


def _keep_only_logs(scratch: Path) -> None:
    """After a failure, keep the servers' logs but not the request lists and state (~60 MB)."""
    for path in scratch.iterdir():
        if path.is_file() and not path.name.endswith(".log"):
            path.unlink()


def _rss_mb(scenarios: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Per app, the largest peak RSS of any one of its worker processes, in MB (10^6 bytes)."""
    peak: dict[str, int] = {}
    for runs in scenarios.values():
        for app, run in runs.items():
            for kib in run["peak_rss_kib"].values():
                peak[app] = max(peak.get(app, 0), kib)
    return {app: round(kib * 1024 / 1e6, 1) for app, kib in peak.items()}
