"""The benchmark harness's pieces, without running the bench: wrk's result line, the request lists,
the pay state, the baseline apps and the targets. wrk itself is only needed by the last test."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import warnings
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, debian_program

if str(ROOT) not in sys.path:  # `bench` lives beside src/, not in the installed package
    sys.path.insert(0, str(ROOT))
# Connexion imports starlette's test client, which warns about httpx (as in mockyard/cli.py).
warnings.filterwarnings("ignore", message=".*httpx2.*")

from bench import before, bigspec, loadgen, prism, report, run, servers, workload  # noqa: E402
from bench.baselines import connexion_mock, starlette_app  # noqa: E402
from mockyard.app import ServeConfig, build  # noqa: E402

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

WRK_STDOUT = """Running 10s test @ http://127.0.0.1:4321
  1 threads and 16 connections
  Latency Distribution
     50%    7.12ms
  4711 requests in 10.00s, 1.20MB read
  Non-2xx or 3xx responses: 2
Requests/sec:    471.10
WRK_JSON {"requests": 4711, "duration_us": 10000000, "bytes": 1258291, \
"errors": {"connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 0}, \
"latency_us": {"min": 900, "mean": 7512.5, "max": 61000, "stdev": 2000.1, \
"p50": 7120, "p90": 11000, "p99": 24500, "p999": 50000}, \
"issued": 4727, "wrapped": 0, "next_offset": 4727, "threads": 1, \
"statuses": {"200": 4709, "400": 2}}
"""


@pytest.fixture(scope="module")
def records() -> dict[str, Any]:
    return workload.load_records(ROOT)[workload.API]


def _call(app: Any, method: str, path: str, token: str, body: str = "") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {token}"}
            if body:
                headers["Content-Type"] = "application/json"
            return await client.request(method, path, headers=headers, content=body or None)

    return asyncio.run(go())


def test_an_earlier_commit_is_served_by_its_own_engine(records: dict, tmp_path: Path) -> None:
    """`--before`: the commit the pipeline was redesigned from, exported and served by its own
    engine on a state its own store wrote, pays doing real work."""
    earlier = before.export(before.DEFAULT_REF, tmp_path)
    assert earlier.commit.startswith(before.DEFAULT_REF)
    assert not (earlier.tree / "src" / "mockyard" / "admin_spec.py").exists()  # came later
    scaled, payable = workload.scale_for_pay(records, copies=1)
    state = tmp_path / "pay.sqlite3"
    earlier.write_state(state, {workload.API: scaled}, seed=run._workspace_seed())
    paid_before = workload.paid_count(state)
    validate = workload.validate_requests(records)[0]
    probe = servers.Probe("GET", validate.path, {"Authorization": f"Bearer {validate.token}"})
    with servers.running(earlier.app("--state", str(state)), tmp_path, probe) as server:
        pay = workload.pay_requests(payable)[0]
        headers = {"Authorization": f"Bearer {pay.token}", "Content-Type": "application/json"}
        paid = httpx.post(server.url + pay.path, content=pay.body, headers=headers)
        # the admin API's own document came after the earlier commit: its engine has none
        spec = httpx.get(server.url + "/__mockyard/openapi.json")
    assert paid.status_code == 200, paid.text
    assert workload.paid_count(state) == paid_before + 1
    assert spec.status_code == 404


def test_an_unknown_earlier_commit_is_said_not_hidden(tmp_path: Path) -> None:
    with pytest.raises(before.BeforeUnavailable, match="not a commit"):
        before.export("no-such-ref", tmp_path)


def _spent(payable: list[tuple[str, dict[str, Any]]]) -> dict[tuple[str, str], Decimal]:
    spent: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for token, inv in payable:
        spent[(token, inv["currency"])] += Decimal(str(inv["total"]))
    return spent


def test_parse_reads_the_walk_result_line() -> None:
    result = loadgen.parse(WRK_STDOUT)
    assert result.requests == 4711
    assert result.rps == pytest.approx(471.1)
    assert (result.p50_ms, result.p99_ms) == (7.12, 24.5)
    assert result.non_2xx == 2
    assert result.socket_errors == 1  # wrk's own `status` count is the non-2xx, not counted twice
    assert result.next_offset == 4727
    assert result.as_dict()["statuses"] == {"200": 4709, "400": 2}


def test_parse_without_a_result_line_fails_loudly() -> None:
    with pytest.raises(loadgen.LoadError, match="WRK_JSON"):
        loadgen.parse("Running 10s test @ http://127.0.0.1:1\n")


def test_walk_lua_prints_every_field_parse_reads() -> None:
    script = loadgen.WALK_LUA.read_text()
    for key in ("requests", "duration_us", "latency_us", "p99", "issued", "wrapped"):
        assert f'"{key}"' in script
    assert '"next_offset"' in script and '"statuses"' in script


def test_wrk_command_walks_the_list_from_an_offset() -> None:
    command = loadgen.Wrk(connections=16, threads=1, cpu_list=[1]).command(
        "http://127.0.0.1:1", Path("/tmp/list.tsv"), 10, 42
    )
    assert command[-4:] == ["--", "/tmp/list.tsv", "42", "1"]
    assert "-c16" in command and "-t1" in command and "-d10s" in command
    if shutil.which("taskset"):
        assert command[:3] == ["taskset", "-c", "1"]


def test_payable_invoices_are_unpaid_bulk_ones_their_owners_can_pay(records: dict) -> None:
    payable = workload.payable_invoices(records)
    owners = {acc["id"]: token for token, acc in records["accounts"].items()}
    assert len(payable) > 100
    assert len({inv["invoiceNo"] for _, inv in payable}) == len(payable)
    for token, inv in payable:
        assert inv["invoiceNo"] >= workload.BULK_FIRST and inv["status"] == "unpaid"
        assert owners[inv["owner"]] == token
    for (token, currency), spent in _spent(payable).items():
        assert spent <= Decimal(str(records["accounts"][token]["wallets"][currency]))
    unpaid = [i for i in records["invoices"].values() if i["invoiceNo"] >= 200001]
    assert len([i for i in unpaid if i["status"] == "unpaid"]) > len(payable)  # some can't be paid


def test_scaled_pay_state_keeps_every_pay_affordable(records: dict) -> None:
    before = json.dumps(records, sort_keys=True)
    scaled, payable = workload.scale_for_pay(records, copies=3)
    base = workload.payable_invoices(records)
    assert json.dumps(records, sort_keys=True) == before
    assert len(payable) == 4 * len(base)
    numbers = [inv["invoiceNo"] for _, inv in payable]
    assert len(set(numbers)) == len(numbers)
    assert all(scaled["invoices"][str(n)]["status"] == "unpaid" for n in numbers)
    for (token, currency), spent in _spent(payable).items():
        assert spent <= Decimal(str(scaled["accounts"][token]["wallets"][currency]))


def test_request_lists_answer_200_and_pays_do_real_work(records: dict, tmp_path: Path) -> None:
    scaled, payable = workload.scale_for_pay(records, copies=1)
    state = tmp_path / "state.sqlite3"
    workload.write_state(state, scaled, seed=1)
    app = build(ServeConfig(workspace=str(ROOT), state=str(state))).app
    validate = workload.validate_requests(records)
    for r in validate[:3] + validate[-2:]:
        response = _call(app, r.method, r.path, r.token)
        assert response.status_code == 200, response.text
        assert response.json()["verStatus"] is True
    pays = workload.pay_requests(payable)
    for r in pays[:3] + pays[-2:]:  # originals and replicas
        response = _call(app, r.method, r.path, r.token, r.body)
        assert response.status_code == 200, response.text
    again = _call(app, pays[0].method, pays[0].path, pays[0].token, pays[0].body)
    assert again.json() == {"message": "Invoice already paid"}


def test_resource_lists_create_then_read_an_inferred_resource(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    app = build(ServeConfig(workspace=str(run.RESOURCES), state=str(state))).app
    for r in workload.create_requests(3):
        response = _call(app, r.method, r.path, r.token, r.body)
        assert response.status_code == 201, response.text
    keys = workload.stored_keys(state)
    assert len(keys) == 8  # 5 seeded, 3 created
    for r in workload.read_requests(keys):
        assert _call(app, r.method, r.path, r.token).status_code == 200


def test_baseline_apps_answer_the_bench_requests_with_200(records: dict) -> None:
    validate = workload.validate_requests(records)[0]
    pay = workload.pay_requests(workload.payable_invoices(records))[0]
    for app in (starlette_app.app, connexion_mock.create_app()):
        assert _call(app, validate.method, validate.path, validate.token).status_code == 200
        assert _call(app, pay.method, pay.path, pay.token, pay.body).status_code == 200


def _run(value: float) -> dict[str, Any]:
    measured = {"rps": value, "p50_ms": 2.0, "p99_ms": 9.0, "non_2xx": 0, "socket_errors": 0}
    return {"measured": measured, "peak_rss_kib": {"1": 100_000}}


def _results(**rps: float) -> dict[str, Any]:
    apps = {"starlette": "st", "connexion-mock": "cx", "mockyard": "my", "mockyard-2w": "my2"}
    scenario = {app: _run(rps[short]) for app, short in apps.items()}
    return {
        "machine": {"date": "today", "cpu": "CPU", "cpus": 2, "loadavg_start": "0.1"},
        "settings": {
            "connections": 16,
            "duration_s": 10,
            "warmup_s": 2,
            "cold_runs": 5,
            "pinning": "pinned",
        },
        "scenarios": {
            "validate": scenario,
            "pay": scenario,
            "resource create": {"mockyard": _run(rps["my"])},
        },
        "cold_start": {"mockyard": {"median_s": 0.9}},
        "rss_mb": {"mockyard": 102.4},
        "contract": {"wall_s": None, "summary": "n/a (mockyard contract not available)"},
        "failures": [],
    }


def test_targets_compare_ratios_from_the_same_run() -> None:
    results = _results(st=8000, cx=900, my=2100, my2=3700)
    met = {t.name: t.met for t in report.targets(results)}
    assert met["validate vs connexion mock"] is True  # 2.33 times
    assert met["validate vs bare starlette"] is True  # 0.26 times
    assert met["pay p99"] is True
    assert met["cold start"] is False
    assert met["pay: 2 workers vs 1"] is True  # 1.76 times
    assert met["peak RSS per worker"] is True
    assert met["contract run"] is None
    slower = {t.name: t.met for t in report.targets(_results(st=8000, cx=900, my=2000, my2=3000))}
    assert slower["validate vs connexion mock"] is False
    assert slower["validate: 2 workers vs 1"] is False
    assert "validate vs earlier commit" not in met  # not measured: no target


def test_the_earlier_commit_is_a_target_and_a_row_when_measured() -> None:
    results = _results(st=8000, cx=900, my=2100, my2=3700)
    for op, rps in (("validate", 2000.0), ("pay", 2300.0)):
        results["scenarios"][op] = {**results["scenarios"][op], report.BEFORE: _run(rps)}
    results["cold_start"][report.BEFORE] = {"median_s": 1.2}
    results["before"] = {"ref": "da1e240", "commit": "da1e240"}
    met = {t.name: t.met for t in report.targets(results)}
    assert met["validate vs earlier commit"] is True  # 2,100 against 2,000
    assert met["pay vs earlier commit"] is False  # 2,100 against 2,300
    assert met["cold start ÷ earlier commit"] is True  # 0.9 s against 1.2 s
    text = report.table(results)
    assert "validate  mockyard da1e240" in text
    assert "1.05\N{MULTIPLICATION SIGN} earlier commit" in text


def test_table_shows_ratios_marks_and_a_missing_contract_command() -> None:
    text = report.table(_results(st=8000, cx=900, my=2100, my2=3700))
    times = "\N{MULTIPLICATION SIGN}"
    assert f"2.33{times}" in text and f"0.26{times}" in text and f"1.76{times} one worker" in text
    assert "✓" in text and "✗" in text
    assert "n/a (mockyard contract not available)" in text
    assert "resource create  mockyard        2,100.0" in text


FAKE_CLI = """
import sys
if sys.argv[1:] == ["contract", "--help"]:
    print("Usage: mockyard contract --base-url URL --workspace DIR --max-examples N")
elif sys.argv[1] == "contract":
    print("contract", *sys.argv[2:])
    print("3 passed, 0 failed")
else:
    sys.exit(2)
"""


def test_contract_run_is_timed_against_a_fresh_sandbox(records: dict, tmp_path: Path) -> None:
    bench = run.Bench(run.options([]), tmp_path)
    validate = workload.validate_requests(records)[0]
    bench.probe = servers.Probe("GET", validate.path, {"Authorization": f"Bearer {validate.token}"})
    (tmp_path / "fake_cli.py").write_text(FAKE_CLI)
    bench.contract_cli = [sys.executable, str(tmp_path / "fake_cli.py")]
    result = bench.contract()
    assert result["available"] is True and result["exit_code"] == 0
    assert result["command"][-2:] == ["--max-examples", "100"]
    assert "--base-url" in result["command"] and 0 < result["wall_s"] < 30
    assert result["summary"].endswith("(3 passed, 0 failed)")
    assert bench.failures == []


def test_missing_contract_command_is_reported_not_failed(tmp_path: Path) -> None:
    bench = run.Bench(run.options([]), tmp_path)
    bench.contract_cli = [sys.executable, "-c", "import sys; sys.exit(2)"]
    assert bench.contract()["summary"] == "n/a (mockyard contract not available)"
    assert bench.failures == []


def test_wrk_walks_each_entry_once(records: dict, tmp_path: Path) -> None:
    debian_program("wrk", "/usr/bin/wrk", "wrk, the load generator")
    requests = workload.validate_requests(records)
    listing = tmp_path / "list.tsv"
    workload.write_requests(listing, requests * 40)  # more than one second can use
    probe = servers.Probe("GET", requests[0].path)
    with servers.running(servers.STARLETTE, tmp_path, probe) as server:
        result = loadgen.Wrk(connections=4, threads=1).run(server.url, listing, 1, offset=10)
    assert result.requests > 100 and result.non_2xx == 0 and result.wrapped == 0
    assert result.issued >= result.requests  # the few still in flight at the end were sent
    assert result.next_offset == 10 + result.issued  # one thread: entries 10, 11, 12, …
    assert server.process.returncode is not None


BIG = {
    "4 MB YAML, 450 operations": {
        "size_mb": 4.1,
        "mockyard_cold_s": 2.5,
        "mockyard_cold_rss_mb": 140.0,
        "mockyard_warm_s": 0.8,
        "mockyard_warm_rss_mb": 120.0,
        "prism_s": 85.0,
        "prism_rss_mb": 440.0,
    },
    "13 MB JSON, 1,000 operations": {
        "size_mb": 12.6,
        "mockyard_cold_s": 12.0,
        "mockyard_cold_rss_mb": 280.0,
        "mockyard_warm_s": 1.5,
        "mockyard_warm_rss_mb": 250.0,
        "prism_s": None,
        "prism_over_s": 300.0,
        "prism_note": "over 300 s",
    },
}


def test_big_spec_starts_are_targets_and_ratios_to_prism() -> None:
    results = {**_results(st=8000, cx=900, my=2100, my2=3700), "big_specs": BIG}
    met = {t.name: t.met for t in report.targets(results)}
    assert met["4 MB YAML cold start"] is True and met["4 MB YAML peak RSS"] is True
    assert met["13 MB JSON cold start"] is False and met["13 MB JSON peak RSS"] is True
    assert met["big spec warm start"] is False  # the slower of the two warm starts counts
    text = report.table(results)
    assert "Prism 85.00 s, 440 MB = 34.0\N{MULTIPLICATION SIGN}" in text
    assert "Prism over 300 s = over 25.0\N{MULTIPLICATION SIGN}" in text


def test_prism_runs_on_a_spec_file_and_port(tmp_path: Path) -> None:
    spec = tmp_path / "api.yaml"
    command = prism.app(spec, dynamic=True).command(4010)
    assert command == [
        str(prism.EXECUTABLE), "mock", "-h", "127.0.0.1", "-p", "4010", "--dynamic", str(spec)
    ]  # fmt: skip


def test_mockyard_and_prism_answer_the_same_generated_spec(tmp_path: Path) -> None:
    """What the big-spec starts measure, on a small spec: both answer its first list call."""
    size = bigspec.Size(operations=10, schemas=12, properties=8)
    spec = bigspec.write(tmp_path / "small.yaml", size)
    probe = servers.Probe("GET", bigspec.first_list_route(size), {"Authorization": "Bearer b"})
    env = {"MOCKYARD_CACHE_DIR": str(tmp_path / "cache")}
    with servers.running(servers.mockyard_specs(spec), tmp_path, probe, env=env) as mine:
        assert mine.ready_s > 0 and max(mine.peak_rss_kib().values()) > 10_000
    with prism.running(spec, tmp_path, probe, timeout=120) as theirs:  # npm-installs it once
        assert theirs.ready_s > 0
    assert mine.process.returncode is not None and theirs.process.returncode is not None
