"""A missing prerequisite skips outside CI, with one line saying what is missing, and fails
under CI=true (tests/prerequisites.py, scripts/install_js_clients.sh).

The Node.js cases run the real script and the real test module with a PATH that has no node.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prerequisites import prerequisite_missing

ROOT = Path(__file__).resolve().parent.parent
INSTALL_JS = ROOT / "scripts" / "install_js_clients.sh"
JS_SDK_TESTS = ROOT / "tests" / "clients" / "test_js_sdk.py"
RUN_TIMEOUT_S = 120


@pytest.fixture
def path_without_node(tmp_path: Path) -> Path:
    """A PATH folder with only the commands install_js_clients.sh uses before it looks for
    node: no node, no npm."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))
    return bin_dir


def environment(path: Path, ci: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(path)
    if ci:
        env["CI"] = "true"
    return env


def run_install_js(path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("bash"), str(INSTALL_JS)], env=environment(path, ci),
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )


def test_a_missing_prerequisite_fails_the_test_under_ci(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="node is not installed"):
        prerequisite_missing("node is not installed")


def test_a_missing_prerequisite_skips_the_test_outside_ci(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="node is not installed"):
        prerequisite_missing("node is not installed")


def test_install_js_clients_fails_under_ci_without_node(path_without_node) -> None:
    done = run_install_js(path_without_node, ci=True)
    assert done.returncode != 0
    assert "node not found" in done.stderr


def test_install_js_clients_fails_under_ci_with_a_node_older_than_20(path_without_node) -> None:
    for command, output in (("node", "18"), ("npm", "10.0.0")):
        fake = path_without_node / command
        fake.write_text(f"#!/bin/sh\necho {output}\n")
        fake.chmod(0o755)
    done = run_install_js(path_without_node, ci=True)
    assert done.returncode != 0
    assert "older than 20" in done.stderr


def test_install_js_clients_outside_ci_says_in_one_line_what_it_skipped(path_without_node) -> None:
    done = run_install_js(path_without_node, ci=False)
    assert done.returncode == 0
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "node not found" in done.stderr and "skipped" in done.stderr


def run_js_sdk_tests(path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    """pytest on test_js_sdk.py alone. Only its collection runs (the module skips or fails
    on import), which needs no plugin: not loading them saves seconds per run."""
    env = {**environment(path, ci), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "pytest_asyncio.plugin",
         str(JS_SDK_TESTS)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )


def test_the_js_sdk_tests_fail_under_ci_without_node(path_without_node) -> None:
    done = run_js_sdk_tests(path_without_node, ci=True)
    # A module that fails on import is a collection error, which stops the run (exit code 2).
    assert done.returncode == pytest.ExitCode.INTERRUPTED, done.stdout + done.stderr
    assert "1 error" in done.stdout and "skipped" not in done.stdout
    assert "node is not installed" in done.stdout
    assert "CI=true" in done.stdout


def test_the_js_sdk_tests_skip_outside_ci_without_node_saying_why(path_without_node) -> None:
    done = run_js_sdk_tests(path_without_node, ci=False)
    # A module skipped whole leaves no test collected, which pytest reports as exit code 5.
    assert done.returncode in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED), (
        done.stdout + done.stderr
    )
    assert "1 skipped" in done.stdout
    assert "node is not installed" in done.stdout
