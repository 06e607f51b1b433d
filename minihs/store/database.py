"""The SQLite connection and its transaction helper.

One aiosqlite connection serves the whole process. Each unit of work is a plain function of a
``sqlite3.Connection`` that runs, whole, on aiosqlite's worker thread in a single round trip:
``BEGIN IMMEDIATE``, the statements, ``COMMIT``, or ``ROLLBACK`` on any exception. Because the
unit runs start to finish on that one thread, coroutines can never interleave inside a
transaction, and a cancelled caller cannot leave one half-open: the thread finishes the unit
(commit or rollback) whatever happens to the awaiting coroutine.
"""

from __future__ import annotations

import logging
import sqlite3
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
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
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
        conn = await aiosqlite.connect(path, isolation_level=None, check_same_thread=False)
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
