"""docs/ci/: the GitHub Actions workflow and the GitLab CI job run the gate as documented.

Each file is parsed and its shell steps are run here, in order and as the CI system runs them
(GitHub: one `bash -eo pipefail` per step, `$GITHUB_ENV` carried to the next steps, `if:`
conditions; GitLab: the `script` lines in one shell with errexit, then `after_script`), in a
copy of the workspace, against a sandbox on a free loopback port. Steps that only exist on the CI
system (checkout, setup-python, the artifact upload) and the install step are checked, not run:
mockyard is already installed in this environment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, free_port

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

DOCS = ROOT / "docs" / "ci"
INSTALL = "python -m pip install ."
PASSING = "--api invoicexpress --phases coverage --seed 1"
# The vendor's validate block, with no calibration: a documented contract failure (README).
FAILING = "--spec specs/upstream/cargoextra/validate.yaml --phases coverage --seed 1"


@dataclass
class Job:
    failed: bool
    output: str
    workdir: Path


def workdir(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for part in ("specs", "handlers", "fixtures"):
        shutil.copytree(ROOT / part, root / part)
    shutil.copy(ROOT / "mockyard.yaml", root)
    return root


def base_env(variables: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MAKE", "MOCKYARD_CONTRACT", "MOCKYARD_ADMIN", "GITHUB", "CI_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **variables}


def shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def github_condition(expression: str, env: dict[str, str], failed: bool) -> bool:
    if expression == "always()":
        return True
    if expression == "success()":
        return not failed
    if expression == "env.BASE_URL == ''":
        return env.get("BASE_URL", "") == "" and not failed
    raise AssertionError(f"the test cannot evaluate `if: {expression}`")


def run_github(root: Path, overrides: dict[str, str]) -> Job:
    workflow = yaml.safe_load((DOCS / "github-actions.yml").read_text())
    job = workflow["jobs"]["contract"]
    variables = {k: "" if "${{" in str(v) else str(v) for k, v in job["env"].items()}
    env = base_env({**variables, **overrides})
    github_env = root / "github_env"
    github_env.touch()
    env["GITHUB_ENV"] = str(github_env)
    failed, output, uses = False, [], []
    for step in job["steps"]:
        if not github_condition(step.get("if", "success()"), env, failed):
            continue
        if "uses" in step:
            uses.append(step)
            continue
        if step["name"] == "Install mockyard":
            assert step["run"].strip() == INSTALL
            continue
        done = shell(step["run"], root, env)
        output.append(done.stdout + done.stderr)
        failed = failed or done.returncode != 0
        for line in github_env.read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    return Job(failed, "\n".join(output), root)


def run_gitlab(root: Path, overrides: dict[str, str]) -> Job:
    job = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text())["contract"]
    assert job["before_script"] == [INSTALL]
    assert job["artifacts"]["when"] == "always" and "reports/" in job["artifacts"]["paths"]
    assert job["artifacts"]["reports"]["junit"] == "reports/contract.xml"
    env = base_env({**{k: str(v) for k, v in job["variables"].items()}, **overrides})
    done = shell("\n".join(job["script"]), root, env)
    after = shell("\n".join(job["after_script"]), root, env)
    return Job(done.returncode != 0, done.stdout + done.stderr + after.stdout, root)


RUNNERS = {"github-actions": run_github, "gitlab-ci": run_gitlab}


@pytest.fixture(params=sorted(RUNNERS))
def ci(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    root = workdir(tmp_path)
    yield lambda **overrides: RUNNERS[request.param](root, overrides)
    pid = root / "sandbox.pid"  # whatever happened, no sandbox outlives the test
    if pid.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid.read_text()), signal.SIGKILL)


def sandbox_stopped(root: Path) -> bool:
    pid = int((root / "sandbox.pid").read_text())
    try:
        for _ in range(100):
            os.kill(pid, 0)
            subprocess.run(["sleep", "0.1"], check=True)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_the_job_starts_a_sandbox_and_passes_with_reports(ci: Any) -> None:
    job = ci(SANDBOX_PORT=str(free_port()), CONTRACT_EXAMPLES="3", CONTRACT_ARGS=PASSING)
    assert not job.failed, job.output
    assert "contract gate passed" in job.output and "PASSED: every check passed" in job.output
    for report in ("contract.xml", "contract.html"):
        assert (job.workdir / "reports" / report).stat().st_size > 0
    assert sandbox_stopped(job.workdir)


@pytest.mark.slow
def test_the_job_fails_on_a_contract_failure_with_reports(ci: Any) -> None:
    job = ci(SANDBOX_PORT=str(free_port()), CONTRACT_EXAMPLES="3", CONTRACT_ARGS=FAILING)
    assert job.failed, job.output
    assert "contract failed: the deployment breaks its OpenAPI contract (exit 1)" in job.output
    assert (job.workdir / "reports" / "contract.xml").exists()
    assert sandbox_stopped(job.workdir)


def test_the_job_fails_when_the_gate_cannot_test(ci: Any) -> None:
    job = ci(BASE_URL=f"http://127.0.0.1:{free_port()}", CONTRACT_WAIT="1")
    assert job.failed, job.output
    assert "could not test the deployment (exit 2)" in job.output
    assert "error: cannot reach http://127.0.0.1:" in job.output
    assert not (job.workdir / "sandbox.pid").exists()  # a given BASE_URL: no sandbox started
