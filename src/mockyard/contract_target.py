"""Where a contract run sends its requests: the target URL, whether it is loopback, a sandbox.

The target is *loopback* when its host is `localhost` or resolves only to 127.0.0.0/8 or ::1 (a
host that does not resolve counts as remote); it is a *local sandbox* when it is loopback and
answers `GET /__mockyard/health`.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx

from mockyard.contract_events import Target
from mockyard.errors import ContractError

HEALTH_PATH = "/__mockyard/health"
RESET_PATH = "/__mockyard/reset"

Resolver = Callable[[str], Sequence[str]]


def resolve_host(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None)]


def is_loopback(host: str, resolve: Resolver = resolve_host) -> bool:
    """Whether every address `host` stands for is a loopback address; unresolvable means no."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        addresses = list(resolve(name))
    except OSError:
        return False
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    )


def parse_base_url(url: str) -> tuple[str, str]:
    """The base URL without a trailing slash, and its host; an unusable URL is a ContractError."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ContractError(f"--base-url must be an http(s) URL with a host, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ContractError(f"--base-url has a bad port: {url!r}") from exc
    return urlunsplit(parts._replace(path=parts.path.rstrip("/"))), parts.hostname


def inspect_target(
    base_url: str, client: httpx.Client, *, wait: float = 0.0, resolve: Resolver = resolve_host
) -> Target:
    """Classify the target, check that it answers (retrying for `wait` s), detect a sandbox."""
    url, host = parse_base_url(base_url)
    loopback = is_loopback(host, resolve)
    deadline = time.monotonic() + wait
    while True:
        try:
            client.get(url)
            break
        except httpx.TransportError as exc:
            if time.monotonic() >= deadline:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise ContractError(f"cannot reach {url}: {reason}", url=url) from exc
            time.sleep(0.2)
    apis = _sandbox_apis(client, url) if loopback else None
    return Target(url, host, loopback, apis is not None, tuple(apis or ()))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _sandbox_apis(client: httpx.Client, url: str) -> list[str] | None:
    try:
        response = client.get(_origin(url) + HEALTH_PATH)
        body = response.json() if response.status_code == 200 else None
    except (httpx.TransportError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("status") != "ok":
        return None
    return [str(name) for name in body.get("apis", [])]


def reset_sandbox(client: httpx.Client, url: str) -> str:
    """Reseed a local sandbox; returns the URL it posted to."""
    reset_url = _origin(url) + RESET_PATH
    try:
        client.post(reset_url).raise_for_status()
    except httpx.HTTPError as exc:
        raise ContractError(f"could not reset the sandbox at {reset_url}: {exc}", url=url) from exc
    return reset_url
