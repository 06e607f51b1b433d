"""Reads for /sync, /messages and /rooms/{roomId}/event: one consistent snapshot per request.

``SyncStore.snapshot(plan)`` runs ``plan(SyncReader(conn))`` whole on the database thread, where
no write can run between its statements: everything it reads is one committed state of the
database, and ``SyncReader.position()`` is the stream position of exactly that state.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Callable, Iterable, Iterator, TypeVar

from minihs.store import account_data, receipts
from minihs.store.account_data import AccountDataChange
from minihs.store.database import Database
from minihs.store.receipts import StoredReceipt
from minihs.store.stream import current_position

T = TypeVar("T")

# (stream_ordering, event_id, type, state_key, json)
EventRow = tuple[int, str, str, "str | None", str]

_EVENT_COLUMNS = "stream_ordering, event_id, type, state_key, json"


class SyncReader:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def position(self) -> int:
        return current_position(self._conn)

    def memberships(self, user_id: str) -> list[tuple[int, str, str, int]]:
        """(room_nid, room_id, membership, stream_ordering) of every room the user has a
        membership in."""
        return self._conn.execute(
            "SELECT m.room_nid, r.room_id, m.membership, m.stream_ordering FROM memberships m "
            "JOIN rooms r ON r.room_nid = m.room_nid WHERE m.user_id = ?",
            (user_id,),
        ).fetchall()

    def membership(self, room_nid: int, user_id: str) -> tuple[str, int] | None:
        row = self._conn.execute(
            "SELECT membership, stream_ordering FROM memberships WHERE room_nid = ? AND user_id = ?",
            (room_nid, user_id),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def membership_at(self, room_nid: int, user_id: str, position: int) -> str | None:
        """The user's membership in the room just after ``position``."""
        row = self._conn.execute(
            "SELECT json FROM events WHERE room_nid = ? AND type = 'm.room.member' AND state_key = ? "
            "AND stream_ordering <= ? ORDER BY stream_ordering DESC LIMIT 1",
            (room_nid, user_id, position),
        ).fetchone()
        if row is None:
            return None
        membership = json.loads(row[0])["content"].get("membership")
        return membership if isinstance(membership, str) else None

    def room_nid(self, room_id: str) -> int | None:
        row = self._conn.execute("SELECT room_nid FROM rooms WHERE room_id = ?", (room_id,)).fetchone()
        return None if row is None else row[0]

    def rooms_with_events_after(self, position: int) -> set[int]:
        return {
            nid
            for (nid,) in self._conn.execute(
                "SELECT DISTINCT room_nid FROM events WHERE stream_ordering > ?", (position,)
            )
        }

    def events_backwards(self, room_nid: int, after: int, upto: int) -> Iterator[EventRow]:
        """The room's events with ``after < stream_ordering <= upto``, newest first (lazily)."""
        return self._conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE room_nid = ? AND stream_ordering > ? "
            "AND stream_ordering <= ? ORDER BY stream_ordering DESC",
            (room_nid, after, upto),
        )

    def events_forwards(self, room_nid: int, after: int, upto: int) -> Iterator[EventRow]:
        """The room's events with ``after < stream_ordering <= upto``, oldest first (lazily)."""
        return self._conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE room_nid = ? AND stream_ordering > ? "
            "AND stream_ordering <= ? ORDER BY stream_ordering ASC",
            (room_nid, after, upto),
        )

    def current_state(self, room_nid: int) -> list[EventRow]:
        return self._conn.execute(
            "SELECT e.stream_ordering, e.event_id, e.type, e.state_key, e.json FROM current_state s "
            "JOIN events e ON e.stream_ordering = s.stream_ordering WHERE s.room_nid = ?",
            (room_nid,),
        ).fetchall()

    def state_at(self, room_nid: int, position: int) -> list[EventRow]:
        """The room's state just after ``position`` (minihs rooms have one linear history, so
        it is the last event of each state key up to there)."""
        return self._conn.execute(
            "SELECT e.stream_ordering, e.event_id, e.type, e.state_key, e.json FROM events e "
            "JOIN (SELECT max(stream_ordering) AS last FROM events WHERE room_nid = ? "
            "AND state_key IS NOT NULL AND stream_ordering <= ? GROUP BY type, state_key) k "
            "ON e.stream_ordering = k.last",
            (room_nid, position),
        ).fetchall()

    def state_keys_changed(self, room_nid: int, after: int, before: int) -> set[tuple[str, str]]:
        """The state keys set by events with ``after < stream_ordering < before``."""
        return set(
            self._conn.execute(
                "SELECT DISTINCT type, state_key FROM events WHERE room_nid = ? "
                "AND stream_ordering > ? AND stream_ordering < ? AND state_key IS NOT NULL",
                (room_nid, after, before),
            )
        )

    def member_counts(self, room_nid: int) -> list[tuple[str, str]]:
        """(user_id, membership) of each member of the room, in user ID order."""
        return self._conn.execute(
            "SELECT user_id, membership FROM memberships WHERE room_nid = ? ORDER BY user_id",
            (room_nid,),
        ).fetchall()

    def event(self, event_id: str) -> tuple[int, int, str] | None:
        """(stream_ordering, room_nid, json) of an event."""
        return self._conn.execute(
            "SELECT stream_ordering, room_nid, json FROM events WHERE event_id = ?", (event_id,)
        ).fetchone()

    def account_data_after(self, user_id: str, position: int) -> list[AccountDataChange]:
        """The user's account data (global and per room) written after ``position``."""
        return account_data.changed_since(self._conn, user_id, position)

    def receipts_after(self, room_id: str, position: int) -> list[StoredReceipt]:
        """The room's receipts that moved after ``position``, oldest first."""
        return receipts.changed_since(self._conn, room_id, position)

    def txn_ids(self, user_id: str, device_id: str, positions: Iterable[int]) -> dict[int, str]:
        """The transaction IDs this device sent the events at ``positions`` with."""
        positions = list(positions)
        if not positions:
            return {}
        marks = ",".join("?" * len(positions))
        return dict(
            self._conn.execute(
                f"SELECT stream_ordering, txn_id FROM event_txns WHERE stream_ordering IN ({marks}) "
                "AND user_id = ? AND device_id = ?",
                (*positions, user_id, device_id),
            )
        )


class SyncStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def snapshot(self, plan: Callable[[SyncReader], T]) -> T:
        """Run ``plan(reader)`` on the database thread; everything it reads is one state."""
        return await self._db.read(_run_plan, plan)


def _run_plan(conn: sqlite3.Connection, plan: Callable[[SyncReader], Any]) -> Any:
    return plan(SyncReader(conn))
