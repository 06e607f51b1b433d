"""The current state of recently used rooms, at most ``size`` of them, least recently used out.

A room that falls out is read back from the database on its next use. A pinned room never falls
out: ``Rooms`` pins every room whose lock is in use, because its lock holder has the cached copy
in hand and advances that one, so a copy loaded meanwhile would fall behind. The cache can hold
more than ``size`` rooms only while that many are pinned.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from minihs.domain.room_state import RoomState


class RoomCache:
    def __init__(self, size: int, is_pinned: Callable[[str], bool]) -> None:
        if size < 1:
            raise ValueError("a room cache holds at least one room")
        self._size = size
        self._is_pinned = is_pinned
        self._rooms: OrderedDict[str, RoomState] = OrderedDict()

    def get(self, room_id: str) -> RoomState | None:
        """The cached room, now the most recently used; None when not cached."""
        room = self._rooms.get(room_id)
        if room is not None:
            self._rooms.move_to_end(room_id)
        return room

    def put(self, room: RoomState) -> None:
        """Cache ``room`` as the most recently used; drop the least recently used unpinned
        rooms beyond the size."""
        self._rooms[room.room_id] = room
        self._rooms.move_to_end(room.room_id)
        excess = len(self._rooms) - self._size
        if excess <= 0:
            return
        victims = []
        for room_id in self._rooms:
            if not self._is_pinned(room_id):
                victims.append(room_id)
                if len(victims) == excess:
                    break
        for room_id in victims:
            del self._rooms[room_id]

    def discard(self, room_id: str) -> None:
        """Forget one room (its copy in memory went wrong): it is read again on next use."""
        self._rooms.pop(room_id, None)

    def clear(self) -> None:
        self._rooms.clear()

    def __len__(self) -> int:
        return len(self._rooms)

    def __contains__(self, room_id: object) -> bool:
        return room_id in self._rooms
