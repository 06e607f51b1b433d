"""Typing notifications: who is typing in each room, in memory, each with an expiry.

Spec: Client-Server API, "Typing Notifications". Delivered in sync as one ``m.typing``
ephemeral event per room listing everyone typing there. Each change of a room's list (a user
starts, stops, or their timeout runs out) takes a position in the change stream
(``minihs.domain.changes``), so sync can ask "did it change between these positions"; a timeout
running out is a change too and wakes the room's waiting syncs.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from minihs.domain.changes import MemoryChanges
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.spec.errors import forbidden, invalid_param

# Synapse's default when the client gives no timeout, and its cap on one it gives.
DEFAULT_TIMEOUT_MS = 30_000
MAX_TIMEOUT_MS = 120_000


class Typing:
    def __init__(self, index: JoinedRoomsIndex, changes: MemoryChanges) -> None:
        self._index = index
        self._changes = changes
        # room_id -> user_id -> the timer that ends their typing
        self._typing: dict[str, dict[str, asyncio.TimerHandle]] = {}
        # room_id -> the stream position of the last committed change of its list
        self._room_position: dict[str, int] = {}

    def clear(self) -> None:
        for users in self._typing.values():
            for timer in users.values():
                timer.cancel()
        self._typing.clear()
        self._room_position.clear()

    def _record(self, room_id: str) -> Callable[[int], None]:
        def record(position: int) -> None:
            if self._room_position.get(room_id, 0) < position:
                self._room_position[room_id] = position

        return record

    async def set_typing(
        self, requester: str, room_id: str, user_id: str, typing: bool, timeout_ms: int | None
    ) -> None:
        """PUT /rooms/{roomId}/typing/{userId}"""
        if user_id != requester:
            raise forbidden("Cannot set another user's typing state")
        if room_id not in self._index.joined_rooms_of(user_id):
            raise forbidden(f"User {user_id} not in room {room_id}")
        if timeout_ms is not None and timeout_ms < 0:
            raise invalid_param("'timeout' must not be negative")
        users = self._typing.setdefault(room_id, {})
        previous = users.pop(user_id, None)
        if previous is not None:
            previous.cancel()
        if typing:
            timeout = min(DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms, MAX_TIMEOUT_MS)
            # The event loop's real time, not the server clock: a test that freezes the clock
            # must not leave a user typing for ever (a client's own timer runs in real time).
            users[user_id] = asyncio.get_running_loop().call_later(
                timeout / 1000, self._expire, room_id, user_id
            )
        elif not users:
            del self._typing[room_id]
        if typing or previous is not None:
            await self._changes.in_room(room_id, self._record(room_id))

    def _expire(self, room_id: str, user_id: str) -> None:
        users = self._typing.get(room_id)
        if users is None or users.pop(user_id, None) is None:
            return
        if not users:
            del self._typing[room_id]
        self._changes.in_room_unawaited(room_id, self._record(room_id))

    def typing_in(self, room_id: str) -> list[str]:
        return sorted(self._typing.get(room_id, ()))

    def typing_event(self, room_id: str, since: int | None, upto: int) -> dict[str, Any] | None:
        """The room's ``m.typing`` ephemeral event if its list changed at a position in
        (``since``, ``upto``] (``since`` None: an initial sync, which gets it whenever someone
        is typing); else None. A change past ``upto`` waits for the next sync, which it wakes."""
        if since is None:
            if room_id not in self._typing:
                return None
        elif not since < self._room_position.get(room_id, 0) <= upto:
            return None
        return {"type": "m.typing", "content": {"user_ids": self.typing_in(room_id)}}
