"""Locks by key (one per room) that exist only while someone holds or waits for them.

A dict of ``asyncio.Lock`` filled on first use keeps one lock for every key ever seen: a server
that touches a hundred thousand rooms keeps a hundred thousand locks. Here each key's entry
counts its holder and waiters and goes away when the last of them lets go, so the table's size
is the number of keys in use right now.

The lock is released through the :class:`Held` handle that :meth:`KeyedLock.acquire` returns,
not by key, because the release may come from a callback after the table was cleared (a reset
while a write was in flight): the handle still releases the lock its holder acquired.
"""

from __future__ import annotations

import asyncio
from typing import Hashable


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # the holder plus every waiter


class Held:
    """One holder's claim on a key's lock. Release it exactly once."""

    __slots__ = ("_owner", "_key", "_entry")

    def __init__(self, owner: "KeyedLock", key: Hashable, entry: _Entry) -> None:
        self._owner = owner
        self._key = key
        self._entry = entry

    def release(self) -> None:
        self._entry.lock.release()
        self._owner._let_go(self._key, self._entry)


class KeyedLock:
    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}

    async def acquire(self, key: Hashable) -> Held:
        """Wait for ``key``'s lock and hold it. Cancelled while waiting: nothing is held."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            await entry.lock.acquire()
        except BaseException:
            self._let_go(key, entry)
            raise
        return Held(self, key, entry)

    def _let_go(self, key: Hashable, entry: _Entry) -> None:
        entry.users -= 1
        # After a clear() the key may be gone or belong to a new entry: leave that one alone.
        if entry.users == 0 and self._entries.get(key) is entry:
            del self._entries[key]

    def in_use(self, key: Hashable) -> bool:
        """Whether someone holds or waits for ``key``'s lock."""
        return key in self._entries

    def __len__(self) -> int:
        """How many keys are in use: the size of the table."""
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (a reset). Holders still release theirs through their handles;
        a waiter on a forgotten entry still gets its lock in turn."""
        self._entries.clear()
