"""Who may drive the sandbox: the admin token, and refusing to expose the admin API by accident.

`/__mockyard/*` can rewrite any record and read every request, so a sandbox that listens on
anything but loopback must be started with an admin token. Whenever a token is set, the admin
endpoints require it, as `Authorization: Bearer <token>` or `X-Mockyard-Admin-Token: <token>`.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mockyard.errors import ExposedWithoutToken

TOKEN_HEADER = b"x-mockyard-admin-token"
ADMIN_REALM = 'realm="mockyard admin"'  # in the 401 of a guarded admin API; `contract` looks for it
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """True for loopback addresses and `localhost`; any other name or address is not."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, admin_token: str | None) -> None:
    """Refuse a non-loopback host unless an admin token protects /__mockyard/*."""
    if not admin_token and not is_loopback(host):
        raise ExposedWithoutToken(
            f"refusing to serve on {host}: /__mockyard/* would be open to the network; "
            "pass --admin-token TOKEN (or listen on 127.0.0.1)"
        )


class AdminTokenMiddleware:
    """Answers 401 to admin requests that do not carry the admin token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            response = JSONResponse(
                {"error": "this sandbox's admin API needs its admin token"},
                401,
                headers={"WWW-Authenticate": f"Bearer {ADMIN_REALM}"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == TOKEN_HEADER:
                presented = value.strip()
            elif name == b"authorization" and value[:7].lower() == b"bearer ":
                presented = value[7:].strip()
            else:
                continue
            if hmac.compare_digest(presented, self.token):
                return True
        return False
