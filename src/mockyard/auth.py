"""Who is calling: the credentials an operation's security asks for, and the API's verdict.

Credentials are read here, once, for every request (`presented`): bearer tokens, basic-auth
pairs, Digest credentials (RFC 7616: the user name, once the header has every field a response
needs; the sandbox knows no passwords, so the hash is not checked), any other HTTP scheme's
`Authorization: <scheme> <credentials>`, API keys in a header, query parameter or cookie, and
the bearer tokens of OAuth 2 and OpenID Connect schemes. The API's `authenticate` hook then
names the caller (`identify`), and the principal's rate limit is counted in the store
(`count_request`).

The pipeline's `Identify` step leaves a `Caller` on the scope; the caller is named at most
once, and before anything can refuse the request, so a 401, 403 or 429 always wins over a 400,
as the APIs document: a step about to refuse a request, or to hand it to Connexion, settles the
caller first (`Caller.settle`, a transaction of its own). A plainly valid request to a handler
is named inside the handler's own transaction instead (`Caller.within`): one transaction per
request, not two. A caller with a rate limit is always counted in a transaction of its own,
since a request refused later still counts.

The rules are Connexion's: security alternatives are tried in order; a malformed
`Authorization` header is an error for the alternatives that read it; when none is met, the
most specific refusal wins (403, then 401, then the lowest status), and with nothing presented
at all the answer is 401.

Every 401 carries a `WWW-Authenticate` challenge (RFC 9110 15.5.2), whoever answered it (a
handler, the mock, a replay): the `Challenges` step adds the operation's challenge to a 401
that has none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from werkzeug.datastructures import Authorization

from mockyard.asgi_scope import header, query_pairs
from mockyard.errors import ApiError, Deferred, RateLimited, RequestRefused, Unauthorized
from mockyard.operations import Operation, Scheme, match_of
from mockyard.runtime import Runtime
from mockyard.store import ApiStore, Transaction
from mockyard.types import Credentials, Principal

CALLER_KEY = "mockyard.caller"
RATE_LIMIT_API = "_mockyard"
RATE_LIMIT_COLLECTION = "rate-limits"
_BEARER_KINDS = frozenset({"bearer", "oauth2", "openIdConnect"})
# What a Digest `Authorization` header must hold to answer a challenge (RFC 7616 3.4).
_DIGEST_FIELDS = ("username", "realm", "nonce", "uri", "response")


class Presented:
    """What a request presents for its operation's security.

    `alternatives` holds, in the spec's order, the credentials of each security alternative the
    request presents in full; `anonymous` is True when no credentials are needed at all.
    """

    __slots__ = ("alternatives", "anonymous", "op", "problem")

    def __init__(
        self,
        alternatives: tuple[tuple[Credentials, ...], ...] = (),
        *,
        anonymous: bool = False,
        problem: str = "",
        op: Operation | None = None,
    ) -> None:
        self.alternatives = alternatives
        self.anonymous = anonymous
        self.problem = problem  # why a presented Authorization header could not be read
        self.op = op  # whose security this is, for the challenge of a 401

    def refused(self, detail: str) -> Unauthorized:
        """A 401 carrying the `WWW-Authenticate` challenge of the operation's schemes."""
        value = challenge(self.op) if self.op is not None else ""
        return Unauthorized(detail, headers={"WWW-Authenticate": value} if value else None)


ANONYMOUS = Presented(anonymous=True)


class Caller:
    """The caller of one request, named at most once (see the module's docstring)."""

    def __init__(self, runtime: Runtime, api: str, credentials: Presented) -> None:
        self.runtime = runtime
        self.api = api
        self.credentials = credentials
        self.settled = credentials.anonymous and not credentials.alternatives
        self.principal: Principal | None = None
        self.accepted = self.settled  # the API named the caller (or none was needed)
        self._refusal: Exception | None = None

    def settle(self) -> Principal | None:
        """Name the caller in a transaction of its own, its rate limit counted; a refusal raises
        (the same one again if asked again: a request is counted once)."""
        if self._refusal is not None:
            raise self._refusal
        if not self.settled:
            try:
                self.principal = authenticate(self.runtime, self.api, self.credentials)
            except (ApiError, RequestRefused) as exc:
                self._refusal = exc
                raise
            self.settled = self.accepted = True
        return self.principal

    def within(self, store: ApiStore) -> Principal | None:
        """Name the caller inside a transaction the caller of this holds open; `Deferred` for a
        caller with a rate limit, which must be settled (and counted) first."""
        if self.settled:
            return self.principal
        principal = identify(self.runtime, self.api, self.credentials, store)
        if principal is not None and principal.rate_limit is not None:
            raise Deferred
        self.accepted = True
        return principal


def caller_of(scope: Mapping[str, Any]) -> Caller | None:
    found = scope.get(CALLER_KEY)
    return found if isinstance(found, Caller) else None


def settle(scope: Mapping[str, Any]) -> None:
    """Name the request's caller now, if it has one: the step calling this may refuse it next."""
    caller = caller_of(scope)
    if caller is not None:
        caller.settle()


class Identify:
    """Pipeline step: the credentials the matched operation's security asks for, as a `Caller`."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        op = match_of(scope).operation if scope["type"] == "http" else None
        if op is not None:
            scope[CALLER_KEY] = Caller(self.runtime, op.api, presented(op, scope))
        await self.app(scope, receive, send)


def presented(op: Operation, scope: Mapping[str, Any]) -> Presented:
    """The credentials `scope`'s request presents for `op`, read as its schemes say."""
    if not op.security:
        return ANONYMOUS
    reader = _Reader(scope)
    found: list[tuple[Credentials, ...]] = []
    for requirement in op.security:
        if not requirement:
            return ANONYMOUS if not found else Presented(tuple(found), anonymous=True, op=op)
        values = [reader.credentials(scheme) for scheme in requirement]
        if all(v is not None for v in values):
            found.append(tuple(v for v in values if v is not None))
    return Presented(tuple(found), problem=reader.problem, op=op)


def challenge(op: Operation) -> str:
    """`WWW-Authenticate` for `op` (RFC 9110 11.6.1): one challenge per scheme it accepts."""
    seen: dict[str, None] = {}
    for requirement in op.security:
        for scheme in requirement:
            seen[_challenge(scheme, op.api)] = None
    return ", ".join(seen)


def _challenge(scheme: Scheme, realm: str) -> str:
    if scheme.kind in _BEARER_KINDS:
        return f'Bearer realm="{realm}"'
    if scheme.kind == "basic":
        return f'Basic realm="{realm}", charset="UTF-8"'
    if scheme.kind == "apiKey":
        return f'ApiKey realm="{realm}", name="{scheme.key}", in="{scheme.location}"'
    if scheme.http_scheme == "digest":  # a client needs a nonce to answer; any one will do
        nonce = hashlib.sha256(realm.encode()).hexdigest()[:32]
        return f'Digest realm="{realm}", qop="auth", nonce="{nonce}"'
    return f'{(scheme.http_scheme or scheme.kind).title()} realm="{realm}"'


class Challenges:
    """Pipeline step: a 401 without `WWW-Authenticate` gets the challenge of the operation's
    schemes (`Bearer` for an operation that declares none): RFC 9110 requires one on every
    401, and clients such as Digest ones answer nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def challenged(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                headers = list(message.get("headers", []))
                if all(name.lower() != b"www-authenticate" for name, _ in headers):
                    match = match_of(scope)
                    op = match.operation or match.near
                    value = (challenge(op) if op is not None else "") or (
                        f'Bearer realm="{match.api or "mockyard"}"'
                    )
                    headers.append((b"www-authenticate", value.encode("latin-1")))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, challenged)


def identify(runtime: Runtime, api: str, caller: Presented, store: ApiStore) -> Principal | None:
    """The principal the API's hook names, trying the alternatives in order; a refusal raises.

    Runs inside a transaction the caller holds open; it writes nothing."""
    errors: list[Exception] = []
    for alternative in caller.alternatives:
        try:
            principal = _verdict(runtime, api, alternative, store)
        except (ApiError, RequestRefused) as exc:
            errors.append(exc)
            continue
        if principal is not None:
            return principal
        errors.append(caller.refused("Provided credentials are not valid"))
    if caller.anonymous:
        return None
    if caller.problem:
        errors.append(caller.refused(caller.problem))
    if errors:
        raise _most_specific(errors)
    raise caller.refused("No authorization token provided")


def authenticate(runtime: Runtime, api: str, caller: Presented) -> Principal | None:
    """`identify` in a transaction of its own, then the principal's rate limit counted."""
    principal = runtime.store.run(
        lambda tx: identify(runtime, api, caller, tx.api(api)), write=False
    )
    if principal is not None and principal.rate_limit is not None:
        count_request(runtime, api, principal)
    return principal


def count_request(runtime: Runtime, api: str, principal: Principal) -> None:
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


def _verdict(
    runtime: Runtime, api: str, alternative: tuple[Credentials, ...], store: ApiStore
) -> Principal | None:
    """Every credential of the alternative must be accepted; the first names the principal."""
    principal = None
    for credentials in alternative:
        ctx = runtime.context(api, "authenticate", None, store, {})
        found = runtime.apis[api].authenticate(credentials, ctx)
        if found is None:
            return None
        principal = principal or found
    return principal


def _most_specific(errors: list[Exception]) -> Exception:
    by_status = {getattr(e, "status", 600): e for e in errors}
    for status in (403, 401):
        if status in by_status:
            return by_status[status]
    return by_status[min(by_status)]


class _Reader:
    """Reads one request's credentials; each header, query and cookie is looked at once."""

    def __init__(self, scope: Mapping[str, Any]) -> None:
        self.scope = scope
        self.problem = ""
        self._authorization: tuple[str, str] | bool | None = False  # False: not read yet

    def credentials(self, scheme: Scheme) -> Credentials | None:
        if scheme.kind == "apiKey":
            value = self._api_key(scheme)
            return None if value is None else Credentials("apiKey", value)
        if scheme.kind not in ("bearer", "basic", "http") and scheme.kind not in _BEARER_KINDS:
            return None  # not an HTTP, API key, OAuth 2 or OpenID Connect scheme
        authorization = self._parsed_authorization()
        if authorization is None:
            return None
        kind, value = authorization
        if scheme.kind == "http":
            return self._http(scheme.http_scheme, kind, value)
        if scheme.kind == "basic":
            if kind != "basic":
                return None
            try:
                user, password = base64.b64decode(value).decode("latin1").split(":", 1)
            except (binascii.Error, ValueError):
                self.problem = "Invalid authorization header"
                return None
            return Credentials("basic", user, password)
        if kind != "bearer":
            return None
        return Credentials(scheme.kind, value)

    def _http(self, wanted: str, kind: str, value: str) -> Credentials | None:
        """An HTTP scheme other than Basic and Bearer: Digest's user name once every field a
        Digest response needs is there; any other scheme's credentials as they are sent."""
        if kind != wanted:
            return None
        if wanted != "digest":
            return Credentials(wanted, value)
        parsed = Authorization.from_header(f"Digest {value}")
        fields = parsed.parameters if parsed is not None else {}
        if not all(fields.get(name) for name in _DIGEST_FIELDS):
            self.problem = "Invalid Digest authorization header"
            return None
        return Credentials("digest", str(fields["username"]))

    def _parsed_authorization(self) -> tuple[str, str] | None:
        if self._authorization is False:
            raw = header(self.scope, b"authorization")
            if not raw:
                self._authorization = None
            else:
                parts = raw.split(None, 1)
                if len(parts) != 2:
                    self.problem = "Invalid authorization header"
                    self._authorization = None
                else:
                    self._authorization = (parts[0].lower(), parts[1])
        return self._authorization or None  # type: ignore[return-value]

    def _api_key(self, scheme: Scheme) -> str | None:
        if scheme.location == "query":
            values = [v for k, v in query_pairs(self.scope) if k == scheme.key]  # type: ignore[arg-type]
            return values[-1] if values else None  # the last, as Starlette's query_params
        if scheme.location == "header":
            return header(self.scope, scheme.key.encode("latin-1"))
        if scheme.location == "cookie":
            raw = header(self.scope, b"cookie")
            if raw is None:
                return None
            try:
                morsel = SimpleCookie(raw).get(scheme.key)
            except CookieError:
                return None
            return None if morsel is None else morsel.value
        return None
