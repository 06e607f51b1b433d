"""The environment of a subprocess that must run this checkout's minihs (``python -m minihs``, a
README recipe, an example project), whether or not minihs is installed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def checkout_env(
    *, clean: bool = False, python_first: bool = False, buffered_stdout: bool = False
) -> dict[str, str]:
    """This process's environment with the checkout first on ``PYTHONPATH``.

    ``clean``: without the ``MINIHS_*`` and ``PYTEST_*`` variables, which would change how the
    subprocess's minihs or pytest runs. ``python_first``: this interpreter's folder first on
    ``PATH``, so that a script's ``python`` is this interpreter. ``buffered_stdout``: without
    ``PYTHONUNBUFFERED``, so that a line minihs prints arrives only if minihs flushes it.
    """
    env = dict(os.environ)
    if clean:
        env = {k: v for k, v in env.items() if not k.startswith(("MINIHS_", "PYTEST_"))}
    if python_first:
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if buffered_stdout:
        env.pop("PYTHONUNBUFFERED", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env
