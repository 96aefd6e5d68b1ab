"""The pytest plugin, run the way a user runs it: the example test file of docs/pytest.md, in a
project whose rootdir is a workspace, in a pytest session of its own."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT, cargoextra_workspace

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out


def documented_example() -> str:
    """The first python block of docs/pytest.md, which the README links as the plugin's page."""
    assert "(docs/pytest.md)" in (ROOT / "README.md").read_text()
    match = re.search(r"```python\n(.*?)```", (ROOT / "docs/pytest.md").read_text(), re.DOTALL)
    assert match, "docs/pytest.md lost its example test"
    return match.group(1)


def test_the_documented_example_passes(pytester: pytest.Pytester) -> None:
    cargoextra_workspace(pytester.path)  # the user's project root is the workspace
    pytester.makeini("[pytest]\nmockyard_args = --seed 7 --journal-size 50\n")
    pytester.makepyfile(test_checkout=documented_example())
    pytester.makepyfile(
        test_options="""
        def test_ini_args_reach_the_sandbox(mockyard_sandbox):
            assert mockyard_sandbox.reset()["seed"] == 7
            assert mockyard_sandbox.url.startswith("http://127.0.0.1:")
            assert mockyard_sandbox.token == "sandbox-token"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=4)


def test_a_workspace_that_cannot_be_served_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_it(mockyard_sandbox):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--mockyard-workspace", "no-such-dir", timeout=120
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*mockyard sandbox*did not start*", "*does not exist*"])
