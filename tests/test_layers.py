"""The layers of minihs hold: import-linter's contracts (``.importlinter``) pass, and fail when
an import is added the wrong way."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Runs import-linter's own command line in a fresh interpreter, so the package it analyses is
# the one on PYTHONPATH, never an installed copy.
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--config", str(tree / ".importlinter"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to add a wrong arrow to."""
    shutil.copytree(REPO / "minihs", tmp_path / "minihs", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def add_import(tree: Path, module: str, statement: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{statement}\n")


def test_the_contracts_are_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("minihs.domain.rooms", "import aiohttp.web", "Only the HTTP layer and the tools know aiohttp"),
        ("minihs.store.rooms", "import minihs.domain.rooms", "Storage imports nothing of the domain"),
        ("minihs.spec.events", "import minihs.store.rooms", "Layers: tools > HTTP > domain"),
        ("minihs.domain.accounts", "import minihs.api.request", "Layers: tools > HTTP > domain"),
        ("minihs.api.rooms", "import minihs.testing.server", "Layers: tools > HTTP > domain"),
        ("minihs.config", "import minihs.domain.rooms", "The configuration is read by every layer"),
        ("minihs.testing.seeding", "import sqlite3", "Only the store speaks SQLite"),
        ("minihs.domain.rooms", "import sqlite3", "Only the store speaks SQLite"),
    ],
)
def test_an_import_the_wrong_way_breaks_a_contract(tree_copy, module, statement, contract):
    add_import(tree_copy, module, statement)
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
