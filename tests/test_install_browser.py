"""scripts/install_browser.sh: Chromium for the inspector's browser test, or one line saying
why not; under CI=true a machine without it fails (tests/prerequisites.py's rule).

Each case runs the real script with a PATH folder holding only what the case needs: no
chromium, and fakes for ``chromium``, ``id`` and ``apt-get`` where the case wants them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "install_browser.sh"
TEST_COMMAND_PART = "bash scripts/install_browser.sh && python -m pytest"


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH folder with the commands the script uses besides the ones it looks for."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "head").symlink_to(shutil.which("head"))
    return folder


def fake(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)


def run(folder: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MINIHS_CHROMIUM")}
    env["PATH"] = str(folder)
    if ci:
        env["CI"] = "true"
    return subprocess.run([shutil.which("bash"), str(SCRIPT)], env=env, capture_output=True,
                          text=True, timeout=60)


def test_a_chromium_on_the_path_is_reported_and_nothing_is_installed(bin_dir) -> None:
    fake(bin_dir, "chromium", "echo Chromium 156.0 built on Debian")
    fake(bin_dir, "apt-get", "echo apt-get ran >&2; exit 1")
    done = run(bin_dir, ci=True)
    assert done.returncode == 0
    assert "Chromium 156.0" in done.stdout and "apt-get ran" not in done.stderr


def test_without_chromium_or_apt_get_it_fails_under_ci(bin_dir) -> None:
    done = run(bin_dir, ci=True)
    assert done.returncode == 1
    assert "chromium not found" in done.stderr and "CI=true" in done.stderr


def test_without_chromium_or_apt_get_it_says_in_one_line_what_is_skipped(bin_dir) -> None:
    done = run(bin_dir, ci=False)
    assert done.returncode == 0
    assert done.stdout == "" and done.stderr.count("\n") == 1
    assert "chromium not found" in done.stderr and "skipped" in done.stderr


def test_a_user_who_is_not_root_is_told_the_command_to_run(bin_dir) -> None:
    fake(bin_dir, "id", "echo 1000")
    fake(bin_dir, "apt-get", "echo apt-get ran >&2; exit 1")
    done = run(bin_dir, ci=False)
    assert done.returncode == 0
    assert "sudo apt-get install -y chromium" in done.stderr and "apt-get ran" not in done.stderr


def test_root_installs_debians_chromium_package_with_apt_get(bin_dir) -> None:
    fake(bin_dir, "id", "echo 0")
    # The fake apt-get "installs" by putting a chromium on the PATH.
    chromium = bin_dir / "chromium"
    fake(bin_dir, "apt-get", f'echo "apt-get $*" >> "{bin_dir}/apt.log"\n'
         f'if [ "$1" = install ]; then\n'
         f'  printf "#!/bin/sh\\necho Chromium 1.0\\n" > "{chromium}"; chmod 755 "{chromium}"\n'
         f'fi')
    fake(bin_dir, "chmod", f'exec {shutil.which("chmod")} "$@"')
    done = run(bin_dir, ci=True)
    assert done.returncode == 0, done.stderr
    log = (bin_dir / "apt.log").read_text()
    assert "apt-get update" in log and "install -y -qq --no-install-recommends chromium" in log
    assert "Chromium 1.0" in done.stdout


def test_a_failing_apt_get_fails_under_ci(bin_dir) -> None:
    fake(bin_dir, "id", "echo 0")
    fake(bin_dir, "apt-get", "exit 100")
    done = run(bin_dir, ci=True)
    assert done.returncode == 1 and "apt-get install chromium failed" in done.stderr


def test_the_readme_test_command_and_ci_both_install_the_browser() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    (readme_line,) = [line for line in readme.splitlines() if TEST_COMMAND_PART in line]
    (ci_line,) = [line for line in ci_run.splitlines() if TEST_COMMAND_PART in line]
    assert readme_line == ci_line
