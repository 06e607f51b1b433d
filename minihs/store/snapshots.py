"""Snapshots of the whole database: an in-memory copy taken in one step, restored in one step.

Both are steps of the database thread's queue, like the reset (:mod:`minihs.store.database`):
every write queued before one is committed first, it runs alone, and every write queued after
it sees its result. A copy is made with SQLite's backup API into a private in-memory database,
so it costs memory the size of the database and nothing on disk; a restore copies it back over
the live database (``:memory:`` or a file, whose WAL mode SQLite keeps) with the same API.

A restore's step goes on, in one transaction, to give the database a new stream epoch and to
read what the domain rebuilds its memory from (the stream's position, the joined-rooms rows):
those reads see exactly the restored rows, before any later write.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Callable

from minihs.store.database import Database, Settled
from minihs.store.rooms import read_joined_rooms_by_user
from minihs.store.stream import current_position, new_epoch

JoinedChunk = list[tuple[str, set[str]]]


class DatabaseCopy:
    """A whole database held in memory. Opaque outside the store: only a restore reads it."""

    __slots__ = ("_conn", "events", "size_bytes")

    def __init__(self, conn: sqlite3.Connection, events: int, size_bytes: int) -> None:
        # Made on the database thread and read only there, by a restore; dropped (and so
        # closed) from whichever thread lets go of it last, hence check_same_thread=False.
        self._conn = conn
        self.events = events
        self.size_bytes = size_bytes


@dataclass(frozen=True)
class RestoredDatabase:
    """What a restore's step read back: where the stream stands, under which epoch, and who
    is joined where (chunks for ``JoinedRoomsIndex.add_users``)."""

    position: int
    epoch: str
    joined: list[JoinedChunk]


def _copy(conn: sqlite3.Connection) -> DatabaseCopy:
    copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        conn.backup(copy)
        (events,) = copy.execute("SELECT COUNT(*) FROM events").fetchone()
        (pages,) = copy.execute("PRAGMA page_count").fetchone()
        (page_size,) = copy.execute("PRAGMA page_size").fetchone()
    except BaseException:
        copy.close()
        raise
    return DatabaseCopy(copy, events, pages * page_size)


def _after_restore(write_epoch: Callable[[sqlite3.Connection], None], epoch: str):
    def then(conn: sqlite3.Connection) -> RestoredDatabase:
        write_epoch(conn)
        joined: list[JoinedChunk] = []
        read_joined_rooms_by_user(conn, joined.append)
        return RestoredDatabase(current_position(conn), epoch, joined)

    return then


class SnapshotStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def copy(self) -> "asyncio.Future[DatabaseCopy]":
        """A copy of the database as it stands once everything queued before is committed."""
        return self._db.run_alone(_copy)

    def restore(
        self, copy: DatabaseCopy, epoch: str | None, on_settled: Settled
    ) -> "asyncio.Future[RestoredDatabase]":
        """Make the database ``copy`` again, with stream epoch ``epoch`` (None: a random one).

        ``on_settled(restored, RestoredDatabase | None)`` runs on the event loop right after
        the step, before anything queued later settles: the place to rebuild memory. When
        ``restored`` is false the future carries the error (as with a reset, only a failing
        backup is expected there, and it leaves the database unchanged).
        """
        epoch, write_epoch = new_epoch(epoch)
        return self._db.replace_with(
            copy._conn, then=_after_restore(write_epoch, epoch), on_settled=on_settled
        )
