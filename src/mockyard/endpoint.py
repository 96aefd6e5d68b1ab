"""The last steps of the pipeline: no operation, or the matched operation's answer.

`Route` answers a request that reached no operation: a 404, a 405 (with every method the path
has), or a 307 to the same path with or without its trailing slash, as Starlette's router does.

`Endpoint` reads the arguments of the rest: by the fast reader when the request is plainly
valid, else by Connexion (`connexion_app`), which validates it and calls back `invoke` with
its own. Either way `invoke` answers: the spec's mock when the client asks for one with
`Prefer` or no handler exists, else the handler inside one store transaction, where a plain
request's caller is named too (see `auth`), once its `Accept` header is known to allow a
documented media type (else a 406, before the handler can change anything). A preferred
error status the spec shows no example of is rendered by the API's `render_failure` hook, as
every other failure of that API is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import URL
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard import auth, idempotency, negotiation, prefer
from mockyard.asgi_scope import header
from mockyard.errors import (
    Deferred,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    PreferredFailure,
)
from mockyard.fastpath import FastReader
from mockyard.guards import replay
from mockyard.mocking import Responder
from mockyard.operations import Operation, match_of
from mockyard.responses import respond
from mockyard.runtime import Runtime


class Route:
    """Pipeline step: the answer to a request no operation matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = match_of(scope)
        if scope["type"] != "http" or match.operation is not None:
            await self.app(scope, receive, send)
        elif match.redirect is not None:
            url = URL(scope={**scope, "path": match.redirect})
            await RedirectResponse(str(url))(scope, receive, send)
        elif match.allowed:
            raise MethodNotAllowed(match.allowed)
        else:
            raise NotFound()


class Endpoint:
    """Pipeline step: the matched operation's arguments, then its answer (`invoke`)."""

    def __init__(
        self, runtime: Runtime, responder: Responder, reader: FastReader | None = None
    ) -> None:
        self.runtime = runtime
        self.responder = responder
        self.reader = reader
        self.connexion: ASGIApp | None = None  # set by `connect`

    def connect(self, connexion: ASGIApp) -> None:
        """Connexion reads what the fast reader does not; it calls back `invoke`."""
        self.connexion = connexion

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.connexion is not None, "Endpoint.connect was not called"
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        op = match_of(scope).operation
        if scope["type"] != "http" or op is None:
            await self.connexion(scope, receive, send)
            return
        caller = auth.caller_of(scope)
        if self.reader is not None:
            received: list[Message] = []
            try:
                path_params = match_of(scope).path_params
                kwargs = await self.reader.read(op, scope, receive, received, path_params)
            except Deferred:
                receive = replay(received, receive)
            else:
                try:
                    response = self.invoke(op, scope, kwargs, caller)
                finally:
                    if caller is None or caller.accepted:
                        self.reader.served += 1
                await response(scope, receive, send)
                return
        if caller is not None:
            caller.settle()  # before Connexion can find the request invalid
        await self.connexion(scope, receive, send)

    def invoke(
        self,
        op: Operation,
        scope: Mapping[str, Any],
        kwargs: dict[str, Any],
        caller: auth.Caller | None,
    ) -> Response:
        """The operation's answer to a valid request whose arguments are read."""
        reused = idempotency.refusal_of(scope)
        if reused is not None:  # its key was used for another request
            raise reused
        raw_preference = header(scope, b"prefer")
        if raw_preference is not None or op.handler is None:
            principal = caller.settle() if caller is not None else None
            preference = prefer.parse(raw_preference)
            if self._renders_forced_error(op, preference):
                raise PreferredFailure(preference.code)  # type: ignore[arg-type]
            if preference or op.handler is None:  # the spec's answer: no handler, no transaction
                answer = self.responder.answer(op, kwargs, preference, header(scope, b"accept"))
                return Response(answer.body, answer.status, answer.headers, answer.media_type)
        media_type = self._negotiated(op, header(scope, b"accept"), caller)
        accepts = op.accepts
        if accepts is not None:
            kwargs = {k: v for k, v in kwargs.items() if accepts(k)}
        identify = caller.within if caller is not None else None
        try:
            result = self.runtime.run(
                op.api, op.operation_id, op.writes, op.handler, kwargs, None, identify
            )
        except Deferred:  # a caller with a rate limit: counted in its own transaction first
            assert caller is not None
            principal = caller.settle()
            result = self.runtime.run(
                op.api, op.operation_id, op.writes, op.handler, kwargs, principal
            )
        return respond(op, result, media_type)

    @staticmethod
    def _negotiated(op: Operation, accept: str | None, caller: auth.Caller | None) -> str | None:
        """The media type `Accept` chooses of those a success is documented in, before the
        handler runs: a 406 changes nothing (and comes after a 401, as every refusal does)."""
        try:
            return negotiation.choose(op.success_types, accept)
        except NotAcceptable:
            if caller is not None:
                caller.settle()
            raise

    def _renders_forced_error(self, op: Operation, preference: prefer.Preference) -> bool:
        """An error status asked for, with no example of it documented: the API's own
        `render_failure` answers it, as it answers every failure, rather than a body generated
        from the schema (which would look nothing like the vendor's)."""
        code = preference.code
        return (
            code is not None
            and code >= 400
            and not preference.example
            and not preference.dynamic
            and self.runtime.hooks(op.api).renders_failures
            and not self.responder.shows_example(op, code)
        )


async def _lifespan(receive: Receive, send: Send) -> None:
    """The sandbox has nothing to start or stop with the server (Connexion is set up apart)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
