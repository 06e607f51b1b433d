"""The crash test's ledger of what the server acknowledged, and the checks run after each
restart: the database file's own consistency, then every acknowledged change over HTTP
(accounts, memberships, mutual rooms, messages and the /sync from before the crash).

Used by ``scripts/crash_test.py``, which drives the server and kills it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

PASSWORD = "crash-test-password"

@dataclass
class Ledger:
    """What the server acknowledged, carried across cycles."""

    users: dict[str, str] = field(default_factory=dict)  # user_id -> localpart
    rooms: dict[str, bool] = field(default_factory=dict)  # room_id -> is public
    # (user_id, room_id) -> acknowledged membership ("join", "invite", "leave")
    membership: dict[tuple[str, str], str] = field(default_factory=dict)
    # keys with a change in flight when the server died: (before, attempted)
    uncertain: dict[tuple[str, str], tuple[str | None, str]] = field(default_factory=dict)
    pending_registrations: set[str] = field(default_factory=set)
    pending_rooms: int = 0
    acknowledged: int = 0
    # The watched room, its watcher (user_id, token) and the watcher's token for this cycle.
    watched_room: str = ""
    watcher: tuple[str, str] = ("", "")
    since: str = ""
    # event_id -> body of acknowledged messages; those of this cycle; bodies in flight.
    messages: dict[str, str] = field(default_factory=dict)
    cycle_messages: set[str] = field(default_factory=set)
    in_flight: set[str] = field(default_factory=set)



# Each query counts rows that a whole transaction would never leave behind.
_COUNTED_PROBLEMS = [
    (
        "SELECT COUNT(*) FROM current_state s LEFT JOIN events e "
        "ON e.stream_ordering = s.stream_ordering AND e.room_nid = s.room_nid "
        "AND e.type = s.type AND e.state_key = s.state_key WHERE e.event_id IS NULL",
        "current state rows point at no matching event",
    ),
    (
        "SELECT COUNT(*) FROM events e LEFT JOIN memberships m ON m.room_nid = e.room_nid "
        "AND m.user_id = e.state_key WHERE e.type = 'm.room.member' AND m.user_id IS NULL",
        "member events have no membership row",
    ),
    (
        "SELECT COUNT(*) FROM rooms r WHERE NOT EXISTS (SELECT 1 FROM current_state s "
        "WHERE s.room_nid = r.room_nid AND s.type = 'm.room.create')",
        "rooms have no create event in state",
    ),
]


def check_database_file(path: Path) -> list[str]:
    """No half-changes: every membership row matches the member event current state points at,
    and every current state row points at an event of its own room, type and state key."""
    problems = []
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT m.room_nid, m.user_id, m.membership, m.stream_ordering, s.stream_ordering, "
            "e.json FROM memberships m "
            "LEFT JOIN current_state s ON s.room_nid = m.room_nid AND s.type = 'm.room.member' "
            "AND s.state_key = m.user_id "
            "LEFT JOIN events e ON e.stream_ordering = m.stream_ordering"
        ).fetchall()
        for room_nid, user, membership, stream, state_stream, event_json in rows:
            if state_stream != stream:
                problems.append(f"membership of {user} in room {room_nid} disagrees with state")
            elif event_json is None:
                problems.append(f"membership of {user} in room {room_nid} has no event")
            elif json.loads(event_json)["content"].get("membership") != membership:
                problems.append(f"membership of {user} in room {room_nid} != its event")
        for query, problem in _COUNTED_PROBLEMS:
            found = conn.execute(query).fetchone()[0]
            if found:
                problems.append(f"{found} {problem}")
    finally:
        conn.close()
    return problems


async def verify(base: str, ledger: Ledger) -> tuple[list[str], int]:
    """Check every acknowledged change over HTTP after a restart. Returns (problems, lost)."""
    problems: list[str] = []
    lost = 0
    tokens: dict[str, str] = {}
    async with aiohttp.ClientSession() as session:

        async def call(method, path, body=None, token=None, params=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with session.request(
                method, base + path, json=body, headers=headers, params=params
            ) as response:
                return response.status, await response.json(content_type=None)

        for user_id, localpart in ledger.users.items():
            status, body = await call(
                "POST", "/_matrix/client/v3/login",
                {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
                 "password": PASSWORD},
            )
            if status != 200:
                problems.append(f"acknowledged user {user_id} cannot log in: {status} {body}")
                lost += 1
                continue
            tokens[user_id] = body["access_token"]

        joined_by_user: dict[str, set[str]] = {}
        for user_id, token in tokens.items():
            status, body = await call("GET", "/_matrix/client/v3/joined_rooms", token=token)
            assert status == 200, body
            joined = set(body["joined_rooms"])
            joined_by_user[user_id] = joined
            for room_id in ledger.rooms:
                key = (user_id, room_id)
                expected = ledger.membership.get(key)
                allowed = {expected == "join"}
                if key in ledger.uncertain:
                    before, attempted = ledger.uncertain[key]
                    allowed |= {before == "join", attempted == "join"}
                if (room_id in joined) not in allowed:
                    problems.append(
                        f"{user_id} in {room_id}: joined={room_id in joined}, acknowledged {expected}"
                    )
                    lost += 1
        for room_id in ledger.rooms:
            members = [u for u, rooms in joined_by_user.items() if room_id in rooms]
            if not members:
                continue
            status, body = await call(
                "GET", f"/_matrix/client/v3/rooms/{room_id}/joined_members", token=tokens[members[0]]
            )
            if status != 200 or set(body["joined"]) != set(members):
                problems.append(f"joined_members of {room_id} disagrees with joined_rooms")
        users = list(tokens)
        for a, b in zip(users, users[1:]):
            status, body = await call(
                "GET", "/_matrix/client/v1/mutual_rooms", token=tokens[a], params={"user_id": b}
            )
            expected = sorted(joined_by_user[a] & joined_by_user[b])
            if status != 200 or body["joined"] != expected[: len(body["joined"])] or body[
                "count"
            ] != len(expected):
                problems.append(f"mutual_rooms({a}, {b}) disagrees with joined_rooms")
        message_problems, message_lost = await verify_messages(call, ledger)
        problems += message_problems
        lost += message_lost
    return problems, lost


async def verify_messages(call, ledger: Ledger) -> tuple[list[str], int]:
    """Every acknowledged message is there; /sync from the cycle's token reports exactly the
    messages of the cycle (those in flight at the kill may be there or not)."""
    problems: list[str] = []
    lost = 0
    if not ledger.watched_room:
        return problems, lost
    room, token = ledger.watched_room, ledger.watcher[1]
    for event_id, text in ledger.messages.items():
        status, body = await call("GET", f"/_matrix/client/v3/rooms/{room}/event/{event_id}", token=token)
        if status != 200 or body["content"].get("body") != text:
            problems.append(f"acknowledged message {event_id} is gone: {status} {body}")
            lost += 1
    if ledger.since:
        only_messages = json.dumps({"room": {"timeline": {"limit": 1000, "types": ["m.room.message"]}}})
        status, body = await call(
            "GET", "/_matrix/client/v3/sync", token=token,
            params={"since": ledger.since, "filter": only_messages, "timeout": "0"},
        )
        if status != 200:
            problems.append(f"/sync from the token of before the crash: {status} {body}")
            return problems, lost
        timeline = body["rooms"]["join"].get(room, {}).get("timeline", {"events": [], "limited": False})
        seen = {event["event_id"]: event["content"].get("body") for event in timeline["events"]}
        if timeline["limited"]:
            problems.append("/sync from before the crash was limited: cannot compare")
        for event_id in ledger.cycle_messages - seen.keys():
            problems.append(f"/sync from before the crash misses acknowledged {event_id}")
            lost += 1
        for event_id, text in seen.items():
            if event_id in ledger.cycle_messages:
                continue
            if event_id in ledger.messages:
                problems.append(f"/sync from before the crash repeats {event_id}, older than its token")
            elif text not in ledger.in_flight:
                problems.append(f"/sync from before the crash shows {event_id}, never sent")
            else:
                ledger.messages[event_id] = text  # an in-flight send that landed
    return problems, lost


