"""Small value types shared by the engine and by workspace handler modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faker import Faker

    from mockyard.store import ApiStore

Document = dict[str, Any]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` requests in any window of `per_seconds` seconds."""

    requests: int
    per_seconds: float


@dataclass(frozen=True)
class Credentials:
    """What the client presented, as the operation's security scheme reads it.

    `scheme` is the OpenAPI security scheme's type (`bearer`, `basic`, `apiKey`); `value` is the
    token, the API key, or the basic-auth user name; `password` only for basic auth.
    """

    scheme: str
    value: str
    password: str = ""


@dataclass(frozen=True)
class Principal:
    """Who is calling: returned by an API's `authenticate` hook, handed to every handler."""

    id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    rate_limit: RateLimit | None = None


class Context:
    """Everything a handler may touch: the caller, the API's state, seeded fake data, the clock."""

    def __init__(
        self,
        *,
        api: str,
        operation_id: str,
        principal: Principal | None,
        store: ApiStore,
        now: Clock,
        faker: Callable[[], Faker],
    ) -> None:
        self.api = api
        self.operation_id = operation_id
        self.principal = principal
        self.store = store
        self.now = now
        self._faker_factory = faker
        self._faker: Faker | None = None

    @property
    def faker(self) -> Faker:
        """A Faker seeded for this request; built on first use (building one is not free)."""
        if self._faker is None:
            self._faker = self._faker_factory()
        return self._faker
