"""Engine-rendered errors keep the headers HTTP requires of them."""

from __future__ import annotations

import pytest
from conftest import LiveSandbox


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "GET"])
def test_undeclared_method_gets_405_with_allow(sandbox: LiveSandbox, method: str) -> None:
    with sandbox.client() as client:
        response = client.request(method, "/api/v1/billing/invoice/pay")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"  # RFC 9110 §15.5.6: a 405 must list them
    assert response.json() == {"message": "Method Not Allowed"}
