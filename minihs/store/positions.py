"""The position each change to account data and receipts takes, for "what changed since N".

A change takes its position inside the transaction that writes it, so positions are committed
in the order they were taken and a reader that saw position N has seen every change up to N.
``next_position`` is the one function the stores call: when the shared change stream lands it
can be swapped for that stream's counter (pass another ``next_position`` to the stores), and
every "since" query keeps working unchanged.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

NextPosition = Callable[[sqlite3.Connection], int]


def next_position(conn: sqlite3.Connection) -> int:
    """Advance the counter and return the new position; runs inside the caller's transaction."""
    (position,) = conn.execute(
        "UPDATE stream_position SET position = position + 1 RETURNING position"
    ).fetchone()
    return position


def current_position(conn: sqlite3.Connection) -> int:
    """The last position handed out (0 before any change)."""
    (position,) = conn.execute("SELECT position FROM stream_position").fetchone()
    return position
