"""The engine stays generic and its public surface deliberate."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from conftest import ROOT

import mockyard
from mockyard.cli import main

VENDOR_WORDS = re.compile(r"cargo|invoice|wallet|billing|chargebee|invoicexpress", re.IGNORECASE)


def test_engine_names_no_vendor_or_billing_concept() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "src" / "mockyard").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if VENDOR_WORDS.search(line)
    ]
    assert offenders == []


def test_public_exports_are_sorted_and_importable() -> None:
    assert mockyard.__all__ == sorted(mockyard.__all__)
    assert all(hasattr(mockyard, name) for name in mockyard.__all__)


def test_help_explains_every_serve_option() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--workspace", "--host", "--port", "--seed", "--state", "--workers"):
        assert option in result.output


def test_unknown_workspace_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fixtures", "--workspace", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "does not exist" in result.output
