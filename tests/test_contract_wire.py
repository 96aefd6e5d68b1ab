"""What a contract run puts on the wire: form arrays as the vendors' SDKs send them."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

import httpx
import schemathesis
import yaml
from conftest import ROOT, LiveSandbox
from contract_runs import SEED, contract

from mockyard import contract_wire

APPLY = "/invoices/{invoice-id}/apply_payments"
FORM = "application/x-www-form-urlencoded"


def apply_case(body: object) -> object:
    schema = schemathesis.openapi.from_dict(
        yaml.safe_load((ROOT / "specs/chargebee.yaml").read_text())
    )
    schema.config.update(base_url="http://127.0.0.1:1/api/v2")
    return schema[APPLY]["POST"].Case(
        path_parameters={"invoice-id": "inv_sandbox_1"}, body=body, media_type=FORM
    )


def test_bracketed_form_arrays_are_sent_with_indices() -> None:
    contract_wire.install()
    case = apply_case({"transactions": {"id": ["txn_a", "txn_b"], "amount": [400, 0]}, "tag": "x"})
    sent = case.as_transport_kwargs()["data"]
    assert sorted(parse_qsl(sent.decode())) == [
        ("tag", "x"),
        ("transactions[amount][0]", "400"),
        ("transactions[amount][1]", "0"),
        ("transactions[id][0]", "txn_a"),
        ("transactions[id][1]", "txn_b"),
    ]
    assert "transactions%5Bid%5D%5B0%5D=txn_a" in case.as_curl_command()  # reproduce lines too


def test_other_form_values_go_as_before() -> None:
    assert contract_wire.form_body(None, {"tag": ["a", "b"], "skip": None, "n": 1}) == (
        b"tag=a&tag=b&n=1"  # a top-level array keeps the form style's repeated keys
    )
    assert contract_wire.form_body(None, "raw=1") == b"raw=1"
    assert contract_wire.form_body(None, None) is None
    assert contract_wire.form_body(None, [1, 2]) == b"[1, 2]"  # out-of-spec: its JSON


def test_a_chargebee_run_sends_indexed_transactions(sandbox: LiveSandbox) -> None:
    httpx.delete(f"{sandbox.url}/__mockyard/requests").raise_for_status()
    run = contract(
        *("--workspace", str(ROOT), "--base-url", sandbox.url, "--api", "chargebee"),
        *("--max-examples", "10", "--seed", SEED, "--phases", "examples,fuzzing"),
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    entries = httpx.get(
        f"{sandbox.url}/__mockyard/requests", params={"path": "/api/v2/*", "limit": 500}
    ).json()["requests"]
    keys = [
        unquote(key)
        for entry in entries
        if isinstance(entry["body"], str)
        for key, _ in parse_qsl(entry["body"], keep_blank_values=True)
        if key.startswith("transactions[")
    ]
    assert any(key.startswith("transactions[id][") for key in keys), keys
    assert "transactions[id]" not in keys and "transactions[amount]" not in keys
