"""The per-user joined-rooms index: the one source the Mutual Rooms API reads.

For each user, the set of room IDs where their current membership is ``join``. It is rebuilt
from the database at start and changed only after a membership change has been committed, so
it never shows a change the database does not hold. Mutual rooms is the intersection of two of
these sets: Python intersects by walking the smaller one, so the cost follows the smaller set.
"""

from __future__ import annotations

_EMPTY: frozenset[str] = frozenset()


class JoinedRoomsIndex:
    def __init__(self) -> None:
        self._rooms_of: dict[str, set[str]] = {}

    def clear(self) -> None:
        self._rooms_of.clear()

    def add(self, user_id: str, room_id: str) -> None:
        rooms = self._rooms_of.get(user_id)
        if rooms is None:
            self._rooms_of[user_id] = rooms = set()
        rooms.add(room_id)

    def add_users(self, chunk: list[tuple[str, set[str]]]) -> None:
        """Take each user's whole set of joined rooms: the start-up path."""
        rooms_of = self._rooms_of
        for user_id, rooms in chunk:
            existing = rooms_of.get(user_id)
            if existing is None:
                if rooms:
                    rooms_of[user_id] = rooms  # the loader's own set, kept as it is
            else:
                existing.update(rooms)

    def discard(self, user_id: str, room_id: str) -> None:
        rooms = self._rooms_of.get(user_id)
        if rooms is not None:
            rooms.discard(room_id)
            if not rooms:
                del self._rooms_of[user_id]

    def record(self, user_id: str, room_id: str, membership: str) -> None:
        """Apply one committed membership change."""
        if membership == "join":
            self.add(user_id, room_id)
        else:
            self.discard(user_id, room_id)

    def joined_rooms_of(self, user_id: str) -> frozenset[str] | set[str]:
        """The user's joined rooms. The set is the index's own: read it, never change it."""
        return self._rooms_of.get(user_id, _EMPTY)

    def mutual_rooms(self, user_a: str, user_b: str) -> set[str]:
        """Rooms where both users are joined; cost proportional to the smaller set."""
        rooms_a = self._rooms_of.get(user_a)
        rooms_b = self._rooms_of.get(user_b)
        if not rooms_a or not rooms_b:
            return set()
        return rooms_a & rooms_b
