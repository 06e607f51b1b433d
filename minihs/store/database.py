"""The SQLite connection and its transaction helper, with group commit.

One aiosqlite connection serves the whole process. Each unit of work is a plain function of a
``sqlite3.Connection`` that runs, whole, on aiosqlite's worker thread. Units submitted while the
thread is busy are committed together: one thread round trip runs ``BEGIN IMMEDIATE``, each unit
inside its own ``SAVEPOINT`` (a unit that raises is rolled back alone), then one ``COMMIT``.
Every caller still gets its own result or its own exception, and hears back only after the
COMMIT that made its writes durable. Because units run start to finish on that one thread,
coroutines never interleave inside a unit, and a cancelled caller cannot leave one half-done:
the thread finishes it (kept or rolled back) whatever happens to the awaiting coroutine.
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
Settled = Callable[[bool, Any], None]

BUSY_TIMEOUT_MS = 5000


class TransactionLost(sqlite3.OperationalError):
    """A unit's writes were undone because another unit of the same group ended the
    transaction (SQLite rolls back by itself on some errors)."""


def _run_group(conn: sqlite3.Connection, units: list[tuple[Unit, tuple[Any, ...]]]) -> list:
    """Run units in one transaction, each in a savepoint; return ``(ok, value)`` per unit."""
    outcomes: list[tuple[bool, Any]] = []
    kept: list[int] = []  # units whose writes are in the open transaction
    for fn, args in units:
        try:
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            conn.execute("SAVEPOINT unit")
            value = fn(conn, *args)
            conn.execute("RELEASE unit")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
            else:
                # The whole transaction is gone, and the units before this one with it.
                lost = TransactionLost(f"rolled back with a failing unit of the group: {exc!r}")
                for index in kept:
                    outcomes[index] = (False, lost)
                kept = []
            outcomes.append((False, exc))
            continue
        kept.append(len(outcomes))
        outcomes.append((True, value))
    if conn.in_transaction:
        try:
            # A COMMIT can fail too (a deferred constraint, a full disk): then nothing of the
            # group was kept, and no transaction may stay open for the next group.
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for index in kept:
                outcomes[index] = (False, exc)
    return outcomes


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
        self._queue: list[tuple[Unit, tuple[Any, ...], asyncio.Future, Settled | None]] = []
        self._committer: asyncio.Task | None = None

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
        """Run ``fn(conn, *args)`` atomically; return once it is committed."""
        return await self.submit(fn, *args)

    def submit(
        self, fn: Callable[..., T], *args: Any, on_settled: Settled | None = None
    ) -> "asyncio.Future[T]":
        """Queue ``fn(conn, *args)`` for the next group commit; the future gives its result.

        ``on_settled(committed, result)`` runs on the event loop as soon as the unit is committed
        or has failed, before the future resolves and whether or not its caller is still
        waiting (a cancelled request): what must follow a commit in memory belongs there.
        """
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append((fn, args, future, on_settled))
        if self._committer is None:
            self._committer = asyncio.ensure_future(self._commit_queued())
        return future

    async def _commit_queued(self) -> None:
        # Whatever queues up while one group runs on the thread becomes the next group.
        try:
            while self._queue:
                group, self._queue = self._queue, []
                units = [(fn, args) for fn, args, _, _ in group]
                try:
                    # aiosqlite's _execute is the only way to run a whole group in one round
                    # trip; its public API costs one round trip per statement.
                    outcomes = await self._conn._execute(_run_group, self._conn._conn, units)
                except BaseException as exc:  # the thread could not run the group at all
                    outcomes = [(False, exc)] * len(group)
                for (_, _, future, on_settled), (ok, value) in zip(group, outcomes):
                    if on_settled is not None:
                        try:
                            on_settled(ok, value if ok else None)
                        except Exception:
                            logger.exception("Error in a commit callback")
                    if future.done():
                        continue  # its caller was cancelled; the unit ran all the same
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._committer = None

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run read-only ``fn(conn, *args)`` on the database thread (no explicit transaction)."""
        return await self._conn._execute(fn, self._conn._conn, *args)

    async def backup_to(self, target: "Database") -> None:
        await self._conn.backup(target._conn)

    async def close(self) -> None:
        if self._committer is not None:
            await self._committer  # let queued units finish before the connection goes
        await self._conn.close()
        # aiosqlite's worker thread exits just after it answers the close; wait for it, so a
        # closed database leaves no thread behind (aiosqlite < 0.22: the connection is the thread).
        worker = getattr(self._conn, "_thread", self._conn)
        if isinstance(worker, threading.Thread) and worker.ident is not None:
            worker.join()
