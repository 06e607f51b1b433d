"""requirements/test.lock records every version the suite was proven with, and stays in step
with setup.py.

setup.py declares ranges (a library must not pin its users); the lock pins one exact version of
each package the test environment holds, transitive ones included, and the README's test
command and ``.ci/run`` install with it as pip constraints. ``scripts/refresh_lock.sh``
regenerates it. A dependency added to setup.py without refreshing the lock fails here.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SETUP_PY = ROOT / "setup.py"
LOCK = ROOT / "requirements" / "test.lock"
CAPS = ROOT / "requirements" / "test-caps.txt"
INSTALL_COMMAND = "pip install -c requirements/test.lock -e '.[test]'"
LOCKED_EXTRA = "test"


def declared_requirements(setup_source: str) -> list[Requirement]:
    """install_requires and the ``test`` extra of the ``setup(...)`` call in ``setup_source``,
    read as literals: setup() is never run."""
    for node in ast.walk(ast.parse(setup_source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
            keywords = {k.arg: k.value for k in node.keywords}
            install_requires = ast.literal_eval(keywords["install_requires"])
            extras = ast.literal_eval(keywords["extras_require"])
            return [Requirement(line) for line in [*install_requires, *extras[LOCKED_EXTRA]]]
    raise AssertionError("setup.py has no setup(...) call")


def read_lock(lock_text: str) -> dict[str, Version]:
    """The lock's pins by canonical name. Every line that is not a comment is ``name==version``."""
    pins: dict[str, Version] = {}
    for number, raw in enumerate(lock_text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", (
            f"lock line {number} is not an exact pin: {raw!r}"
        )
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"lock line {number} pins {name} a second time"
        pins[name] = Version(specifiers[0].version)
    return pins


def applies_here(requirement: Requirement, extra: str = "") -> bool:
    """Whether ``requirement``'s environment marker holds on this platform and interpreter."""
    if requirement.marker is None:
        return True
    return requirement.marker.evaluate({**default_environment(), "extra": extra})


def unpinned(declared: list[Requirement], pins: dict[str, Version]) -> list[str]:
    """The declared requirements that apply here and have no pin in the lock."""
    return [
        str(r)
        for r in declared
        if applies_here(r) and canonicalize_name(r.name) not in pins
    ]


def out_of_range(declared: list[Requirement], pins: dict[str, Version]) -> list[str]:
    """The pins that fall outside the range a declared requirement gives."""
    return [
        f"{r.name}=={pins[canonicalize_name(r.name)]} does not satisfy {r}"
        for r in declared
        if applies_here(r)
        and canonicalize_name(r.name) in pins
        and not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]


def the_declared() -> list[Requirement]:
    return declared_requirements(SETUP_PY.read_text(encoding="utf-8"))


def the_pins() -> dict[str, Version]:
    return read_lock(LOCK.read_text(encoding="utf-8"))


def test_every_dependency_setup_py_declares_has_a_pin_in_the_lock() -> None:
    assert unpinned(the_declared(), the_pins()) == [], "run: bash scripts/refresh_lock.sh"


def test_every_pin_satisfies_the_range_setup_py_declares() -> None:
    assert out_of_range(the_declared(), the_pins()) == [], "run: bash scripts/refresh_lock.sh"


def test_every_pin_satisfies_the_caps_the_lock_was_resolved_under() -> None:
    caps = [Requirement(line) for line in CAPS.read_text(encoding="utf-8").splitlines()
            if line.split("#", 1)[0].strip()]
    assert out_of_range(caps, the_pins()) == []


def test_a_pin_outside_a_cap_is_found() -> None:
    assert out_of_range([Requirement("pytest<9.1")], {"pytest": Version("9.2.0")}) != []


def test_a_dependency_added_without_a_lock_entry_is_reported() -> None:
    setup_source = SETUP_PY.read_text(encoding="utf-8").replace(
        "install_requires=[", 'install_requires=["a-package-nobody-locked>=1.0", ', 1
    )
    assert unpinned(declared_requirements(setup_source), the_pins()) == [
        "a-package-nobody-locked>=1.0"
    ]


def test_a_pin_outside_the_declared_range_is_reported() -> None:
    pins = read_lock("aiohttp==3.8.0\n")
    assert out_of_range([Requirement("aiohttp>=3.9")], pins) == [
        "aiohttp==3.8.0 does not satisfy aiohttp>=3.9"
    ]


def test_a_dependency_for_another_platform_needs_no_pin() -> None:
    elsewhere = Requirement('a-windows-only-package>=1; sys_platform == "no-such-platform"')
    assert unpinned([elsewhere], {}) == []


def test_a_lock_line_that_is_not_an_exact_pin_is_refused() -> None:
    with pytest.raises(AssertionError, match="not an exact pin"):
        read_lock("pytest>=9\n")


def test_the_readme_test_command_and_ci_install_from_the_lock() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert INSTALL_COMMAND in readme
    assert INSTALL_COMMAND in ci_run


def _installed_test_environment() -> dict[str, str]:
    """Every distribution minihs[test] pulls in, transitively, with its installed version."""
    found: dict[str, str] = {}
    walked: set[tuple[str, frozenset[str]]] = set()
    pending = [(requirement, LOCKED_EXTRA) for requirement in
               map(Requirement, importlib.metadata.requires("minihs") or [])]
    while pending:
        requirement, extra = pending.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if not applies_here(requirement, extra) or key in walked:
            continue
        walked.add(key)
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "(not installed)"
            continue
        # A dependency's own requirements: the unconditional ones, and those of each extra
        # it was asked for with (``hypothesis[zoneinfo]``).
        for line in importlib.metadata.requires(name) or []:
            nested = Requirement(line)
            pending += [(nested, "")] + [(nested, e) for e in requirement.extras]
    return found


def test_the_installed_test_environment_is_the_locked_one() -> None:
    """What the suite runs on is what the lock says. Outside CI an environment installed some
    other way (``pip install -e '.[test]'`` alone) is allowed, with a skip that says so."""
    pins = the_pins()
    differences = [
        f"{name} {installed} (lock: {pins.get(name, 'no pin')})"
        for name, installed in sorted(_installed_test_environment().items())
        if name not in pins or installed == "(not installed)" or Version(installed) != pins[name]
    ]
    if not differences:
        return
    message = f"installed versions differ from requirements/test.lock: {', '.join(differences)}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(f"{message}; run: {INSTALL_COMMAND}")
