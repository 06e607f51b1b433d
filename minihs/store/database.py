"""The SQLite connection, its one thread, and the transaction helper, with group commit.

One ``sqlite3`` connection serves the whole process, and one thread of our own (the database
thread) is the only one that touches it. Each unit of work is a plain function of that
``sqlite3.Connection`` that runs, whole, on the database thread. Units submitted while the
thread is busy are committed together: one thread round trip runs ``BEGIN IMMEDIATE``, each unit
inside its own ``SAVEPOINT`` (a unit that raises is rolled back alone), then one ``COMMIT``.
Every caller still gets its own result or its own exception, and hears back only after the
COMMIT that made its writes durable. Because units run start to finish on that one thread,
coroutines never interleave inside a unit, and a cancelled caller cannot leave one half-done:
the thread finishes it (kept or rolled back) whatever happens to the awaiting coroutine.

:meth:`Database.replace_with_empty` (the reset) is a step of the same queue: everything queued
before it is committed first, it runs alone on the thread (outside any transaction: SQLite's
backup needs that), and everything queued after it runs on the empty database. A snapshot's
copy and its restore (:mod:`minihs.store.snapshots`) are steps of the same kind
(:meth:`Database.run_alone`, :meth:`Database.replace_with`).

Why our own thread and not aiosqlite (which minihs used until the reset needed a step on the
database thread): aiosqlite's public API costs one thread round trip per statement, and running
a whole group in one round trip needed its private ``_execute`` and ``_conn``. A thread fed by a
``queue.SimpleQueue`` is about thirty lines of public stdlib API, and its round trip is cheaper
than aiosqlite's (``concurrent.futures.ThreadPoolExecutor`` is not: it measured no faster than
aiosqlite here, and its non-daemon worker is shut down by a private interpreter-exit hook).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from typing import Any, Callable, TypeVar

from minihs.store.exclusive import DatabaseLock, is_file_database, lock_database
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


def connect(path: str, synchronous: str) -> sqlite3.Connection:
    """A configured, migrated connection to ``path`` (the server's, and the bulk loader's)."""
    # isolation_level=None: sqlite3 issues no implicit BEGIN; transactions are ours alone.
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.OperationalError as exc:
        raise sqlite3.OperationalError(f"cannot open the database {path}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            # WAL: readers never block the writer, and a commit is one append to the log.
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _settle(future: asyncio.Future, ok: bool, value: Any) -> None:
    if future.done():
        return  # its caller was cancelled; the call ran all the same
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _DatabaseThread:
    """Runs calls one at a time, in the order they were made, on one thread.

    A daemon thread: a database nobody closed must not keep the interpreter from exiting (a
    forgotten connection hung pytest with aiosqlite 0.22). Killed at exit mid-write, it leaves
    the file as a crash would, which WAL recovers from; every orderly path closes it first.
    """

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="minihs-database", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., T], *args: Any) -> "asyncio.Future[T]":
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._calls.put((future, fn, args))
        return future

    def _serve(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            future, fn, args = call
            try:
                outcome = (True, fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                outcome = (False, exc)
            try:
                future.get_loop().call_soon_threadsafe(_settle, future, *outcome)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more

    def stop(self) -> None:
        """Let the calls already made finish, then end the thread."""
        self._calls.put(None)
        self._thread.join()


class _Queued:
    __slots__ = ("fn", "args", "future", "on_settled", "alone")

    def __init__(self, fn, args, future, on_settled, alone=False) -> None:
        self.fn, self.args, self.future, self.on_settled, self.alone = (
            fn, args, future, on_settled, alone
        )


class Database:
    """An open minihs database. Create with :meth:`open`, finish with :meth:`close`.

    A file database is locked for this object's lifetime (:mod:`minihs.store.exclusive`):
    opening it again anywhere before :meth:`close` raises ``DatabaseInUse``.
    """

    def __init__(
        self, thread: _DatabaseThread, conn: sqlite3.Connection, path: str, lock: DatabaseLock
    ) -> None:
        self._thread = thread
        self._conn = conn
        self._lock = lock
        self.path = path
        self._queue: list[_Queued] = []
        self._committer: asyncio.Task | None = None
        # A migrated, empty in-memory database to copy over ours on reset; made (and used, and
        # closed) only on the database thread.
        self._pristine: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: str, synchronous: str = "normal") -> "Database":
        lock = lock_database(path)
        try:
            thread = _DatabaseThread()
            try:
                conn = await thread.call(connect, path, synchronous)
            except BaseException:
                thread.stop()
                raise
        except BaseException:
            lock.release()
            raise
        return cls(thread, conn, path, lock)

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
        return self._enqueue(_Queued(fn, args, None, on_settled))

    def replace_with_empty(
        self, then: Unit | None = None, on_settled: Settled | None = None
    ) -> "asyncio.Future[None]":
        """Queue the reset: the database becomes a freshly migrated, empty one.

        Units queued before it are committed first; it then runs alone on the database thread;
        units queued after it see the empty database. ``then(conn)``, when given, runs in the
        same step right after the copy (in a transaction of its own). ``on_settled`` runs on
        the event loop right after, before any later unit's callback: the place to forget
        in-memory state.
        """
        return self.replace_with(None, then, on_settled)

    def replace_with(
        self,
        source: sqlite3.Connection | bytes | None,
        then: Unit | None = None,
        on_settled: Settled | None = None,
    ) -> asyncio.Future:
        """Queue a step that makes the database a copy of ``source`` (None: an empty one).

        Ordered like :meth:`replace_with_empty`, which is this with no source. ``source`` is a
        connection, read with the backup API on the database thread only (open it with
        ``check_same_thread=False``; a file database in WAL mode needs its page size, which a
        copy made from it has), or, for an in-memory database only, an image from
        ``Connection.serialize``, which is loaded whole. The step's result is what
        ``then(conn)`` returns: the reads that rebuild memory belong there, so they see exactly
        the copied rows.
        """
        return self._enqueue(
            _Queued(self._copy_over, (source, then), None, on_settled, alone=True)
        )

    def run_alone(self, fn: Callable[..., T], *args: Any) -> "asyncio.Future[T]":
        """Queue ``fn(conn, *args)`` to run alone on the database thread, outside any
        transaction, after every unit queued before it has been committed and before any queued
        after it: a step that must see the whole database at one point of the write order (a
        snapshot's copy)."""
        return self._enqueue(_Queued(fn, args, None, None, alone=True))

    def _enqueue(self, entry: _Queued) -> asyncio.Future:
        entry.future = asyncio.get_running_loop().create_future()
        self._queue.append(entry)
        if self._committer is None:
            self._committer = asyncio.ensure_future(self._commit_queued())
        return entry.future

    def _copy_over(
        self,
        conn: sqlite3.Connection,
        source: sqlite3.Connection | bytes | None,
        then: Unit | None,
    ) -> Any:
        # On the database thread. The backup API copies every page of the source (the pristine
        # database: about a page for an empty schema) over ours in one step; SQLite keeps our
        # WAL mode, and refuses while a transaction is open, which is why this runs alone.
        if source is None:
            if self._pristine is None:
                pristine = sqlite3.connect(":memory:", isolation_level=None)
                migrate(pristine)
                self._pristine = pristine
            source = self._pristine
        if isinstance(source, bytes):
            # An image of a whole database: loading it is one copy of its bytes, where the
            # backup API walks it page by page (8 MiB: about 1 ms against 20 ms here). It would
            # turn a file database into an in-memory one, so only an in-memory one takes it.
            if is_file_database(self.path):
                raise ValueError("a database image can replace only an in-memory database")
            conn.deserialize(source)
        else:
            source.backup(conn)
        if then is None:
            return None
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = then(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _next_group(self) -> list[_Queued]:
        """The units for one round trip: a run of ordinary units, or one unit that runs alone."""
        if self._queue[0].alone:
            group, self._queue = self._queue[:1], self._queue[1:]
            return group
        end = next((i for i, entry in enumerate(self._queue) if entry.alone), len(self._queue))
        group, self._queue = self._queue[:end], self._queue[end:]
        return group

    async def _commit_queued(self) -> None:
        # Whatever queues up while one group runs on the thread becomes the next group.
        try:
            while self._queue:
                group = self._next_group()
                try:
                    if group[0].alone:
                        entry = group[0]
                        outcomes = await self._thread.call(_run_alone, entry.fn, self._conn, entry.args)
                    else:
                        units = [(entry.fn, entry.args) for entry in group]
                        outcomes = await self._thread.call(_run_group, self._conn, units)
                except BaseException as exc:  # the thread could not run the group at all
                    outcomes = [(False, exc)] * len(group)
                for entry, (ok, value) in zip(group, outcomes):
                    if entry.on_settled is not None:
                        try:
                            entry.on_settled(ok, value if ok else None)
                        except Exception:
                            logger.exception("Error in a commit callback")
                    _settle(entry.future, ok, value)
        finally:
            self._committer = None

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run read-only ``fn(conn, *args)`` on the database thread (no explicit transaction)."""
        return await self._thread.call(fn, self._conn, *args)

    async def close(self) -> None:
        """Commit what is queued, close the connection, end the thread, release the lock."""
        if self._committer is not None:
            await self._committer  # let queued units finish before the connection goes
        try:
            await self._thread.call(self._close_connections)
        finally:
            self._thread.stop()  # the thread ends right after that call: no waiting to speak of
            self._lock.release()

    def _close_connections(self) -> None:
        if self._pristine is not None:
            self._pristine.close()
        self._conn.close()


def _run_alone(fn: Unit, conn: sqlite3.Connection, args: tuple[Any, ...]) -> list:
    """Run one unit that must not share a transaction; ``[(ok, value)]`` like a group."""
    try:
        return [(True, fn(conn, *args))]
    except BaseException as exc:  # noqa: BLE001 - handed to its caller
        return [(False, exc)]
