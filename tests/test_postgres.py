"""The PostgreSQL state: several instances on one database are one sandbox.

The store's own promises first (on the session's throwaway server, in this process): one seeding
however many start together, writes on different records that never wait for each other, and no
lost update on one record. Then live instances: a payment through one is seen by the other, a
reset through either resets both, and a database that goes away mid-run gets each API's
documented 5xx answer, quickly, until it returns and the instances carry on without a restart.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import (
    CHARGEBEE_AUTH,
    ROOT,
    apply_payments,
    cargoextra_workspace,
    free_port,
    read_docs,
    start_sandbox,
)

from mockyard import pgtemp, workspace
from mockyard.errors import StateUnavailable, WorkspaceError
from mockyard.pgtemp import TempPostgres
from mockyard.store import Store, Transaction, open_store, shown

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

PAY = "/api/v1/billing/invoice/pay"
CHARGEBEE_503 = (  # the official spec's 503, for a state that cannot be reached
    "Sorry, the server is currently unable to handle the request due to a temporary overload "
    "or scheduled maintenance. Please retry after sometime."
)
RECORDS = {"demo": {"counters": {"a": {"n": 0}, "b": {"n": 0}}}}


@pytest.fixture
def database(postgres: TempPostgres, request: pytest.FixtureRequest) -> str:
    return postgres.create_database(f"unit_{request.node.name.replace('-', '_')}"[:60].lower())


@pytest.fixture
def stores(database: str) -> Iterator[Callable[[], Store]]:
    """Opens stores on the test's database (each as another instance would); closes them."""
    opened: list[Store] = []

    def open_one() -> Store:
        opened.append(open_store(database))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


def test_instances_starting_together_seed_once(stores: Callable[[], Store]) -> None:
    builds = []

    def build() -> tuple[dict, int]:
        builds.append(threading.get_ident())
        time.sleep(0.3)  # a slow build: the others must wait for it, not start their own
        return RECORDS, 7

    def start() -> tuple[bool, int | None]:
        store = stores()
        return store.seed_once(build), store.seed()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: start(), range(4)))
    assert len(builds) == 1
    assert sorted(results) == [(False, 7), (False, 7), (False, 7), (True, 7)]


def increment(key: str) -> Callable[[Transaction], int]:
    def work(tx: Transaction) -> int:
        counter = tx.get("demo", "counters", key) or {"n": 0}
        tx.put("demo", "counters", key, {"n": counter["n"] + 1})
        return counter["n"] + 1

    return work


def test_writes_on_different_records_do_not_wait_for_each_other(
    stores: Callable[[], Store],
) -> None:
    first, second = stores(), stores()
    first.replace_all(RECORDS, seed=1)
    inside, done = threading.Event(), threading.Event()

    def slow_writer() -> None:
        def work(tx: Transaction) -> None:
            increment("a")(tx)
            inside.set()
            done.wait(10)  # hold the transaction open, as a long pay would

        first.run(work, write=True)

    holder = threading.Thread(target=slow_writer)
    holder.start()
    try:
        assert inside.wait(10)
        started = time.monotonic()
        assert second.run(increment("b"), write=True) == 1  # the other record: no wait
        waited = time.monotonic() - started
    finally:
        done.set()
        holder.join()
    assert waited < 1.0
    assert first.run(lambda tx: tx.get("demo", "counters", "a"), write=False) == {"n": 1}


def test_concurrent_writes_on_one_record_lose_no_update(stores: Callable[[], Store]) -> None:
    instances = [stores() for _ in range(4)]
    instances[0].replace_all(RECORDS, seed=1)

    def lane(store: Store) -> list[int]:
        return [store.run(increment("a"), write=True) for _ in range(50)]

    with ThreadPoolExecutor(4) as pool:
        seen = [n for lane_seen in pool.map(lane, instances) for n in lane_seen]
    # Every increment saw the one before it: 200 distinct values, so none was lost or doubled.
    assert sorted(seen) == list(range(1, 201))
    assert instances[0].run(lambda tx: tx.get("demo", "counters", "a"), write=False) == {"n": 200}


def test_a_url_password_is_never_shown() -> None:
    assert (
        shown("postgresql://ada:s3cret@db:5432/sandbox") == "postgresql://ada:***@db:5432/sandbox"
    )
    assert shown("postgresql://ada@db/sandbox") == "postgresql://ada@db/sandbox"


# --- live instances ------------------------------------------------------------------------------


def test_two_instances_are_one_sandbox(postgres: TempPostgres) -> None:
    sandbox = start_sandbox(postgres.create_database("one_sandbox"), instances=2)
    first, second = sandbox.urls
    auth = {"Authorization": "Bearer sandbox-token-rich"}
    try:
        paid = httpx.post(
            f"{first}{PAY}", json={"invoice": 100127, "currency": "NGN"}, headers=auth
        )
        assert paid.json()["message"] == "Invoice payment successful"
        again = httpx.post(
            f"{second}{PAY}", json={"invoice": 100127, "currency": "NGN"}, headers=auth
        )
        assert again.json() == {"message": "Invoice already paid"}

        reset = httpx.post(f"{second}/__mockyard/reset", json={"seed": 99}, timeout=30)
        assert reset.json()["seed"] == 99
        assert httpx.get(f"{first}/__mockyard/health").json()["seed"] == 99  # reset for both
        repaid = httpx.post(
            f"{first}{PAY}", json={"invoice": 100127, "currency": "NGN"}, headers=auth
        )
        assert repaid.json()["message"] == "Invoice payment successful"
    finally:
        sandbox.stop()


def test_serve_refuses_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    result = subprocess.run(
        [sys.executable, "-m", "mockyard.cli", "serve", "--port", str(free_port()), "--state", url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot reach the state database")
    assert "Traceback" not in result.stdout + result.stderr


def documented_outages(url: str) -> dict[str, tuple[int, object]]:
    """One state-reading request per API: (status, body) of each answer."""
    with httpx.Client(base_url=url, timeout=15) as client:
        cargo = client.post(
            PAY,
            json={"invoice": 100127, "currency": "NGN"},
            headers={"Authorization": "Bearer sandbox-token-rich"},
        )
        chargebee = apply_payments(client, "inv_sandbox_1", auth=CHARGEBEE_AUTH)
        invoicexpress = client.post(
            "/documents/1/partial_payments.json",
            params={"api_key": "sandbox-api-key"},
            json={"partial_payment": {"amount": 1}},
        )
    return {
        "cargoextra": (cargo.status_code, cargo.json()),
        "chargebee": (chargebee.status_code, chargebee.json()),
        "invoicexpress": (invoicexpress.status_code, invoicexpress.content),
    }


@pytest.mark.reliability
def test_a_database_that_goes_away_gets_documented_5xx_and_instances_recover() -> None:
    server = TempPostgres(fsync=False)  # its own server: this test stops it
    sandbox = start_sandbox(server.create_database("outage"), instances=2)
    try:
        before = [documented_outages(url)["cargoextra"] for url in sandbox.urls]
        assert before[0][0] == 200
        assert before[1] == (400, {"message": "Invoice already paid"})

        server.stop(remove=False)
        for url in sandbox.urls:
            started = time.monotonic()
            answers = documented_outages(url)
            assert time.monotonic() - started < 5  # an answer, never a hang
            assert answers == {
                "cargoextra": (500, {"message": "Unexpected Error"}),
                "chargebee": (
                    503,
                    {
                        "message": CHARGEBEE_503,
                        "type": "operation_failed",
                        "api_error_code": "internal_temporary_error",
                        "error_code": "internal_temporary_error",
                        "error_msg": CHARGEBEE_503,
                        "http_status_code": 503,
                    },
                ),
                "invoicexpress": (503, b""),
            }
            health = httpx.get(f"{url}/__mockyard/health", timeout=15)
            assert health.status_code == 503
            assert health.json()["status"] == "unavailable"

        server.start()
        deadline = time.monotonic() + 15
        recovered = set()
        while len(recovered) < 2 and time.monotonic() < deadline:
            for url in sandbox.urls:
                if httpx.get(f"{url}/__mockyard/health", timeout=15).status_code == 200:
                    recovered.add(url)
            time.sleep(0.2)
        assert recovered == set(sandbox.urls)
        for url in sandbox.urls:  # the state is as it was: 100127 was paid before the outage
            answers = documented_outages(url)
            assert answers["cargoextra"] == (400, {"message": "Invoice already paid"})
            assert answers["invoicexpress"][0] == 200
        assert "unhandled error" not in sandbox.log_text()
        assert all(process.poll() is None for process in sandbox.processes)
    finally:
        sandbox.stop()
        server.stop()


def test_a_store_reports_an_unreachable_database() -> None:
    with pytest.raises(StateUnavailable, match="cannot reach the state database"):
        open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")


def serve_until_healthy(workspace: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`mockyard serve` with no --state, in environment `env`; running once healthy."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mockyard.cli", "serve", "-w", str(workspace), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/__mockyard/health").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("serve did not become healthy")


def test_the_state_can_come_from_mockyard_yaml_or_the_environment(
    postgres: TempPostgres, tmp_path: Path
) -> None:
    from_yaml, from_env = postgres.create_database("from_yaml"), postgres.create_database("env")
    workspace = cargoextra_workspace(tmp_path / "ws", state=from_yaml)
    environment = {k: v for k, v in os.environ.items() if k != "MOCKYARD_STATE"}
    for env, database in (({}, from_yaml), ({"MOCKYARD_STATE": from_env}, from_env)):
        process = serve_until_healthy(workspace, {**environment, **env})
        try:
            stored = read_docs(database, "cargoextra", "accounts")
            assert ("cargoextra", "accounts", "sandbox-token") in stored
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert read_docs(from_yaml) != {} and read_docs(from_env) != {}


def test_a_state_file_in_mockyard_yaml_is_relative_to_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "demo.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n")
    (tmp_path / "mockyard.yaml").write_text("state: data/state.sqlite3\n")
    state = workspace.load(tmp_path).state
    assert state == str(tmp_path.resolve() / "data" / "state.sqlite3")
    assert workspace.from_specs([spec]).state == ""  # spec files stand in for a workspace
    (tmp_path / "mockyard.yaml").write_text("state: 7\n")
    with pytest.raises(WorkspaceError, match="'state' must be"):
        _ = workspace.load(tmp_path).state


def test_the_throwaway_server_runs_unprivileged_even_from_a_closed_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL refuses root: as root (CI) the server runs as `nobody`, and binaries in a
    folder that user cannot enter (a checkout under /root) are copied where it can."""
    install = pgtemp.binaries().parent
    closed = tmp_path / "closed"
    shutil.copytree(install, closed / install.parent.name / install.name, symlinks=True)
    libs = install.parent.parent / f"{install.parent.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, closed / libs.name, symlinks=True)
    closed.chmod(0o700)
    monkeypatch.setattr(
        pgtemp, "binaries", lambda: closed / install.parent.name / install.name / "bin"
    )
    server = pgtemp.TempPostgres(fsync=False)
    try:
        assert server.process is not None
        owner = Path(f"/proc/{server.process.pid}").stat().st_uid
        if os.geteuid() == 0:
            assert owner == pwd.getpwnam(pgtemp.UNPRIVILEGED_USER).pw_uid
            assert not server._bin.is_relative_to(closed)  # the copy, not the closed folder
        else:
            assert owner == os.geteuid()
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    assert not server.root.exists()
