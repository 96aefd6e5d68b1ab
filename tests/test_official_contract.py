"""Chargebee's official OpenAPI spec for apply_payments, run against the sandbox: no failure.

The spec is the vendor's own file (specs/upstream/chargebee/apply_payments.yaml, verbatim);
`mockyard contract` finds the workspace API it belongs to, mounts it under /api/v2 and sends the
catalogue's credentials. `--api chargebee` applies that API's calibration, which a foreign spec
only gets when named: the vendor's spec allows what the vendor refuses with a 400 (a blank
transaction id). Bounded: a fixed seed and a few examples per phase.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, LiveSandbox

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

OFFICIAL = ROOT / "specs" / "upstream" / "chargebee" / "apply_payments.yaml"


def test_the_official_apply_payments_contract_passes(sandbox: LiveSandbox) -> None:
    run = subprocess.run(
        [
            *(sys.executable, "-m", "mockyard.cli", "contract"),
            *("--base-url", sandbox.url, "--spec", str(OFFICIAL), "--api", "chargebee"),
            *("--max-examples", "15", "--seed", "1", "--workspace", str(ROOT)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "credentials: BasicAuth = sandbox_api_key" in run.stdout
    assert "chargebee: 0 failure(s)" in run.stdout
    assert "fixtures/chargebee.yaml" in run.stdout  # the calibration that applied is named
