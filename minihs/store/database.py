"""The SQLite connection and its transaction helper.

One aiosqlite connection serves the whole process. Each unit of work is a plain function of a
``sqlite3.Connection`` that runs, whole, on aiosqlite's worker thread in a single round trip:
``BEGIN IMMEDIATE``, the statements, ``COMMIT``, or ``ROLLBACK`` on any exception. Because the
unit runs start to finish on that one thread, coroutines can never interleave inside a
transaction, and a cancelled caller cannot leave one half-open: the thread finishes the unit
(commit or rollback) whatever happens to the awaiting coroutine.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from typing import Any, Callable, TypeVar

import aiosqlite

from minihs.store.schema import migrate

logger = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[..., T]

BUSY_TIMEOUT_MS = 5000


def _in_transaction(conn: sqlite3.Connection, fn: Unit, args: tuple[Any, ...]) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
        # Inside the try: a COMMIT can fail too (a deferred constraint, a full disk), and must
        # not leave the transaction open for the next unit to trip over.
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may already have rolled back by itself; ROLLBACK then would raise and hide
        # the original error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _configure(conn: sqlite3.Connection, path: str, synchronous: str) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if path != ":memory:":
        # WAL: readers never block the writer, and a commit is one append to the log.
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")


class Database:
    """An open minihs database. Create with :meth:`open`, finish with :meth:`close`."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    async def open(cls, path: str, synchronous: str = "normal") -> "Database":
        # isolation_level=None: sqlite3 issues no implicit BEGIN; transactions are ours alone.
        connecting = aiosqlite.connect(path, isolation_level=None, check_same_thread=False)
        try:
            conn = await connecting
        except BaseException:
            # A failed connect stops aiosqlite's worker thread without waiting for it; the
            # thread then reports to the event loop, which must still be running.
            worker = getattr(connecting, "_thread", None)
            if isinstance(worker, threading.Thread) and worker.ident is not None:
                await asyncio.to_thread(worker.join)
            raise
        try:
            await conn._execute(_configure, conn._conn, path, synchronous)
            await conn._execute(migrate, conn._conn)
        except BaseException:
            await conn.close()
            raise
        return cls(conn, path)

    async def transaction(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` as one atomic transaction on the database thread."""
        # aiosqlite's _execute is the only way to run a whole unit in one round trip; the
        # public API costs one round trip per statement (see GUIDE: ~3.5x slower here).
        return await self._conn._execute(_in_transaction, self._conn._conn, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run read-only ``fn(conn, *args)`` on the database thread (no explicit transaction)."""
        return await self._conn._execute(fn, self._conn._conn, *args)

    async def backup_to(self, target: "Database") -> None:
        await self._conn.backup(target._conn)

    async def close(self) -> None:
        await self._conn.close()
        # aiosqlite's worker thread exits just after it answers the close; wait for it, so a
        # closed database leaves no thread behind (aiosqlite < 0.22: the connection is the thread).
        worker = getattr(self._conn, "_thread", self._conn)
        if isinstance(worker, threading.Thread) and worker.ident is not None:
            worker.join()
