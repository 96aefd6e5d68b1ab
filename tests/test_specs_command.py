"""`mockyard specs`: every operation, who answers it, drift from upstream, invalid specs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from workspaces import ROOT, UPSTREAM, ok, spec, write_workspace

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from mockyard.cli import main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_lists_operations_with_their_api_and_who_answers(runner: CliRunner, tmp_path: Path) -> None:
    ws = write_workspace(
        tmp_path,
        {
            "shop.yaml": spec(
                {
                    "/orders": {
                        "get": {"operationId": "list-orders", "responses": ok({})},
                        "post": {"operationId": "create-order", "responses": ok({})},
                    }
                }
            )
        },
        handlers={"shop.py": "def create_order(ctx, **kwargs):\n    return {}\n"},
    )
    result = runner.invoke(main, ["specs", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines() if line.strip()]
    assert ["shop", "GET", "/orders", "list-orders", "generator"] in lines
    assert ["shop", "POST", "/orders", "create-order", "handler"] in lines


def test_reports_where_the_effective_spec_departs_from_upstream(runner: CliRunner) -> None:
    result = runner.invoke(main, ["specs", "--workspace", str(ROOT), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {
        o["operation_id"]: o["answered_by"]
        for o in report["operations"]
        if o["api"] == "cargoextra"
    } == {
        "validate-invoice-payment": "handler",
        "prepare-invoice-part-payment-from-wallet": "handler",
        "pay-invoice-from-wallet": "handler",
    }
    details = {(d["method"], d["path"], d["detail"]) for d in report["departures"]}
    validate, pay = "/api/v1/billing/invoice/validate", "/api/v1/billing/invoice/pay"
    assert (
        "GET",
        validate,
        "parameter query invoiceNo is required (upstream: optional)",
    ) in details
    assert ("GET", validate, "parameter query amount is number (upstream: integer)") in details
    assert (
        "POST",
        pay,
        "request body required fields differ: cloneId optional (upstream: required); "
        "partPaymentFromWalletBalance optional (upstream: required)",
    ) in details
    assert (
        "POST",
        pay,
        "response 200 fields not in upstream: amount, invoiceNo, message, walletBalance",
    ) in details
    assert (
        "POST",
        pay,
        "response 200 upstream fields not served: key_0, key_1, key_2, key_3, key_4",
    ) in details


def test_operations_and_parameters_missing_on_either_side_are_departures(
    runner: CliRunner, tmp_path: Path
) -> None:
    upstream = spec(
        {
            "/a": {
                "get": {
                    "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                    "responses": ok({}),
                }
            },
            "/gone": {"get": {"responses": ok({})}},
        },
        version="3.1.0",
    )
    effective = spec(
        {
            "/a": {
                "get": {
                    "parameters": [{"name": "p", "in": "query", "schema": {"type": "string"}}],
                    "responses": ok({}),
                }
            },
            "/new": {"get": {"responses": ok({})}},
        }
    )
    ws = write_workspace(tmp_path, {"x.yaml": effective, "upstream/x/block.yaml": upstream})
    result = runner.invoke(main, ["specs", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    for expected in (
        "x: 4 departure(s) from 1 upstream file(s)",
        "parameter query p not in upstream",
        "upstream parameter query q not served",
        "GET /gone\n    - upstream operation not served",
        "GET /new\n    - operation not in upstream",
    ):
        assert expected in result.output


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            spec({"/x": {"get": {"responses": {"200": {"description": 5}}}}}),
            "/paths/~1x/get/responses/200/description: 5 is not of type",
        ),
        (
            spec({"/x": {"get": {"responses": ok({"$ref": "#/components/schemas/Missing"})}}}),
            "'#/components/schemas/Missing' points at nothing",
        ),
        ({"swagger": "1.2"}, "/swagger: version '1.2' is not supported"),
        ({"title": "notes"}, "not an OpenAPI document"),
    ],
)
def test_an_invalid_spec_exits_non_zero_naming_file_and_problem(
    runner: CliRunner, tmp_path: Path, document: dict, problem: str
) -> None:
    ws = write_workspace(tmp_path, {"ok.yaml": spec({}), "broken.yaml": document})
    result = runner.invoke(main, ["specs", "--workspace", str(ws)])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()  # one line: no traceback, no dump
    assert line.startswith("error: ") and "broken.yaml" in line and problem in line, line


def test_an_invalid_upstream_block_is_an_error_too(runner: CliRunner, tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"x.yaml": spec({})})
    (ws / "specs" / "upstream" / "x").mkdir(parents=True)
    bad = {"openapi": "3.1.0", "paths": {"/x": {"get": {"responses": {"200": {"summary": 1}}}}}}
    (ws / "specs" / "upstream" / "x" / "bad.yaml").write_text(yaml.safe_dump(bad))
    result = runner.invoke(main, ["specs", "--workspace", str(ws)])
    assert result.exit_code == 2 and "bad.yaml" in result.output


def test_spec_files_can_be_listed_without_a_workspace(runner: CliRunner) -> None:
    result = runner.invoke(main, ["specs", "--spec", str(UPSTREAM)])
    assert result.exit_code == 0, result.output
    assert result.output.count("generator") == 3
    assert "pay-invoice-from-wallet" in result.output
