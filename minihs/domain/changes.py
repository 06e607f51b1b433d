"""Giving changes kept in memory (presence, typing) a position in the change stream.

Everything a sync reports is ordered by one stream (``minihs.domain.stream``), so that a sync
token ``s<position>_<epoch>`` covers room events, account data, receipts, presence and typing
alike. Presence and typing are not stored, but each of their changes still takes a position in
a tiny database unit (``minihs.store.stream.position_for_room`` / ``position_for_room_mates``)
that also reads whom the change concerns. Once committed, ``on_settled`` (on the event loop, in
commit order) hands the position to ``apply`` (which records it in memory) and wakes the syncs
of those users: a sync that reads up to that position therefore always finds the change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from minihs.domain.stream import Stream
from minihs.store.database import Database
from minihs.store.stream import position_for_room, position_for_room_mates

logger = logging.getLogger(__name__)

Apply = Callable[[int], None]


def _retrieve(future: asyncio.Future) -> None:
    # A change nobody awaits (typing running out on a timer): its failure is only logged.
    if not future.cancelled() and future.exception() is not None:
        logger.error("A change could not take a stream position", exc_info=future.exception())


class MemoryChanges:
    def __init__(self, db: Database, stream: Stream) -> None:
        self._db = db
        self._stream = stream

    def _submit(self, unit: Callable[..., Any], key: str, apply: Apply) -> "asyncio.Future":
        def settled(committed: bool, result: Any) -> None:
            if not committed:
                return
            position, users = result
            apply(position)
            self._stream.notify(users, position)

        return self._db.submit(unit, key, on_settled=settled)

    async def in_room(self, room_id: str, apply: Apply) -> None:
        """A change shown to the room's joined members (typing)."""
        await self._submit(position_for_room, room_id, apply)

    def in_room_unawaited(self, room_id: str, apply: Apply) -> None:
        """The same, from a timer callback that cannot wait for it."""
        self._submit(position_for_room, room_id, apply).add_done_callback(_retrieve)

    async def of_user(self, user_id: str, apply: Apply) -> None:
        """A change shown to the user and everyone sharing a joined room with them (presence)."""
        await self._submit(position_for_room_mates, user_id, apply)
