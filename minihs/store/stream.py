"""The change stream's counter: one ordered sequence of positions for every observable change.

A room event takes its position as ``events.stream_ordering``; a non-room change (account data,
a profile change...) takes one with :func:`next_position` inside the same transaction that
writes it, so a change and its position commit together or not at all (a rolled-back unit
gives its position back). ``epoch`` is random per database and replaced by a reset; the caller
chooses it (a seeded server draws it from its seed), this module only writes it.
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


def new_epoch(epoch: str | None = None) -> tuple[str, Callable[[sqlite3.Connection], None]]:
    """A new epoch (random unless given: 8 hex digits), and the write that gives it to a
    database (for the step of a reset or a snapshot's restore)."""
    if epoch is None:
        epoch = secrets.token_hex(4)
    return epoch, lambda conn: _new_epoch(conn, epoch)


def _adopt_epoch(conn: sqlite3.Connection, epoch: str) -> tuple[int, str]:
    conn.execute("UPDATE stream_counter SET epoch = ? WHERE id = 1 AND position = 0", (epoch,))
    return _read(conn)


class StreamStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def position_and_epoch(self) -> tuple[int, str]:
        return await self._db.read(_read)

    async def adopt_epoch(self, epoch: str) -> tuple[int, str]:
        """Give a stream that has never moved (position 0: a new database) this epoch; then
        the position and epoch, as :meth:`position_and_epoch`. A stream that has moved keeps
        its epoch, so the sync tokens it issued survive a restart."""
        return await self._db.transaction(_adopt_epoch, epoch)



# --- positions for changes that are not room events, with whom they concern -----------------
# A unit below takes the next position and, in the same transaction, reads the users the change
# concerns: their waiting syncs are woken from the unit's ``on_settled`` with exactly the
# membership the position was taken against.


def joined_members(conn: sqlite3.Connection, room_id: str) -> list[str]:
    """The users joined to the room."""
    return [
        user_id
        for (user_id,) in conn.execute(
            "SELECT m.user_id FROM memberships m JOIN rooms r ON r.room_nid = m.room_nid "
            "WHERE r.room_id = ? AND m.membership = 'join'",
            (room_id,),
        )
    ]


def room_mates(conn: sqlite3.Connection, user_id: str) -> set[str]:
    """The user and everyone sharing a joined room with them."""
    rows = conn.execute(
        "SELECT DISTINCT o.user_id FROM memberships m JOIN memberships o ON o.room_nid = m.room_nid "
        "WHERE m.membership = 'join' AND m.user_id = ? AND o.membership = 'join'",
        (user_id,),
    )
    return {user_id, *(other for (other,) in rows)}


def position_for_room(conn: sqlite3.Connection, room_id: str) -> tuple[int, list[str]]:
    """A unit: the next position, and the room's joined members."""
    return next_position(conn), joined_members(conn, room_id)


def position_for_room_mates(conn: sqlite3.Connection, user_id: str) -> tuple[int, set[str]]:
    """A unit: the next position, and the user with everyone sharing a joined room with them."""
    return next_position(conn), room_mates(conn, user_id)
