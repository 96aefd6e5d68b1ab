"""The sandbox passes its own contract run on inferred resources, stateful phase included.

`mockyard contract` runs Schemathesis with every check and phase against a strict sandbox of
`tests/resource_workspace/` (three spec styles, no handler): the stateful phase follows the
specs' OpenAPI links (create -> read, update, delete; project -> tasks), where
`use_after_free` (a deleted record is gone) and `ensure_resource_availability` (a created one
is there) hold. Bounded for CI, like the workspace's own contract run.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, LiveSandbox, start_sandbox

from mockyard.cli import main

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

WORKSPACE = ROOT / "tests" / "resource_workspace"
STATEFUL_CHECKS = ("use_after_free", "ensure_resource_availability")


@pytest.fixture(scope="module")
def resource_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    state = tmp_path_factory.mktemp("resources") / "state.sqlite3"
    sandbox = start_sandbox(state, "--strict", workspace=WORKSPACE)
    yield sandbox
    sandbox.stop()


def test_inferred_resources_pass_their_own_stateful_contract_run(
    resource_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    junit = tmp_path / "contract.xml"
    result = CliRunner().invoke(
        main,
        [
            "contract",
            "--workspace",
            str(WORKSPACE),
            "--base-url",
            resource_sandbox.url,
            "--max-examples",
            "20",
            "--seed",
            "1",
            "--junit",
            str(junit),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "PASSED: every check passed" in result.output
    for api in ("petstore", "projects", "library"):
        assert f"{api}: 0 failure(s)" in result.output
    sequences = re.findall(r"✓ (\d+) cases in (\d+) linked sequences", result.output)
    assert len(sequences) == 3 and all(int(cases) > 0 for cases, _ in sequences), sequences
    ran = {}
    for line in result.output.splitlines():
        cells = line.split()
        if len(cells) >= 3 and cells[-3] in STATEFUL_CHECKS:
            ran[cells[-3]] = ran.get(cells[-3], 0) + int(cells[-2])
            assert cells[-1] == "0", line  # no failure
    assert all(ran.get(check, 0) > 0 for check in STATEFUL_CHECKS), ran
    root = ET.parse(junit).getroot()
    assert (root.get("failures"), root.get("errors")) == ("0", "0")
    assert "Traceback" not in resource_sandbox.log_text()
