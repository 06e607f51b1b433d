"""Account data storage: per-user JSON objects by type, global (room_id '') or per room.

Each write takes a stream position (``minihs.store.stream``: the change stream) in its own transaction, so
``changed_since`` answers "what changed after position N" for sync.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from minihs.store.database import Database
from minihs.store.stream import NextPosition, next_position

GLOBAL = ""  # the room_id of global account data


@dataclass(frozen=True)
class AccountDataChange:
    room_id: str  # GLOBAL for global account data
    type: str
    content: str  # JSON text
    stream_position: int


def _put(
    conn: sqlite3.Connection,
    position_of: NextPosition,
    user_id: str,
    room_id: str,
    data_type: str,
    content: str,
) -> int:
    position = position_of(conn)
    conn.execute(
        "INSERT INTO account_data (user_id, room_id, type, content, stream_position) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, room_id, type) DO UPDATE SET "
        "content = excluded.content, stream_position = excluded.stream_position",
        (user_id, room_id, data_type, content, position),
    )
    return position


def _get(conn: sqlite3.Connection, user_id: str, room_id: str, data_type: str) -> str | None:
    row = conn.execute(
        "SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?",
        (user_id, room_id, data_type),
    ).fetchone()
    return None if row is None else row[0]


def changed_since(conn: sqlite3.Connection, user_id: str, since: int) -> list[AccountDataChange]:
    rows = conn.execute(
        "SELECT room_id, type, content, stream_position FROM account_data "
        "WHERE user_id = ? AND stream_position > ? ORDER BY stream_position",
        (user_id, since),
    ).fetchall()
    return [AccountDataChange(*row) for row in rows]


class AccountDataStore:
    def __init__(self, db: Database, position_of: NextPosition = next_position) -> None:
        self._db = db
        self._position_of = position_of

    async def put(
        self, user_id: str, room_id: str, data_type: str, content: str, on_settled=None
    ) -> int:
        """Store ``content`` (JSON text); return the position the change took.
        ``on_settled(committed, position)`` as for ``Database.submit``."""
        return await self._db.submit(
            _put, self._position_of, user_id, room_id, data_type, content, on_settled=on_settled
        )

    async def get(self, user_id: str, room_id: str, data_type: str) -> str | None:
        return await self._db.read(_get, user_id, room_id, data_type)

    async def changed_since(self, user_id: str, since: int) -> list[AccountDataChange]:
        """The user's account data written after position ``since`` (0: all of it)."""
        return await self._db.read(changed_since, user_id, since)
