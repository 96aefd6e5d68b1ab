"""Helpers for tests that build small workspaces in tmp_path and drive them in-process."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

with (
    warnings.catch_warnings()
):  # starlette's test client (imported by Connexion too) asks for httpx2
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

    from mockyard.app import ServeConfig, build

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT / "specs" / "upstream" / "cargoextra"


def write_workspace(
    root: Path,
    specs: Mapping[str, Any],
    *,
    handlers: Mapping[str, str] | None = None,
    fixtures: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """specs: file name -> document (dict, dumped as YAML or JSON by suffix) or raw text."""
    (root / "specs").mkdir(parents=True, exist_ok=True)
    for name, doc in specs.items():
        path = root / "specs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(doc, str):
            path.write_text(doc)
        elif name.endswith(".json"):
            path.write_text(json.dumps(doc))
        else:
            path.write_text(yaml.safe_dump(doc, sort_keys=False))
    for name, source in (handlers or {}).items():
        (root / "handlers").mkdir(exist_ok=True)
        (root / "handlers" / name).write_text(source)
    for name, doc in (fixtures or {}).items():
        (root / "fixtures").mkdir(exist_ok=True)
        (root / "fixtures" / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    if config is not None:
        (root / "mockyard.yaml").write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return root


@contextmanager
def served(state_dir: Path, workspace: Path | None = None, **options: Any) -> Iterator[TestClient]:
    """An in-process client for a workspace (or `specs=(...)` files), its state in `state_dir`."""
    config = ServeConfig(
        workspace=str(workspace or state_dir), state=str(state_dir / "state.sqlite3"), **options
    )
    sandbox = build(config)
    try:  # a loopback Host, as conftest.LOOPBACK_URL explains
        with TestClient(
            sandbox.app, base_url="http://127.0.0.1", raise_server_exceptions=False
        ) as client:
            yield client
    finally:
        sandbox.close()


def spec(paths: Mapping[str, Any], *, version: str = "3.0.3", **extra: Any) -> dict[str, Any]:
    """A minimal OpenAPI document around `paths`."""
    return {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": dict(paths),
        **extra,
    }


def ok(schema: Any, **response: Any) -> dict[str, Any]:
    """A responses object with one 200 JSON response of `schema`."""
    media = {"schema": schema, **response}
    return {"200": {"description": "ok", "content": {"application/json": media}}}
