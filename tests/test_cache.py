"""The startup cache remembers only what its inputs fully determine, and can be turned off."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from mockyard import cache, specs, workspace
from mockyard.app import inferred_records
from mockyard.errors import FixtureError, SpecError
from mockyard.record_schemas import load as load_schemas
from mockyard.state import _built_records


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MOCKYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MOCKYARD_NO_CACHE", raising=False)
    return tmp_path / "cache"


def test_a_loaded_spec_is_remembered_and_an_edit_is_loaded_again(
    cache_dir: Path, tmp_path: Path
) -> None:
    spec = yaml.safe_load((ROOT / "specs" / "cargoextra.yaml").read_text())
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(spec))
    first = specs.load_spec(path)
    assert len(list((cache_dir / "loaded-specs").iterdir())) == 1
    assert specs.load_spec(path) == first  # read back from the cache

    spec["paths"]["/api/v1/billing/invoice/pay"]["post"]["responses"] = "not a mapping"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match="is not of type"):
        specs.load_spec(path)
    assert len(list((cache_dir / "loaded-specs").iterdir())) == 1  # problems are never cached


def test_an_entry_is_not_used_once_a_file_the_bundle_read_changes(
    cache_dir: Path, tmp_path: Path
) -> None:
    root = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"responses": {"200": {"$ref": "parts/ok.yaml"}}}}},
    }
    (tmp_path / "parts").mkdir()
    (tmp_path / "api.yaml").write_text(yaml.safe_dump(root))
    (tmp_path / "parts" / "ok.yaml").write_text("description: first\n")
    loaded = specs.load_spec(tmp_path / "api.yaml")
    assert loaded["components"]["responses"]["ok"]["description"] == "first"
    (tmp_path / "parts" / "ok.yaml").write_text("description: second\n")
    loaded = specs.load_spec(tmp_path / "api.yaml")
    assert loaded["components"]["responses"]["ok"]["description"] == "second"


def test_valid_fixture_schemas_are_remembered_and_a_broken_one_is_refused(
    cache_dir: Path,
) -> None:
    fixture = {"schemas": {"things": {"type": "object", "required": ["id"]}}}
    assert set(load_schemas({"api": ("f.yaml", fixture)})["api"]) == {"things"}
    assert len(list((cache_dir / "valid-schemas").iterdir())) == 1

    fixture["schemas"]["things"]["required"] = "id"  # must be an array
    with pytest.raises(FixtureError, match=r"schemas\.things"):
        load_schemas({"api": ("f.yaml", fixture)})
    assert len(list((cache_dir / "valid-schemas").iterdir())) == 1


def test_records_are_remembered_per_fixture_and_seed(cache_dir: Path) -> None:
    fixture = {"generate": {"things": {"count": 3, "fields": {"value": {"faker": "pyint"}}}}}
    first = _built_records(fixture, 1, None)
    assert _built_records(fixture, 1, None) == first
    assert _built_records(fixture, 2, None) != first
    assert len(list((cache_dir / "records").iterdir())) == 2


def test_cache_can_be_turned_off(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOCKYARD_NO_CACHE", "1")
    cache.save("records", cache.key("x"), {"a": 1})
    assert cache.load("records", cache.key("x")) is None
    assert not cache_dir.exists()


LOADED_AFTER_BUILD = """
import json, sys
from mockyard.app import ServeConfig, build
build(ServeConfig(workspace=sys.argv[1], state=sys.argv[2], journal=sys.argv[3]))
print(json.dumps(sorted(m for m in ("faker", "openapi_schema_validator") if m in sys.modules)))
"""


def test_a_start_from_the_cache_imports_neither_faker_nor_the_schema_generator(
    cache_dir: Path, tmp_path: Path
) -> None:
    """Importing Faker and the schema-driven generator's validator is a third of a cold start; a
    start whose records and checks come from the cache needs neither until a request does."""

    def loaded(run: int) -> list[str]:
        args = [str(ROOT), str(tmp_path / f"state{run}.sqlite3"), str(tmp_path / f"j{run}")]
        out = subprocess.run(
            [sys.executable, "-c", LOADED_AFTER_BUILD, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return json.loads(out.stdout.splitlines()[-1])

    assert "faker" in loaded(1)  # the first start builds the records with Faker
    assert loaded(2) == []


def _things_spec(folder: Path, colours: list[str]) -> Path:
    """A spec whose `things` collection keeps its record schema in other files: a thing's
    `colour` is one of `colours`, two `$ref`s away from the spec."""
    item = {"content": {"application/json": {"schema": {"$ref": "parts/thing.yaml"}}}}
    root = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things": {"get": {"responses": {"200": {"description": "all", "content": {
                "application/json": {"schema": {"type": "array", "items": {
                    "$ref": "parts/thing.yaml"}}}}}}}},
            "/things/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {"responses": {"200": {"description": "one", **item}}},
            },
        },
    }  # fmt: skip
    thing = {
        "type": "object",
        "required": ["id", "colour"],
        "properties": {"id": {"type": "string"}, "colour": {"$ref": "colour.yaml"}},
    }
    (folder / "parts").mkdir(exist_ok=True)
    (folder / "parts" / "colour.yaml").write_text(yaml.safe_dump({"enum": colours}))
    (folder / "parts" / "thing.yaml").write_text(yaml.safe_dump(thing))
    (folder / "api.yaml").write_text(yaml.safe_dump(root))
    return folder / "api.yaml"


def test_seeded_records_follow_an_edit_of_a_file_the_spec_refers_to(
    cache_dir: Path, tmp_path: Path
) -> None:
    """The records' cache entry is keyed by the files the spec was made from, not by hashing
    the whole merged document: an edit two `$ref`s away must still reach the records."""
    spec = _things_spec(tmp_path, ["red"])

    def colours() -> set[object]:
        ws = workspace.from_specs([spec])
        assert ws.merged_source  # a key of the files, so the document is not hashed
        found = inferred_records(ws, 7, {})
        return {r["colour"] for collection in found["api"].values() for r in collection.values()}

    assert colours() == {"red"}
    assert colours() == {"red"}  # the same files: read back from the cache
    assert len(list((cache_dir / "resource-records").iterdir())) == 1

    _things_spec(tmp_path, ["blue"])
    assert colours() == {"blue"}
    assert len(list((cache_dir / "resource-records").iterdir())) == 2
