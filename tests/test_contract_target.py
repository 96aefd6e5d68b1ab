"""Classifying a contract target without sending it anything: loopback or not, a usable URL."""

from __future__ import annotations

import httpx
import pytest

from mockyard.contract_reach import url_hint
from mockyard.contract_target import inspect_target, is_loopback, parse_base_url
from mockyard.errors import ContractError


def no_dns(host: str) -> list[str]:
    raise AssertionError(f"resolved {host} although it is a literal or localhost")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_loopback_literals_need_no_lookup(host: str) -> None:
    assert is_loopback(host, no_dns)


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        (["127.0.0.1"], True),
        (["127.0.0.1", "::1"], True),
        (["93.184.216.34"], False),
        (["127.0.0.1", "10.0.0.7"], False),  # any non-loopback address makes it remote
        ([], False),
    ],
)
def test_named_hosts_are_loopback_only_if_every_address_is(
    addresses: list[str], expected: bool
) -> None:
    assert is_loopback("api.example.com", lambda host: addresses) is expected


def test_unresolvable_host_counts_as_remote() -> None:
    def fail(host: str) -> list[str]:
        raise OSError("no such host")

    assert not is_loopback("api.example.com", fail)


def test_base_url_is_normalised_and_checked() -> None:
    assert parse_base_url("http://127.0.0.1:9000/") == ("http://127.0.0.1:9000", "127.0.0.1")
    assert parse_base_url("https://api.example.com/v2/") == (
        "https://api.example.com/v2",
        "api.example.com",
    )
    with pytest.raises(ContractError, match="http"):
        parse_base_url("api.example.com")


def answering(health: httpx.Response) -> httpx.Client:
    """A client whose target answers `health` at /__mockyard/health and 200 elsewhere."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/__mockyard/health":
            wanted = request.headers.get("x-mockyard-admin-token") == "t0k"
            return health if wanted or health.status_code != 200 else httpx.Response(401)
        return httpx.Response(200)

    return httpx.Client(transport=httpx.MockTransport(handle))


GUARDED = httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="mockyard admin"'})
HEALTHY = httpx.Response(200, json={"status": "ok", "apis": ["a"]})


def test_a_guarded_sandbox_is_told_apart_from_a_plain_401() -> None:
    target = inspect_target("http://127.0.0.1:1", answering(GUARDED))
    assert target.guarded and not target.sandbox
    assert not inspect_target("http://127.0.0.1:1", answering(httpx.Response(401))).guarded


def test_the_admin_token_finds_a_sandbox_even_off_loopback() -> None:
    target = inspect_target(
        "https://sandbox.example.com",
        answering(HEALTHY),
        resolve=lambda h: ["10.0.0.7"],
        admin_token="t0k",
    )
    assert target.sandbox and not target.loopback and target.sandbox_apis == ("a",)
    # without the token a remote host is never asked
    plain = inspect_target("https://sandbox.example.com", answering(HEALTHY), resolve=lambda h: [])
    assert not plain.sandbox


def test_an_admin_token_for_something_else_is_a_usage_error() -> None:
    with pytest.raises(ContractError, match="is not a mockyard sandbox \\(answered 404\\)"):
        inspect_target("http://127.0.0.1:1", answering(httpx.Response(404)), admin_token="t0k")
    with pytest.raises(ContractError, match="refused the admin token"):
        inspect_target("http://127.0.0.1:1", answering(GUARDED), admin_token="wrong")


@pytest.mark.parametrize(
    ("base", "url", "servers", "hint"),
    [
        ("http://h/api/v2/api/v2", "http://h/api/v2/api/v2/x", "", "/api/v2 twice"),
        ("http://h/api/v2", "http://h/api/v2/api/v2/x", "/api/v2", "/api/v2 twice"),
        ("http://h", "http://h/x", "/v2", "servers URL ends in /v2, which the base URL lacks"),
        ("http://h/v2", "http://h/v2/x", "/v2", ""),
    ],
)
def test_a_not_found_everywhere_hint_names_the_likely_url_mistake(
    base: str, url: str, servers: str, hint: str
) -> None:
    found = url_hint(base, url, servers)
    assert (hint in found) if hint else found == ""
