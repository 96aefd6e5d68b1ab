"""/__mockyard/* is guarded by --admin-token, and serve refuses to expose it without one.

No test here listens on or sends to anything but loopback: the refusal is checked before
anything binds (the server is never started), and the token on a loopback sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import LiveSandbox, in_process, start_sandbox

import mockyard.cli
from mockyard.safety import ExposedWithoutToken, check_exposure, is_loopback

TOKEN = "s3cret-admin"
PAY = "/api/v1/billing/invoice/pay"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "10.0.0.1", "example.com"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "sandbox.example.com"])
def test_serve_refuses_a_non_loopback_host_without_a_token(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*_: object, **__: object) -> None:
        raise AssertionError("the sandbox was built or served")

    monkeypatch.setattr(mockyard.cli, "build", must_not_run)
    monkeypatch.setattr("uvicorn.run", must_not_run)
    monkeypatch.delenv("MOCKYARD_ADMIN_TOKEN", raising=False)
    result = CliRunner().invoke(mockyard.cli.main, ["serve", "--host", host])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "--admin-token" in result.output
    assert host in result.output


def test_a_token_allows_a_non_loopback_host() -> None:
    check_exposure("0.0.0.0", TOKEN)  # no exception; nothing is bound here
    with pytest.raises(ExposedWithoutToken):
        check_exposure("0.0.0.0", "")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    state = tmp_path_factory.mktemp("guarded") / "state.sqlite3"
    sandbox = start_sandbox(state, "--quiet", admin_token=TOKEN)
    yield sandbox
    sandbox.stop()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/__mockyard/health"),
        ("POST", "/__mockyard/reset"),
        ("GET", "/__mockyard/requests"),
        ("DELETE", "/__mockyard/requests"),
        ("GET", "/__mockyard/state"),
        ("GET", "/__mockyard/state/cargoextra/invoices/100123"),
        ("GET", "/__mockyard/catalogue"),
    ],
)
def test_with_a_token_every_admin_endpoint_requires_it(
    guarded: LiveSandbox, method: str, path: str
) -> None:
    url = guarded.url + path
    assert httpx.request(method, url).status_code == 401
    assert httpx.request(method, url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.request(method, url, headers={"Authorization": f"Bearer {TOKEN}"}).is_success
    assert httpx.request(method, url, headers={"X-Mockyard-Admin-Token": TOKEN}).is_success


def test_the_served_apis_do_not_need_the_admin_token(guarded: LiveSandbox) -> None:
    with guarded.client("sandbox-token-rich") as client:
        response = client.post(PAY, json={"invoice": 100127, "currency": "NGN"})
    assert response.status_code in (200, 400)  # 400 once an earlier test paid it


def test_quiet_writes_no_access_log(guarded: LiveSandbox) -> None:
    httpx.get(f"{guarded.url}/__mockyard/health")
    assert " ms" not in guarded.log_text()


def test_the_token_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    captured = {}

    def stop_after_config(config: object, *_: object) -> None:
        captured["config"] = config
        raise SystemExit(0)  # before anything is built or bound

    monkeypatch.setenv("MOCKYARD_ADMIN_TOKEN", TOKEN)
    monkeypatch.setattr(mockyard.cli, "build", stop_after_config)
    result = CliRunner().invoke(mockyard.cli.main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert captured["config"].admin_token == TOKEN


def test_unauthorised_admin_answer_names_the_scheme(tmp_path: Path) -> None:
    with in_process(tmp_path, admin_token=TOKEN) as client:
        response = client.get("/__mockyard/state")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "admin token" in response.json()["error"]
