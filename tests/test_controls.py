"""CORS, latency and faults, as a frontend developer sets and sees them."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import (
    LiveSandbox,
    cargoextra_workspace,
    in_process,
    snapshot,
)

import mockyard.cli
from mockyard.cli import main
from mockyard.controls import (
    ACTIONS,
    ControlRequest,
    Latency,
    control,
    parse_latency,
    prefer_delay,
    unregister,
)
from mockyard.errors import ApiError, WorkspaceError

PAY = "/api/v1/billing/invoice/pay"
PART = "/api/v1/billing/invoice/part-process"
VALIDATE = "/api/v1/billing/invoice/validate"
APP = "http://app.example.test"
FRONTEND = "http://localhost:5173"  # a local frontend: allowed by default
ADA = {"Authorization": "Bearer sandbox-token"}
RICH = {"Authorization": "Bearer sandbox-token-rich"}
VALIDATE_OK = {
    "invoiceNo": 100123,
    "amount": 15000,
    "currencyPaid": "642f1a3e9b1e8a0012345678",
    "type": "confirm",
    "processor": "paystack",
    "partPaymentFromWalletBalanceBefore": 0,
    "partPaymentFromWalletBalanceCurrent": 0,
}

# --- CORS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        FRONTEND,
        "http://127.0.0.1:3000",
        "http://[::1]:8080",
        "https://app.localhost",
        "http://localhost",
    ],
)
def test_preflight_is_answered_for_a_local_frontend_by_default(tmp_path: Path, origin: str) -> None:
    with in_process(tmp_path) as client:
        response = client.options(
            PAY,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize(
    "origin", [APP, "http://localhost.example.test", "null", "http://127.0.0.2"]
)
def test_other_origins_get_no_cors_approval_by_default(tmp_path: Path, origin: str) -> None:
    with in_process(tmp_path) as client:
        preflight = client.options(
            PAY, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        simple = client.get(VALIDATE, params=VALIDATE_OK, headers={**ADA, "Origin": origin})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert simple.status_code == 200  # answered (the browser then hides it from the page)
    assert "access-control-allow-origin" not in simple.headers


def test_a_star_opens_the_served_apis_to_any_origin(tmp_path: Path) -> None:
    with in_process(tmp_path, cors_origins=["*"]) as client:
        response = client.get(VALIDATE, params=VALIDATE_OK, headers={**ADA, "Origin": APP})
    assert response.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, {"invoice": 100123, "currency": "NGN"}, 401),
        (ADA, {"invoice": "x"}, 400),
        (ADA, {"invoice": 100500, "currency": "NGN"}, 500),
    ],
    ids=["401", "400", "500"],
)
def test_error_responses_carry_cors_headers(
    tmp_path: Path, headers: dict[str, str], body: dict[str, object], status: int
) -> None:
    with in_process(tmp_path) as client:
        response = client.post(PAY, json=body, headers={**headers, "Origin": FRONTEND})
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert "message" in response.json()


def test_cors_origin_list_allows_only_the_listed_origins(tmp_path: Path) -> None:
    with in_process(tmp_path, cors_origins=[APP]) as client:
        allowed = client.get(VALIDATE, params=VALIDATE_OK, headers={**ADA, "Origin": APP})
        other = client.get(
            VALIDATE, params=VALIDATE_OK, headers={**ADA, "Origin": "http://other.test"}
        )
        preflight = client.options(
            PAY,
            headers={"Origin": "http://other.test", "Access-Control-Request-Method": "POST"},
        )
        local = client.get(VALIDATE, params=VALIDATE_OK, headers={**ADA, "Origin": FRONTEND})
    assert allowed.headers["access-control-allow-origin"] == APP
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code == 400
    assert local.headers["access-control-allow-origin"] == FRONTEND  # still, besides the list


def test_cors_origins_come_from_mockyard_yaml(tmp_path: Path) -> None:
    workspace = cargoextra_workspace(
        tmp_path / "ws", controls={"cors": {"origins": ["https://staging.example.test/"]}}
    )
    with in_process(tmp_path, workspace) as client:
        listed = client.get(VALIDATE, headers={"Origin": "https://staging.example.test"})
        other = client.get(VALIDATE, headers={"Origin": APP})
    assert listed.headers["access-control-allow-origin"] == "https://staging.example.test"
    assert "access-control-allow-origin" not in other.headers


def test_cors_can_be_turned_off(tmp_path: Path) -> None:
    with in_process(tmp_path, cors_origins=[]) as client:
        response = client.get(VALIDATE, params=VALIDATE_OK, headers={**ADA, "Origin": APP})
    assert response.status_code == 200
    assert not any(name.startswith("access-control-") for name in response.headers)


# --- latency -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("200", Latency(200, 200)), (150, Latency(150, 150)), ("100-400", Latency(100, 400))],
)
def test_latency_is_ms_or_a_range(text: object, expected: Latency) -> None:
    assert parse_latency(text) == expected


@pytest.mark.parametrize("text", ["fast", "400-100", "-5", "1-99999", ""])
def test_bad_latency_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_latency(text)


def test_bad_latency_flag_exits_2_before_serving() -> None:
    result = CliRunner().invoke(main, ["serve", "--latency", "soon"])
    assert result.exit_code == 2
    assert "latency" in result.output


@pytest.mark.parametrize(
    ("headers", "ms"),
    [
        (["delay=250"], 250),
        (["respond-async, delay=40;x=1"], 40),
        (["wait=5", 'delay="7"'], 7),
        (["delay=999999"], 60000),
        (["delay=soon"], None),
        (["return=minimal"], None),
    ],
)
def test_prefer_delay_is_read_from_rfc7240_preferences(headers: list[str], ms: float) -> None:
    assert prefer_delay(headers) == ms


def test_prefer_delay_holds_one_response(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        started = time.monotonic()
        response = client.get(VALIDATE, params=VALIDATE_OK, headers={**ADA, "Prefer": "delay=300"})
        elapsed = time.monotonic() - started
        entry = client.get("/__mockyard/requests", params={"limit": 1}).json()["requests"][0]
    assert response.status_code == 200
    assert elapsed >= 0.28
    assert entry["delay_ms"] == 300


def test_latency_flag_delays_every_operation(tmp_path: Path) -> None:
    with in_process(tmp_path, latency="150-250") as client:
        started = time.monotonic()
        client.get(VALIDATE, params=VALIDATE_OK, headers=ADA)
        client.post(PART, json={"invoice": 999999, "currency": "NGN"}, headers=ADA)
        elapsed = time.monotonic() - started
        delays = [e["delay_ms"] for e in client.get("/__mockyard/requests").json()["requests"]]
    assert elapsed >= 0.28
    assert len(delays) == 2
    assert all(150 <= d <= 250 for d in delays)


def test_operation_latency_in_mockyard_yaml_applies_to_that_operation_only(
    tmp_path: Path,
) -> None:
    workspace = cargoextra_workspace(
        tmp_path / "ws",
        controls={"operations": {"validate-invoice-payment": {"latency": 200}}},
    )
    with in_process(tmp_path, workspace) as client:
        started = time.monotonic()
        assert client.get(VALIDATE, params=VALIDATE_OK, headers=ADA).status_code == 200
        elapsed = time.monotonic() - started
        client.post(PART, json={"invoice": 999999, "currency": "NGN"}, headers=ADA)
        journal = client.get("/__mockyard/requests").json()["requests"]
    assert elapsed >= 0.18
    assert {e["operation"]: e["delay_ms"] for e in journal} == {
        "validate-invoice-payment": 200,
        "prepare-invoice-part-payment-from-wallet": None,
    }


@pytest.mark.parametrize(
    ("controls", "complaint"),
    [
        ({"operations": {"no-such-operation": {"latency": 5}}}, "no-such-operation"),
        ({"operations": {"pay-invoice-from-wallet": {"faults": {"error": 2}}}}, "0 to 1"),
        (
            {"operations": {"pay-invoice-from-wallet": {"faults": {"error": 0.6, "drop": 0.6}}}},
            "exceed 1",
        ),
        ({"latency": "later"}, "latency"),
        ({"jitter": 5}, "jitter"),
        ({"journal_size": 0}, "journal_size"),
    ],
)
def test_bad_controls_in_mockyard_yaml_stop_the_start(
    tmp_path: Path, controls: dict[str, object], complaint: str
) -> None:
    workspace = cargoextra_workspace(tmp_path / "ws", controls=controls)
    with pytest.raises(WorkspaceError, match=complaint), in_process(tmp_path, workspace):
        pass


# --- faults (a live server, conftest.faulty_sandbox: a dropped connection needs a socket) -------

DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)  # closed without a response


def _outcome(url: str, body: dict[str, object], auth: dict[str, str] = ADA) -> str:
    """One pay on a fresh connection: 'error', 'drop', or the status code."""
    try:
        response = httpx.post(url + PAY, json=body, headers={**auth, "Connection": "close"})
    except DROPPED:
        return "drop"
    if response.status_code == 500:
        assert response.json() == {"message": "Unexpected Error"}
        return "error"
    return str(response.status_code)


def test_faults_are_deterministic_for_a_seed(faulty_sandbox: LiveSandbox) -> None:
    unknown_invoice = {"invoice": 999999, "currency": "NGN"}  # 404 whenever not faulted

    def run(seed: int) -> list[str]:
        httpx.post(f"{faulty_sandbox.url}/__mockyard/reset", json={"seed": seed}).raise_for_status()
        return [_outcome(faulty_sandbox.url, unknown_invoice) for _ in range(16)]

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    assert {"error", "drop", "404"} <= set(first) | set(other)


def test_injected_500_is_the_apis_documented_one_and_changes_nothing(
    faulty_sandbox: LiveSandbox,
) -> None:
    faulty_sandbox.reset()
    before = snapshot(faulty_sandbox.state)
    response = httpx.post(
        faulty_sandbox.url + PART,
        json={"invoice": 100123, "currency": "NGN"},  # would record a part-payment
        headers={**ADA, "Origin": FRONTEND},
    )
    assert (response.status_code, response.json()) == (500, {"message": "Unexpected Error"})
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert snapshot(faulty_sandbox.state) == before


def test_dropped_connection_gets_no_response_and_changes_nothing(
    faulty_sandbox: LiveSandbox,
) -> None:
    faulty_sandbox.reset()
    before = snapshot(faulty_sandbox.state)
    params = {**VALIDATE_OK, "type": "start"}  # would record a pending online payment
    with pytest.raises(DROPPED):
        httpx.get(faulty_sandbox.url + VALIDATE, params=params, headers=ADA)
    assert snapshot(faulty_sandbox.state) == before
    entries = httpx.get(
        f"{faulty_sandbox.url}/__mockyard/requests", params={"path": VALIDATE, "limit": 1}
    ).json()["requests"]
    assert entries[0]["fault"] == "drop"
    assert entries[0]["status"] is None


def test_faulted_pays_never_move_money(faulty_sandbox: LiveSandbox) -> None:
    faulty_sandbox.reset()
    pay = {"invoice": 100127, "currency": "NGN"}
    outcomes = []
    for _ in range(12):
        before = snapshot(faulty_sandbox.state)
        outcome = _outcome(faulty_sandbox.url, pay, RICH)
        if outcome in ("error", "drop"):
            assert snapshot(faulty_sandbox.state) == before
        outcomes.append(outcome)
    assert outcomes.count("200") == 1  # paid once, whatever the faults around it
    assert {"error", "drop"} & set(outcomes)


def test_access_log_has_one_readable_line_per_request(faulty_sandbox: LiveSandbox) -> None:
    with pytest.raises(DROPPED):  # validate is always dropped here
        httpx.get(faulty_sandbox.url + VALIDATE, params=VALIDATE_OK, headers=ADA)
    _outcome(faulty_sandbox.url, {"invoice": 999999, "currency": "NGN"})

    def access_lines() -> list[str]:
        return [line for line in faulty_sandbox.log_text().splitlines() if " ms" in line]

    deadline = time.monotonic() + 10  # lines are written by a background thread
    while not any(f"POST {PAY} " in t for t in access_lines()) and time.monotonic() < deadline:
        time.sleep(0.05)
    requests = access_lines()
    line = re.compile(r"[A-Z]+ /\S+ (\d{3}|dropped) \d+\.\d ms( \[injected fault\])?")
    assert requests
    assert all(line.fullmatch(text) for text in requests), requests
    assert any(text.startswith(f"GET {VALIDATE} dropped ") for text in requests)
    assert any(text.startswith(f"POST {PAY} ") for text in requests)


def test_banner_lists_apis_operations_urls_and_tokens(faulty_sandbox: LiveSandbox) -> None:
    banner = faulty_sandbox.log_text()
    assert f"mockyard sandbox on {faulty_sandbox.url}" in banner
    assert "cargoextra" in banner
    assert "3 operations" in banner
    for operation in (
        "validate-invoice-payment",
        "prepare-invoice-part-payment-from-wallet",
        "pay-invoice-from-wallet",
    ):
        assert operation in banner
    assert re.search(r"POST +/api/v1/billing/invoice/pay +pay-invoice-from-wallet", banner)
    assert f"{faulty_sandbox.url}/ui" in banner
    assert f"{faulty_sandbox.url}/__mockyard/" in banner
    assert re.search(r"sandbox-token-rich +Bola", banner)
    assert "3 operation(s) with their own" in banner


# --- the registry of control actions -------------------------------------------------------------


def test_a_registered_control_action_answers_before_the_handler(tmp_path: Path) -> None:
    @control("teapot")
    async def teapot(request: ControlRequest) -> ApiError | None:
        if request.header(b"x-teapot"):
            return ApiError(418, {"message": f"short and stout: {request.operation_id}"})
        return None

    try:
        with pytest.raises(ValueError, match="already registered"):
            control("teapot")(teapot)
        with in_process(tmp_path) as client:
            before = snapshot(tmp_path / "inproc.sqlite3")
            poured = client.post(
                PAY, json={"invoice": 100127, "currency": "NGN"}, headers={**RICH, "X-Teapot": "1"}
            )
            assert snapshot(tmp_path / "inproc.sqlite3") == before
            untouched = client.get(VALIDATE, params=VALIDATE_OK, headers=ADA)
    finally:
        unregister("teapot")
    assert (poured.status_code, poured.json()) == (
        418,
        {"message": "short and stout: pay-invoice-from-wallet"},
    )
    assert untouched.status_code == 200
    assert "teapot" not in ACTIONS


def test_serve_flags_reach_the_sandbox_config(monkeypatch: pytest.MonkeyPatch) -> None:
    configs = []

    def stop_after_config(config: object, *_: object) -> None:
        configs.append(config)
        raise SystemExit(0)  # before anything is built or bound

    monkeypatch.setattr(mockyard.cli, "build", stop_after_config)
    runner = CliRunner()
    flags = ["--latency", "100-400", "--cors-origin", APP, "--cors-origin", "http://b.test"]
    assert runner.invoke(main, ["serve", *flags, "--journal-size", "9"]).exit_code == 0
    assert runner.invoke(main, ["serve", "--no-cors"]).exit_code == 0
    assert runner.invoke(main, ["serve"]).exit_code == 0
    chosen, no_cors, defaults = configs
    assert (chosen.latency, chosen.cors_origins, chosen.journal_size) == (
        "100-400",
        [APP, "http://b.test"],
        9,
    )
    assert no_cors.cors_origins == []
    assert (defaults.latency, defaults.cors_origins, defaults.journal_size) == (None, None, None)
