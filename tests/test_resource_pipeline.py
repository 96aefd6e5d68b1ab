"""Inferred resources are operations like any other: one pipeline, one store, one error path.

Handlers and inferred resources share collections; `Prefer`, latency and faults apply to
inferred operations; plain requests take the fast reader; ids stay unique with two workers.
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import ROOT, LiveSandbox, in_process, start_sandbox
from workspaces import ok, served, spec, write_workspace

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

WORKSPACE = ROOT / "tests" / "resource_workspace"
PETSTORE = WORKSPACE / "specs" / "petstore.yaml"

ORDER = {
    "type": "object",
    "required": ["id", "item"],
    "properties": {
        "id": {"type": "integer"},
        "item": {"type": "string"},
        "note": {"type": "string"},
    },
}
ORDERS = spec(
    {
        "/orders": {
            "post": {
                "operationId": "place-order",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "201": {
                        "description": "placed",
                        "content": {"application/json": {"schema": ORDER}},
                    }
                },
            },
        },
        "/orders/{orderId}": {
            "parameters": [
                {"name": "orderId", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "get": {"operationId": "get-order", "responses": ok(ORDER)},
            "patch": {
                "operationId": "amend-order",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": ok(ORDER),
            },
        },
    }
)
# The handler keeps orders in the collection the inferred resource reads and writes.
HANDLER = """
def place_order(ctx, body):
    number = ctx.store.sequence("orders")
    order = {"id": number, "item": body["item"]}
    ctx.store.put("orders", number, order)
    return order, 201
"""


def petstore_workspace(root: Path, **config: Any) -> Path:
    (root / "specs").mkdir(parents=True, exist_ok=True)
    shutil.copy(PETSTORE, root / "specs")
    (root / "mockyard.yaml").write_text(yaml.safe_dump(config))
    return root


def test_a_handler_and_an_inferred_resource_share_one_collection(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws", {"shop.yaml": ORDERS}, handlers={"shop.py": HANDLER})
    with in_process(tmp_path, ws, strict=True) as client:
        answered = {op.operation_id: op.answered_by for op in client.sandbox.workspace.index}
        assert answered == {
            "place-order": "handler",
            "get-order": "resource",
            "amend-order": "resource",
        }
        placed = client.post("/orders", json={"item": "tea"})
        assert placed.status_code == 201
        number = placed.json()["id"]
        assert client.get(f"/orders/{number}").json() == {"id": number, "item": "tea"}
        client.patch(f"/orders/{number}", json={"note": "no sugar"})
        state = client.get(f"/__mockyard/state/shop/orders/{number}").json()
        assert state == {"id": number, "item": "tea", "note": "no sugar"}


def test_the_state_api_reads_and_writes_what_inferred_operations_do(tmp_path: Path) -> None:
    with in_process(tmp_path, WORKSPACE) as client:
        pet = {"id": 42, "name": "Put", "status": "sold", "createdAt": "2024-01-01T00:00:00Z"}
        assert client.put("/__mockyard/state/petstore/pets/42", json=pet).status_code == 201
        assert client.get("/pets/42").json() == pet
        created = client.post("/pets", json={"name": "Rex"}).json()
        assert created["id"] == 43  # after the highest id stored
        assert client.get(f"/__mockyard/state/petstore/pets/{created['id']}").json() == created


def test_prefer_answers_from_the_spec_and_changes_nothing(tmp_path: Path) -> None:
    with in_process(tmp_path, WORKSPACE, strict=True) as client:
        before = client.get("/pets").json()
        preferred = client.get("/pets/1", headers={"Prefer": "code=404"})
        assert (preferred.status_code, preferred.json()) == (
            404,
            {"code": 404, "message": "Pet not found"},
        )
        mocked = client.post("/pets", json={"name": "Rex"}, headers={"Prefer": "dynamic=true"})
        assert mocked.status_code == 201
        assert client.get("/pets").json() == before
        assert client.delete("/pets/1", headers={"Prefer": "code=204"}).status_code == 204
        assert client.get("/pets/1").status_code == 200


def test_latency_and_faults_apply_to_inferred_operations(tmp_path: Path) -> None:
    controls = {
        "operations": {
            "list-pets": {"latency": 200},
            "create-pet": {"faults": {"error": 1}},
        }
    }
    ws = petstore_workspace(tmp_path / "ws", controls=controls)
    with in_process(tmp_path, ws) as client:
        started = time.monotonic()
        assert client.get("/pets").status_code == 200
        assert time.monotonic() - started >= 0.19
        faulted = client.post("/pets", json={"name": "Rex"})
        assert faulted.status_code == 500
        assert [p["id"] for p in client.get("/pets").json()] == [1, 2, 3, 4, 5]  # nothing stored


def test_plain_requests_to_inferred_operations_take_the_fast_reader(tmp_path: Path) -> None:
    with in_process(tmp_path, WORKSPACE) as client:
        reader = client.sandbox.fast_path
        before = reader.served
        assert client.get("/pets/1").status_code == 200
        assert client.post("/pets", json={"name": "Rex"}).status_code == 201
        assert client.get("/books", params={"page": 1}).status_code == 200
        assert reader.served == before + 3
        assert client.post("/pets", json={"name": 5}).status_code == 400  # Connexion's answer
        assert reader.served == before + 3


def test_a_write_that_fails_rolls_back_the_id_it_took(tmp_path: Path) -> None:
    with in_process(tmp_path, WORKSPACE) as client:
        assert (
            client.post(
                "/books", json={"book": {"isbn": "9780262033848", "title": "A", "author": "B"}}
            ).status_code
            == 201
        )
        assert (
            client.post(
                "/books", json={"book": {"isbn": "9780262033848", "title": "A", "author": "B"}}
            ).status_code
            == 409
        )
        assert client.post("/pets", json={"name": "A"}).json()["id"] == 6
        assert (
            client.patch(
                "/pets/6",
                json={"name": None},
                headers={"Content-Type": "application/merge-patch+json"},
            ).status_code
            == 400
        )
        assert client.post("/pets", json={"name": "B"}).json()["id"] == 7


# --- two workers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Any:
    sandbox = start_sandbox(
        tmp_path_factory.mktemp("workers") / "state.sqlite3", "--workers", "2", workspace=WORKSPACE
    )
    yield sandbox
    sandbox.stop()


def test_ids_stay_unique_under_concurrent_creates_with_two_workers(
    two_workers: LiveSandbox,
) -> None:
    two_workers.reset()

    def create(n: int) -> tuple[int, Any]:
        with httpx.Client(base_url=two_workers.url, timeout=30) as client:
            kind = "pets" if n % 2 else "projects"
            response = client.post(f"/{kind}", json={"name": f"n{n}"})
            return response.status_code, (kind, response.json()["id"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(create, range(120)))
    assert {status for status, _ in results} == {201}
    ids = [created for _, created in results]
    assert len(set(ids)) == len(ids) == 120
    workers = {
        httpx.get(f"{two_workers.url}/__mockyard/health", timeout=30).json()["worker"]
        for _ in range(40)
    }
    assert len(workers) == 2  # both processes answered
    stored = two_workers.records("petstore", "pets")
    assert sorted(int(k) for k in stored) == list(range(1, 66))  # 5 seeded + 60 created, no gap


def test_seeded_records_reach_a_second_worker_after_a_reset(two_workers: LiveSandbox) -> None:
    httpx.post(
        f"{two_workers.url}/__mockyard/reset", json={"seed": 3}, timeout=30
    ).raise_for_status()
    answers = {
        tuple(p["name"] for p in httpx.get(f"{two_workers.url}/pets", timeout=30).json())
        for _ in range(10)
    }
    assert len(answers) == 1
    other = two_workers.state.parent / "other"
    other.mkdir()
    with served(other, WORKSPACE, seed=3) as client:
        assert tuple(p["name"] for p in client.get("/pets").json()) in answers
