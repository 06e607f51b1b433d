"""Read-only queries for the inspector (the admin API's view of users, rooms and events).

Every list is one page, keyed on something an index orders (a rowid, a room's numeric handle,
a stream ordering, a user ID within a room): a page costs the same with ten rooms or a hundred
thousand. A search filter is the exception: it reads every row it has to rule out.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from minihs.store.database import Database

# The most devices listed with each user (a user with thousands would make the page huge);
# the count of all of them comes with it.
DEVICES_PER_USER = 20
# The most local aliases listed with one room.
ALIASES_PER_ROOM = 20

# The state of one room that its summary is made of: (type, state_key) -> JSON text.
SUMMARY_STATE = (
    "m.room.name",
    "m.room.topic",
    "m.room.canonical_alias",
    "m.room.join_rules",
    "m.room.history_visibility",
    "m.room.power_levels",
    "m.room.encryption",
)


@dataclass(frozen=True)
class DeviceRow:
    device_id: str
    display_name: str | None
    live_token: bool


@dataclass(frozen=True)
class UserRow:
    position: int
    user_id: str
    displayname: str | None
    admin: bool
    created_ts: int
    devices: list[DeviceRow]
    device_count: int


@dataclass(frozen=True)
class RoomRow:
    room_nid: int
    room_id: str
    room_version: str
    creator: str
    created_ts: int
    # JSON values read from the current state (None when the room has no such event or key).
    name: object
    canonical_alias: object
    join_rule: object
    local_aliases: list[str]
    member_counts: dict[str, int]


@dataclass(frozen=True)
class EventRow:
    position: int
    event_id: str
    type: str
    state_key: str | None
    json: str


@dataclass(frozen=True)
class Counts:
    users: int
    live_tokens: int
    rooms: int


def _like_pattern(search: str) -> str:
    """``search`` as a LIKE pattern matching it anywhere, its own ``%`` and ``_`` literal."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _in_list(count: int) -> str:
    return ",".join("?" * count)


# --- users ---------------------------------------------------------------------------------


def _users_page(
    conn: sqlite3.Connection, before: int | None, limit: int, search: str | None
) -> list[UserRow]:
    # Newest first: the rowid follows registration order, and the users table has one.
    sql = (
        "SELECT u.rowid, u.user_id, p.displayname, u.is_admin, u.created_ts FROM users u "
        "LEFT JOIN profiles p ON p.user_id = u.user_id WHERE u.rowid < ?"
    )
    params: list = [before if before is not None else 1 << 62]
    if search:
        sql += " AND (u.user_id LIKE ? ESCAPE '\\' OR p.displayname LIKE ? ESCAPE '\\')"
        params += [_like_pattern(search)] * 2
    rows = conn.execute(sql + " ORDER BY u.rowid DESC LIMIT ?", (*params, limit)).fetchall()
    if not rows:
        return []
    user_ids = [row[1] for row in rows]
    devices: dict[str, list[DeviceRow]] = {user_id: [] for user_id in user_ids}
    counts: dict[str, int] = {}
    for user_id, device_id, display_name, live, rank, count in conn.execute(
        "SELECT user_id, device_id, display_name, live, rank, count FROM ("
        "  SELECT d.user_id, d.device_id, d.display_name,"
        "    EXISTS (SELECT 1 FROM access_tokens t"
        "            WHERE t.user_id = d.user_id AND t.device_id = d.device_id) AS live,"
        "    row_number() OVER (PARTITION BY d.user_id ORDER BY d.device_id) AS rank,"
        "    count(*) OVER (PARTITION BY d.user_id) AS count"
        f"  FROM devices d WHERE d.user_id IN ({_in_list(len(user_ids))})"
        ") WHERE rank <= ?",
        (*user_ids, DEVICES_PER_USER),
    ):
        devices[user_id].append(DeviceRow(device_id, display_name, bool(live)))
        counts[user_id] = count
    return [
        UserRow(rowid, user_id, displayname, bool(is_admin), created_ts,
                devices[user_id], counts.get(user_id, 0))
        for rowid, user_id, displayname, is_admin, created_ts in rows
    ]


# --- rooms ---------------------------------------------------------------------------------


def _state_value(type_: str, path: str) -> str:
    """A correlated subquery: one JSON value of the room's current ``type`` event."""
    return (
        f"(SELECT json_extract(e.json, '{path}') FROM current_state s "
        "JOIN events e ON e.stream_ordering = s.stream_ordering "
        f"WHERE s.room_nid = r.room_nid AND s.type = '{type_}' AND s.state_key = '')"
    )


_ROOM_COLUMNS = (
    "r.room_nid, r.room_id, r.room_version, r.creator, r.created_ts, "
    f"{_state_value('m.room.name', '$.content.name')} AS name, "
    f"{_state_value('m.room.canonical_alias', '$.content.alias')} AS canonical_alias, "
    f"{_state_value('m.room.join_rules', '$.content.join_rule')} AS join_rule"
)

# Rooms whose ID, name, canonical alias or a local alias contains the search (case-insensitive
# for ASCII, as LIKE is). Names and aliases are found by one scan each, not one lookup per room.
_MATCHES = "LIKE :pattern ESCAPE '\\'"
_ROOM_SEARCH = (
    f" AND (r.room_id {_MATCHES}"
    " OR r.room_nid IN (SELECT s.room_nid FROM current_state s"
    "   JOIN events e ON e.stream_ordering = s.stream_ordering"
    "   WHERE s.state_key = '' AND ("
    f"     (s.type = 'm.room.name' AND json_extract(e.json, '$.content.name') {_MATCHES})"
    "     OR (s.type = 'm.room.canonical_alias'"
    f"         AND json_extract(e.json, '$.content.alias') {_MATCHES})))"
    f" OR r.room_nid IN (SELECT room_nid FROM room_aliases WHERE alias {_MATCHES}))"
)


def _rooms_where(conn: sqlite3.Connection, where: str, params: dict, limit: int) -> list[RoomRow]:
    rows = conn.execute(
        f"SELECT {_ROOM_COLUMNS} FROM rooms r WHERE {where} ORDER BY r.room_nid DESC LIMIT :limit",
        {**params, "limit": limit},
    ).fetchall()
    if not rows:
        return []
    nids = [row[0] for row in rows]
    aliases: dict[int, list[str]] = {nid: [] for nid in nids}
    for room_nid, alias in conn.execute(
        f"SELECT room_nid, alias FROM room_aliases WHERE room_nid IN ({_in_list(len(nids))}) "
        "ORDER BY alias",
        nids,
    ):
        if len(aliases[room_nid]) < ALIASES_PER_ROOM:
            aliases[room_nid].append(alias)
    counts: dict[int, dict[str, int]] = {nid: {} for nid in nids}
    for room_nid, membership, count in conn.execute(
        "SELECT room_nid, membership, count(*) FROM memberships "
        f"WHERE room_nid IN ({_in_list(len(nids))}) GROUP BY room_nid, membership",
        nids,
    ):
        counts[room_nid][membership] = count
    return [RoomRow(*row, aliases[row[0]], counts[row[0]]) for row in rows]


def _rooms_page(
    conn: sqlite3.Connection, before: int | None, limit: int, search: str | None
) -> list[RoomRow]:
    # Newest first, by the numeric handle rooms get in creation order.
    where = "r.room_nid < :before"
    params: dict = {"before": before if before is not None else 1 << 62}
    if search:
        where += _ROOM_SEARCH
        params["pattern"] = _like_pattern(search)
    return _rooms_where(conn, where, params, limit)


def _room(conn: sqlite3.Connection, room_id: str) -> RoomRow | None:
    rows = _rooms_where(conn, "r.room_id = :room_id", {"room_id": room_id}, 1)
    return rows[0] if rows else None


def _room_nid(conn: sqlite3.Connection, room_id: str) -> int | None:
    row = conn.execute("SELECT room_nid FROM rooms WHERE room_id = ?", (room_id,)).fetchone()
    return None if row is None else row[0]


def _summary_state(conn: sqlite3.Connection, room_nid: int) -> dict[str, str]:
    """The JSON of the room's current events of the SUMMARY_STATE types (state key '')."""
    return dict(conn.execute(
        "SELECT s.type, e.json FROM current_state s "
        "JOIN events e ON e.stream_ordering = s.stream_ordering "
        f"WHERE s.room_nid = ? AND s.state_key = '' AND s.type IN ({_in_list(len(SUMMARY_STATE))})",
        (room_nid, *SUMMARY_STATE),
    ))


def _room_sizes(conn: sqlite3.Connection, room_nid: int) -> tuple[int, int]:
    """How many current state entries and how many events the room has."""
    (state,) = conn.execute(
        "SELECT count(*) FROM current_state WHERE room_nid = ?", (room_nid,)
    ).fetchone()
    (events,) = conn.execute(
        "SELECT count(*) FROM events WHERE room_nid = ?", (room_nid,)
    ).fetchone()
    return state, events


# --- a room's members, state and events ----------------------------------------------------


def _members_page(
    conn: sqlite3.Connection, room_nid: int, after: str | None, limit: int, membership: str | None
) -> list[tuple[str, str]]:
    sql = "SELECT user_id, membership FROM memberships WHERE room_nid = ? AND user_id > ?"
    params: list = [room_nid, after or ""]
    if membership is not None:
        sql += " AND membership = ?"
        params.append(membership)
    return conn.execute(sql + " ORDER BY user_id LIMIT ?", (*params, limit)).fetchall()


def _state_page(
    conn: sqlite3.Connection, room_nid: int, after: tuple[str, str] | None, limit: int
) -> list[EventRow]:
    after_type, after_key = after if after is not None else ("", "")
    rows = conn.execute(
        "SELECT e.stream_ordering, e.event_id, s.type, s.state_key, e.json FROM current_state s "
        "JOIN events e ON e.stream_ordering = s.stream_ordering "
        "WHERE s.room_nid = ? AND (s.type, s.state_key) > (?, ?) "
        "ORDER BY s.type, s.state_key LIMIT ?",
        (room_nid, after_type, after_key, limit),
    ).fetchall()
    return [EventRow(*row) for row in rows]


def _events_page(
    conn: sqlite3.Connection, room_nid: int, before: int | None, limit: int
) -> list[EventRow]:
    rows = conn.execute(
        "SELECT stream_ordering, event_id, type, state_key, json FROM events "
        "WHERE room_nid = ? AND stream_ordering < ? ORDER BY stream_ordering DESC LIMIT ?",
        (room_nid, before if before is not None else 1 << 62, limit),
    ).fetchall()
    return [EventRow(*row) for row in rows]


def _event(conn: sqlite3.Connection, event_id: str) -> tuple[str, EventRow] | None:
    row = conn.execute(
        "SELECT r.room_id, e.stream_ordering, e.event_id, e.type, e.state_key, e.json "
        "FROM events e JOIN rooms r ON r.room_nid = e.room_nid WHERE e.event_id = ?",
        (event_id,),
    ).fetchone()
    return None if row is None else (row[0], EventRow(*row[1:]))


def _counts(conn: sqlite3.Connection) -> Counts:
    (users,) = conn.execute("SELECT count(*) FROM users").fetchone()
    (tokens,) = conn.execute("SELECT count(*) FROM access_tokens").fetchone()
    (rooms,) = conn.execute("SELECT count(*) FROM rooms").fetchone()
    return Counts(users, tokens, rooms)


class InspectionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def users_page(self, before: int | None, limit: int, search: str | None) -> list[UserRow]:
        """Up to ``limit`` users registered before position ``before``, newest first."""
        return await self._db.read(_users_page, before, limit, search)

    async def rooms_page(self, before: int | None, limit: int, search: str | None) -> list[RoomRow]:
        """Up to ``limit`` rooms created before handle ``before``, newest first."""
        return await self._db.read(_rooms_page, before, limit, search)

    async def room(self, room_id: str) -> RoomRow | None:
        return await self._db.read(_room, room_id)

    async def room_nid(self, room_id: str) -> int | None:
        """The room's numeric handle, which the pages of its members, state and events take."""
        return await self._db.read(_room_nid, room_id)

    async def summary_state(self, room_nid: int) -> dict[str, str]:
        return await self._db.read(_summary_state, room_nid)

    async def room_sizes(self, room_nid: int) -> tuple[int, int]:
        return await self._db.read(_room_sizes, room_nid)

    async def members_page(
        self, room_nid: int, after: str | None, limit: int, membership: str | None
    ) -> list[tuple[str, str]]:
        """(user_id, membership) pairs after ``after``, by user ID."""
        return await self._db.read(_members_page, room_nid, after, limit, membership)

    async def state_page(
        self, room_nid: int, after: tuple[str, str] | None, limit: int
    ) -> list[EventRow]:
        """Current state events after (type, state_key) ``after``, in that order."""
        return await self._db.read(_state_page, room_nid, after, limit)

    async def events_page(self, room_nid: int, before: int | None, limit: int) -> list[EventRow]:
        """The room's events before stream position ``before``, newest first."""
        return await self._db.read(_events_page, room_nid, before, limit)

    async def event(self, event_id: str) -> tuple[str, EventRow] | None:
        """The event and the ID of its room."""
        return await self._db.read(_event, event_id)

    async def counts(self) -> Counts:
        return await self._db.read(_counts)
