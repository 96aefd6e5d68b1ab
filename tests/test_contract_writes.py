"""What can change state, from the spec: `x-mockyard-writes`, and read-only specs and guards."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from conftest import ROOT, free_port
from schemathesis.errors import HookExecutionError

from mockyard import contract_wire, contract_writes, workspace
from mockyard.errors import SpecError

MARKED = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/jobs/{id}": {
            "parameters": [  # shared by every operation of the path
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"$ref": "#/components/parameters/Mode"},
            ],
            "get": {"responses": {"200": {"description": "ok"}}},
            "delete": {"responses": {"204": {"description": "gone"}}},
        },
        "/jobs/{id}/refresh": {
            "get": {
                "x-mockyard-writes": True,
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/search": {
            "get": {
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "schema": {"type": "string", "default": "reindex"},
                        "examples": {"a": {"value": "reindex"}, "b": {"value": "cats"}},
                        "x-mockyard-writes": ["reindex"],
                    },
                    {
                        "name": "warm",
                        "in": "query",
                        "schema": {"type": "boolean"},
                        "x-mockyard-writes": True,
                    },
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/scan": {
            "get": {
                "parameters": [
                    {
                        "name": "scope",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": ["all"]},
                        "x-mockyard-writes": ["all"],
                    },
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
    "components": {
        "parameters": {
            "Mode": {
                "name": "mode",
                "in": "query",
                "schema": {"$ref": "#/components/schemas/Mode"},
                "example": "rebuild",
                "x-mockyard-writes": ["rebuild"],
            }
        },
        "schemas": {"Mode": {"type": "string", "enum": ["rebuild", "peek", "count"]}},
    },
}


def params(spec: dict[str, Any], route: str, method: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in spec["paths"][route][method]["parameters"]}


def test_read_only_spec_skips_what_always_writes() -> None:
    narrowed = contract_writes.read_only(MARKED)
    assert narrowed.skipped == {
        "DELETE /jobs/{id}": "DELETE can change state",
        "GET /jobs/{id}/refresh": "the spec marks it as changing state (x-mockyard-writes)",
        "GET /scan": "every value of its query parameter scope can change state "
        "(x-mockyard-writes)",
    }


def test_read_only_spec_takes_writing_values_out_of_generation() -> None:
    narrowed = contract_writes.read_only(MARKED)
    mode = params(narrowed.spec, "/jobs/{id}", "get")["mode"]  # a shared $ref, resolved
    assert mode["schema"]["enum"] == ["peek", "count"] and mode["example"] == "peek"
    assert "parameters" not in narrowed.spec["paths"]["/jobs/{id}"]  # each operation has its own
    assert "GET /jobs/{id}: mode never rebuild" in narrowed.narrowed
    search = params(narrowed.spec, "/search", "get")
    assert search["q"]["schema"] == {"type": "string", "not": {"enum": ["reindex"]}}
    assert search["q"]["examples"] == {"b": {"value": "cats"}}
    assert "warm" not in search  # optional, and any value writes: never sent
    assert MARKED["components"]["schemas"]["Mode"]["enum"] == ["rebuild", "peek", "count"]


@pytest.mark.parametrize(
    ("where", "marker"),
    [("operation", "yes"), ("parameter", []), ("parameter", [{"a": 1}]), ("parameter", "start")],
)
def test_a_malformed_marker_is_a_spec_error(where: str, marker: object) -> None:
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"parameters": [{"name": "p", "in": "query"}]}}},
    }
    target = spec["paths"]["/x"]["get"]
    (target if where == "operation" else target["parameters"][0])["x-mockyard-writes"] = marker
    with pytest.raises(SpecError, match="GET /x: x-mockyard-writes on"):
        contract_writes.check(spec)


def test_cargoextra_marks_validate_start_as_writing() -> None:
    (cargo,) = [a for a in workspace.load(ROOT).apis if a.name == "cargoextra"]
    narrowed = contract_writes.read_only(workspace.read_yaml(cargo.spec))
    validate = params(narrowed.spec, "/api/v1/billing/invoice/validate", "get")
    assert validate["type"]["schema"]["enum"] == ["confirm"]
    assert "GET /api/v1/billing/invoice/validate" not in narrowed.skipped


def case(spec: dict[str, Any], label: str, **parts: Any) -> Any:
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.update(base_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    method, path = label.split(" ", 1)
    return schema[path][method].Case(**parts)


def test_the_guard_refuses_every_writing_request_before_sending_it() -> None:
    spec = contract_writes.read_only(MARKED).spec
    # Even a request the narrowed spec would not generate (a link, a hook) is stopped.
    refused = [
        case(spec, "GET /jobs/{id}", path_parameters={"id": "1"}, query={"mode": "rebuild"}),
        case(spec, "DELETE /jobs/{id}", path_parameters={"id": "1"}),
        case(spec, "GET /jobs/{id}/refresh", path_parameters={"id": "1"}),
        case(spec, "GET /search", query={"q": "cats", "warm": "false"}),
    ]
    assert [contract_writes.refusal(c) is not None for c in refused] == [True] * 4
    allowed = case(spec, "GET /jobs/{id}", path_parameters={"id": "1"}, query={"mode": "peek"})
    assert contract_writes.refusal(allowed) is None
    # Outside a read-only run nothing is refused.
    assert (
        contract_writes.refusal(case(MARKED, "DELETE /jobs/{id}", path_parameters={"id": "1"}))
        is None
    )

    contract_wire.install()
    with pytest.raises(HookExecutionError) as raised:
        refused[0].call()  # refused before any connection is tried (none could succeed)
    assert isinstance(raised.value.__cause__, contract_writes.WriteRefused)
    assert "mode=rebuild can change state" in str(raised.value.__cause__)
