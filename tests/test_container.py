"""The container image and the compose file, checked as far as this machine can.

There is no Docker engine here, so nothing is built. What can be checked is: both files parse;
the image is a slim Python one that runs as a non-root user; every file it copies exists and the
build context lets it through; its entry point is `mockyard serve` on 0.0.0.0 with flags the
command takes (the very command line is run, with `--help`); and compose runs two sandbox
replicas on the PostgreSQL service it defines, behind one published port whose proxy forwards
to the port the image serves on, with the admin token required.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys

import yaml
from conftest import ROOT

from mockyard.store import is_url


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments out."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def only(name: str) -> str:
    found = [args for instruction, args in instructions() if instruction == name]
    assert len(found) == 1, f"one {name} expected, found {found}"
    return found[0]


def entrypoint() -> list[str]:
    return json.loads(only("ENTRYPOINT"))


def test_the_image_is_slim_python_and_runs_as_a_non_root_user() -> None:
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", only("FROM"))
    names = [instruction for instruction, _ in instructions()]
    user = only("USER")
    assert user not in ("root", "0")
    assert names.index("USER") < names.index("ENTRYPOINT")
    assert any(
        instruction == "RUN" and "useradd" in args and user in args
        for instruction, args in instructions()
    )


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def in_context(path: str) -> bool:
        kept = True
        for rule in rules:
            negated, pattern = rule.startswith("!"), rule.lstrip("!")
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
                kept = negated
        return kept

    copied = [
        source
        for instruction, args in instructions()
        if instruction == "COPY"
        for source in args.split()[:-1]
    ]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert in_context(source), f"{source} is left out of the build context"


def test_the_entry_point_serves_on_all_interfaces_with_flags_serve_takes() -> None:
    command = entrypoint()
    assert command[:2] == ["mockyard", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert "--admin-token" not in command  # it comes from MOCKYARD_ADMIN_TOKEN, never baked in
    help_text = subprocess.run(
        [sys.executable, "-m", "mockyard.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in (arg for arg in command if arg.startswith("--")):
        assert re.search(rf"(^|\s){re.escape(flag)}[\s,]", help_text), flag
    # The entry point's own command line parses (the workspace being this checkout's).
    args = [a if a != "/app" else str(ROOT) for a in command[2:]]
    parsed = subprocess.run(
        [sys.executable, "-m", "mockyard.cli", "serve", *args, "--help"],
        capture_output=True,
        text=True,
    )
    assert parsed.returncode == 0, parsed.stderr


def test_the_image_refuses_to_serve_off_loopback_without_an_admin_token() -> None:
    args = [a if a != "/app" else str(ROOT) for a in entrypoint()[2:]]
    result = subprocess.run(
        [sys.executable, "-m", "mockyard.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "MOCKYARD_ADMIN_TOKEN"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "admin" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_compose_runs_two_replicas_on_one_postgresql_behind_one_port() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    database = services["postgres"]
    assert database["image"].startswith("postgres:")
    sandbox = services["sandbox"]
    assert sandbox["build"] == "."
    assert sandbox["deploy"]["replicas"] == 2
    env = sandbox["environment"]
    state = env["MOCKYARD_STATE"]
    assert is_url(state)
    db_env = database["environment"]
    user, password = db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"]
    assert state == f"postgresql://{user}:{password}@postgres:5432/{db_env['POSTGRES_DB']}"
    assert sandbox["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert env["MOCKYARD_ADMIN_TOKEN"].startswith("${MOCKYARD_ADMIN_TOKEN:?")  # required

    published = [
        (name, port) for name, service in services.items() for port in service.get("ports", [])
    ]
    assert [name for name, _ in published] == ["proxy"]  # one port, the proxy's
    proxy = services["proxy"]
    config = compose["configs"][proxy["configs"][0]["source"]]["content"]
    serve_port = entrypoint()[entrypoint().index("--port") + 1]
    assert re.search(rf"server\s+sandbox:{serve_port};", config)
    assert "proxy_pass http://sandbox;" in config
    listen = re.search(r"listen\s+(\d+);", config)
    assert listen and str(published[0][1]).endswith(f":{listen.group(1)}")
    assert "$host" not in config.replace("$$", "")  # nginx variables escaped from compose


def test_the_docs_show_the_image_and_compose() -> None:
    readme = (ROOT / "docs/postgres.md").read_text()
    assert "docker compose up" in readme
    assert "docker build" in readme
    assert "postgresql://" in readme
