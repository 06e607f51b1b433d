"""Rooms storage: rooms, the event log, current state, memberships and aliases.

An event and everything it changes (current state, the membership row) are written in one
transaction, so no reader ever sees an event without its state or state without its event.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from minihs.store.database import Database
from minihs.store.stream import next_position

MEMBER = "m.room.member"


class AliasTaken(Exception):
    """The UNIQUE constraint on room_aliases.alias refused a new alias."""


class RoomIdTaken(Exception):
    """The UNIQUE constraint on rooms.room_id refused a new room (a derived ID collided)."""


@dataclass(frozen=True)
class NewEvent:
    """An event ready to persist. ``membership`` is set for m.room.member events only."""

    event_id: str
    type: str
    state_key: str | None
    depth: int
    json: str
    membership: str | None = None


@dataclass(frozen=True)
class StoredRoom:
    room_nid: int
    room_id: str
    room_version: str
    # Current state: (type, state_key) -> (event_id, event JSON).
    state: dict[tuple[str, str], tuple[str, str]]
    last_event_id: str
    last_depth: int


def _insert_event(conn: sqlite3.Connection, room_nid: int, event: NewEvent) -> int:
    stream = next_position(conn)
    conn.execute(
        "INSERT INTO events (stream_ordering, event_id, room_nid, type, state_key, depth, json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (stream, event.event_id, room_nid, event.type, event.state_key, event.depth, event.json),
    )
    if event.state_key is not None:
        conn.execute(
            "INSERT INTO current_state (room_nid, type, state_key, stream_ordering) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (room_nid, type, state_key) DO UPDATE SET stream_ordering = excluded.stream_ordering",
            (room_nid, event.type, event.state_key, stream),
        )
        if event.type == MEMBER and event.membership is not None:
            conn.execute(
                "INSERT INTO memberships (room_nid, user_id, membership, stream_ordering) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (room_nid, user_id) DO UPDATE SET "
                "membership = excluded.membership, stream_ordering = excluded.stream_ordering",
                (room_nid, event.state_key, event.membership, stream),
            )
    return stream


def _create_room(
    conn: sqlite3.Connection,
    room_id: str,
    room_version: str,
    creator: str,
    created_ts: int,
    events: list[NewEvent],
    alias: str | None,
) -> tuple[int, int]:
    try:
        room_nid = conn.execute(
            "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES (?, ?, ?, ?)",
            (room_id, room_version, creator, created_ts),
        ).lastrowid
    except sqlite3.IntegrityError:
        raise RoomIdTaken(room_id) from None
    if alias is not None:
        try:
            conn.execute(
                "INSERT INTO room_aliases (alias, room_nid, creator) VALUES (?, ?, ?)",
                (alias, room_nid, creator),
            )
        except sqlite3.IntegrityError:
            raise AliasTaken(alias) from None
    return room_nid, _insert_events(conn, room_nid, events)


# Rows per INSERT of several rows: 100 rows of 7 values stay under SQLite's oldest limit on
# bound variables (999).
_ROWS_PER_INSERT = 100


def _insert_rows(conn: sqlite3.Connection, head: str, rows: list[tuple], tail: str = "") -> None:
    """``head VALUES (?, ...), (?, ...) tail`` for ``rows``, a hundred rows per statement."""
    if not rows:
        return
    marks = "(" + ", ".join("?" * len(rows[0])) + ")"
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        conn.execute(
            f"{head} VALUES {', '.join([marks] * len(chunk))}{tail}",
            [value for row in chunk for value in row],
        )


def _insert_events(conn: sqlite3.Connection, room_nid: int, events: list[NewEvent]) -> int:
    """What :func:`_insert_event` does for each of ``events`` in turn, a few statements for all
    of them (a room made with its members has dozens): one round of the counter, and rows
    inserted a hundred at a time, which costs a third of one statement per row. Returns the
    last event's position."""
    (last,) = conn.execute(
        "UPDATE stream_counter SET position = position + ? WHERE id = 1 RETURNING position",
        (len(events),),
    ).fetchone()
    first = last - len(events) + 1
    rows = []
    state: dict[tuple[str, str], int] = {}
    members: dict[str, tuple[str, int]] = {}
    for stream, e in enumerate(events, first):
        rows.append((stream, e.event_id, room_nid, e.type, e.state_key, e.depth, e.json))
        if e.state_key is not None:
            state[(e.type, e.state_key)] = stream  # a key set twice keeps its later event
            if e.type == MEMBER and e.membership is not None:
                members[e.state_key] = (e.membership, stream)
    _insert_rows(
        conn,
        "INSERT INTO events (stream_ordering, event_id, room_nid, type, state_key, depth, json)",
        rows,
    )
    _insert_rows(
        conn,
        "INSERT INTO current_state (room_nid, type, state_key, stream_ordering)",
        [(room_nid, etype, key, stream) for (etype, key), stream in state.items()],
        " ON CONFLICT (room_nid, type, state_key) DO UPDATE SET stream_ordering = excluded.stream_ordering",
    )
    _insert_rows(
        conn,
        "INSERT INTO memberships (room_nid, user_id, membership, stream_ordering)",
        [(room_nid, user, membership, stream) for user, (membership, stream) in members.items()],
        " ON CONFLICT (room_nid, user_id) DO UPDATE SET "
        "membership = excluded.membership, stream_ordering = excluded.stream_ordering",
    )
    return last


def _append_event(conn: sqlite3.Connection, room_nid: int, event: NewEvent) -> int:
    return _insert_event(conn, room_nid, event)


@dataclass(frozen=True)
class TxnKey:
    """What makes a send idempotent: the device, and the request path's room, type and txnId."""

    user_id: str
    device_id: str
    event_type: str
    txn_id: str


@dataclass(frozen=True)
class Appended:
    stream_ordering: int
    event_id: str
    new: bool  # False: the transaction had already made this event; nothing was written


def _event_for_txn(conn: sqlite3.Connection, room_nid: int, txn: TxnKey) -> Appended | None:
    row = conn.execute(
        "SELECT e.stream_ordering, e.event_id FROM event_txns t "
        "JOIN events e ON e.stream_ordering = t.stream_ordering "
        "WHERE t.user_id = ? AND t.device_id = ? AND t.room_nid = ? AND t.event_type = ? "
        "AND t.txn_id = ?",
        (txn.user_id, txn.device_id, room_nid, txn.event_type, txn.txn_id),
    ).fetchone()
    return None if row is None else Appended(row[0], row[1], False)


def _append_sent_event(
    conn: sqlite3.Connection, room_nid: int, event: NewEvent, txn: TxnKey | None
) -> Appended:
    if txn is not None:
        # Checked in the same transaction as the write: two sends of one transaction can never
        # both write, even across a restart.
        existing = _event_for_txn(conn, room_nid, txn)
        if existing is not None:
            return existing
    stream = _insert_event(conn, room_nid, event)
    if txn is not None:
        conn.execute(
            "INSERT INTO event_txns (user_id, device_id, room_nid, event_type, txn_id, stream_ordering) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (txn.user_id, txn.device_id, room_nid, txn.event_type, txn.txn_id, stream),
        )
    return Appended(stream, event.event_id, True)


def _stored_room(conn: sqlite3.Connection, room_id: str) -> StoredRoom | None:
    row = conn.execute(
        "SELECT room_nid, room_version FROM rooms WHERE room_id = ?", (room_id,)
    ).fetchone()
    if row is None:
        return None
    room_nid, room_version = row
    state = {
        (etype, skey): (event_id, json)
        for etype, skey, event_id, json in conn.execute(
            "SELECT s.type, s.state_key, e.event_id, e.json FROM current_state s "
            "JOIN events e ON e.stream_ordering = s.stream_ordering WHERE s.room_nid = ?",
            (room_nid,),
        )
    }
    last_event_id, last_depth = conn.execute(
        "SELECT event_id, depth FROM events WHERE room_nid = ? ORDER BY stream_ordering DESC LIMIT 1",
        (room_nid,),
    ).fetchone()
    return StoredRoom(room_nid, room_id, room_version, state, last_event_id, last_depth)


def _room_id_for_alias(conn: sqlite3.Connection, alias: str) -> str | None:
    row = conn.execute(
        "SELECT r.room_id FROM room_aliases a JOIN rooms r ON r.room_nid = a.room_nid WHERE a.alias = ?",
        (alias,),
    ).fetchone()
    return None if row is None else row[0]


def read_joined_rooms_by_user(conn: sqlite3.Connection, visit) -> int:
    """``visit(chunk)`` with lists of (user_id, set of joined room IDs): every joined membership
    (the joined-rooms index's rows: at start, and in a snapshot's restore step)."""
    # One row per user, their joined rooms' numeric handles concatenated by SQLite while it
    # walks the covering index memberships_joined: a million memberships cost a hundred
    # thousand rows, and each room ID is one shared string from the rooms table.
    room_ids = dict(conn.execute("SELECT room_nid, room_id FROM rooms"))
    room_id_of = room_ids.__getitem__
    cursor = conn.execute(
        "SELECT user_id, group_concat(room_nid) FROM memberships "
        "WHERE membership = 'join' GROUP BY user_id"
    )
    count = 0
    while rows := cursor.fetchmany(5_000):
        chunk = [(user_id, set(map(room_id_of, map(int, nids.split(","))))) for user_id, nids in rows]
        count += sum(len(rooms) for _, rooms in chunk)
        visit(chunk)
    return count


class RoomStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create_room(
        self,
        room_id: str,
        room_version: str,
        creator: str,
        created_ts: int,
        events: list[NewEvent],
        alias: str | None,
        on_settled=None,
    ) -> "asyncio.Future[tuple[int, int]]":
        """Persist a new room with its initial events; the future gives its numeric handle and
        the stream position of its last event.

        It fails with AliasTaken when the alias belongs to another room, or RoomIdTaken (nothing
        is written then). ``on_settled(committed, (room_nid, position))`` as for
        :meth:`append_event`.
        """
        return self._db.submit(
            _create_room, room_id, room_version, creator, created_ts, events, alias,
            on_settled=on_settled,
        )

    def append_event(self, room_nid: int, event: NewEvent, on_settled=None) -> "asyncio.Future[int]":
        """Persist one event and its state changes; the future gives its stream ordering.

        ``on_settled(committed, stream_ordering)`` runs as soon as the write is committed or has
        failed (see ``Database.submit``)."""
        return self._db.submit(_append_event, room_nid, event, on_settled=on_settled)

    def append_sent_event(
        self, room_nid: int, event: NewEvent, txn: TxnKey | None, on_settled=None
    ) -> "asyncio.Future[Appended]":
        """Persist a client's event, with its transaction when it has one. When that transaction
        already made an event, nothing is written and the future gives the earlier event."""
        return self._db.submit(_append_sent_event, room_nid, event, txn, on_settled=on_settled)

    async def event_for_txn(self, room_nid: int, txn: TxnKey) -> Appended | None:
        return await self._db.read(_event_for_txn, room_nid, txn)

    async def stored_room(self, room_id: str) -> StoredRoom | None:
        return await self._db.read(_stored_room, room_id)

    async def room_id_for_alias(self, alias: str) -> str | None:
        return await self._db.read(_room_id_for_alias, alias)

    async def joined_rooms_by_user(self, visit) -> int:
        """Call ``visit(chunk)`` with lists of (user_id, set of joined room IDs) covering every
        joined membership, on the database thread (start-up only, before anything else uses
        what ``visit`` fills). Returns the number of memberships."""
        return await self._db.read(read_joined_rooms_by_user, visit)
