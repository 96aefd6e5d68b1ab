"""`mockyard contract`: the sandbox passes its own contract, broken deployments are caught, the
gate's exit codes hold, and mutations are never sent to a target that is not loopback.

Every request goes to 127.0.0.1: the sandbox, or `broken/app.py`'s deployments served in a thread.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
import yaml
from broken.app import DEFECTS, TOKEN, Deployments
from click.testing import CliRunner
from conftest import ROOT, LiveSandbox, free_port

from mockyard import contract_target
from mockyard.cli import main
from mockyard.workspace import load

SPEC = ROOT / "tests" / "broken" / "spec.yaml"
# Bounded for CI; `make contract` runs the deep version.
CI_EXAMPLES = "20"
SEED = "20240601"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def contract(*args: str) -> Run:
    result = CliRunner().invoke(main, ["contract", *args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@dataclass
class Broken:
    url: str
    deployments: Deployments

    def run(self, deployment: str, *args: str) -> Run:
        return contract(
            "--base-url",
            f"{self.url}/{deployment}",
            "--spec",
            str(SPEC),
            "--token",
            TOKEN,
            "--max-examples",
            "15",
            "--seed",
            SEED,
            *args,
        )


@pytest.fixture(scope="module")
def broken() -> Iterator[Broken]:
    """The faithful deployment and one per defect, on one uvicorn server in a thread."""
    deployments = Deployments()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(deployments, host="127.0.0.1", port=port, log_level="critical")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "broken deployments did not start"
        time.sleep(0.05)
    yield Broken(f"http://127.0.0.1:{port}", deployments)
    server.should_exit = True
    thread.join(timeout=15)


def junit_failures(path: Path) -> list[str]:
    """The check names (failure types) in a JUnit report."""
    return [f.get("type", "") for f in ET.parse(path).getroot().iter("failure")]


# --- the sandbox's own contract --------------------------------------------------------------


def test_sandbox_passes_its_own_contract(sandbox: LiveSandbox, tmp_path: Path) -> None:
    junit, html = tmp_path / "contract.xml", tmp_path / "contract.html"
    run = contract(
        "--workspace",
        str(ROOT),
        "--base-url",
        sandbox.url,
        "--max-examples",
        CI_EXAMPLES,
        "--seed",
        SEED,
        "--junit",
        str(junit),
        "--report",
        str(html),
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "PASSED: every check passed" in run.stdout
    for api in load(ROOT).apis:  # every API of the workspace, with its catalogue credentials
        assert f"\n{api.name}: specs/{api.spec.name} against {sandbox.url}" in run.stdout
    assert "sandbox reset first" in run.stdout
    for phase in ("examples", "coverage", "fuzzing"):  # progress per operation and phase
        assert f"\n  {phase}\n    ✓ " in run.stdout
    assert "    ✓ GET /api/v1/billing/invoice/validate" in run.stdout
    assert "(sandbox catalogue default" in run.stdout
    stateful = [line for line in run.stdout.splitlines() if "linked sequences" in line]
    assert stateful and all(" 0 cases" not in line for line in stateful), stateful
    root = ET.parse(junit).getroot()
    assert (root.get("failures"), root.get("errors")) == ("0", "0")
    checks = {case.get("name") for case in root.iter("testcase")}
    assert {"response_schema_conformance", "ignored_auth", "negative_data_rejection"} <= checks
    assert "PASSED" in html.read_text()


def test_upstream_spec_drift_is_reported(sandbox: LiveSandbox) -> None:
    run = contract(
        "--workspace",
        str(ROOT),
        "--base-url",
        sandbox.url,
        "--spec",
        str(ROOT / "specs/upstream/cargoextra/part-process.yaml"),
        "--max-examples",
        "10",
        "--seed",
        SEED,
        "--phases",
        "coverage,fuzzing",
    )
    assert run.exit_code == 1, run.stdout
    assert "response_schema_conformance: Response violates schema" in run.stdout
    assert '"key_0" is a required property' in run.stdout
    assert "declares no such scheme" in run.stdout  # the vendor spec forgot its bearer scheme


# --- detection: each defect is caught, and named ---------------------------------------------


def test_faithful_deployment_passes(broken: Broken) -> None:
    run = broken.run("faithful")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "PASSED" in run.stdout
    assert "linked sequences" in run.stdout


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect_is_caught_by_its_check(broken: Broken, defect: str, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    run = broken.run(defect, "--junit", str(junit))
    check = DEFECTS[defect]
    assert run.exit_code == 1, run.stdout + run.stderr
    assert "FAILED: " in run.stdout and check in run.stdout.split("FAILED: ")[1]
    assert f". {check}: " in run.stdout  # the failure's heading names the check
    assert "reproduce:\n       curl -X " in run.stdout
    assert check in junit_failures(junit)


# --- the gate's exit codes -------------------------------------------------------------------


def assert_usage_error(run: Run, text: str) -> None:
    assert run.exit_code == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], run.stderr
    assert "Traceback" not in run.stdout + run.stderr


def test_unreachable_url_exits_2() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert_usage_error(contract("--workspace", str(ROOT), "--base-url", url), f"cannot reach {url}")


def test_unknown_api_exits_2(broken: Broken) -> None:
    run = contract("--workspace", str(ROOT), "--base-url", broken.url, "--api", "nope")
    assert_usage_error(run, "unknown API 'nope'")


def test_bad_spec_exits_2(broken: Broken, tmp_path: Path) -> None:
    not_openapi = tmp_path / "notes.yaml"
    not_openapi.write_text("just: notes\n")
    run = contract("--base-url", broken.url, "--spec", str(not_openapi))
    assert_usage_error(run, "not an OpenAPI document")
    run = contract("--base-url", broken.url, "--spec", str(tmp_path / "missing.yaml"))
    assert_usage_error(run, "spec file does not exist")
    broken_ref = tmp_path / "broken-ref.yaml"
    spec = yaml.safe_load(SPEC.read_text())
    spec["paths"]["/items"]["post"]["responses"]["201"]["content"]["application/json"] = {
        "schema": {"$ref": "#/components/schemas/Nowhere"}
    }
    broken_ref.write_text(yaml.safe_dump(spec))
    run = contract("--base-url", f"{broken.url}/faithful", "--spec", str(broken_ref))
    assert_usage_error(run, "$ref '#/components/schemas/Nowhere' points at nothing")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--checks", "not_a_check"], "unknown check(s) not_a_check"),
        (["--phases", "fuzzing,warp"], "unknown phase(s) warp"),
        (["--report", "out.pdf"], "use a file ending in .htm, .html, .markdown, .md, .xml"),
        (["--base-url", "ftp://example.com"], "must be an http(s) URL"),
    ],
)
def test_bad_options_exit_2(broken: Broken, args: list[str], text: str) -> None:
    run = contract("--base-url", broken.url, "--spec", str(SPEC), *args)
    assert_usage_error(run, text)


# --- safe against real systems ---------------------------------------------------------------


def test_remote_target_gets_no_mutations(broken: Broken, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server is on 127.0.0.1; the engine is told it is remote, so no traffic leaves the host.
    monkeypatch.setattr(contract_target, "is_loopback", lambda host, resolve=None: False)
    before = len(broken.deployments.requests)
    run = broken.run("faithful")
    sent = broken.deployments.requests[before:]
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "skipped POST /items: POST can move money or change state" in run.stdout
    assert "pass --allow-mutations to test it" in run.stdout
    assert "Skipped operations:" in run.stdout
    assert "stateful skipped: every link leads to an operation skipped as a mutation" in run.stdout
    assert sent and {method for method, _ in sent} <= {"GET", "HEAD", "OPTIONS", "TRACE"}

    before = len(broken.deployments.requests)
    run = broken.run("faithful", "--allow-mutations")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert ("POST", "/faithful/items") in broken.deployments.requests[before:]
