"""The examples of README.md's "Using minihs in your tests" run as written.

Scripts run in this process (a ``MinihsServer`` each, in a folder holding the files they read);
pytest files run in a throwaway project through pytester; the shell and Node recipes run as
subprocesses. Which block is which is marked in the README by ``<!-- recipe: NAME -->``, and
every recipe there is run by some test (the last test here checks that none is forgotten).
"""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
# Imported before any in-process pytester run: pytester drops the modules a run imported once
# it ends, and PyYAML imported again over its already-loaded C extension no longer parses.
import yaml  # noqa: F401

from prerequisites import prerequisite_missing
from readme_recipes import recipe, recipe_names
from subprocess_env import checkout_env

pytest_plugins = ["pytester"]

RUN_TIMEOUT_S = 60

SCRIPTS = {
    # script: the files it reads, each another recipe
    "load_world.py": ["world.yaml"],
    "deterministic.py": [],
    "clock.py": [],
    "faults.py": [],
    "request_log.py": [],
}
PYTEST_FILES = {
    # test file: (the files it reads, how many tests pass)
    "test_lobby.py": (["lobby.yaml"], 3),
    "test_world.py": (["world.yaml"], 1),
    "test_snapshots.py": ([], 2),
}
# Run by the tests of other modules: test_pytest_plugin.py and test_fixture_server.py.
ELSEWHERE = {"test_chat.py", "run-tests.sh", "minihs.js", "example.test.js"}
SUBPROCESS_RECIPES = {"snapshots.sh", "snapshots.test.js"}


def _write(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text(recipe(name), encoding="utf-8")


def _subprocess_env() -> dict[str, str]:
    """``python`` is this interpreter, and minihs this checkout's, installed or not."""
    return dict(checkout_env(clean=True, python_first=True), MINIHS_PYTHON=sys.executable)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_the_readme_script_runs(script, tmp_path, monkeypatch, capsys):
    _write(tmp_path, script, *SCRIPTS[script])
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(tmp_path / script), run_name="__main__")  # an assert in it fails here


@pytest.mark.parametrize("test_file", sorted(PYTEST_FILES))
def test_the_readme_pytest_file_passes(test_file, pytester, monkeypatch):
    reads, passing = PYTEST_FILES[test_file]
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("MINIHS_HOST", raising=False)
    monkeypatch.delenv("MINIHS_PORT", raising=False)
    _write(pytester.path, *reads)
    # Under a name of its own: the README's may be one of this suite's modules too
    # (test_snapshots.py), already imported in this process when the suite runs serially.
    collected_as = "test_readme_" + test_file.removeprefix("test_")
    (pytester.path / collected_as).write_text(recipe(test_file), encoding="utf-8")
    result = pytester.runpytest_inprocess(
        "-p", "minihs.testing.pytest_plugin", "--strict-markers", collected_as
    )
    result.assert_outcomes(passed=passing)


def test_the_readme_snapshot_shell_script_restores_before_each_test(tmp_path):
    _write(tmp_path, "snapshots.sh")
    done = subprocess.run(
        ["bash", "snapshots.sh"], cwd=tmp_path, env=_subprocess_env(),
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count('"user_id":"@bob:localhost"') == 2  # registered in both "tests"


def test_the_readme_snapshot_node_test_restores_before_each_test(tmp_path):
    if shutil.which("node") is None:
        prerequisite_missing("node is not installed (the README's Node.js recipes need it)")
    _write(tmp_path, "minihs.js", "snapshots.test.js")
    done = subprocess.run(
        ["node", "--test", "snapshots.test.js"], cwd=tmp_path, env=_subprocess_env(),
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^# pass 2$", done.stdout, re.M), done.stdout


def test_every_recipe_in_the_readme_is_run_by_a_test():
    run = set(SCRIPTS) | set(PYTEST_FILES) | ELSEWHERE | SUBPROCESS_RECIPES
    read = {name for reads in SCRIPTS.values() for name in reads}
    read |= {name for reads, _ in PYTEST_FILES.values() for name in reads}
    assert set(recipe_names()) == run | read
