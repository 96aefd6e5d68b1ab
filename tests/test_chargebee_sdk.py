"""Chargebee's official Python SDK (`chargebee` v3) as the client: every catalogue outcome.

The SDK is pointed at the sandbox through its own settings (`conftest.sdk_for`, the `cb`
fixture); all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import chargebee
import httpx
import pytest
import yaml
from chargebee import Chargebee
from chargebee.retry_config import RetryConfig
from conftest import ROOT, LiveSandbox, sdk_for, start_sandbox

API = "chargebee"


def unused(sandbox: LiveSandbox, txn_id: str) -> int:
    return sandbox.record(API, "transactions", txn_id)["amount_unused"]


def refusal(call: Any) -> chargebee.APIError:
    with pytest.raises(chargebee.APIError) as caught:
        call()
    return caught.value


# --- the catalogue's outcomes ---------------------------------------------------------------


def test_inv_sandbox_1_is_paid_by_two_excess_payments_oldest_first(
    cb: Chargebee, sandbox: LiveSandbox
) -> None:
    result = cb.Invoice.apply_payments("inv_sandbox_1", {"comment": "Applied by the SDK"})
    invoice = result.invoice
    assert (invoice.status, invoice.amount_due, invoice.amount_paid) == ("paid", 0, 10000)
    assert [(p.txn_id, p.applied_amount) for p in invoice.linked_payments] == [
        ("txn_sandbox_1a", 3000),
        ("txn_sandbox_1b", 7000),
    ]
    assert result.is_idempotency_replayed is False
    assert (unused(sandbox, "txn_sandbox_1a"), unused(sandbox, "txn_sandbox_1b")) == (0, 3000)


def test_a_named_transaction_and_amount_through_the_sdk(
    cb: Chargebee, sandbox: LiveSandbox
) -> None:
    params = {"transactions": [{"id": "txn_sandbox_1b", "amount": 4000}]}
    invoice = cb.Invoice.apply_payments("inv_sandbox_1", params).invoice
    assert (invoice.status, invoice.amount_due) == ("payment_due", 6000)
    assert unused(sandbox, "txn_sandbox_1b") == 6000


def test_inv_sandbox_2_keeps_7500_due(cb: Chargebee) -> None:
    invoice = cb.Invoice.apply_payments("inv_sandbox_2").invoice
    assert (invoice.status, invoice.amount_due, invoice.amount_paid) == ("payment_due", 7500, 2500)


@pytest.mark.parametrize(("invoice", "total"), [("inv_sandbox_5", 2000), ("inv_sandbox_6", 1200)])
def test_posted_and_not_paid_invoices_are_paid(cb: Chargebee, invoice: str, total: int) -> None:
    shown = cb.Invoice.apply_payments(invoice).invoice
    assert (shown.status, shown.amount_paid) == ("paid", total)


@pytest.mark.parametrize(
    ("invoice", "params", "error", "status", "code", "param"),
    [
        (
            "inv_sandbox_3",
            None,
            chargebee.InvalidRequestError,
            409,
            "invalid_state_for_request",
            None,
        ),
        ("inv_sandbox_4", None, chargebee.InvalidRequestError, 400, "invalid_request", None),
        ("inv_missing", None, chargebee.InvalidRequestError, 404, "resource_not_found", None),
        (
            "inv_sandbox_1",
            {"transactions": [{"id": "txn_sandbox_1f"}]},
            chargebee.InvalidRequestError,
            409,
            "invalid_state_for_request",
            "transactions[id][0]",
        ),
        (
            "inv_sandbox_1",
            {"transactions": [{"id": "txn_sandbox_2a"}]},
            chargebee.InvalidRequestError,
            400,
            "param_wrong_value",
            "transactions[id][0]",
        ),
        (
            "inv_sandbox_1",
            {"transactions": [{"id": "txn_nope"}]},
            chargebee.InvalidRequestError,
            404,
            "resource_not_found",
            "transactions[id][0]",
        ),
        (
            "inv_sandbox_1",
            {"comment": "x" * 301},
            chargebee.InvalidRequestError,
            400,
            "param_wrong_value",
            "comment",
        ),
    ],
)
def test_each_documented_error_is_the_sdks_typed_exception(
    cb: Chargebee,
    sandbox: LiveSandbox,
    invoice: str,
    params: Any,
    error: type,
    status: int,
    code: str,
    param: str | None,
) -> None:
    before = sandbox.records(API, "invoices")
    exc = refusal(lambda: cb.Invoice.apply_payments(invoice, params))
    assert type(exc) is error
    assert (exc.http_status_code, exc.type, exc.api_error_code, exc.param) == (
        status,
        "invalid_request",
        code,
        param,
    )
    assert exc.json_obj["http_status_code"] == status and str(exc)
    assert sandbox.records(API, "invoices") == before


def test_a_bad_api_key_is_an_untyped_api_error(sandbox: LiveSandbox, monkeypatch) -> None:
    monkeypatch.setattr(Chargebee, "verify_ca_certs", False)
    exc = refusal(lambda: sdk_for(sandbox, "wrong_key").Invoice.apply_payments("inv_sandbox_1"))
    assert type(exc) is chargebee.APIError  # `untyped`: the SDK's base class, as with the vendor
    assert (exc.http_status_code, exc.type, exc.api_error_code) == (
        401,
        "untyped",
        "api_authentication_failed",
    )


# --- forced outcomes and faults look like the vendor's -----------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "internal_error"),
        (503, "internal_temporary_error"),
        (429, "api_request_limit_exceeded"),
    ],
)
def test_a_forced_server_error_is_chargebees_own(
    cb: Chargebee, sandbox: LiveSandbox, status: int, code: str
) -> None:
    exc = refusal(
        lambda: cb.Invoice.apply_payments("inv_sandbox_1", headers={"Prefer": f"code={status}"})
    )
    assert type(exc) is chargebee.OperationFailedError
    assert (exc.http_status_code, exc.type, exc.api_error_code) == (
        status,
        "operation_failed",
        code,
    )
    assert exc.json_obj["http_status_code"] == status
    assert exc.json_obj["error_code"] == code and exc.json_obj["error_msg"] == str(exc)
    assert sandbox.record(API, "invoices", "inv_sandbox_1")["amount_due"] == 10000


def test_a_forced_conflict_is_the_documented_409(cb: Chargebee) -> None:
    exc = refusal(
        lambda: cb.Invoice.apply_payments("inv_sandbox_1", headers={"Prefer": "code=409"})
    )
    assert (exc.http_status_code, exc.api_error_code) == (409, "invalid_state_for_request")


@pytest.fixture(scope="module")
def faulty_chargebee(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    root = tmp_path_factory.mktemp("cb-faults")
    files = {
        k: str(ROOT / d / f"chargebee{e}")
        for k, d, e in (
            ("spec", "specs", ".yaml"),
            ("handlers", "handlers", ".py"),
            ("fixtures", "fixtures", ".yaml"),
        )
    }
    config = {
        "apis": {API: {**files, "prefix": "/api/v2"}},
        "controls": {"operations": {"apply-payments": {"faults": {"error": 1}}}},
    }
    (root / "ws").mkdir()
    (root / "ws" / "mockyard.yaml").write_text(yaml.safe_dump(config))
    sandbox = start_sandbox(root / "state.sqlite3", workspace=root / "ws")
    yield sandbox
    sandbox.stop()


def test_an_injected_fault_is_chargebees_500(
    faulty_chargebee: LiveSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Chargebee, "verify_ca_certs", False)
    exc = refusal(lambda: sdk_for(faulty_chargebee).Invoice.apply_payments("inv_sandbox_1"))
    assert type(exc) is chargebee.OperationFailedError
    assert (exc.http_status_code, exc.type, exc.api_error_code) == (
        500,
        "operation_failed",
        "internal_error",
    )


# --- idempotent retries ----------------------------------------------------------------------


def test_a_retry_with_the_same_key_is_replayed_and_applies_nothing_twice(
    cb: Chargebee, sandbox: LiveSandbox
) -> None:
    key = {"chargebee-idempotency-key": str(uuid.uuid4())}
    params = {"transactions": [{"id": "txn_sandbox_1b", "amount": 4000}]}
    first = cb.Invoice.apply_payments("inv_sandbox_1", params, headers=key)
    retry = cb.Invoice.apply_payments("inv_sandbox_1", params, headers=key)
    assert (first.is_idempotency_replayed, retry.is_idempotency_replayed) == (False, True)
    assert retry.invoice.amount_due == first.invoice.amount_due == 6000
    assert retry.invoice.linked_payments[0].applied_amount == 4000
    assert unused(sandbox, "txn_sandbox_1b") == 6000  # applied once
    fresh = cb.Invoice.apply_payments("inv_sandbox_1", params)  # no key: runs again
    assert fresh.invoice.amount_due == 2000


def test_a_key_reused_with_another_request_is_the_official_422(
    cb: Chargebee, sandbox: LiveSandbox
) -> None:
    key = {"chargebee-idempotency-key": str(uuid.uuid4())}
    cb.Invoice.apply_payments(
        "inv_sandbox_1", {"transactions": [{"id": "txn_sandbox_1b", "amount": 1000}]}, headers=key
    )
    exc = refusal(
        lambda: cb.Invoice.apply_payments(
            "inv_sandbox_1",
            {"transactions": [{"id": "txn_sandbox_1b", "amount": 2000}]},
            headers=key,
        )
    )
    assert type(exc) is chargebee.InvalidRequestError
    assert (exc.http_status_code, exc.type, exc.api_error_code) == (
        422,
        "invalid_request",
        "unable_to_process_request",
    )
    assert unused(sandbox, "txn_sandbox_1b") == 9000


def test_a_replayed_error_is_replayed_too(cb: Chargebee) -> None:
    key = {"chargebee-idempotency-key": str(uuid.uuid4())}
    first = refusal(lambda: cb.Invoice.apply_payments("inv_sandbox_4", headers=key))
    again = refusal(lambda: cb.Invoice.apply_payments("inv_sandbox_4", headers=key))
    assert first.json_obj == again.json_obj
    assert again.http_headers["chargebee-idempotency-replayed"] == "true"


def test_a_key_over_100_characters_is_refused_naming_the_header(cb: Chargebee) -> None:
    key = {"chargebee-idempotency-key": "k" * 101}
    exc = refusal(lambda: cb.Invoice.apply_payments("inv_sandbox_2", headers=key))
    assert (exc.http_status_code, exc.api_error_code, exc.param) == (
        400,
        "param_wrong_value",
        "chargebee-idempotency-key",
    )


def test_the_sdks_own_retry_keys_reach_the_sandbox(cb: Chargebee, sandbox: LiveSandbox) -> None:
    """With retries on, the SDK sends a chargebee-idempotency-key of its own on each POST."""
    cb.update_retry_config(RetryConfig(enabled=True, max_retries=1, delay_ms=10))
    httpx.delete(f"{sandbox.url}/__mockyard/requests").raise_for_status()
    assert cb.Invoice.apply_payments("inv_sandbox_2").invoice.amount_due == 7500
    (entry,) = httpx.get(f"{sandbox.url}/__mockyard/requests").json()["requests"]
    assert uuid.UUID(entry["headers"]["chargebee-idempotency-key"])
