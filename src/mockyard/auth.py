"""Who is calling: Connexion reads the credentials its security schemes name; the API decides.

Connexion already extracts bearer tokens, basic-auth pairs and API keys (query, header, cookie) as
each operation's `security` says. We give it one verifier per scheme type that hands the
credentials to the API's `authenticate` hook, then enforces the principal's rate limit. A refusal
raised by the hook (401, 403) or by the limiter (429) surfaces in the API's own error format.
"""

from __future__ import annotations

from typing import Any

from connexion.security import (
    ApiKeySecurityHandler,
    BasicSecurityHandler,
    BearerSecurityHandler,
    OAuthSecurityHandler,
)

from mockyard.errors import RequestRefused
from mockyard.routing import Runtime
from mockyard.store import ApiStore, Transaction
from mockyard.types import Credentials, Principal

RATE_LIMIT_API = "_mockyard"
RATE_LIMIT_COLLECTION = "rate-limits"


class RateLimited(RequestRefused):
    """The principal has used up its rate limit; the client may retry after `Retry-After` s."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s", headers={"Retry-After": str(retry_after)})


def security_map(runtime: Runtime) -> dict[str, type]:
    """Connexion `security_map` entries that verify credentials through the workspace's APIs."""

    def verifier(scheme: str) -> Any:
        async def verify(value: str, password: str = "", *, request: Any, **_: Any) -> Any:
            api = runtime.api_for(request.scope)
            credentials = Credentials(scheme, value, password)
            principal = authenticate(runtime, api.name, credentials)  # a short read: no thread
            if principal is None:
                return None
            return {"sub": principal.id, "principal": principal}

        return verify

    def handler_class(base: type, scheme: str) -> type:
        verify = verifier(scheme)
        return type(f"Mockyard{base.__name__}", (base,), {"_resolve_func": lambda self, _: verify})

    def oauth_class() -> type:
        """OAuth2 bearer tokens: the API's hook decides; the sandbox grants the scopes asked."""
        verify = verifier("oauth2")

        async def token_info(token: str, *, request: Any, required_scopes: Any = None) -> Any:
            info = await verify(token, request=request)
            return None if info is None else {**info, "scope": list(required_scopes or [])}

        return type(
            "MockyardOAuthSecurityHandler",
            (OAuthSecurityHandler,),
            {"get_tokeninfo_func": lambda self, _: token_info},
        )

    return {
        "bearer": handler_class(BearerSecurityHandler, "bearer"),
        "basic": handler_class(BasicSecurityHandler, "basic"),
        "apiKey": handler_class(ApiKeySecurityHandler, "apiKey"),
        "oauth2": oauth_class(),
    }


def authenticate(runtime: Runtime, api: str, credentials: Credentials) -> Principal | None:
    """The API's verdict on `credentials`, counted against the principal's rate limit.

    A refusal (None, or an error raised by the hook or the limiter) writes nothing."""
    principal = runtime.store.run(
        lambda tx: identify(runtime, api, credentials, tx.api(api)), write=False
    )
    if principal is not None and principal.rate_limit is not None:
        _count_request(runtime, api, principal)
    return principal


def identify(
    runtime: Runtime, api: str, credentials: Credentials, store: ApiStore
) -> Principal | None:
    """The API's `authenticate` hook, inside a transaction the caller holds open."""
    ctx = runtime.context(api, "authenticate", None, store, {})
    return runtime.apis[api].authenticate(credentials, ctx)


def _count_request(runtime: Runtime, api: str, principal: Principal) -> None:
    """Sliding-window limit kept in the store, so every worker counts against one window."""
    limit = principal.rate_limit
    assert limit is not None
    now = runtime.clock().timestamp()
    key = f"{api}:{principal.id}"

    def count(tx: Transaction) -> None:
        window = tx.get(RATE_LIMIT_API, RATE_LIMIT_COLLECTION, key) or {"hits": []}
        hits = [t for t in window["hits"] if t > now - limit.per_seconds]
        if len(hits) >= limit.requests:
            raise RateLimited(max(1, int(hits[0] + limit.per_seconds - now + 0.999)))
        tx.put(RATE_LIMIT_API, RATE_LIMIT_COLLECTION, key, {"hits": [*hits, now]})

    runtime.store.run(count, write=True)
