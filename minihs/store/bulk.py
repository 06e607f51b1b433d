"""Bulk loading: the rows a server writes for users, devices and whole rooms, in large batches.

For the seeder (:mod:`minihs.testing.seeding`), which builds real rooms with the domain's own
rules and hands them here as rows: ``executemany`` on a plain connection, one transaction per
batch, no thread round trips. The file is locked as a server locks it, so a bulk load never
writes under a running server, nor a server starts on a half-loaded file.
"""

from __future__ import annotations

import sqlite3
from typing import Callable, Sequence

from minihs.store.database import connect
from minihs.store.exclusive import lock_database
from minihs.store.rooms import MEMBER, NewEvent

# (room_id, creator, created_ts, the room's events in order)
RoomRows = tuple[str, str, int, Sequence[NewEvent]]


class BulkWriter:
    """An exclusive connection to a database file for bulk loads. Close it, or use ``with``."""

    def __init__(self, path: str) -> None:
        self._lock = lock_database(path)
        try:
            # synchronous=NORMAL: one fsync per batch is plenty for a load that can be rerun.
            self._conn = connect(path, "normal")
        except BaseException:
            self._lock.release()
            raise

    def __enter__(self) -> "BulkWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()
        self._lock.release()

    def latest_room_ts(self) -> int | None:
        (latest,) = self._conn.execute("SELECT MAX(created_ts) FROM rooms").fetchone()
        return latest

    def _transaction(self, fn: Callable[[sqlite3.Connection], None]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def insert_users(self, user_ids: Sequence[str], password_hash: str | None, created_ts: int) -> None:
        """One transaction; an existing user ID fails it whole. Each user gets the profile
        registration gives: their localpart as display name."""
        rows = [(user_id, password_hash, created_ts) for user_id in user_ids]
        profiles = [(user_id, user_id[1:].partition(":")[0]) for user_id in user_ids]

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO users (user_id, password_hash, is_admin, created_ts) VALUES (?, ?, 0, ?)",
                rows,
            )
            conn.executemany("INSERT INTO profiles (user_id, displayname) VALUES (?, ?)", profiles)

        self._transaction(write)

    def insert_device(self, user_id: str, device_id: str, token_digest: bytes) -> None:
        """A new device of an existing user, with one live access token (its digest)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO devices (user_id, device_id, display_name) VALUES (?, ?, NULL)",
                (user_id, device_id),
            )
            conn.execute(
                "INSERT INTO access_tokens (token_digest, user_id, device_id) VALUES (?, ?, ?)",
                (token_digest, user_id, device_id),
            )

        self._transaction(write)

    def insert_rooms(self, room_version: str, rooms: Sequence[RoomRows]) -> None:
        """Whole rooms in one transaction: the room, its events, the current state (the last
        event of each state key, as the server's upsert leaves it) and the membership rows."""
        self._transaction(lambda conn: _insert_rooms(conn, room_version, rooms))


def _insert_rooms(conn: sqlite3.Connection, room_version: str, rooms: Sequence[RoomRows]) -> None:
    (room_nid,) = conn.execute("SELECT COALESCE(MAX(room_nid), 0) FROM rooms").fetchone()
    # Bulk-loaded events take their positions from the change stream's counter, like any event.
    (stream,) = conn.execute("SELECT position FROM stream_counter WHERE id = 1").fetchone()
    room_rows = []
    event_rows = []
    state_rows = []
    member_rows = []
    for room_id, creator, created_ts, events in rooms:
        room_nid += 1
        room_rows.append((room_nid, room_id, room_version, creator, created_ts))
        current: dict[tuple[str, str], tuple[int, NewEvent]] = {}
        for event in events:
            stream += 1
            event_rows.append(
                (stream, event.event_id, room_nid, event.type, event.state_key, event.depth, event.json)
            )
            if event.state_key is not None:
                current[(event.type, event.state_key)] = (stream, event)
        for (event_type, state_key), (ordering, event) in current.items():
            state_rows.append((room_nid, event_type, state_key, ordering))
            if event_type == MEMBER and event.membership is not None:
                member_rows.append((room_nid, state_key, event.membership, ordering))
    conn.executemany(
        "INSERT INTO rooms (room_nid, room_id, room_version, creator, created_ts) VALUES (?, ?, ?, ?, ?)",
        room_rows,
    )
    conn.executemany(
        "INSERT INTO events (stream_ordering, event_id, room_nid, type, state_key, depth, json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        event_rows,
    )
    conn.executemany(
        "INSERT INTO current_state (room_nid, type, state_key, stream_ordering) VALUES (?, ?, ?, ?)",
        state_rows,
    )
    conn.executemany(
        "INSERT INTO memberships (room_nid, user_id, membership, stream_ordering) VALUES (?, ?, ?, ?)",
        member_rows,
    )
    conn.execute("UPDATE stream_counter SET position = ? WHERE id = 1", (stream,))
