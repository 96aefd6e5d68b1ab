"""Baselines: the known failures of an API that does not pass yet, so it can adopt the gate.

`--write-baseline FILE` records the run's distinct failures; `--baseline FILE` then fails a run
only on failures the file does not list, and reports those it lists but no longer sees (fixed
since). A legacy API gets a green gate today and a red one on its next regression.

A failure's identity is Schemathesis's (`schemathesis.baseline.failure_identity`): operation,
check, failure class and signature (the schema path a response violated, the status of a server
error, ...), plus the API. It holds across runs and seeds. The file is YAML: one entry per
failure, sorted, without dates, seeds or versions, so its diff shows exactly what changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass
from pathlib import Path

import yaml

from mockyard.contract_events import BaselineEntry, FailureFound
from mockyard.errors import ContractError

VERSION = 1
_IDENTITY = ("api", "operation", "check", "failure", "signature")
_HEADER = """\
# mockyard contract baseline: the known contract failures, one entry per distinct failure.
# `mockyard contract --baseline THIS_FILE` fails only on failures not listed here and reports
# the listed ones it no longer finds. Rewrite it with --write-baseline; review its diff.
"""


@dataclass(frozen=True)
class Baseline:
    path: str
    entries: frozenset[BaselineEntry]

    def lists(self, failure: FailureFound) -> bool:
        return _identity(entry(failure)) in {_identity(e) for e in self.entries}


def entry(failure: FailureFound) -> BaselineEntry:
    return BaselineEntry(
        failure.api,
        failure.operation,
        failure.check,
        failure.failure_type,
        failure.signature,
        failure.title,
    )


def load(path: str) -> Baseline:
    """Read a baseline file; a missing or malformed one is a usage error."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ContractError(f"cannot read the baseline {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ContractError(f"the baseline {path} is not YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ContractError(f"the baseline {path} is not a version {VERSION} mockyard baseline")
    entries = data.get("failures") or []
    if not isinstance(entries, list):
        raise ContractError(f"the baseline {path}: 'failures' must be a list")
    found = set()
    for raw in entries:
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in _IDENTITY):
            raise ContractError(
                f"the baseline {path}: each failure needs the strings {', '.join(_IDENTITY)}; "
                f"got {raw!r}"
            )
        api, operation, check, failure, signature = (str(raw[k]) for k in _IDENTITY)
        title = str(raw.get("title", ""))
        found.add(BaselineEntry(api, operation, check, failure, signature, title))
    return Baseline(path, frozenset(found))


def render(failures: Iterable[FailureFound]) -> str:
    """The baseline text for `failures`: deterministic, one sorted entry per distinct failure."""
    entries = sorted({_identity(entry(f)): entry(f) for f in failures}.items())
    listed = [
        {**dict(zip(_IDENTITY, identity, strict=True)), "title": found.title}
        for identity, found in entries
    ]
    body = yaml.safe_dump(
        {"version": VERSION, "failures": listed},
        sort_keys=False,
        allow_unicode=True,
        width=1_000,
        default_flow_style=False,
    )
    return _HEADER + body


def compare(
    baseline: Baseline, failures: Iterable[FailureFound], checked: set[tuple[str, str, str]]
) -> tuple[tuple[BaselineEntry, ...], tuple[BaselineEntry, ...]]:
    """(fixed, unchecked): listed entries this run no longer saw, split by whether it ran
    their check on their operation at all (an untested operation proves nothing fixed)."""
    seen = {_identity(entry(f)) for f in failures}
    gone = sorted((e for e in baseline.entries if _identity(e) not in seen), key=_identity)
    fixed = tuple(e for e in gone if (e.api, e.operation, e.check) in checked)
    return fixed, tuple(e for e in gone if (e.api, e.operation, e.check) not in checked)


def _identity(found: BaselineEntry) -> tuple[str, ...]:
    return astuple(found)[: len(_IDENTITY)]
