"""Receipts storage: the latest receipt of each user, per room, receipt type and thread.

Receipts are kept across restarts (as Synapse keeps them). Each write takes a stream position
(``minihs.store.stream``: the change stream), so ``changed_since`` answers "which receipts moved after N".
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from minihs.store.database import Database
from minihs.store.stream import NextPosition, joined_members, next_position

UNTHREADED = ""  # the thread_id column of a receipt sent without one


@dataclass(frozen=True)
class StoredReceipt:
    receipt_type: str
    user_id: str
    thread_id: str
    event_id: str
    ts: int
    stream_position: int


def _put(
    conn: sqlite3.Connection,
    position_of: NextPosition,
    room_id: str,
    receipt_type: str,
    user_id: str,
    thread_id: str,
    event_id: str,
    ts: int,
) -> int:
    position = position_of(conn)
    conn.execute(
        "INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, ts, "
        "stream_position) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET "
        "event_id = excluded.event_id, ts = excluded.ts, stream_position = excluded.stream_position",
        (room_id, receipt_type, user_id, thread_id, event_id, ts, position),
    )
    return position


def _put_for_members(
    conn: sqlite3.Connection, position_of: NextPosition, room_id: str, *receipt: object
) -> tuple[int, list[str]]:
    """Store a receipt; its position, and the room's joined members as it was written."""
    return _put(conn, position_of, room_id, *receipt), joined_members(conn, room_id)


def changed_since(conn: sqlite3.Connection, room_id: str, since: int) -> list[StoredReceipt]:
    rows = conn.execute(
        "SELECT receipt_type, user_id, thread_id, event_id, ts, stream_position FROM receipts "
        "WHERE room_id = ? AND stream_position > ? ORDER BY stream_position",
        (room_id, since),
    ).fetchall()
    return [StoredReceipt(*row) for row in rows]


def _event_in_room(conn: sqlite3.Connection, room_id: str, event_id: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM events e JOIN rooms r ON r.room_nid = e.room_nid "
            "WHERE e.event_id = ? AND r.room_id = ?",
            (event_id, room_id),
        ).fetchone()
        is not None
    )


class ReceiptStore:
    def __init__(self, db: Database, position_of: NextPosition = next_position) -> None:
        self._db = db
        self._position_of = position_of

    async def put(
        self,
        room_id: str,
        receipt_type: str,
        user_id: str,
        thread_id: str,
        event_id: str,
        ts: int,
        on_settled=None,
    ) -> tuple[int, list[str]]:
        """Store the user's receipt (replacing their previous one); return its position and the
        room's joined members. ``on_settled(committed, that)`` as for ``Database.submit``."""
        return await self._db.submit(
            _put_for_members, self._position_of, room_id, receipt_type, user_id, thread_id,
            event_id, ts, on_settled=on_settled,
        )

    async def changed_since(self, room_id: str, since: int) -> list[StoredReceipt]:
        """The room's receipts written after position ``since`` (0: all of them)."""
        return await self._db.read(changed_since, room_id, since)

    async def event_in_room(self, room_id: str, event_id: str) -> bool:
        return await self._db.read(_event_in_room, room_id, event_id)
