"""The one rule for a test whose prerequisite is missing from the machine (Node.js, an npm or
PyPI client library, uvloop on a platform where setup.py installs it).

Outside CI the test skips, with one line saying what is missing and how to get it. Under
``CI=true`` it fails instead: CI installs everything (``.ci/run``), so a missing prerequisite
there is a broken machine or install step, and a skip would let it pass unseen.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def prerequisite_missing(reason: str, *, module_level: bool = False) -> NoReturn:
    """Skip the calling test (or, with ``module_level``, its whole module) because of
    ``reason``; under ``CI=true`` fail with it instead."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: CI must provide it, so this fails instead of skipping)",
                    pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)
