"""What `mockyard proxy` saw, as a contract run's result: the reports (terminal, JUnit, HTML,
Markdown) then show it as they show a contract run.

Each exchange with a documented operation is one case of every check (`proxy_checks.CHECKS`);
a violation is a failure of its check, one per distinct (operation, check, status, first
line), with a `curl` line that sends the request to the upstream again (credentials shown as
`[redacted]`). A request no operation documents is a failure of `undocumented_operation`. An
upstream that could not be reached or did not answer in time is an error of the operation.
Each operation seen has its reach (requests by status class).
"""

from __future__ import annotations

import shlex
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from mockyard.contract_events import (
    ApiPlanSummary,
    CheckTally,
    ContractResult,
    FailureFound,
    OperationReach,
    RunError,
    Target,
)
from mockyard.journal import REDACTED, Redactor, spec_credentials
from mockyard.proxy import Seen, Upstream
from mockyard.proxy_checks import CHECKS, UNDOCUMENTED, Violation
from mockyard.workspace import Workspace

PHASE = "proxy"
_EXCERPT = 300
_CURL_BODY = 4096


@dataclass
class _Reach:
    url: str
    classes: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0
    past_auth: int = 0


class ProxyLog:
    """Observer of the proxy: gathers the report's tallies, failures, errors and reach."""

    def __init__(self, upstream: Upstream, specs: dict[str, str], redactor: Redactor) -> None:
        """`specs` names each API's spec file, for the report's header."""
        self.upstream = upstream
        self.specs = specs
        self.redactor = redactor
        self.started = time.monotonic()
        self.exchanges = 0
        self._tallies: dict[tuple[str, str, str], list[int]] = {}
        self._failures: dict[tuple[str, ...], FailureFound] = {}
        self._errors: dict[tuple[str, str, str], RunError] = {}
        self._reach: dict[tuple[str, str], _Reach] = defaultdict(lambda: _Reach(""))

    @classmethod
    def of(cls, ws: Workspace, upstream: Upstream) -> ProxyLog:
        """The log of a proxy serving `ws`: credentials hidden as the journal hides them."""
        return cls(
            upstream, {s.name: str(s.spec) for s in ws.apis}, Redactor(*spec_credentials(ws.merged))
        )

    def __call__(self, seen: Seen) -> None:
        self.exchanges += 1
        op = seen.operation
        api = op.api if op is not None else seen.match.api or ""
        name = op.operation_id if op is not None else f"{seen.method} {seen.path}"
        checks = CHECKS if op is not None else (UNDOCUMENTED,)
        failed = {v.check for v in seen.violations}
        if seen.failure:
            key = (api, name, seen.failure)
            self._errors.setdefault(key, RunError(api, name, "upstream failed", seen.failure))
        else:
            for check in checks:
                tally = self._tallies.setdefault((api, name, check), [0, 0])
                tally[0] += 1
                tally[1] += check in failed
        for violation in seen.violations:
            self._failure(api, name, seen, violation)
        reach = self._reach[(api, name)]
        reach.url = reach.url or self.upstream.base_url + (op.path if op else seen.path)
        if seen.failure or seen.status is None:
            reach.unanswered += 1
        else:
            reach.classes[f"{seen.status // 100}xx"] += 1
            reach.past_auth += seen.status not in (401, 403)

    def _failure(self, api: str, name: str, seen: Seen, violation: Violation) -> None:
        first = violation.message.splitlines()[0] if violation.message else ""
        key = (api, name, violation.check, str(seen.status), first)
        if key in self._failures:
            return
        body = seen.response_body if seen.forwarded else None
        excerpt = body[:_EXCERPT].decode("utf-8", "replace") if body else ""
        self._failures[key] = FailureFound(
            api=api,
            operation=name,
            check=violation.check,
            code=f"{seen.method} {seen.path} -> {seen.status}",
            title=violation.title,
            message=violation.message,
            status_code=seen.status if seen.forwarded else None,
            response_excerpt=excerpt,
            curl=self._curl(seen),
            failure_type=violation.check,
            signature=first,
        )

    def _curl(self, seen: Seen) -> str:
        """The request again, to the upstream; credentials hidden."""
        words = ["curl", "-X", seen.method, seen.url]
        shown = self.redactor.header_lines(
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in seen.request_headers
            if k.lower() not in ("host", "content-length", "accept-encoding", "connection")
        )
        for line in shown.splitlines():
            words += ["-H", line]
        body = seen.request_body
        if body and len(body) <= _CURL_BODY:
            words += ["--data-raw", body.decode("utf-8", "replace")]
        elif body is None or body:
            words += ["--data-binary", "@body"]
        line = " ".join(shlex.quote(w) for w in words)
        return line.replace(shlex.quote(REDACTED), REDACTED)

    def result(self) -> ContractResult:
        """Everything seen so far, as a contract run's result."""
        target = Target(self.upstream.base_url, self.upstream.host, self.upstream.loopback)
        tallies = tuple(
            CheckTally(api, op, check, cases, failures)
            for (api, op, check), (cases, failures) in sorted(self._tallies.items())
        )
        reach = tuple(
            OperationReach(
                api=api,
                operation=op,
                url=r.url,
                requests=sum(r.classes.values()) + r.unanswered,
                by_class=tuple(sorted(r.classes.items())),
                unanswered=r.unanswered,
                past_auth=r.past_auth,
            )
            for (api, op), r in sorted(self._reach.items())
        )
        plans = tuple(
            ApiPlanSummary(
                api,
                spec,
                self.upstream.base_url,
                "the clients' own, forwarded as they were sent",
                calibration="none: observed traffic",
            )
            for api, spec in self.specs.items()
        )
        noun = "exchange" if self.exchanges == 1 else "exchanges"
        return ContractResult(
            target=target,
            seed=0,
            max_examples=0,
            checks=(*CHECKS, UNDOCUMENTED),
            phases=(PHASE,),
            apis=plans,
            tallies=tallies,
            failures=tuple(self._failures.values()),
            errors=tuple(self._errors.values()),
            elapsed=time.monotonic() - self.started,
            notes=(f"{self.exchanges} {noun} seen through mockyard proxy",),
            reach=reach,
        )
