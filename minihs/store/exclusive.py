"""One database, one writer process: an exclusive lock on a sidecar file, ``<database>.lock``.

A minihs server keeps an in-memory index of who is joined where and trusts it over the
database, so two servers on one file would each answer from their own picture, and each would
accept changes the other already made (two joins with the same ``prev_events``: a forked room).
Two servers on one file are therefore refused, and so is a seeder writing under a server.

The lock is ``flock(LOCK_EX)`` on ``<database>.lock`` rather than anything SQLite offers: in WAL
mode SQLite's own locks are shared between readers and taken only for the length of a write,
so they cannot say "this file belongs to one process". The operating system drops a flock when
its file is closed, which includes a process killed with ``kill -9``: a stale lock file is
harmless, and is left in place (removing it would race with the next process opening it).
The holder writes its pid into the file, so a refusal can name the process.

flock is per open file, so a second open in the same process is refused as well.
"""

from __future__ import annotations

import os
import sqlite3

try:
    import fcntl
except ImportError:  # Windows: no flock; the lock is skipped there (minihs targets POSIX)
    fcntl = None  # type: ignore[assignment]

__all__ = ["DatabaseDirectoryMissing", "DatabaseInUse", "DatabaseLock", "lock_database"]


class DatabaseInUse(OSError):
    """Another process (or another open in this one) holds the database's lock."""


class DatabaseDirectoryMissing(sqlite3.OperationalError):
    """The database's directory does not exist: said plainly, with the path, instead of
    SQLite's "unable to open database file"."""


def is_file_database(path: str) -> bool:
    """False for SQLite's private databases (``:memory:`` and ``""``), which no one can share."""
    return path not in ("", ":memory:")


class DatabaseLock:
    """The held lock of one database file; :meth:`release` (or process exit) frees it."""

    def __init__(self, database_path: str, fd: int | None) -> None:
        self.database_path = database_path
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the file drops the flock


def _holder_of(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return "pid unknown"
    return f"pid {text}" if text.isdigit() else "pid unknown"


def lock_database(path: str) -> DatabaseLock:
    """Take the exclusive lock of the database at ``path``, or raise.

    Raises :class:`DatabaseDirectoryMissing` when the directory is missing, and
    :class:`DatabaseInUse` (naming the file and the holder's pid) when another minihs server or
    seeder has the file. A private database (``:memory:``) needs no lock.
    """
    if not is_file_database(path):
        return DatabaseLock(path, None)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        problem = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise DatabaseDirectoryMissing(
            f"cannot open the database {path}: the directory {directory} {problem}"
        )
    if fcntl is None:
        return DatabaseLock(path, None)
    # Not truncated on open: until we hold the lock, the pid in it is the holder's.
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder_of(fd)
        os.close(fd)
        raise DatabaseInUse(
            f"database {path} is in use by another minihs process ({holder}); "
            "one database serves one server"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except BaseException:
        os.close(fd)
        raise
    return DatabaseLock(path, fd)
