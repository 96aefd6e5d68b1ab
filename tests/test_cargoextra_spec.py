"""The effective CargoExtra spec: a valid OpenAPI 3.0 document covering every upstream operation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from openapi_core import OpenAPI

from mockyard import specs
from mockyard.errors import SpecError

EFFECTIVE = ROOT / "specs" / "cargoextra.yaml"
UPSTREAM = sorted((ROOT / "specs" / "upstream" / "cargoextra").glob("*.yaml"))


def signatures(spec: dict) -> set[tuple[str, str, frozenset[str]]]:
    out = set()
    for op in specs.operations(spec):
        params = {p["name"] for p in op.spec.get("parameters", [])}
        body = op.spec.get("requestBody", {}).get("content", {}).get("application/json", {})
        props = set(body.get("schema", {}).get("properties", {}))
        out.add((op.method, op.path, frozenset(params | props)))
    return out


def test_effective_spec_is_valid_openapi() -> None:
    OpenAPI.from_file_path(str(EFFECTIVE))  # raises on an invalid document


@pytest.mark.parametrize("upstream", UPSTREAM, ids=[p.stem for p in UPSTREAM])
def test_effective_spec_covers_upstream_operation(upstream: Path) -> None:
    effective = signatures(yaml.safe_load(EFFECTIVE.read_text()))
    for method, path, names in signatures(yaml.safe_load(upstream.read_text())):
        match = [e for e in effective if e[:2] == (method, path)]
        assert match, f"{method.upper()} {path} missing from the effective spec"
        assert names <= match[0][2], f"{path}: parameters missing: {names - match[0][2]}"


def test_effective_spec_documents_every_message_the_prose_lists() -> None:
    text = EFFECTIVE.read_text()
    for upstream in UPSTREAM:
        description = yaml.safe_load(upstream.read_text())
        for item in description["paths"].values():
            for op in item.values():
                for line in op["description"].splitlines():
                    if line.startswith("- ") and ": " in line:
                        message = line.split(": ", 1)[1].split(" - ")[0]
                        if message != "Bad Invoice response":
                            assert message in text, message


def test_effective_spec_replaces_placeholder_fields() -> None:
    def property_names(node: object) -> set[str]:
        if isinstance(node, dict):
            own = (
                set(node.get("properties", {}))
                if isinstance(node.get("properties"), dict)
                else set()
            )
            return own.union(*(property_names(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(property_names(v) for v in node))
        return set()

    names = property_names(yaml.safe_load(EFFECTIVE.read_text()))
    assert {"verStatus", "walletBalance", "chargeTotal"} <= names
    assert not {n for n in names if n.startswith("key_")}


def test_merge_refuses_the_same_operation_in_two_specs(tmp_path: Path) -> None:
    spec = yaml.safe_load(EFFECTIVE.read_text())
    with pytest.raises(
        SpecError, match=r"(GET|POST) /api/v1/billing/invoice/\S+ is defined in both"
    ):
        specs.merge([("a", tmp_path / "a.yaml", spec, ""), ("b", tmp_path / "b.yaml", spec, "")])


def test_merge_mounts_a_spec_under_its_prefix(tmp_path: Path) -> None:
    spec = yaml.safe_load(EFFECTIVE.read_text())
    merged = specs.merge(
        [
            ("a", tmp_path / "a.yaml", spec, ""),
            (
                "b",
                tmp_path / "b.yaml",
                {
                    **spec,
                    "paths": {
                        k: {
                            m: {**op, "operationId": "b-" + op["operationId"]}
                            for m, op in v.items()
                        }
                        for k, v in spec["paths"].items()
                    },
                },
                "/b",
            ),
        ]
    )
    assert "/b/api/v1/billing/invoice/pay" in merged["paths"]
    assert merged["paths"]["/b/api/v1/billing/invoice/pay"]["post"][specs.API_TAG] == "b"
