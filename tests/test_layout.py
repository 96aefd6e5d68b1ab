"""The engine stays generic and its public surface deliberate."""

from __future__ import annotations

import ast
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


def _table() -> dict[str, set[str] | None]:
    """ARCHITECTURE.md's layers: module -> what it may import (None: anything)."""
    rows: dict[str, set[str] | None] = {}
    for line in (ROOT / "ARCHITECTURE.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        allowed = set() if cells[2] == "nothing internal" else set(re.split(r",\s*", cells[2]))
        for name in re.findall(r"`([\w/.]+)`", cells[0]):
            rows[name.removesuffix(".py").removesuffix("/").removeprefix("__init__")] = allowed
    return rows


def _internal_imports(path: Path) -> set[str]:
    """The engine modules `path` imports (`mockyard.x.y` counts as `x`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "mockyard":
                found.update(parts[1:2] or [a.name for a in node.names])
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add("reports")  # relative imports exist only inside the reports package
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("mockyard."))
    return found


def test_every_module_imports_only_what_architecture_md_allows() -> None:
    table = _table()
    engine = ROOT / "src" / "mockyard"
    offences, unlisted = [], []
    for path in sorted(engine.rglob("*.py")):
        relative = path.relative_to(engine)
        module = relative.parts[0].removesuffix(".py") if relative.parts[0] != "__init__.py" else ""
        if module not in table:
            unlisted.append(str(relative))
            continue
        allowed = table[module] or set()
        extra = _internal_imports(path) - allowed - {module}
        offences += [f"{relative} imports {name}" for name in sorted(extra)]
    assert unlisted == [], "modules without a row in ARCHITECTURE.md's table"
    assert offences == []
    listed = {name for name in table if name}
    present = {p.name.removesuffix(".py") for p in engine.iterdir() if not p.name.startswith("_")}
    assert listed - present == set(), "rows for modules that do not exist"


def test_the_public_surface_is_exactly_what_handlers_use() -> None:
    assert mockyard.__all__ == [
        "ApiError",
        "Context",
        "Credentials",
        "Failure",
        "MockyardError",
        "Principal",
        "RateLimit",
    ]
    public = {n for n in vars(mockyard) if not n.startswith("_") and n[0].isupper()}
    assert public == set(mockyard.__all__)
