"""What the run's requests reached, per operation: statuses by class, how many got past
authentication, and whether the operation was tested at all.

Checks only judge the answers they get. An operation whose every request was refused by
authentication (401 or 403), or got one and the same 404 (a wrong base URL, a path prefix given
twice), had its refusal checked, not its contract: it is reported "not tested" and the run is not
green. So is an operation no request was sent to. Requests Schemathesis's checks derive from a
case (the same request without credentials, an undeclared method) are not counted: they are
meant to be refused.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mockyard.contract_events import OperationReach

AUTH_REFUSALS = frozenset({401, 403})
REFUSED = "not tested: every request was refused by authentication; pass --token/--header"
NOTHING_SENT = "not tested: no request was sent to it"
NO_ANSWER = "not tested: no request got an answer"


@dataclass
class _Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    unanswered: int = 0
    not_found: set[bytes] = field(default_factory=set)  # the distinct 404 bodies


class Reach:
    """Counts one API's requests per operation as Schemathesis's scenarios finish."""

    def __init__(
        self, api: str, base_url: str, operations: list[str], servers_path: str = ""
    ) -> None:
        self.api = api
        self.base_url = base_url
        self.servers_path = servers_path  # the spec's own base path, for `url_hint`
        self.tallies = {label: _Tally() for label in operations}

    def record(self, recorder: Any) -> None:
        """Count the requests of one finished scenario (a Schemathesis `ScenarioRecorder`)."""
        for case_id, interaction in recorder.interactions.items():
            node = recorder.cases.get(case_id)
            if node is None or (node.parent_id is not None and node.transition is None):
                continue  # a check's own probe, derived from a generated case
            case = node.value
            if case.method.upper() != case.operation.method.upper():
                continue  # an undeclared-method probe
            response = interaction.response
            if response is None:
                self.count(case.operation.label, None)
            else:
                self.count(case.operation.label, response.status_code, response.content)

    def count(self, label: str, status: int | None, content: bytes | None = b"") -> None:
        """Count one request to the operation `label`: its status, or None when unanswered."""
        tally = self.tallies.setdefault(label, _Tally())
        if status is None:
            tally.unanswered += 1
            return
        tally.statuses[status] += 1
        if status == 404:
            tally.not_found.add(bytes(content or b""))

    def results(self) -> tuple[OperationReach, ...]:
        return tuple(self._result(label, tally) for label, tally in self.tallies.items())

    def _result(self, label: str, tally: _Tally) -> OperationReach:
        by_class = Counter(f"{status // 100}xx" for status in tally.statuses.elements())
        answered = sum(tally.statuses.values())
        past_auth = sum(n for s, n in tally.statuses.items() if s not in AUTH_REFUSALS)
        url = self.base_url + label.split(" ", 1)[1]
        # One and the same 404 for every request is the server's "no such route", not the
        # operation's answer (which names what it did not find, or is sometimes something else).
        route_404 = tally.statuses.get(404, 0) if len(tally.not_found) == 1 else 0
        refused = answered - past_auth
        verdict = ""
        if answered + tally.unanswered == 0:
            verdict = NOTHING_SENT
        elif answered == 0:
            verdict = NO_ANSWER
        elif past_auth - route_404 == 0 and refused >= route_404:
            verdict = REFUSED  # what routing let through, authentication refused
        elif past_auth - route_404 == 0:
            verdict = "not reached: every request past authentication got the same 404"
            verdict += f"; is {url} the right URL?{url_hint(self.base_url, url, self.servers_path)}"
        return OperationReach(
            api=self.api,
            operation=label,
            url=url,
            requests=answered + tally.unanswered,
            by_class=tuple(sorted(by_class.items())),
            unanswered=tally.unanswered,
            past_auth=past_auth,
            verdict=verdict,
        )


def url_hint(base_url: str, url: str, servers_path: str) -> str:
    """What may be wrong with an operation URL whose requests all got one 404, or "".

    A run of path segments given twice in a row (`/api/v2/api/v2/...`: a base URL that already
    ends in a prefix the paths add again) is named, and so is a `servers` path the base URL
    lacks (the spec's paths are relative to it).
    """
    segments = [s for s in urlsplit(url).path.split("/") if s]
    for start in range(len(segments)):
        for size in range((len(segments) - start) // 2, 0, -1):
            if segments[start : start + size] == segments[start + size : start + 2 * size]:
                twice = "/" + "/".join(segments[start : start + size])
                return f" The path has {twice} twice: does the base URL already end in it?"
    base = "/" + "/".join(s for s in urlsplit(base_url).path.split("/") if s)
    wanted = "/" + "/".join(s for s in servers_path.split("/") if s)
    if wanted != "/" and not base.endswith(wanted):
        return f" The spec's servers URL ends in {wanted}, which the base URL lacks."
    return ""
