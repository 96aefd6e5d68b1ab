"""The fast path (`mockyard.fastpath`) answers exactly as Connexion does, and leaves the same state.

Two sandboxes are built from the same workspace and seed, one with the fast path and one
without, both with a pinned clock and a pinned `secrets.token_hex` (CargoExtra's cloneId). Every
request goes to both; status, headers and body must be equal, and so must the stores at the end.
The requests are the documented outcomes of `test_cargoextra`, plus Hypothesis mutations of
valid requests to every handled operation: dropped, emptied and oddly written parameters,
repeated keys, credentials in every shape, odd content types and bodies, `Prefer` headers.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import CHARGEBEE_AUTH, FORM, ROOT, in_process, snapshot
from connexion.json_schema import Draft4RequestValidator, resolve_refs
from faker import Faker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from starlette.testclient import TestClient
from test_cargoextra import ERRORS, PAY, VALIDATE, query
from workspaces import ok, spec, write_workspace

from mockyard import specs, workspace
from mockyard.app import ServeConfig, build
from mockyard.fakedata import Generator
from mockyard.fastpath import _rs_safe, fast_validator
from mockyard.validation import FORMATS, compiled

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
IX_KEY = "sandbox-api-key"


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, TestClient]]:
    patch = pytest.MonkeyPatch()
    patch.setattr("secrets.token_hex", lambda n=16: "ab" * n)
    root = tmp_path_factory.mktemp("twins")
    (root / "fast").mkdir()
    (root / "connexion").mkdir()
    with (
        in_process(root / "fast", seed=7) as fast,
        in_process(root / "connexion", seed=7, fast_path=False) as slow,
    ):
        for client in (fast, slow):
            client.sandbox.runtime.clock = lambda: NOW  # type: ignore[attr-defined]
        yield fast, slow
    patch.undo()


def send(client: TestClient, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    response = client.request(**request)
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "server")}
    return response.status_code, headers, response.content


def both(twins: tuple[TestClient, TestClient], request: dict[str, Any]) -> None:
    fast, slow = twins
    assert send(fast, request) == send(slow, request), request


def state(client: TestClient) -> dict:
    return snapshot(Path(client.sandbox.state.store.path))  # type: ignore[attr-defined]


def served(client: TestClient) -> int:
    return client.sandbox.fast_path.served  # type: ignore[attr-defined]


def test_documented_outcomes_alike(twins: tuple[TestClient, TestClient]) -> None:
    before = served(twins[0])
    for token, method, path, data, _status, _message in ERRORS:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if method == "GET":
            both(twins, {"method": method, "url": path, "params": data, "headers": headers})
        else:
            both(twins, {"method": method, "url": path, "json": data, "headers": headers})
    assert served(twins[0]) > before  # the documented 400s and 404s come from handlers
    assert state(twins[0]) == state(twins[1])


def test_a_payment_is_served_fast_and_moves_money_once(
    twins: tuple[TestClient, TestClient],
) -> None:
    fast, slow = twins
    before = served(fast)
    pay = {
        "method": "POST",
        "url": PAY,
        "json": {"invoice": 100127, "currency": "NGN"},
        "headers": {"Authorization": "Bearer sandbox-token-rich"},
    }
    first, again = send(fast, pay), send(fast, pay)
    assert (first, again) == (send(slow, pay), send(slow, pay))
    assert first[0] == 200 and json.loads(again[2])["message"] == "Invoice already paid"
    assert served(fast) == before + 2
    assert state(fast) == state(slow)


# Most requests are plain (the fast path must serve them); the others are mutated towards
# the fast path's limits, where it must hand over to Connexion.
MUTATE = st.sampled_from([False, False, True])  # Hypothesis leans to True on st.booleans()
ODD_VALUES = [
    "",
    " 1",
    "1 ",
    "+1",
    "-0",
    "1e3",
    "1e999",
    "nan",
    "Infinity",
    "0x10",
    "1_000",
    "١٢",
    "\uff11",  # a fullwidth one
    "true",
    "null",
    "%00",
    "a" * 30,
    "642F1A3E9B1E8A0012345678",
    "642f1a3e9b1e8a0012345678\n",
    "15000.0",
    "15000.00001",
    "confirm",
    "start",
]
ODD_TOKENS = [
    "bearer sandbox-token",
    "Bearer  sandbox-token",
    "Bearer",
    "Bearer sandbox-token-limited",
    "Bearer sandbox-token-blocked",
    "Bearer nope",
    "Basic c2FuZGJveC10b2tlbjo=",
    "Token sandbox-token",
    "",
]
ODD_JSON_TYPES = [
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/json; charset=latin-1",
    "text/plain",
    FORM,
]
BODY_VALUES = [None, 1, "1", 1.5, -1, 100123, 10**30, "NGN", "USD", "", [], {}, True]


def pick(draw: st.DrawFn, mutate: bool, plain: Any, odd: list[Any]) -> Any:
    """`plain`, or when mutating, maybe one of `odd`."""
    return draw(st.sampled_from([plain, *odd])) if mutate else plain


@st.composite
def validate_requests(draw: st.DrawFn) -> dict[str, Any]:
    mutate = draw(MUTATE)
    invoice, amount = draw(st.sampled_from([(100123, 15000), (100124, 8000), (100130, 3000)]))
    pairs = list(query(invoice, amount, type=draw(st.sampled_from(["confirm", "start"]))).items())
    for _ in range(draw(st.integers(0, 3)) if mutate else 0):
        i = draw(st.integers(0, len(pairs) - 1))
        action = draw(st.sampled_from(["drop", "odd", "repeat"]))
        if action == "drop":
            pairs.pop(i)
        elif action == "odd":
            pairs[i] = (pairs[i][0], draw(st.sampled_from(ODD_VALUES)))
        else:
            pairs.append(pairs[i])
        if not pairs:
            break
    headers = {"Authorization": pick(draw, mutate, "Bearer sandbox-token", ODD_TOKENS)}
    prefer = pick(draw, mutate, None, ["code=404", "dynamic=true", "example=x"])
    if prefer:
        headers["Prefer"] = prefer
    return {"method": "GET", "url": f"{VALIDATE}?{urlencode(pairs)}", "headers": headers}


def json_body(draw: st.DrawFn, mutate: bool, body: dict[str, Any]) -> bytes:
    for _ in range(draw(st.integers(0, 2)) if mutate else 0):
        key = draw(st.sampled_from([*body, "extra"]))
        if draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = draw(st.sampled_from(BODY_VALUES))
    raw = json.dumps(body).encode()
    return pick(draw, mutate, raw, [b"{", b"NaN", b"null", raw + b"\xff", b""])


@st.composite
def pay_requests(draw: st.DrawFn) -> dict[str, Any]:
    mutate = draw(MUTATE)
    invoice = draw(st.sampled_from([100123, 100124, 100126, 100127, 100128, 100500, 999999]))
    headers = {
        "Authorization": pick(draw, mutate, "Bearer sandbox-token", ODD_TOKENS),
        "Content-Type": pick(draw, mutate, "application/json", ODD_JSON_TYPES),
    }
    body = json_body(draw, mutate, {"invoice": invoice, "currency": "NGN"})
    return {"method": "POST", "url": PAY, "content": body, "headers": headers}


@st.composite
def invoicexpress_requests(draw: st.DrawFn) -> dict[str, Any]:
    mutate = draw(MUTATE)
    document = pick(draw, mutate, draw(st.sampled_from("12349")), ["abc", "-1", "+2", "1.0"])
    amount = draw(st.sampled_from([1, 0.01, 5, 10**9]))
    payment = {"amount": pick(draw, mutate, amount, [-1, "1"]), "payment_mechanism": "TB"}
    body = json_body(draw, mutate, {"partial_payment": payment})
    key = pick(draw, mutate, IX_KEY, ["wrong", "", None])
    params = [] if key is None else [("api_key", key)] * pick(draw, mutate, 1, [2])
    return {
        "method": "POST",
        "url": f"/documents/{document}/partial_payments.json?{urlencode(params)}",
        "content": body,
        "headers": {"Content-Type": pick(draw, mutate, "application/json", ODD_JSON_TYPES)},
    }


@st.composite
def chargebee_requests(draw: st.DrawFn) -> dict[str, Any]:
    invoice = draw(st.sampled_from(["inv_sandbox_open", "nope"]))
    fields = urlencode([("transactions[amount][0]", draw(st.sampled_from(["100", "x"])))])
    user = draw(st.sampled_from([CHARGEBEE_AUTH[0], "wrong"]))
    return {
        "method": "POST",
        "url": f"/api/v2/invoices/{invoice}/apply_payments",
        "content": fields,
        "headers": {"Content-Type": FORM},
        "auth": (user, ""),
    }


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    request=st.one_of(
        validate_requests(), pay_requests(), invoicexpress_requests(), chargebee_requests()
    )
)
def test_mutated_requests_alike(twins: tuple[TestClient, TestClient], request: dict) -> None:
    both(twins, request)
    assert state(twins[0]) == state(twins[1])


def test_plain_requests_to_every_handled_operation_run_fast(
    twins: tuple[TestClient, TestClient],
) -> None:
    plain = [
        {
            "method": "GET",
            "url": VALIDATE,
            "params": query(100123, 15000),
            "headers": {"Authorization": "Bearer sandbox-token"},
        },
        {
            "method": "POST",
            "url": PAY,
            "json": {"invoice": 100999, "currency": "NGN"},
            "headers": {"Authorization": "Bearer sandbox-token"},
        },
        {
            "method": "POST",
            "url": f"/documents/1/partial_payments.json?api_key={IX_KEY}",
            "json": {"partial_payment": {"amount": 0.01, "payment_mechanism": "TB"}},
        },
    ]
    before = served(twins[0])
    for request in plain:
        both(twins, request)
    assert served(twins[0]) == before + len(plain)
    assert twins[1].sandbox.fast_path is None  # type: ignore[attr-defined]


def test_media_types_are_case_insensitive_on_both_paths(
    twins: tuple[TestClient, TestClient],
) -> None:
    """Connexion validated `APPLICATION/JSON` as JSON, then gave the handler bytes: a 500."""
    for client in twins:
        response = client.post(
            PAY,
            content=json.dumps({"invoice": 100128, "currency": "NGN"}),
            headers={
                "Authorization": "Bearer sandbox-token-rich",
                "Content-Type": "Application/JSON",
            },
        )
        assert response.status_code != 500 and "message" in response.json()
    assert state(twins[0]) == state(twins[1])


def _workspace_spec() -> dict:
    loaded = [
        (a.name, a.spec, specs.load_spec(a.spec), a.prefix) for a in workspace.load(ROOT).apis
    ]
    return resolve_refs(specs.merge(loaded))


SPEC = _workspace_spec()


def _fast_schemas() -> list[tuple[dict, type]]:
    """Every parameter and JSON body schema of the workspace that gets a compiled validator."""
    found = []
    for item in SPEC["paths"].values():
        for op in item.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                found.append((param["schema"], Draft4Validator))
            for media in (op.get("requestBody") or {}).get("content", {}).values():
                found.append((media["schema"], Draft4RequestValidator))
    return [(schema, cls) for schema, cls in found if _rs_safe(schema)]


FAST_SCHEMAS = _fast_schemas()
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.sampled_from(["NGN", "642f1a3e9b1e8a0012345678", "642f1a3e9b1e8a0012345678\n", "١٢", ""]),
)


def mutated(draw: st.DrawFn, value: Any) -> Any:
    """`value`, or a copy with one thing changed somewhere inside it."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["inside", "drop", "add"]))
        if action == "drop":
            return {k: v for k, v in value.items() if k != key}
        if action == "add":
            return {**value, draw(st.sampled_from([key + "_", "extra"])): draw(SCALARS)}
        return {**value, key: mutated(draw, value[key])}
    if isinstance(value, list) and value and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        return [*value[:i], mutated(draw, value[i]), *value[i + 1 :]]
    return draw(SCALARS) if draw(st.booleans()) else value


@st.composite
def instances(draw: st.DrawFn, schema: dict) -> Any:
    """A value mockyard's own generator makes valid for `schema`, maybe mutated once."""
    seed = draw(st.integers(0, 2**32))
    faker = Faker()
    faker.seed_instance(seed)
    generator = Generator(SPEC, faker, random.Random(seed), use_examples=draw(st.booleans()))
    return mutated(draw, generator.value(schema))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(data=st.data())
def test_compiled_validators_never_accept_what_connexion_refuses(data: st.DataObject) -> None:
    """The fast path's jsonschema-rs validators may refuse more than Connexion's (the request
    then goes to Connexion) but must never accept a value Connexion's validator refuses."""
    assert len(FAST_SCHEMAS) >= 5  # the comparison covers the workspace's schemas
    schema, cls = data.draw(st.sampled_from(FAST_SCHEMAS))
    value = data.draw(instances(schema))
    fast = fast_validator(schema, cls)
    try:
        accepted = fast.is_valid(value)
    except Exception:  # the fast path sends such values to Connexion
        return
    if accepted:
        assert compiled(schema, cls, FORMATS).is_valid(value), (schema, value)


HEADER_SPEC = spec(
    {
        "/items/{item-id}": {
            "get": {
                "operationId": "get-item",
                "security": [{"key": []}],
                "parameters": [
                    {
                        "name": "item-id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                    {
                        "name": "X-Tenant",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "enum": ["acme", "globex"]},
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 10}},
                    {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                    {
                        "name": "expand",
                        "in": "query",
                        "style": "deepObject",
                        "explode": True,
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                    {"name": "ids", "in": "query", "schema": {"type": "array", "items": {}}},
                    {"name": "X-Tags", "in": "header", "schema": {"type": "array"}},
                ],
                "responses": ok({"type": "object"}),
            }
        }
    },
    components={"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}},
)
ECHO = """
def authenticate(credentials, ctx):
    from mockyard import Principal
    return Principal(id=credentials.value) if credentials.value == "k" else None


def get_item(ctx, item_id, limit, verbose=None, expand=None, ids=None):
    return {"item": item_id, "limit": limit, "verbose": verbose, "caller": ctx.principal.id,
            "expand": expand, "ids": ids}
"""


@pytest.mark.parametrize(
    ("path", "headers", "fast"),
    [
        ("/items/7", {"X-Key": "k", "X-Tenant": "acme"}, True),
        ("/items/7?limit=3&verbose=true", {"X-Key": "k", "x-tenant": "globex"}, True),
        ("/items/7?verbose=True", {"X-Key": "k", "X-Tenant": "acme"}, False),  # Connexion's 200
        ("/items/7", {"X-Key": "k", "X-Tenant": "initech"}, False),
        ("/items/7", {"X-Key": "k"}, False),
        # optional parameters the fast reader does not read: only a request carrying one defers
        ("/items/7?expand[0]=a", {"X-Key": "k", "X-Tenant": "acme"}, False),
        ("/items/7?expand=a", {"X-Key": "k", "X-Tenant": "acme"}, False),
        ("/items/7?ids=1&ids=2", {"X-Key": "k", "X-Tenant": "acme"}, False),
        ("/items/7?ids=1", {"X-Key": "k", "X-Tenant": "acme"}, False),
        ("/items/7?expanded=1", {"X-Key": "k", "X-Tenant": "acme"}, True),
        ("/items/7", {"X-Key": "k", "X-Tenant": "acme", "X-Tags": "a,b"}, False),
        ("/items/0", {"X-Key": "k", "X-Tenant": "acme"}, False),
        ("/items/x", {"X-Key": "k", "X-Tenant": "acme"}, False),
        ("/items/7", {"X-Key": "nope", "X-Tenant": "acme"}, False),
        ("/items/7", {"X-Tenant": "acme"}, False),
    ],
)
def test_header_path_and_default_parameters_alike(
    tmp_path: Path, path: str, headers: dict[str, str], fast: bool
) -> None:
    """Parameters the CargoExtra specs do not use: a header, a dashed integer path parameter,
    a query default, a boolean, an API key in a header."""
    root = write_workspace(
        tmp_path / "ws", {"items.yaml": HEADER_SPEC}, handlers={"items.py": ECHO}
    )
    answers = []
    for fast_path in (True, False):
        state = tmp_path / f"{fast_path}.sqlite3"
        sandbox = build(ServeConfig(workspace=str(root), state=str(state), fast_path=fast_path))
        with TestClient(sandbox.app, raise_server_exceptions=False) as client:
            answers.append(send(client, {"method": "GET", "url": path, "headers": headers}))
        sandbox.close()
        if sandbox.fast_path is not None:
            assert sandbox.fast_path.served == int(fast)
    assert answers[0] == answers[1]
