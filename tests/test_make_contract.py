"""`make contract` exits as the gate does: 0 passed, 1 a contract failure, 2 could not test.

GNU make ends with 2 whenever a recipe fails; the Makefile works around it (see its comment), so
CI can tell "the contract failed" from "the gate could not run".
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT


def make_contract(reports: Path, args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(
        [
            *("make", "--no-print-directory", "contract", "CONTRACT_EXAMPLES=3"),
            *(f"CONTRACT_REPORTS={reports}", f"CONTRACT_ARGS={args}"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "status", "verdict"),
    [
        ("--api invoicexpress --phases coverage --seed 1", 0, "PASSED: "),
        # the vendor's validate block, without calibration: a contract failure (README)
        (
            "--spec specs/upstream/cargoextra/validate.yaml --phases coverage --seed 1",
            1,
            "FAILED: ",
        ),
        ("--api nope", 2, "error: unknown API 'nope'"),
    ],
)
def test_make_contract_exits_as_the_gate(
    tmp_path: Path, args: str, status: int, verdict: str
) -> None:
    done = make_contract(tmp_path, args)
    assert done.returncode == status, done.stdout + done.stderr
    assert verdict in done.stdout + done.stderr
    if status != 2:
        assert (tmp_path / "contract.xml").exists() and (tmp_path / "contract.html").exists()


def test_make_contract_refuses_other_goals() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    done = subprocess.run(
        ["make", "contract", "lint"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "make contract runs alone" in done.stderr
