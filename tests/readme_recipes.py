"""The code blocks of README.md that the suite runs: each follows a ``<!-- recipe: NAME -->``
line, and NAME is the file the block is meant to be saved as."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def recipe(name: str) -> str:
    """The code block that follows ``<!-- recipe: NAME -->`` in the README."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- recipe: {re.escape(name)} -->\s*```[a-z]*\n(.*?)```", text, re.S)
    assert match, f"no recipe {name!r} in {README}"
    return match.group(1)


def recipe_names() -> list[str]:
    return re.findall(r"<!-- recipe: (\S+) -->", README.read_text(encoding="utf-8"))
