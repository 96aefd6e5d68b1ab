"""An earlier commit of mockyard, measured beside the current one in the same run.

Issue 14 asks that validate and pay be "at least as fast as before the change". Baselines
measured on different days moved by a factor of 2 to 5 here (other tenants share the host), so a
ratio from an old run cannot show that; the same requests against both builds, one after the
other on the same machine, can. `--before REF` (default: `DEFAULT_REF`, the commit the request
pipeline was redesigned from) exports REF's tree with `git archive` into the run's scratch
directory and serves its own workspace with its own engine (its `src/` first on `PYTHONPATH`),
in this checkout's virtualenv: a commit whose dependencies this one's no longer satisfies cannot
be measured this way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench import servers
from bench.servers import ROOT, App

DEFAULT_REF = "da1e240"  # the base of f01a011, "One request pipeline on one operation index"

# Writes a state holding exactly the given records, with the exported engine's own store (its
# file format is the engine's business). Before the Store interface (bbfa41e) the SQLite store
# was `store.Store`; `open_store` since.
_WRITE_STATE = """
import json, sys
from mockyard import store
records, seed = json.load(sys.stdin), int(sys.argv[2])
opened = (getattr(store, "open_store", None) or store.Store)(sys.argv[1])
try:
    opened.replace_all(records, seed=seed)
finally:
    opened.close()
"""


class BeforeUnavailable(RuntimeError):
    """The earlier commit could not be exported (unknown ref, a shallow clone, no git)."""


@dataclass(frozen=True)
class Before:
    """An exported earlier commit: its tree, and how to run its engine."""

    ref: str
    commit: str
    tree: Path

    @property
    def env(self) -> tuple[tuple[str, str], ...]:
        return (("PYTHONPATH", str(self.tree / "src")),)

    def app(self, *extra: str) -> App:
        """`mockyard serve` of the earlier commit's workspace, by its own engine."""
        return replace(servers.mockyard(self.tree, *extra), name="mockyard-before", env=self.env)

    def write_state(self, path: Path, records: Mapping[str, Any], seed: int) -> None:
        """A state file holding exactly `records` ({api: {collection: {key: document}}})."""
        subprocess.run(
            [sys.executable, "-c", _WRITE_STATE, str(path), str(seed)],
            input=json.dumps(records),
            text=True,
            check=True,
            capture_output=True,
            env={**os.environ, **dict(self.env)},
            timeout=600,
        )


def export(ref: str, scratch: Path) -> Before:
    """REF's tree under `scratch`, byte-compiled as `make bench` compiles this checkout's."""
    try:
        commit = _git("rev-parse", "--verify", "--short", f"{ref}^{{commit}}").strip()
    except subprocess.CalledProcessError as exc:
        raise BeforeUnavailable(f"{ref!r} is not a commit of this clone: {exc.stderr}") from exc
    except OSError as exc:  # no git at all
        raise BeforeUnavailable(f"git cannot be run: {exc}") from exc
    tree = scratch / f"before-{commit}"
    try:
        with tempfile.TemporaryFile() as archive:
            subprocess.run(["git", "archive", commit], cwd=ROOT, stdout=archive, check=True)
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                tar.extractall(tree, filter="data")
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "src", "handlers"], cwd=tree, check=True
        )
    except (OSError, subprocess.CalledProcessError, tarfile.TarError) as exc:
        raise BeforeUnavailable(f"{commit} could not be exported: {exc}") from exc
    return Before(ref, commit, tree)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout
