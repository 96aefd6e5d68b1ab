"""What every request shares, and the call of a handler in one store transaction.

A workspace's handler module is a plain Python file. It may define, besides one function per
operationId (kebab-case becomes snake_case):

    authenticate(credentials, ctx) -> Principal | None     who the caller is (None: 401)
    render_failure(failure) -> ApiError                     how the API documents engine errors

Each handler call runs in one store transaction: committed when the handler returns, rolled
back when it raises, so an error never changes state. A call for a safe method starts
read-only and is rerun as a writer if its handler writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from mockyard.errors import ApiError, Failure
from mockyard.fixtures import seeded_faker
from mockyard.specs import handler_name
from mockyard.store import ApiStore, Store, Transaction
from mockyard.types import Clock, Context, Credentials, Principal

Handler = Callable[..., Any]


def default_failure(failure: Failure) -> ApiError:
    """RFC 9457 problem details: what an API that documents no error format gets."""
    body: dict[str, Any] = {"type": "about:blank", "title": failure.title, "status": failure.status}
    if failure.detail:
        body["detail"] = problem_text(failure)
    return ApiError(failure.status, body, media_type="application/problem+json")


def problem_text(failure: Failure) -> str:
    """What is wrong, in words: the parameter at fault and why, else the failure's title."""
    if not failure.detail:
        return failure.title
    return f"{failure.param}: {failure.detail}" if failure.param else failure.detail


@dataclass
class ApiHooks:
    """One served API: its name, its handler module (if any) and the hooks that module defines."""

    name: str
    module: ModuleType | None = None
    fixture: Mapping[str, Any] = field(default_factory=dict)

    def handler(self, operation_id: str) -> Handler | None:
        found = getattr(self.module, handler_name(operation_id), None) if self.module else None
        return found if callable(found) else None

    @property
    def renders_failures(self) -> bool:
        return getattr(self.module, "render_failure", None) is not None

    def render_failure(self, failure: Failure) -> ApiError:
        hook = getattr(self.module, "render_failure", None)
        return hook(failure) if hook else default_failure(failure)  # type: ignore[no-any-return,unused-ignore]

    def authenticate(self, credentials: Credentials, ctx: Context) -> Principal | None:
        hook = getattr(self.module, "authenticate", None)
        if hook is None:  # no hook: any credentials are accepted, as the caller they name
            return Principal(id=credentials.value)
        return hook(credentials, ctx)  # type: ignore[no-any-return]


class Runtime:
    """What every request shares: the APIs, the store, the seed and the clock."""

    def __init__(
        self, apis: Mapping[str, ApiHooks], store: Store, *, seed: Callable[[], int], clock: Clock
    ) -> None:
        self.apis = apis
        self.store = store
        self._seed = seed
        self.clock = clock

    @property
    def seed(self) -> int:
        """The current state's seed (a reset may change it, through any worker)."""
        return self._seed()

    def hooks(self, api: str | None) -> ApiHooks:
        """The API's hooks; an unknown API (a request no route matched) gets the first's."""
        found = self.apis.get(api or "")
        return found if found is not None else next(iter(self.apis.values()))

    def run(
        self,
        api: str,
        operation_id: str,
        write: bool,
        fn: Handler,
        kwargs: dict[str, Any],
        principal: Principal | None,
        identify: Callable[[ApiStore], Principal | None] | None = None,
    ) -> Any:
        """Call `fn` in one transaction (`Store.run`: a read-only attempt that turns out to
        write, or one that lost a conflict, is rerun).

        `identify`, when given, names the caller inside that same transaction (one transaction
        per request instead of two); whatever it raises rolls the transaction back."""

        def attempt(tx: Transaction) -> Any:
            store = tx.api(api)
            caller = identify(store) if identify else principal
            return fn(self.context(api, operation_id, caller, store, kwargs), **kwargs)

        return self.store.run(attempt, write=write)

    def context(
        self,
        api: str,
        operation_id: str,
        principal: Principal | None,
        store: ApiStore,
        params: Mapping[str, Any],
    ) -> Context:
        """A handler's context; its Faker is seeded from the operation and its parameters."""
        return Context(
            api=api,
            operation_id=operation_id,
            principal=principal,
            store=store,
            now=self.clock,
            faker=lambda: seeded_faker(self.seed, operation_id, sorted(params.items())),
        )
