"""minihs builds into an sdist and a wheel that work once installed, with the sample config.

minihs is on no package index, so people depend on it through a wheel or a checkout (README,
"Depending on minihs"). These tests build the way ``python -m build`` does: an sdist from a
copy of the checkout, then a wheel from the unpacked sdist (so a file the sdist forgot fails
the wheel build), with ``pip wheel --no-deps --no-build-isolation`` (no network, seconds).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 120
NOT_SOURCE = shutil.ignore_patterns(
    ".git", "node_modules", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis",
    "*.db", "*.db-wal", "*.db-shm", "bench-results", ".venv*",
)
SHIPPED_DATA = (
    "minihs/config.sample.yaml",
    "minihs/openapi.json",
    # The inspector page (GET /_minihs/) and its files: inspector.js and the modules it imports.
    "minihs/api/inspector/index.html",
    "minihs/api/inspector/inspector.css",
    "minihs/api/inspector/inspector.js",
    "minihs/api/inspector/common.js",
    "minihs/api/inspector/users.js",
    "minihs/api/inspector/rooms.js",
    "minihs/api/inspector/log.js",
    "minihs/api/inspector/controls.js",
)


def run(args: list[str], cwd: Path, **env: str) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _setuptools_builds_wheels() -> bool:
    """setuptools 70.1 and later carry bdist_wheel; older ones need the wheel package."""
    return Version(importlib.metadata.version("setuptools")) >= Version("70.1")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel built from the unpacked sdist. Builds run in copies, so the
    checkout gets no build/ or egg-info folder from them."""
    if importlib.util.find_spec("wheel") is None and not _setuptools_builds_wheels():
        reason = "the 'wheel' package is not installed: pip install -c requirements/test.lock -e '.[test]'"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI installs the test extra; this is a broken install)",
                        pytrace=False)
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("packaging")
    source = work / "checkout"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_SOURCE)
    dist = work / "dist"
    # setuptools' PEP 517 hook: what `python -m build --sdist` calls.
    run([sys.executable, "-c",
         f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})"], source)
    (sdist,) = dist.glob("minihs-*.tar.gz")
    unpacked = work / "from-sdist"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (sdist_tree,) = unpacked.iterdir()
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(dist), str(sdist_tree)], work)
    (wheel,) = dist.glob("minihs-*.whl")
    return {"sdist": sdist, "wheel": wheel, "work": work}


def wheel_names(built: dict[str, Path]) -> set[str]:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        return set(wheel.namelist())


def test_the_root_sample_config_is_a_relative_symlink_to_the_packaged_one() -> None:
    root_sample = ROOT / "config.sample.yaml"
    assert root_sample.is_symlink()
    assert os.readlink(root_sample) == "minihs/config.sample.yaml"
    assert root_sample.resolve() == (ROOT / "minihs" / "config.sample.yaml").resolve()


def test_the_wheel_ships_the_sample_config_and_the_openapi_document(built) -> None:
    assert set(SHIPPED_DATA) <= wheel_names(built)


def test_the_shipped_sample_config_is_the_one_in_the_checkout(built) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        shipped = wheel.read("minihs/config.sample.yaml")
    assert shipped == (ROOT / "minihs" / "config.sample.yaml").read_bytes()


def test_the_wheel_holds_every_package_of_the_checkout(built) -> None:
    packages = {
        str(init.relative_to(ROOT).as_posix())
        for init in (ROOT / "minihs").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert packages and packages <= wheel_names(built)


def test_the_wheel_declares_the_console_script_and_the_pytest_plugin(built) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = wheel.read(entry_points).decode()
    assert "minihs = minihs.__main__:main" in text
    assert "[pytest11]" in text


def test_the_sdist_holds_the_files_a_wheel_build_reads(built) -> None:
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"setup.py", "README.md", *SHIPPED_DATA} <= names


def test_an_installed_wheel_finds_its_sample_config_and_loads_it(built) -> None:
    """Installed from the wheel alone (no checkout on the path), minihs reads the sample
    config through importlib.resources, and it is a valid configuration."""
    target = built["work"] / "installed"
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
         str(target), str(built["wheel"])], built["work"])
    probe = (
        "import importlib.resources, minihs, minihs.config\n"
        "sample = importlib.resources.files('minihs') / 'config.sample.yaml'\n"
        "with importlib.resources.as_file(sample) as path:\n"
        "    config = minihs.config.load_config(path)\n"
        "print(minihs.__file__)\n"
        "print(type(config).__name__)\n"
    )
    # Run from the install folder's parent, with only the installed copy ahead of the
    # dependencies on sys.path: the checkout (and an editable install of it) is not seen.
    module_file, config_type = run(
        [sys.executable, "-c", probe], built["work"], PYTHONPATH=str(target)
    ).split()
    assert Path(module_file).is_relative_to(target)
    assert config_type == "Config"
