"""The commands the README and docs/ show work as printed.

- Every `mockyard COMMAND --flag` written in a code block names a command and options that
  exist (`mockyard COMMAND --help` lists them), and every `make TARGET` is a Makefile target.
- The README's tour runs, as written, against a live sandbox: each `curl` answers, and every
  `"field": value` its comment promises is in the answer.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, LiveSandbox
from workspaces import served, write_workspace

from mockyard.cli import main

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_INVOCATION = re.compile(r"(?:^|[\s;&|(`$/])mockyard ([a-z]+)((?:[^;&|`)])*)")
_FIELD = re.compile(r'"[^"…]+": (?:"[^"…]*"|-?[0-9][0-9.]*|true|false|null)')


def blocks(path: Path, *languages: str) -> Iterator[str]:
    return blocks_of(path.read_text(encoding="utf-8"), *languages)


def blocks_of(text: str, *languages: str) -> Iterator[str]:
    for language, body in _BLOCK.findall(text):
        if not languages or language in languages:
            yield body


def command_lines(body: str) -> Iterator[str]:
    """The lines of a shell block, continuation lines joined, comments and blank lines out."""
    for line in body.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield stripped


@cache
def help_text(command: str) -> str:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, f"mockyard {command}: {result.output}"
    return result.output


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(file, command, flags) for every `mockyard ...` line of a code block."""
    found = []
    for path in DOCS:
        for body in blocks(path, "bash", "sh", "text", "console", ""):
            for line in command_lines(body):
                for match in _INVOCATION.finditer(line):
                    flags = re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", match.group(2))
                    found.append((path.name, match.group(1), flags))
    return found


def lists(help: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}\b", help) is not None


def test_every_documented_mockyard_command_and_option_exists() -> None:
    commands = documented_commands()
    assert len(commands) >= 10  # the docs do show commands
    known = set(main.commands)  # type: ignore[attr-defined]
    wrong = [
        (where, command, flag)
        for where, command, flags in commands
        for flag in (["(command)"] if command not in known else flags)
        if flag == "(command)" or not lists(help_text(command), flag)
    ]
    assert wrong == []


def test_every_documented_make_target_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    used = {
        (path.name, target)
        for path in DOCS
        for body in blocks(path, "bash", "sh", "")
        for line in command_lines(body)
        for target in re.findall(r"(?:^|\s)make ([a-z][\w-]*)", line)
    }
    assert used and {(where, t) for where, t in used if t not in targets} == set()


def tour() -> tuple[list[str], list[list[str]]]:
    """The README tour's commands, and what each one's comments promise."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A 60-second tour", 1)[1].split("\n## ", 1)[0]
    body = next(_BLOCK.finditer(section)).group(2).replace("\\\n", " ")
    commands: list[str] = []
    promises: list[list[str]] = []
    for line in body.splitlines():
        code, _, comment = line.partition("  #") if not line.startswith("#") else ("", "", line)
        code = code.strip()
        if code:
            commands.append(code)
            promises.append([])
        if comment and promises:
            promises[-1] += _FIELD.findall(comment)
    return commands, promises


@pytest.mark.slow
def test_the_readme_tour_runs_as_printed(tmp_path: Path) -> None:
    from conftest import start_sandbox

    sandbox: LiveSandbox = start_sandbox(tmp_path / "state.sqlite3")
    try:
        commands, promises = tour()
        assert commands[0].startswith("B=http://127.0.0.1:9000")
        script = [commands[0].replace("http://127.0.0.1:9000", sandbox.url, 1)]
        for n, command in enumerate(commands[1:], 1):
            assert shlex.split(command)[0] == "curl", command
            script += [f"printf '\\n<<<{n}>>>\\n'", command.replace("curl -s", "curl -sS", 1)]
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        answers = re.split(r"\n<<<\d+>>>\n", run.stdout)[1:]
        assert len(answers) == len(commands) - 1
        for command, answer, promised in zip(commands[1:], answers, promises[1:], strict=True):
            missing = [field for field in promised if field not in answer]
            assert missing == [], (command, answer[:300])
        assert sum(len(p) for p in promises) >= 8  # the tour does promise what it shows
    finally:
        sandbox.stop()


def test_the_readme_handler_does_what_it_says(tmp_path: Path) -> None:
    """The README's ten-line handler, as printed, beside the spec it is written for: a pet the
    inferred `POST /pets` stored is adopted once; a second adoption and an unknown pet get the
    documented 409 and 404 and change nothing."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A ten-line handler", 1)[1].split("\n## ", 1)[0]
    handler = next(blocks_of(section, "python"))
    assert "def adoptPet(" in handler and handler.count("\n") <= 14
    spec = (ROOT / "tests/specdata/adoption/petstore.yaml").read_text()
    workspace = write_workspace(
        tmp_path, {"petstore.yaml": spec}, handlers={"petstore.py": handler}
    )
    with served(tmp_path, workspace, strict=True) as client:
        created = client.post("/pets", json={"name": "Rex"})
        assert created.status_code == 201, created.text
        pet = created.json()["id"]
        adopted = client.post(f"/pets/{pet}/adopt")
        assert adopted.status_code == 200 and adopted.json()["status"] == "adopted"
        again = client.post(f"/pets/{pet}/adopt")
        assert (again.status_code, again.json()) == (409, {"message": "Rex is already adopted"})
        assert client.post("/pets/999999/adopt").status_code == 404
        assert client.get(f"/pets/{pet}").json() == {**created.json(), "status": "adopted"}


_LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)")


def slugs(path: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings."""
    text = _BLOCK.sub("", path.read_text(encoding="utf-8"))
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_and_anchor_in_the_docs_resolves() -> None:
    broken = []
    for path in DOCS:
        for target, anchor in _LINK.findall(path.read_text(encoding="utf-8")):
            if target.startswith(("http:", "https:", "mailto:")):
                continue
            linked = (path.parent / target).resolve() if target else path
            if not linked.exists() or (anchor and anchor not in slugs(linked)):
                broken.append((path.name, target, anchor))
    assert broken == []
