"""Which web pages may use the sandbox, so that a page open in the developer's browser cannot
drive it: CORS for the served APIs, and no drive-by on the admin API. The rules follow Vite's
and webpack-dev-server's fixes after their drive-by advisories and Jupyter's origin checks:

- The served APIs approve CORS for every loopback origin (`http(s)://localhost`, `*.localhost`,
  `127.0.0.1`, `[::1]`, any port), as a local frontend needs, and for the origins that
  `--cors-origin` or `controls.cors.origins` list (`"*"`: any origin).
- The admin API (`/__mockyard/*`) is for scripts and test runners, which send no `Origin`. A
  request that names one is served only when it is the sandbox's own origin or one listed by
  `--admin-origin` / `controls.cors.admin_origins`; any other gets 403 before it does anything,
  preflight included, and no CORS approval. A loopback origin is not enough: a page on another
  localhost port is exactly the drive-by.
- Without an admin token, an admin request whose `Host` is a name other than `localhost` is
  refused too: that is DNS rebinding (a page whose own name was made to point at 127.0.0.1,
  which makes it same-origin with the sandbox). With a token, the token is the guard.
- A private-network preflight (`Access-Control-Request-Private-Network`, sent by Chromium when a
  public page calls a local address) is approved only for an origin listed by name, never for
  the loopback defaults or `"*"`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard.errors import StartError

ANY = "*"
LOOPBACK_ORIGIN = r"https?://(?:(?:[^:/]+\.)?localhost|127\.0\.0\.1|\[::1\])(?::\d+)?"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")
_PRIVATE_NETWORK = b"access-control-request-private-network"
_VARY_ORIGIN = (b"vary", b"Origin")
_NO_ANY_ADMIN = "name each origin; '*' would hand any page the admin API"


def normalise(text: str) -> str:
    """`HTTP://LocalHost:5173/` -> `http://localhost:5173`, as a browser sends it in `Origin`;
    ValueError for anything that is not `scheme://host[:port]` (or `*`)."""
    value = text.strip()
    if value == ANY:
        return ANY
    problem = f"{text!r} is not an origin: write scheme://host[:port], e.g. http://localhost:5173"
    try:
        parts = urlsplit(value[:-1] if value.endswith("/") else value)
        port = parts.port
    except ValueError:
        raise ValueError(problem) from None
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if (
        scheme not in _DEFAULT_PORTS
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or not _is_host(host)
    ):
        raise ValueError(problem)
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + ("" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}")


def _is_host(host: str) -> bool:
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    labels = host.removesuffix(".").split(".")
    return bool(host) and all(_LABEL.fullmatch(label) for label in labels)


@dataclass(frozen=True)
class OriginPolicy:
    """What `controls.cors` and the flags decide; `enabled=False` (`--no-cors`) sends no CORS
    headers at all, while the admin API's refusals still hold."""

    enabled: bool = True
    origins: tuple[str, ...] = ()  # besides the loopback ones; "*" is any origin
    admin_origins: tuple[str, ...] = ()

    def named(self, origin: str) -> bool:
        """Listed by name (not merely loopback, not by `*`)."""
        return origin in self.origins or origin in self.admin_origins

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        if ANY in self.origins:
            return "any origin"
        return " + ".join(["localhost origins", *self.origins, *self.admin_origins])


def load(raw: object, flags: list[str] | None, admin_flags: list[str] | None) -> OriginPolicy:
    """The `controls.cors` section (a mapping, a list of origins, or false); the flags win over
    it, and `flags == []` is `--no-cors`. ValueError names what is wrong."""
    section: Mapping[str, Any]
    if raw is None:
        section = {}
    elif raw is False:
        section = {"enabled": False}
    elif isinstance(raw, list | str):
        section = {"origins": raw}
    elif isinstance(raw, dict):
        section = raw
    else:
        raise ValueError("cors must be a mapping, a list of origins, or false")
    unknown = set(section) - {"origins", "admin_origins", "enabled"}
    if unknown:
        raise ValueError(f"cors: unknown keys: {', '.join(sorted(unknown))}")
    enabled = section.get("enabled", True)
    origins = _list(section.get("origins"), "cors.origins")
    if flags is not None:
        enabled, origins = bool(flags), [normalise(o) for o in flags]
    admin = _list(section.get("admin_origins"), "cors.admin_origins")
    if admin_flags is not None:
        admin = [normalise(o) for o in admin_flags]
    if ANY in admin:
        raise ValueError(f"cors.admin_origins: {_NO_ANY_ADMIN}")
    if not isinstance(enabled, bool):
        raise ValueError("cors.enabled must be true or false")
    return OriginPolicy(enabled, tuple(dict.fromkeys(origins)), tuple(dict.fromkeys(admin)))


def _list(value: object, where: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(o, str) for o in items):
        raise ValueError(f"{where} must be a list of origins")
    return [normalise(o) for o in items]


def flag_values(values: Iterable[str], option: str) -> list[str]:
    """`--cors-origin` / `--admin-origin` values, normalised; a malformed one is a StartError."""
    try:
        found = [normalise(v) for v in values]
    except ValueError as exc:
        raise StartError(f"{option}: {exc}", option=option) from None
    if option == "--admin-origin" and ANY in found:
        raise StartError(f"{option}: {_NO_ANY_ADMIN}", option=option)
    return found


class Origins:
    """Pipeline step: the origin policy. What it forbids is refused with 403 before anything
    runs: an admin request from another origin or through a rebinding host name, a
    private-network preflight from an origin not listed by name. A request from a web page (one
    with `Origin`) then goes through Starlette's CORS middleware: preflights answered, CORS
    headers on every response, errors and injected faults included. A request without one (a
    script, a test runner, a load test) gets only the `Vary: Origin` that middleware would add,
    without the header objects it builds for every request. `enabled=False` is the guard alone.
    """

    def __init__(
        self, app: ASGIApp, policy: OriginPolicy, *, admin_prefix: str, check_host: bool
    ) -> None:
        self.app = app
        self.policy = policy
        self.admin_prefix = admin_prefix
        self.check_host = check_host
        self.cors: ASGIApp | None = None
        if policy.enabled:
            self.cors = CORSMiddleware(
                app,
                allow_origins=[*policy.origins, *policy.admin_origins],
                allow_origin_regex=LOOPBACK_ORIGIN,
                allow_methods=["*"],
                allow_headers=["*"],
                allow_credentials=True,
                allow_private_network=True,  # reached only by origins the guard let through
                expose_headers=["*", "Location", "Retry-After"],
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = host = private_network = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"host":
                host = value
            elif name == _PRIVATE_NETWORK:
                private_network = value
        refusal = self._refusal(scope, origin, host, private_network)
        if refusal:
            await JSONResponse({"error": refusal}, 403)(scope, receive, send)
        elif self.cors is None:
            await self.app(scope, receive, send)
        elif origin is not None:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, _varies_by_origin(send))

    def _refusal(
        self, scope: Scope, raw_origin: bytes | None, raw_host: bytes | None, private: bytes | None
    ) -> str | None:
        """Why the policy forbids this request (headers as sent), or None: most requests are
        neither for the admin API nor a private-network preflight, and are passed at once."""
        path: str = scope["path"]
        admin = path.startswith(self.admin_prefix) and (
            path == self.admin_prefix or path[len(self.admin_prefix)] == "/"
        )
        preflight = private is not None and scope["method"] == "OPTIONS"
        if not admin and not preflight:
            return None
        origin = raw_origin.decode("latin-1") if raw_origin is not None else None
        host = raw_host.decode("latin-1") if raw_host is not None else None
        if admin:
            if self.check_host and host is not None and not _local_name(host):
                return (
                    f"Host {host!r} is not a local name, as a DNS rebinding attack would send;"
                    " reach the admin API as 127.0.0.1 or localhost, or set an admin token"
                )
            if origin is not None and not self._admin_allows(origin, scope["scheme"], host):
                return (
                    f"origin {origin!r} may not use the admin API; start the sandbox with"
                    f" --admin-origin {origin} to allow it"
                )
        named = origin is not None and self.policy.named(origin)
        if preflight and private.strip().lower() == b"true" and not named:  # type: ignore[union-attr]
            return (
                f"origin {origin!r} may not reach this sandbox from a public page;"
                " list it by name with --cors-origin"
            )
        return None

    def _admin_allows(self, origin: str, scheme: str, host: str | None) -> bool:
        if origin in self.policy.admin_origins:
            return True
        return host is not None and origin.lower() == f"{scheme}://{host}".lower()


def _varies_by_origin(send: Send) -> Send:
    """`send` adding `Vary: Origin` to the response, as Starlette's CORS middleware does to an
    answer to a request without `Origin`: a cache must not hand it to a page that sends one."""

    async def varied(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            if b"vary" in [name for name, _ in headers]:  # Origin joins its values, as there
                vary = MutableHeaders(raw=list(headers))
                vary["Vary"] = ", ".join([*vary.getlist("Vary"), "Origin"])
                message["headers"] = vary.raw
            else:
                message["headers"] = [*headers, _VARY_ORIGIN]
        await send(message)

    return varied


def _local_name(host: str) -> bool:
    """An IP address (no DNS involved, so no rebinding), `localhost` or a `*.localhost` name."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
