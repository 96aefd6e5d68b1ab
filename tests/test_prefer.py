"""The Prefer header (Prism's code=, example=, dynamic=) on generated and stateful operations."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from workspaces import ROOT, ok, served, spec, write_workspace

from mockyard.prefer import Preference, UnsatisfiablePreference, parse, response_key

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

    from mockyard.app import ServeConfig, build

PAY = "/api/v1/billing/invoice/pay"
TOKEN = {"Authorization": "Bearer sandbox-token-rich"}
BODY = {"invoice": 100127, "currency": "NGN"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Preference()),
        ("code=404", Preference(code=404)),
        ("code=400, example=wrong-amount", Preference(code=400, example="wrong-amount")),
        ("example=paid; dynamic=true", Preference(example="paid", dynamic=True)),
        ('example="with, comma"', Preference(example="with, comma")),
        ("Dynamic=FALSE, respond-async", Preference(dynamic=False)),
        ("return=minimal", Preference()),
        ("delay=250", Preference(delay=250)),
        ('delay="7.5", code=404', Preference(code=404, delay=7.5)),
        ("delay=999999", Preference(delay=60_000)),
    ],
)
def test_header_is_parsed_like_prism(header: str | None, expected: Preference) -> None:
    assert parse(header) == expected


def test_a_delay_alone_does_not_choose_the_answer() -> None:
    assert not parse("delay=250")
    assert parse("delay=250, dynamic=true")


@pytest.mark.parametrize(
    "header",
    ["code=abc", "code=99", "dynamic=maybe", "delay=abc", "delay=-5", "delay=1e3", "delay="],
)
def test_malformed_preferences_are_a_400(header: str) -> None:
    with pytest.raises(UnsatisfiablePreference) as info:
        parse(header)
    assert info.value.status == 400


def test_a_code_is_found_exactly_then_by_range_then_default() -> None:
    assert response_key(404, ["200", "404", "4XX"]) == "404"
    assert response_key(409, ["200", "4XX", "default"]) == "4XX"
    assert response_key(503, ["200", "default"]) == "default"
    assert response_key(503, ["200"]) is None


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[TestClient, object]]:
    """The repository's own workspace (CargoExtra, with handlers), in-process, strict."""
    config = ServeConfig(workspace=str(ROOT), state=str(tmp_path / "s.sqlite3"), strict=True)
    sandbox = build(config)
    with TestClient(sandbox.app, raise_server_exceptions=False) as client:
        yield client, sandbox


def wallet(sandbox: object) -> object:
    with sandbox.state.store.transaction(write=False) as tx:  # type: ignore[attr-defined]
        return tx.api("cargoextra").get("accounts", "sandbox-token-rich")["wallets"]["NGN"]


@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        (
            "code=200",
            200,
            {
                "message": "Invoice payment successful",
                "invoiceNo": 100123,
                "amount": 15000,
                "walletBalance": 0,
            },
        ),
        ("code=400", 400, {"message": "Missing One or More Required Parameters"}),
        ("code=400, example=insufficient-funds", 400, {"message": "Insufficient funds"}),
        ("example=wrong-amount", 400, {"message": "Wrong Amount"}),
        ("code=404, example=currency-not-found", 404, {"message": "Currency not found"}),
        ("code=500", 500, {"message": "Unexpected Error"}),
    ],
)
def test_forced_outcome_on_a_stateful_operation_is_documented_and_changes_nothing(
    gateway: tuple[TestClient, object], header: str, status: int, body: dict
) -> None:
    client, sandbox = gateway
    before = wallet(sandbox)
    response = client.post(PAY, json=BODY, headers={**TOKEN, "Prefer": header})
    assert (response.status_code, response.json()) == (status, body)
    assert wallet(sandbox) == before
    paid = client.post(PAY, json=BODY, headers=TOKEN)  # the invoice was not paid by the above
    assert paid.status_code == 200
    assert wallet(sandbox) == before - 5000


def test_dynamic_on_a_stateful_operation_generates_a_valid_body(
    gateway: tuple[TestClient, object],
) -> None:
    client, sandbox = gateway
    before = wallet(sandbox)
    response = client.post(PAY, json=BODY, headers={**TOKEN, "Prefer": "dynamic=true"})
    assert response.status_code == 200  # --strict: the generated body passed response validation
    assert set(response.json()) == {"message", "invoiceNo", "amount", "walletBalance"}
    assert wallet(sandbox) == before


def test_authentication_and_validation_still_come_first(gateway: tuple[TestClient, object]) -> None:
    client, _ = gateway
    response = client.post(PAY, json=BODY, headers={"Prefer": "code=200"})
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    response = client.post(PAY, json={"invoice": 1}, headers={**TOKEN, "Prefer": "code=200"})
    assert response.json() == {"message": "Missing One or More Required Parameters"}


def test_impossible_preferences_name_what_is_documented(gateway: tuple[TestClient, object]) -> None:
    client, _ = gateway
    response = client.post(PAY, json=BODY, headers={**TOKEN, "Prefer": "code=418"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "418" in problem["detail"] and "200, 400, 401, 403, 404, 429, 500" in problem["detail"]
    assert problem["documented"] == ["200", "400", "401", "403", "404", "429", "500"]

    response = client.post(PAY, json=BODY, headers={**TOKEN, "Prefer": "code=400, example=nope"})
    assert response.status_code == 404
    problem = response.json()
    assert "'nope'" in problem["detail"] and "insufficient-funds" in problem["detail"]
    assert "wrong-amount" in problem["examples"]["400"]

    response = client.post(PAY, json=BODY, headers={**TOKEN, "Prefer": "code=abc"})
    assert response.status_code == 400


@pytest.mark.parametrize("header", ["code=abc", "delay=abc", "delay=-5", "delay=NaN"])
def test_a_malformed_delay_is_a_400_like_a_malformed_code(
    gateway: tuple[TestClient, object], header: str
) -> None:
    client, sandbox = gateway
    before = wallet(sandbox)
    response = client.post(PAY, json=BODY, headers={**TOKEN, "Prefer": header})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert header.split("=")[0] in response.json()["detail"]
    assert wallet(sandbox) == before  # the handler did not run


def test_prefer_on_a_generated_operation(tmp_path: Path) -> None:
    responses = {
        **ok(
            {"type": "object", "properties": {"n": {"type": "integer"}}},
            examples={"one": {"value": {"n": 1}}, "two": {"value": {"n": 2}}},
        ),
        "404": {
            "description": "missing",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["error"],
                        "properties": {"error": {"type": "string"}},
                    }
                }
            },
        },
        "204": {"description": "nothing"},
    }
    ws = write_workspace(
        tmp_path,
        {
            "things.yaml": spec(
                {"/things": {"get": {"operationId": "things", "responses": responses}}}
            )
        },
    )
    with served(tmp_path, ws, strict=True) as client:
        assert client.get("/things").json() == {
            "n": 1
        }  # 200 before 204: first 2xx by number is 200
        assert client.get("/things", headers={"Prefer": "example=two"}).json() == {"n": 2}
        missing = client.get("/things", headers={"Prefer": "code=404"})
        assert missing.status_code == 404 and isinstance(missing.json()["error"], str)
        empty = client.get("/things", headers={"Prefer": "code=204"})
        assert (empty.status_code, empty.content) == (204, b"")
        dynamic = client.get("/things", headers={"Prefer": "dynamic=true"}).json()
        assert set(dynamic) <= {"n"}
