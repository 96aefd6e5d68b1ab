"""The startup cache remembers only what its inputs fully determine, and can be turned off."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from mockyard import cache, specs
from mockyard.errors import SpecError
from mockyard.state import _built_records


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MOCKYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MOCKYARD_NO_CACHE", raising=False)
    return tmp_path / "cache"


def test_valid_spec_is_remembered_and_an_edit_is_checked_again(
    cache_dir: Path, tmp_path: Path
) -> None:
    spec = yaml.safe_load((ROOT / "specs" / "cargoextra.yaml").read_text())
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(spec))
    specs.load_spec(path)
    assert len(list((cache_dir / "valid-specs").iterdir())) == 1

    spec["paths"]["/api/v1/billing/invoice/pay"]["post"]["responses"] = "not a mapping"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match="invalid OpenAPI"):
        specs.load_spec(path)
    assert len(list((cache_dir / "valid-specs").iterdir())) == 1  # problems are never cached


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
