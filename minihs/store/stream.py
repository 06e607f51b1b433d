"""The change stream's counter: one ordered sequence of positions for every observable change.

A room event takes its position as ``events.stream_ordering``; a non-room change (account data,
a profile change...) takes one with :func:`next_position` inside the same transaction that
writes it, so a change and its position commit together or not at all (a rolled-back unit
gives its position back). ``epoch`` is random per database and replaced by a reset.
"""

from __future__ import annotations

import secrets
import sqlite3
from typing import Callable

from minihs.store.database import Database


NextPosition = Callable[[sqlite3.Connection], int]


def next_position(conn: sqlite3.Connection) -> int:
    """Take the next stream position (call inside a write unit)."""
    (position,) = conn.execute(
        "UPDATE stream_counter SET position = position + 1 WHERE id = 1 RETURNING position"
    ).fetchone()
    return position


def current_position(conn: sqlite3.Connection) -> int:
    """The last position taken by a committed change (as this connection sees it)."""
    return conn.execute("SELECT position FROM stream_counter WHERE id = 1").fetchone()[0]


def _read(conn: sqlite3.Connection) -> tuple[int, str]:
    return conn.execute("SELECT position, epoch FROM stream_counter WHERE id = 1").fetchone()


def _new_epoch(conn: sqlite3.Connection, epoch: str) -> None:
    conn.execute("UPDATE stream_counter SET epoch = ? WHERE id = 1", (epoch,))


def new_epoch() -> tuple[str, Callable[[sqlite3.Connection], None]]:
    """A new random epoch, and the write that gives it to a database (for the reset's step)."""
    epoch = secrets.token_hex(4)
    return epoch, lambda conn: _new_epoch(conn, epoch)


class StreamStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def position_and_epoch(self) -> tuple[int, str]:
        return await self._db.read(_read)

