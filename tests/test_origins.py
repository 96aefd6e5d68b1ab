"""No drive-by: a web page on an origin that is not configured cannot use the admin API, while
the served APIs keep answering local frontends (the browser test proves it in Chromium)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import cargoextra_workspace, in_process, snapshot

import mockyard.cli
from mockyard.origins import OriginPolicy, load, normalise

PAY = "/api/v1/billing/invoice/pay"
RICH = {"Authorization": "Bearer sandbox-token-rich"}
BOLA_PAYS = {"invoice": 100127, "currency": "NGN"}
OTHER_PORT = "http://127.0.0.1:5555"  # a page on another loopback port: the drive-by
FRONTEND = "http://localhost:5173"
PUBLIC = "https://app.example.test"
INVOICE = "/__mockyard/state/cargoextra/invoices/100127"
ADMIN_CALLS = [
    ("GET", "/__mockyard/health", None),
    ("POST", "/__mockyard/reset", None),
    ("GET", "/__mockyard/requests", None),
    ("DELETE", "/__mockyard/requests", None),
    ("GET", "/__mockyard/state", None),
    ("GET", INVOICE, None),
    ("PUT", INVOICE, {"status": "paid"}),
    ("DELETE", INVOICE, None),
    ("GET", "/__mockyard/catalogue", None),
]


def admin(client: httpx.Client, method: str, path: str, body: object, **headers: str):  # type: ignore[no-untyped-def]
    if body is not None and method == "PUT":
        stored = client.get(path).json()
        body = {**stored, **body}  # type: ignore[dict-item]
    return client.request(method, path, json=body, headers=headers)


# --- origins as configured ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "origin"),
    [
        ("http://localhost:5173/", "http://localhost:5173"),
        ("HTTPS://App.Example.TEST", "https://app.example.test"),
        ("http://example.test:80", "http://example.test"),
        ("https://example.test:443/", "https://example.test"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        (" http://127.0.0.1:8080 ", "http://127.0.0.1:8080"),
        ("*", "*"),
    ],
)
def test_an_origin_is_normalised_as_a_browser_sends_it(given: str, origin: str) -> None:
    assert normalise(given) == origin


@pytest.mark.parametrize(
    "given",
    [
        "localhost:5173",
        "http://localhost:5173/app",
        "http://localhost:5173//",
        "ftp://files.example.test",
        "http://",
        "http://exa mple.test",
        "http://example.test:99999",
        "http://user@example.test",
        "http://example.test?x=1",
        "http://example.test#top",
        "*.example.test",
        "http://[::g]",
        "null",
        "",
    ],
)
def test_a_malformed_origin_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        normalise(given)


def test_the_cors_section_of_mockyard_yaml() -> None:
    assert load(None, None, None) == OriginPolicy()
    assert load(False, None, None).enabled is False
    assert load({"origins": [PUBLIC + "/"]}, None, None).origins == (PUBLIC,)
    assert load({"admin_origins": [FRONTEND]}, None, None).admin_origins == (FRONTEND,)
    assert load({"origins": [PUBLIC]}, [], None).enabled is False  # --no-cors wins
    with pytest.raises(ValueError, match="'\\*'"):
        load({"admin_origins": ["*"]}, None, None)
    with pytest.raises(ValueError, match="unknown keys"):
        load({"origin": [PUBLIC]}, None, None)


def test_flags_are_normalised_before_the_sandbox_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    configs = []

    def stop_after_config(config: object, *_: object) -> None:
        configs.append(config)
        raise SystemExit(0)

    monkeypatch.setattr(mockyard.cli, "build", stop_after_config)
    args = ["serve", "--cors-origin", PUBLIC + "/", "--admin-origin", "HTTP://LOCALHOST:5173/"]
    assert CliRunner().invoke(mockyard.cli.main, args).exit_code == 0
    assert configs[0].cors_origins == [PUBLIC]
    assert configs[0].admin_origins == [FRONTEND]


@pytest.mark.parametrize(
    "args",
    [
        ["--cors-origin", "localhost:5173"],
        ["--cors-origin", "http://localhost:5173/app"],
        ["--admin-origin", "*"],
    ],
)
def test_a_malformed_origin_flag_is_one_line_and_exit_2(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mockyard.cli, "build", lambda _: pytest.fail("built"))
    result = CliRunner().invoke(mockyard.cli.main, ["serve", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {args[0]}: ")


# --- the admin API refuses other origins ------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS, ids=lambda v: str(v))
def test_a_page_on_another_origin_cannot_use_the_admin_api(
    tmp_path: Path, method: str, path: str, body: object
) -> None:
    with in_process(tmp_path) as client:
        assert client.post(PAY, json=BOLA_PAYS, headers=RICH).status_code == 200
        before = snapshot(tmp_path / "inproc.sqlite3")
        journal = client.get("/__mockyard/requests").json()
        refused = admin(client, method, path, body, Origin=OTHER_PORT)
        assert snapshot(tmp_path / "inproc.sqlite3") == before  # not reset, not rewritten
        assert client.get("/__mockyard/requests").json() == journal  # not emptied
        allowed = admin(client, method, path, body)  # a script sends no Origin: allowed
    assert refused.status_code == 403
    assert "--admin-origin" in refused.json()["error"]
    assert not any(name.startswith("access-control-") for name in refused.headers)
    assert allowed.is_success


@pytest.mark.parametrize("origin", [OTHER_PORT, FRONTEND, PUBLIC, "null"])
def test_a_preflight_to_the_admin_api_is_refused(tmp_path: Path, origin: str) -> None:
    with in_process(tmp_path, cors_origins=["*"]) as client:  # even with CORS for any origin
        response = client.options(
            "/__mockyard/reset",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_an_admin_origin_may_use_the_admin_api(tmp_path: Path) -> None:
    with in_process(tmp_path, admin_origins=[FRONTEND]) as client:
        preflight = client.options(
            "/__mockyard/reset",
            headers={"Origin": FRONTEND, "Access-Control-Request-Method": "POST"},
        )
        reset = client.post("/__mockyard/reset", headers={"Origin": FRONTEND})
        other = client.post("/__mockyard/reset", headers={"Origin": OTHER_PORT})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == FRONTEND
    assert reset.status_code == 200
    assert reset.headers["access-control-allow-origin"] == FRONTEND
    assert other.status_code == 403


def test_admin_origins_come_from_mockyard_yaml(tmp_path: Path) -> None:
    workspace = cargoextra_workspace(
        tmp_path / "ws", controls={"cors": {"admin_origins": [FRONTEND]}}
    )
    with in_process(tmp_path, workspace) as client:
        listed = client.get("/__mockyard/health", headers={"Origin": FRONTEND})
        other = client.get("/__mockyard/health", headers={"Origin": OTHER_PORT})
    assert (listed.status_code, other.status_code) == (200, 403)


def test_the_sandboxs_own_origin_may_use_the_admin_api(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:  # a page the sandbox serves (its docs at /ui)
        response = client.get("/__mockyard/health", headers={"Origin": "http://127.0.0.1"})
    assert response.status_code == 200


def test_without_cors_the_admin_api_still_refuses_other_origins(tmp_path: Path) -> None:
    with in_process(tmp_path, cors_origins=[]) as client:
        response = client.post("/__mockyard/reset", headers={"Origin": OTHER_PORT})
    assert response.status_code == 403


# --- DNS rebinding ----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["rebound.example.test:9000", "127.0.0.1.example.test"])
def test_an_admin_request_through_a_rebinding_name_is_refused(tmp_path: Path, host: str) -> None:
    with in_process(tmp_path) as client:
        client.post(PAY, json=BOLA_PAYS, headers=RICH)
        before = snapshot(tmp_path / "inproc.sqlite3")
        refused = client.post("/__mockyard/reset", headers={"Host": host})
        journal = client.get("/__mockyard/requests", headers={"Host": host})
        served = client.post(PAY, json=BOLA_PAYS, headers={**RICH, "Host": host})
        assert snapshot(tmp_path / "inproc.sqlite3") == before
    assert refused.status_code == journal.status_code == 403
    assert "rebinding" in refused.json()["error"]
    assert served.json() == {"message": "Invoice already paid"}  # the served APIs answer


@pytest.mark.parametrize(
    "host", ["127.0.0.1:9000", "localhost:9000", "[::1]:9000", "app.localhost"]
)
def test_local_names_reach_the_admin_api(tmp_path: Path, host: str) -> None:
    with in_process(tmp_path) as client:
        assert client.get("/__mockyard/health", headers={"Host": host}).status_code == 200


def test_with_an_admin_token_any_host_name_may_carry_it(tmp_path: Path) -> None:
    token = {"Authorization": "Bearer s3cret"}
    with in_process(tmp_path, admin_token="s3cret") as client:
        named = client.get("/__mockyard/health", headers={**token, "Host": "mockyard:9000"})
        anonymous = client.get("/__mockyard/health", headers={"Host": "mockyard:9000"})
    assert (named.status_code, anonymous.status_code) == (200, 401)


# --- private-network preflights ---------------------------------------------------------------


def _private_network_preflight(
    client: httpx.Client, origin: str, path: str = PAY
) -> httpx.Response:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Private-Network": "true",
        },
    )


def test_a_private_network_preflight_is_approved_for_an_origin_listed_by_name(
    tmp_path: Path,
) -> None:
    with in_process(tmp_path, cors_origins=[PUBLIC]) as client:
        listed = _private_network_preflight(client, PUBLIC)
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-private-network"] == "true"


@pytest.mark.parametrize(
    ("configured", "origin"),
    [(None, PUBLIC), (None, FRONTEND), (["*"], PUBLIC), ([PUBLIC], "https://other.example.test")],
    ids=["unlisted", "loopback default", "by star", "another"],
)
def test_a_private_network_preflight_is_refused_otherwise(
    tmp_path: Path, configured: list[str] | None, origin: str
) -> None:
    with in_process(tmp_path, cors_origins=configured) as client:
        response = _private_network_preflight(client, origin)
    assert response.status_code == 403
    assert "access-control-allow-private-network" not in response.headers
    assert "access-control-allow-origin" not in response.headers


# --- requests without Origin: only the Vary Starlette's CORS middleware adds ---------------------


def _answering(headers: list[tuple[bytes, bytes]]):  # type: ignore[no-untyped-def]
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


@pytest.mark.parametrize(
    "answered",
    [
        [(b"content-type", b"application/json")],
        [(b"vary", b"Accept"), (b"content-type", b"application/json")],
        [(b"vary", b"Accept"), (b"x-one", b"1"), (b"vary", b"Cookie")],
    ],
    ids=["no vary", "one vary", "two vary"],
)
@pytest.mark.parametrize("origin", [None, FRONTEND, PUBLIC])
def test_origins_answers_as_starlettes_cors_middleware(
    answered: list[tuple[bytes, bytes]], origin: str | None
) -> None:
    from starlette.middleware.cors import CORSMiddleware
    from starlette.testclient import TestClient

    from mockyard.origins import LOOPBACK_ORIGIN, Origins

    policy = OriginPolicy(origins=("https://listed.example.test",))
    ours = Origins(_answering(answered), policy, admin_prefix="/__mockyard", check_host=True)
    theirs = CORSMiddleware(
        _answering(answered),
        allow_origins=list(policy.origins),
        allow_origin_regex=LOOPBACK_ORIGIN,
        allow_methods=["*"],
        allow_headers=["*"],
        allow_credentials=True,
        allow_private_network=True,
        expose_headers=["*", "Location", "Retry-After"],
    )
    headers = {"Origin": origin} if origin else {}
    got = [
        TestClient(app).get("/api/thing", headers=headers).headers.multi_items()
        for app in (ours, theirs)
    ]
    assert got[0] == got[1]
    varies = [value for name, value in got[0] if name == "vary"]
    assert len(varies) == 1 and varies[0].endswith("Origin")


def test_no_cors_sends_no_vary(tmp_path: Path) -> None:
    with in_process(tmp_path, cors_origins=[]) as client:
        answered = client.get("/__mockyard/health")
    assert answered.status_code == 200
    assert "vary" not in answered.headers
