"""For tests only: the joined-rooms index and the database, each as a set of (user, room) pairs,
so a test can check that the index says exactly what the database holds."""

from __future__ import annotations


def index_pairs(index) -> set[tuple[str, str]]:
    """Every (user_id, room_id) the joined-rooms index holds. The index has no way to list all
    its users (the server never needs one), so this reads its table directly."""
    return {(user, room) for user, rooms in index._rooms_of.items() for room in rooms}


async def stored_joined_pairs(db) -> set[tuple[str, str]]:
    """Every (user_id, room_id) whose current membership in the database is join."""

    def read(conn):
        return conn.execute(
            "SELECT m.user_id, r.room_id FROM memberships m "
            "JOIN rooms r ON r.room_nid = m.room_nid WHERE m.membership = 'join'"
        ).fetchall()

    return set(await db.read(read))
