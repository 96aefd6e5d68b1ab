"""Where a contract run sends its requests: the target URL, whether it is loopback, a sandbox.

The target is *loopback* when its host is `localhost` or resolves only to 127.0.0.0/8 or ::1 (a
host that does not resolve counts as remote). It is a *mockyard sandbox* when it answers
`GET /__mockyard/health`: asked of a loopback target, or of any target when the run has the
sandbox's admin token (`--admin-token`), which every admin request then carries. A sandbox
started with an admin token answers 401 without it; the target is then marked `guarded`, so the
report can say which option was missing.
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
from mockyard.safety import ADMIN_REALM

HEALTH_PATH = "/__mockyard/health"
RESET_PATH = "/__mockyard/reset"
ADMIN_TOKEN_HEADER = "X-Mockyard-Admin-Token"

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


def parse_base_url(url: str, option: str = "--base-url") -> tuple[str, str]:
    """The base URL without a trailing slash, and its host; an unusable URL is a ContractError
    naming the `option` it was given with."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ContractError(f"{option} must be an http(s) URL with a host, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ContractError(f"{option} has a bad port: {url!r}") from exc
    return urlunsplit(parts._replace(path=parts.path.rstrip("/"))), parts.hostname


def inspect_target(
    base_url: str,
    client: httpx.Client,
    *,
    wait: float = 0.0,
    resolve: Resolver = resolve_host,
    admin_token: str | None = None,
    option: str = "--base-url",
) -> Target:
    """Classify the target, check that it answers (retrying for `wait` s), detect a sandbox."""
    url, host = parse_base_url(base_url, option)
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
    if not (loopback or admin_token):
        return Target(url, host, loopback)
    response, apis = _health(client, url, admin_token)
    guarded = response is not None and _is_guarded(response)
    if admin_token and apis is None:
        seen = f"answered {response.status_code}" if response is not None else "did not answer"
        what = "refused the admin token" if guarded else f"is not a mockyard sandbox ({seen})"
        raise ContractError(
            f"--admin-token was given, but {_origin(url)}{HEALTH_PATH} {what}", url=url
        )
    return Target(url, host, loopback, apis is not None, tuple(apis or ()), guarded)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _admin_headers(admin_token: str | None) -> dict[str, str]:
    return {ADMIN_TOKEN_HEADER: admin_token} if admin_token else {}


def _health(
    client: httpx.Client, url: str, admin_token: str | None
) -> tuple[httpx.Response | None, list[str] | None]:
    """The health answer, and the sandbox's APIs when it is a mockyard sandbox."""
    try:
        response = client.get(_origin(url) + HEALTH_PATH, headers=_admin_headers(admin_token))
        body = response.json() if response.status_code == 200 else None
    except httpx.TransportError:
        return None, None
    except ValueError:
        return response, None
    if not isinstance(body, dict) or body.get("status") != "ok":
        return response, None
    return response, [str(name) for name in body.get("apis", [])]


def _is_guarded(response: httpx.Response) -> bool:
    return response.status_code == 401 and ADMIN_REALM in response.headers.get(
        "www-authenticate", ""
    )


def reset_sandbox(client: httpx.Client, url: str, admin_token: str | None = None) -> str:
    """Reseed a sandbox; returns the URL it posted to."""
    reset_url = _origin(url) + RESET_PATH
    try:
        client.post(reset_url, headers=_admin_headers(admin_token)).raise_for_status()
    except httpx.HTTPError as exc:
        reason = " ".join(str(exc).split())
        raise ContractError(
            f"could not reset the sandbox at {reset_url}: {reason}", url=url
        ) from exc
    return reset_url
