"""An on-disk cache for startup work that is costly and deterministic in its inputs.

Validating a spec and building a seed's Faker records take most of a cold start, and give the
same answer for the same inputs. A result is stored under a key hashed from everything it depends
on (the input's content, the seed, library versions, the source of the code that computes it), so
a stale entry cannot be read; like `.pyc` files, a miss only costs the work. The cache lives in
`$MOCKYARD_CACHE_DIR`, else `$XDG_CACHE_HOME/mockyard`, else `~/.cache/mockyard`;
`MOCKYARD_NO_CACHE=1` turns it off. An unwritable cache is skipped silently.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any


def directory() -> Path | None:
    if os.environ.get("MOCKYARD_NO_CACHE"):
        return None
    explicit = os.environ.get("MOCKYARD_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mockyard"


def key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def json_key(value: Any, *parts: object) -> str | None:
    """A key for a result computed from `value`, or None when JSON cannot hold `value` exactly
    (a YAML date, say): rendering it as text would give a date and its string one key."""
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return key(text, *parts)


@functools.cache
def version_of(distribution: str) -> str:
    """An installed library's version, for keys: read from its metadata, so a cache hit never
    imports the library (some take a tenth of a start to import)."""
    return metadata.version(distribution)


def first_problem(kind: str, value: Any, library: str, check: Callable[[], str]) -> str:
    """`check()`'s complaint about `value`, or "", where `check` judges with `library`. A pass
    is remembered per value and library version, and the check skipped next time; a problem
    never is, so it is reported on every start."""
    entry = json_key(value, version_of(library))
    if load(kind, entry) is not None:
        return ""
    problem = check()
    if not problem:
        save(kind, entry, True)
    return problem


def source_of(module_file: str) -> bytes:
    """A module's source, for keys that must change when the code computing a result changes."""
    return Path(module_file).read_bytes()


def load(kind: str, entry: str | None) -> Any | None:
    folder = directory()
    if folder is None or entry is None:
        return None
    try:
        return json.loads((folder / kind / f"{entry}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save(kind: str, entry: str | None, value: Any) -> None:
    folder = directory()
    if folder is None or entry is None:
        return
    try:
        target = folder / kind
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(value, separators=(",", ":")))  # C encoder; json.dump is not
        os.replace(tmp, target / f"{entry}.json")  # atomic: readers see all or nothing
    except OSError:
        return
