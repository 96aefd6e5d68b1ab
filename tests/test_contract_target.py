"""Classifying a contract target without sending it anything: loopback or not, a usable URL."""

from __future__ import annotations

import pytest

from mockyard.contract_target import is_loopback, parse_base_url
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
