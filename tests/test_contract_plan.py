"""Planning a contract run without sending anything: skipped mutations, and credentials placed
where each security scheme says."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from mockyard import workspace
from mockyard.contract_events import Target
from mockyard.contract_plan import PlanOptions, plan_apis, select_apis
from mockyard.errors import FixtureError

REMOTE = Target("https://api.example.com", "api.example.com", loopback=False)


def plan(options: PlanOptions, target: Target = REMOTE) -> list[Any]:
    return plan_apis(select_apis(options), options, target)


VALIDATE = "GET /api/v1/billing/invoice/validate"


def validate_type(spec: dict[str, Any]) -> dict[str, Any]:
    validate = spec["paths"]["/api/v1/billing/invoice/validate"]["get"]
    return next(p for p in validate["parameters"] if p["name"] == "type")


def test_remote_target_gets_a_read_only_run() -> None:
    (cargo,) = plan(PlanOptions(workspace=str(ROOT), apis=("cargoextra",)))
    skipped = {s.operation: s.reason for s in cargo.skipped}
    assert set(skipped) == {
        "POST /api/v1/billing/invoice/part-process",
        "POST /api/v1/billing/invoice/pay",
    }
    assert all("api.example.com is not a loopback address" in r for r in skipped.values())
    assert all("--allow-mutations" in r for r in skipped.values())
    assert cargo.read_only and set(cargo.excluded) == set(skipped)
    # validate is a GET, but type=start records a pending payment: it is tested with confirm only.
    narrowed = validate_type(cargo.spec)
    assert narrowed["schema"]["enum"] == ["confirm"] and narrowed["example"] == "confirm"
    assert cargo.narrowed == (f"{VALIDATE}: type never start",)
    assert cargo.settings["phases"]["coverage"]["unexpected-methods"] == ["get", "options", "trace"]
    assert cargo.settings["auth"]["auto-signup"] is False
    assert not cargo.reset  # only a local sandbox is reset
    # catalogue credentials are for a local sandbox only
    assert cargo.credentials == "none, although the spec requires some: pass --token or --header"


def test_allow_mutations_tests_everything() -> None:
    planned = plan(PlanOptions(workspace=str(ROOT), allow_mutations=True))
    assert all(p.skipped == [] and p.excluded == () and not p.read_only for p in planned)
    cargo = next(p for p in planned if p.api == "cargoextra")
    assert validate_type(cargo.spec)["schema"]["enum"] == ["start", "confirm"]


def test_loopback_target_skips_nothing() -> None:
    target = Target("http://127.0.0.1:9000", "127.0.0.1", loopback=True)
    planned = plan(PlanOptions(workspace=str(ROOT)), target)
    assert [p.skipped for p in planned] == [[]] * len(workspace.load(ROOT).apis)


def test_no_mutations_makes_even_a_sandbox_run_read_only() -> None:
    planned = plan(PlanOptions(workspace=str(ROOT), no_mutations=True), SANDBOX_ALL)
    assert all(p.read_only and not p.reset for p in planned)  # a reset changes state too
    reasons = [s.reason for p in planned for s in p.skipped]
    assert reasons and all("a read-only run (--no-mutations)" in r for r in reasons)
    assert all("sandbox catalogue default" in p.credentials for p in planned)


# --- credentials, generically from fixture `credentials:` + the spec's securitySchemes ---------


SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer"},
    "basicAuth": {"type": "http", "scheme": "basic"},
    "queryKey": {"type": "apiKey", "in": "query", "name": "api_key"},
    "headerKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "cookieKey": {"type": "apiKey", "in": "cookie", "name": "session"},
}


def make_workspace(
    root: Path, scheme: str, credential: dict[str, Any], *, declare: bool = True
) -> Path:
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/things": {"get": {"responses": {"200": {"description": "ok"}}}}},
        "components": {"securitySchemes": {scheme: SCHEMES[scheme]}},
        "security": [{scheme: []}],
    }
    (root / "specs").mkdir()
    (root / "fixtures").mkdir()
    (root / "specs" / "things.yaml").write_text(yaml.safe_dump(spec))
    fixture = {"credentials": [{"value": "other", "scheme": scheme}, credential]}
    (root / "fixtures" / "things.yaml").write_text(yaml.safe_dump(fixture))
    if not declare:  # a vendor spec that forgot its security scheme
        del spec["components"], spec["security"]
        (root / "vendor.yaml").write_text(yaml.safe_dump(spec))
    return root


SANDBOX = Target("http://127.0.0.1:9000", "127.0.0.1", True, True, ("things",))
SANDBOX_ALL = Target(
    "http://127.0.0.1:9000", "127.0.0.1", True, True, ("cargoextra", "invoicexpress", "chargebee")
)


@pytest.mark.parametrize(
    ("scheme", "credential", "expected"),
    [
        ("bearerAuth", {"value": "tok"}, {"bearer": "tok"}),
        (
            "basicAuth",
            {"value": "sandbox_api_key"},
            {"username": "sandbox_api_key", "password": ""},
        ),
        ("basicAuth", {"value": "u", "password": "p"}, {"username": "u", "password": "p"}),
        ("queryKey", {"value": "sandbox-api-key"}, {"api_key": "sandbox-api-key"}),
        ("headerKey", {"value": "k"}, {"api_key": "k"}),
    ],
)
def test_catalogue_default_credential_goes_to_its_scheme(
    tmp_path: Path, scheme: str, credential: dict[str, Any], expected: dict[str, str]
) -> None:
    ws = make_workspace(tmp_path, scheme, {**credential, "scheme": scheme, "default": True})
    (things,) = plan(PlanOptions(workspace=str(ws)), SANDBOX)
    assert things.settings["auth"]["openapi"] == {scheme: expected}
    assert things.reset and things.secrets == ()  # public sandbox values, shown as they are
    assert things.credentials.startswith(f"{scheme} = {credential['value']}")


@pytest.mark.parametrize(
    ("scheme", "credential", "where", "expected"),
    [
        ("bearerAuth", {"value": "tok"}, "headers", {"Authorization": "Bearer tok"}),
        (
            "basicAuth",
            {"value": "u"},
            "headers",
            {"Authorization": "Basic " + base64.b64encode(b"u:").decode()},
        ),
        ("queryKey", {"value": "k"}, "parameters", {"query.api_key": "k"}),
        ("headerKey", {"value": "k"}, "headers", {"X-Api-Key": "k"}),
        ("cookieKey", {"value": "k"}, "headers", {"Cookie": "session=k"}),
    ],
)
def test_scheme_missing_from_tested_spec_is_sent_on_every_request(
    tmp_path: Path, scheme: str, credential: dict[str, Any], where: str, expected: dict[str, str]
) -> None:
    default = {**credential, "scheme": scheme, "default": True}
    ws = make_workspace(tmp_path, scheme, default, declare=False)
    options = PlanOptions(workspace=str(ws), specs=(str(ws / "vendor.yaml"),))
    (things,) = plan(options, SANDBOX)
    assert things.api == "things"  # matched to the workspace API by its operations
    assert things.settings[where] == expected
    assert "declares no such scheme" in things.credentials


def test_explicit_token_wins_over_the_catalogue_and_stays_masked(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, "queryKey", {"value": "k", "scheme": "queryKey"})
    (things,) = plan(PlanOptions(workspace=str(ws), token="secret"), SANDBOX)
    assert things.settings["auth"]["openapi"] == {"queryKey": {"api_key": "secret"}}
    assert "secret" not in things.credentials
    assert [(s.value, s.env) for s in things.secrets] == [("secret", "MOCKYARD_CONTRACT_TOKEN")]


@pytest.mark.parametrize(
    ("fixture_name", "spec_name"), [("basicauth", "basicAuth"), ("BASICAUTH", "basicAuth")]
)
def test_security_scheme_names_match_whatever_their_case(
    tmp_path: Path, fixture_name: str, spec_name: str
) -> None:
    ws = make_workspace(
        tmp_path, spec_name, {"value": "k", "scheme": fixture_name, "default": True}
    )
    (things,) = plan(PlanOptions(workspace=str(ws)), SANDBOX)
    # Schemathesis gets the name the spec spells, so it applies the credential per operation.
    assert things.settings["auth"]["openapi"] == {spec_name: {"username": "k", "password": ""}}
    assert things.credentials.startswith(f"{spec_name} = k")


def test_credential_for_an_unknown_scheme_is_a_fixture_error(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, "bearerAuth", {"value": "t", "scheme": "nope", "default": True})
    with pytest.raises(FixtureError, match="'nope' is not in the spec's securitySchemes"):
        plan(PlanOptions(workspace=str(ws)), SANDBOX)


def test_a_spec_file_gets_an_apis_calibration_only_when_named() -> None:
    vendor = str(ROOT / "specs/upstream/cargoextra/validate.yaml")
    (foreign,) = plan(PlanOptions(workspace=str(ROOT), specs=(vendor,)))
    assert foreign.api == "cargoextra"  # still recognised, for its credentials and mount prefix
    assert "checks" not in foreign.settings and "dictionaries" not in foreign.settings
    assert foreign.calibration.startswith("none: Schemathesis's defaults")
    assert "--api cargoextra" in foreign.calibration

    (named,) = plan(PlanOptions(workspace=str(ROOT), specs=(vendor,), apis=("cargoextra",)))
    assert named.settings["checks"]["positive_data_acceptance"]["expected-statuses"]
    assert (
        named.calibration == "fixtures/cargoextra.yaml contract: (checks, dictionaries, parameters)"
    )

    (own,) = plan(PlanOptions(workspace=str(ROOT), apis=("cargoextra",)))
    assert own.settings["dictionaries"] and own.calibration == named.calibration
