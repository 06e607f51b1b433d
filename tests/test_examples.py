"""The example projects under examples/ pass, run as their READMEs say, from a copy of each
(so that they hold everything they need, and the runs leave nothing in the checkout).

The pytest project loads the plugin by module name with autoloading off: the same fixtures the
``pytest11`` entry point gives an installed minihs (tests/test_pytest_plugin.py checks that
entry point), without importing every other plugin installed here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from prerequisites import prerequisite_missing
from subprocess_env import REPO, checkout_env

EXAMPLES = REPO / "examples"
RUN_TIMEOUT_S = 120


def _copy(example: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES / example, tmp_path / example))


def _environment() -> dict[str, str]:
    """This checkout's minihs, whether or not it is installed; nothing inherited that would
    change how the example runs."""
    return dict(checkout_env(clean=True), PYTHONDONTWRITEBYTECODE="1")


def test_the_pytest_example_project_passes(tmp_path):
    project = _copy("pytest-project", tmp_path)
    env = dict(_environment(), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "minihs.testing.pytest_plugin",
         "-p", "no:cacheprovider", "-q"],
        cwd=project, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    test_count = len(re.findall(r"^def test_", (project / "test_chat_client.py").read_text(), re.M))
    assert re.search(rf"\b{test_count} passed\b", done.stdout), done.stdout
    assert test_count >= 4


def test_the_node_example_project_passes(tmp_path):
    node = shutil.which("node")
    if node is None:
        prerequisite_missing("node is not installed (examples/node-test needs Node.js 20 or later)")
    project = _copy("node-test", tmp_path)
    env = dict(_environment(), MINIHS_PYTHON=sys.executable)
    done = subprocess.run(
        [node, "--test"], cwd=project, env=env, capture_output=True, text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.search(r"^# pass (\d+)$", done.stdout, re.M)
    assert passed and int(passed.group(1)) >= 1, done.stdout
    assert re.search(r"^# fail 0$", done.stdout, re.M), done.stdout
