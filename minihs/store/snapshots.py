"""Snapshots of the whole database: an in-memory copy taken in one step, restored in one step.

Both are steps of the database thread's queue, like the reset (:mod:`minihs.store.database`):
every write queued before one is committed first, it runs alone, and every write queued after
it sees its result. A copy costs memory the size of the database and nothing on disk:

- an in-memory database (the testing profile's) is copied as its image
  (``Connection.serialize``) and restored by loading that image whole (``deserialize``): about
  a millisecond for 10,000 events, where the backup API, page by page, takes twenty;
- a file database is copied into a private in-memory database with SQLite's backup API, and
  restored over the file with the same API (SQLite keeps its WAL mode): every page is written
  again, so this is the slower path (BENCHMARKS.md, "Issue 16: snapshots"). So is Python 3.10, which has
  no ``serialize``.

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
from minihs.store.exclusive import is_file_database
from minihs.store.rooms import read_joined_rooms_by_user
from minihs.store.stream import current_position, new_epoch

JoinedChunk = list[tuple[str, set[str]]]


class DatabaseCopy:
    """A whole database held in memory. Opaque outside the store: only a restore reads it."""

    __slots__ = ("_source", "events", "size_bytes")

    def __init__(self, source: bytes | sqlite3.Connection, events: int, size_bytes: int) -> None:
        # An image, or an in-memory connection made on the database thread and read only there
        # by a restore; dropped (and so closed) by whichever thread lets go of it last, hence
        # check_same_thread=False.
        self._source = source
        self.events = events
        self.size_bytes = size_bytes


@dataclass(frozen=True)
class RestoredDatabase:
    """What a restore's step read back: where the stream stands, under which epoch, and who
    is joined where (chunks for ``JoinedRoomsIndex.add_users``)."""

    position: int
    epoch: str
    joined: list[JoinedChunk]


def _image(conn: sqlite3.Connection) -> DatabaseCopy:
    (events,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    image = conn.serialize()
    return DatabaseCopy(image, events, len(image))


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
        as_image = not is_file_database(db.path) and hasattr(sqlite3.Connection, "serialize")
        self._copy = _image if as_image else _copy

    def copy(self) -> "asyncio.Future[DatabaseCopy]":
        """A copy of the database as it stands once everything queued before is committed."""
        return self._db.run_alone(self._copy)

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
            copy._source, then=_after_restore(write_epoch, epoch), on_settled=on_settled
        )
