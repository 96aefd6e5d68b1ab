"""Every spec a stateful sandbox with no code: inferred resources on three spec styles.

`tests/resource_workspace/` serves, with no handler and no fixture:
- petstore: plain CRUD, bare records and arrays, limit/offset, a status filter (OpenAPI 3.0);
- projects: OpenAPI 3.1, tasks nested in projects, cursor paging, UUID ids, 422 errors;
- library: envelopes (`{"book": ...}` in, `{"data": ...}` out, `{"items", "total", ...}`),
  client-chosen ids (an ISBN) with 409 on a taken one, a PUT that creates.
Every answer is checked against the spec (`strict`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, in_process
from starlette.testclient import TestClient
from workspaces import served

from mockyard.cli import main

WORKSPACE = ROOT / "tests" / "resource_workspace"
MERGE = {"Content-Type": "application/merge-patch+json"}
BOOK = {"isbn": "9780262033848", "title": "Introduction to Algorithms", "author": "Cormen"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with in_process(tmp_path, WORKSPACE, strict=True) as client:
        yield client


def stored(client: TestClient, api: str, collection: str) -> dict[str, Any]:
    """A collection's records, through the state API."""
    response = client.get(f"/__mockyard/state/{api}/{collection}", params={"limit": 1000})
    return response.json()["records"]


# --- seeded ---------------------------------------------------------------------------------------


def test_each_collection_starts_with_faker_records_valid_for_its_schema(client: TestClient) -> None:
    pets = client.get("/pets")  # strict: the answer is checked against the spec
    assert pets.status_code == 200
    assert [p["id"] for p in pets.json()] == [1, 2, 3, 4, 5]
    assert all(p["name"] and p["status"] in ("available", "pending", "sold") for p in pets.json())
    projects = client.get("/projects", params={"limit": 50}).json()["data"]
    assert len(projects) == 5 and all(uuid.UUID(p["id"]) for p in projects)
    project_ids = {p["id"] for p in projects}
    tasks = stored(client, "projects", "tasks")
    assert len(tasks) == 5 and {t["project_id"] for t in tasks.values()} <= project_ids
    assert client.get("/members/1").json()["member"]["id"] == 1


def test_the_same_seed_seeds_the_same_records_and_another_seed_others(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    with served(tmp_path / "a", WORKSPACE) as one, served(tmp_path / "b", WORKSPACE) as two:
        assert one.get("/pets").json() == two.get("/pets").json()
        assert one.get("/books").json() == two.get("/books").json()
    with (
        served(tmp_path / "c", WORKSPACE, seed=99) as other,
        served(tmp_path / "b", WORKSPACE) as two,
    ):
        assert other.get("/pets").json() != two.get("/pets").json()


def test_reset_restores_the_seeded_records(client: TestClient) -> None:
    seeded = client.get("/pets").json()
    client.post("/pets", json={"name": "Rex"})
    client.delete("/pets/1")
    assert client.get("/pets").json() != seeded
    assert client.post("/__mockyard/reset").status_code == 200
    assert client.get("/pets").json() == seeded
    created = client.post("/pets", json={"name": "Rex"}).json()
    assert created["id"] == 6  # the id counter restarts too


# --- create, read, update, delete -----------------------------------------------------------------


def test_create_stores_the_body_with_the_fields_the_server_makes(client: TestClient) -> None:
    created = client.post("/pets", json={"name": "Rex", "tag": "dog"})
    assert created.status_code == 201
    pet = created.json()
    assert (pet["id"], pet["name"], pet["tag"], pet["status"]) == (6, "Rex", "dog", "available")
    assert pet["createdAt"].endswith("Z")  # a server-made date-time the schema requires
    assert created.headers["location"] == "/pets/6"
    assert client.get("/pets/6").json() == pet
    assert stored(client, "petstore", "pets")["6"] == pet
    assert client.post("/pets", json={"name": "Bo"}).json()["id"] == 7


def test_replace_merge_and_delete_change_the_store(client: TestClient) -> None:
    pet = client.post("/pets", json={"name": "Rex", "tag": "dog"}).json()
    replaced = client.put(f"/pets/{pet['id']}", json={"name": "Max", "status": "pending"})
    assert replaced.status_code == 200
    assert replaced.json() == {
        "id": pet["id"],
        "name": "Max",
        "status": "pending",
        "createdAt": pet["createdAt"],  # kept: the client does not write it
    }
    client.patch(f"/pets/{pet['id']}", json={"tag": "big"}, headers=MERGE)
    merged = client.patch(f"/pets/{pet['id']}", json={"status": "sold", "tag": None}, headers=MERGE)
    assert merged.status_code == 200
    assert merged.json() == {**replaced.json(), "status": "sold"}  # null removed the tag
    assert client.get(f"/pets/{pet['id']}").json() == merged.json()
    deleted = client.delete(f"/pets/{pet['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    gone = client.get(f"/pets/{pet['id']}")
    assert (gone.status_code, gone.json()) == (404, {"code": 404, "message": "Pet not found"})
    assert client.delete(f"/pets/{pet['id']}").status_code == 404
    assert str(pet["id"]) not in stored(client, "petstore", "pets")


def test_an_unknown_id_gets_the_documented_404(client: TestClient) -> None:
    assert client.get("/pets/99").json() == {"code": 404, "message": "Pet not found"}
    assert client.put("/pets/99", json={"name": "Max"}).status_code == 404
    assert client.patch("/pets/99", json={"name": "Max"}, headers=MERGE).status_code == 404
    wrong_type = client.get("/pets/abc")  # the route cannot match: still the pet's 404
    assert (wrong_type.status_code, wrong_type.json()["message"]) == (404, "Pet not found")
    book = client.get("/books/9780000000002")
    assert (book.status_code, book.json()) == (
        404,
        {"error": {"code": "not_found", "message": "No such book."}},
    )


def test_an_invalid_body_gets_the_documented_error_and_stores_nothing(client: TestClient) -> None:
    before = stored(client, "petstore", "pets")
    for response in (
        client.post("/pets", json={"tag": "no name"}),
        client.post("/pets", json={"name": "Rex", "status": "lost"}),
        client.put("/pets/1", json={"name": ""}),
        client.patch("/pets/1", json={"name": 5}, headers=MERGE),
    ):
        assert (response.status_code, response.json()) == (
            400,
            {"code": 400, "message": "Invalid request"},  # the spec's documented 400
        )
    assert stored(client, "petstore", "pets") == before
    # an API that documents 422 and no 400 (FastAPI's way) gets its 422
    invalid = client.post("/projects", json={"name": ""})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    bad_book = client.post("/books", json={"book": {**BOOK, "isbn": "12"}})
    assert bad_book.status_code == 422 and "error" in bad_book.json()
    assert (
        client.patch(f"/projects/{uuid.uuid4()}", json={"colour": "red"}).status_code == 422
    )  # additionalProperties: false
    project = client.get("/projects").json()["data"][0]["id"]
    tasks = stored(client, "projects", "tasks")
    not_a_date = client.post(f"/projects/{project}/tasks", json={"title": "T", "due": ""})
    assert not_a_date.status_code == 422  # the record's schema says format: date
    assert stored(client, "projects", "tasks") == tasks


def test_a_merge_that_would_break_the_schema_is_refused(client: TestClient) -> None:
    before = client.get("/pets/1").json()
    broken = client.patch("/pets/1", json={"name": None}, headers=MERGE)  # removes a required field
    assert broken.status_code == 400
    assert broken.json() == {"code": 400, "message": "Invalid request"}
    assert client.get("/pets/1").json() == before


# --- lists ----------------------------------------------------------------------------------------


def test_a_list_honours_limit_offset_and_equality_filters(client: TestClient) -> None:
    for name, status in (("A", "sold"), ("B", "pending"), ("C", "sold")):
        client.post("/pets", json={"name": name, "status": status, "tag": "new"})
    everything = client.get("/pets").json()
    assert [p["id"] for p in everything] == list(range(1, 9))
    assert client.get("/pets", params={"limit": 3, "offset": 2}).json() == everything[2:5]
    sold = client.get("/pets", params={"status": "sold"}).json()
    assert sold and all(p["status"] == "sold" for p in sold)
    assert {p["name"] for p in client.get("/pets", params={"tag": "new"}).json()} == {"A", "B", "C"}
    assert client.get("/pets", params={"tag": "none such"}).json() == []


def test_cursor_paging_walks_every_record_once(client: TestClient) -> None:
    made = {client.post("/projects", json={"name": f"P{n}"}).json()["id"] for n in range(7)}
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = client.get("/projects", params=params).json()
        assert len(page["data"]) <= 3
        seen += [p["id"] for p in page["data"]]
        if page["next_cursor"] is None:  # nullable in the 3.1 spec: null on the last page
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 12 and made <= set(seen)
    stranger = client.get("/projects", params={"limit": 3, "cursor": "not-one-of-ours"}).json()
    assert [p["id"] for p in stranger["data"]] == seen[:3]  # a cursor never issued: the start


def test_a_list_in_an_envelope_gets_its_total_and_page(client: TestClient) -> None:
    for n in range(4):
        isbn = f"978026203{n:04d}"
        assert (
            client.post(
                "/books", json={"book": {**BOOK, "isbn": isbn, "author": "Knuth"}}
            ).status_code
            == 201
        )
    page = client.get("/books", params={"page": 2, "per_page": 3})
    body = page.json()
    assert (body["total"], body["page"], body["per_page"]) == (9, 2, 3)
    assert len(body["items"]) == 3
    assert page.headers["x-total-count"] == "9"
    everything = client.get("/books", params={"per_page": 25}).json()["items"]
    assert body["items"] == everything[3:6]
    knuth = client.get("/books", params={"author": "Knuth"}).json()
    assert knuth["total"] == 4 and {b["author"] for b in knuth["items"]} == {"Knuth"}


# --- envelopes, client-chosen ids, PUT that creates -----------------------------------------------


def test_records_travel_in_their_envelopes(client: TestClient) -> None:
    created = client.post("/books", json={"book": BOOK})
    assert created.status_code == 201
    assert created.json() == {
        "data": {**BOOK, "available": True, "added_at": created.json()["data"]["added_at"]}
    }
    assert created.headers["location"] == f"/books/{BOOK['isbn']}"
    assert client.get(f"/books/{BOOK['isbn']}").json() == created.json()
    assert stored(client, "library", "books")[BOOK["isbn"]] == created.json()["data"]  # unwrapped
    removed = client.delete(f"/books/{BOOK['isbn']}")
    assert (removed.status_code, removed.json()) == (200, created.json())  # documented: the record
    assert client.get(f"/books/{BOOK['isbn']}").status_code == 404


def test_a_create_with_a_taken_id_is_the_documented_409(client: TestClient) -> None:
    first = client.post("/books", json={"book": BOOK})
    again = client.post("/books", json={"book": {**BOOK, "title": "Another"}})
    assert again.status_code == 409
    assert "error" in again.json()
    assert client.get(f"/books/{BOOK['isbn']}").json() == first.json()


def test_a_put_creates_where_the_spec_documents_201_then_replaces(client: TestClient) -> None:
    created = client.put(f"/books/{BOOK['isbn']}", json={"book": BOOK})
    assert created.status_code == 201
    replaced = client.put(f"/books/{BOOK['isbn']}", json={"book": {**BOOK, "year": 2009}})
    assert replaced.status_code == 200
    assert replaced.json()["data"]["year"] == 2009
    other = client.put("/books/9780262033855", json={"book": BOOK})  # the path's id wins
    assert other.json()["data"]["isbn"] == "9780262033855"


# --- nested resources -----------------------------------------------------------------------------


def test_nested_records_are_scoped_to_their_parent(client: TestClient) -> None:
    a = client.post("/projects", json={"name": "A"}).json()["id"]
    b = client.post("/projects", json={"name": "B"}).json()["id"]
    task = client.post(f"/projects/{a}/tasks", json={"title": "Write", "due": None})
    assert task.status_code == 201
    body = task.json()
    assert (body["project_id"], body["status"], body["due"]) == (a, "todo", None)
    assert task.headers["location"] == f"/projects/{a}/tasks/{body['id']}"
    assert client.get(f"/projects/{a}/tasks/{body['id']}").json() == body
    assert client.get(f"/projects/{b}/tasks/{body['id']}").status_code == 404
    assert [t["id"] for t in client.get(f"/projects/{a}/tasks").json()["data"]] == [body["id"]]
    assert client.get(f"/projects/{b}/tasks").json()["data"] == []
    done = client.put(
        f"/projects/{a}/tasks/{body['id']}", json={"title": "Written", "status": "done"}
    )
    assert (done.json()["project_id"], done.json()["status"]) == (a, "done")
    assert client.get(f"/projects/{a}/tasks", params={"status": "todo"}).json()["data"] == []


def test_a_missing_parent_is_a_404(client: TestClient) -> None:
    a = client.post("/projects", json={"name": "A"}).json()["id"]
    client.post(f"/projects/{a}/tasks", json={"title": "Write"})
    assert client.delete(f"/projects/{a}").status_code == 204
    for response in (
        client.get(f"/projects/{a}/tasks"),
        client.post(f"/projects/{a}/tasks", json={"title": "Orphan"}),
        client.post(f"/projects/{uuid.uuid4()}/tasks", json={"title": "Orphan"}),
    ):
        assert response.status_code == 404
        assert response.json()["status"] == 404  # the documented problem body


def test_mockyard_fixtures_prints_the_records_the_sandbox_starts_with(client: TestClient) -> None:
    result = CliRunner().invoke(
        main, ["fixtures", "--workspace", str(WORKSPACE), "--api", "petstore"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"petstore": {"pets": stored(client, "petstore", "pets")}}
