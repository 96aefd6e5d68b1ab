"""`mockyard contract`: the sandbox passes its own contract, broken deployments are caught, the
gate's exit codes hold, and mutations are never sent to a target that is not loopback.

Every request goes to 127.0.0.1: the sandbox, or `broken/app.py`'s deployments served in a thread.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from broken.app import DEFECTS, TOKEN
from conftest import ROOT, LiveSandbox, curl_words, free_port
from contract_runs import SEED, SPEC, Broken, Run, broken_deployments, contract

from mockyard import contract_target
from mockyard.contract_credentials import TOKEN_ENV
from mockyard.workspace import load

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

# Bounded for CI; `make contract` runs the deep version.
CI_EXAMPLES = "20"


@pytest.fixture(scope="module")
def broken() -> Iterator[Broken]:
    with broken_deployments() as deployments:
        yield deployments


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
    # What the requests reached, per operation, at its effective URL (mount prefix included).
    reach = run.stdout.split("\nReach by operation", 1)[1]
    assert f"\n    {sandbox.url}/api/v2/invoices/{{invoice-id}}/apply_payments\n" in reach
    assert "not tested" not in reach and "not reached" not in reach
    assert {c.get("classname") for c in root.iter("testcase") if c.get("name") == "reach"} >= {
        "cargoextra.GET /api/v1/billing/invoice/validate",
        "chargebee.POST /invoices/{invoice-id}/apply_payments",
    }


def test_upstream_spec_drift_is_reported(sandbox: LiveSandbox) -> None:
    run = contract(
        "--workspace",
        str(ROOT),
        "--base-url",
        sandbox.url,
        "--spec",
        str(ROOT / "specs/upstream/cargoextra/part-process.yaml"),
        "--api",  # its calibration: catalogue invoices, so some requests reach a 200
        "cargoextra",
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


def test_a_foreign_spec_gets_no_calibration_unless_its_api_is_named(sandbox: LiveSandbox) -> None:
    # The vendor's validate block leaves every query parameter optional; the gateway refuses a
    # request without them with 400. CargoExtra's calibration accepts 400 for valid input (its
    # business-rule answers), which must not silently hide that drift in a foreign spec.
    args = ["--workspace", str(ROOT), "--base-url", sandbox.url, "--max-examples", "10"]
    args += ["--spec", str(ROOT / "specs/upstream/cargoextra/validate.yaml")]
    args += ["--seed", "1", "--phases", "coverage,fuzzing"]
    run = contract(*args)
    assert run.exit_code == 1, run.stdout + run.stderr
    assert ". positive_data_acceptance: Schema-valid request rejected" in run.stdout
    assert "calibration: none: Schemathesis's defaults" in run.stdout
    assert "applies only with --api cargoextra" in run.stdout

    run = contract(*args, "--api", "cargoextra")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "calibration: fixtures/cargoextra.yaml contract: (checks, dictionaries" in run.stdout


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


def failure_sections(stdout: str) -> list[tuple[str, str]]:
    """(check, response line) of each failure listed after "Failures:"."""
    listed = stdout.split("\nFailures:\n", 1)[1].split("\nFAILED: ", 1)[0]
    checks = re.findall(r"^  \d+\. (\w+): ", listed, re.M)
    responses = re.findall(r"^     response: (.*)$", listed, re.M)
    return list(zip(checks, responses, strict=True))


def test_every_distinct_failure_of_a_phase_is_listed_once(broken: Broken) -> None:
    # POST /items answers 500 for a free item and an undocumented 202 otherwise. The coverage
    # phase meets both; it must go on after the first and report each distinct failure once.
    run = broken.run("two-faults", "--phases", "coverage")
    assert run.exit_code == 1, run.stdout + run.stderr
    found = failure_sections(run.stdout)
    assert {(check, response.split()[0]) for check, response in found} == {
        ("status_code_conformance", "202"),  # undocumented status
        ("not_a_server_error", "500"),
        ("status_code_conformance", "500"),  # 500 is not documented either
    }
    assert len(found) == 3, found  # deduplicated: each distinct failure once


def send_as_curl_would(words: list[str]) -> httpx.Response:
    """Send what `curl WORDS` sends (-X, -H, -d, -u and the URL: what reproduce lines use)."""
    method, headers, data, auth, url = "GET", {}, None, None, ""
    pairs = iter(words)
    for word in pairs:
        if word == "-X":
            method = next(pairs)
        elif word == "-H":
            name, _, value = next(pairs).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(pairs)
        elif word == "-u":
            user, _, password = next(pairs).partition(":")
            auth = (user, password)
        else:
            url = word
    return httpx.request(method, url, headers=headers, content=data, auth=auth)


def test_reproduce_lines_with_a_passed_token_run_as_printed(broken: Broken) -> None:
    run = broken.run("server-error", "--phases", "coverage")
    assert run.exit_code == 1, run.stdout + run.stderr
    assert TOKEN not in run.stdout  # the token passed is a secret
    assert "read the credentials you passed from $MOCKYARD_CONTRACT_TOKEN" in run.stdout
    section = run.stdout.split(". not_a_server_error: ", 1)[1]
    line = section.split("reproduce:\n", 1)[1].splitlines()[0].strip()
    assert '-H "Authorization: Bearer ${MOCKYARD_CONTRACT_TOKEN}"' in line
    words = curl_words(line, **{TOKEN_ENV: TOKEN})  # what a shell runs, once the variable is set
    assert send_as_curl_would(words).status_code == 500


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


def test_remote_target_gets_a_read_only_run(
    broken: Broken, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server is on 127.0.0.1; the engine is told it is remote, so no traffic leaves the host.
    monkeypatch.setattr(contract_target, "is_loopback", lambda host, resolve=None: False)
    before = len(broken.deployments.requests)
    run = broken.run("faithful")
    sent = broken.deployments.requests[before:]
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "skipped POST /items: POST can change state: a read-only run" in run.stdout
    assert "pass --allow-mutations to test it" in run.stdout
    assert "Skipped operations:" in run.stdout
    assert "stateful skipped: every link leads to an operation a read-only run skips" in run.stdout
    assert sent and {method for method, _ in sent} <= {"GET", "HEAD", "OPTIONS", "TRACE"}

    before = len(broken.deployments.requests)
    run = broken.run("faithful", "--allow-mutations")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert ("POST", "/faithful/items") in broken.deployments.requests[before:]
