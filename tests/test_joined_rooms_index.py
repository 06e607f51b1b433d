"""The in-memory joined-rooms index (``hs.homeserver.joined_rooms``), the one source the Mutual
Rooms API reads: it must always equal what the database says.

Changes in one room are serialised by a lock per room and committed in one transaction; the
index moves only after the commit. These tests churn memberships from many concurrent clients,
then compare the index with the database, rebuild it after a restart, and check that a change
that fails leaves both untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import sqlite3
from collections import Counter

import pytest

from minihs.spec.errors import MatrixError
from minihs.domain.room_creation import CreateRoomRequest
from conftest import database_thread_held, quote, test_config
from joined_pairs import index_pairs, stored_joined_pairs


@contextlib.contextmanager
def failing_commits(hs):
    """Every commit of the database fails as a disk error would, until the block ends."""
    from minihs.store import database

    real_run_group = database._run_group

    def failing_group(conn, units):
        raise sqlite3.OperationalError("disk I/O error")

    database._run_group = failing_group
    try:
        yield
    finally:
        database._run_group = real_run_group


V3 = "/_matrix/client/v3"
CLIENTS = 50
MODERATORS = 8  # the first clients get power 50 in every room
ROUNDS = 10
# Generous guard against a deadlock hanging the suite; it is not a performance assertion.
HANG_GUARD_SECONDS = 120


async def memberships_in_database(hs) -> set[tuple[str, str, str]]:
    rows = await hs.homeserver.db.read(
        lambda conn: conn.execute(
            "SELECT r.room_id, m.user_id, m.membership FROM memberships m "
            "JOIN rooms r ON r.room_nid = m.room_nid"
        ).fetchall()
    )
    return set(rows)


async def event_count(hs) -> int:
    return await hs.homeserver.db.read(
        lambda conn: conn.execute("SELECT count(*) FROM events").fetchone()[0]
    )


async def snapshot(hs):
    """Everything a failed change must leave alone: index, memberships, number of events."""
    return (
        index_pairs(hs.homeserver.joined_rooms),
        await memberships_in_database(hs),
        await event_count(hs),
    )


async def assert_index_matches_database(hs) -> None:
    index = index_pairs(hs.homeserver.joined_rooms)
    assert index == await stored_joined_pairs(hs.homeserver.db)
    database = {(user, room) for room, user, m in await memberships_in_database(hs) if m == "join"}
    assert index == database


async def build_world(hs):
    """Three owners, six rooms (public and private, room versions 10 to 12), 50 clients."""
    owners = [await hs.register() for _ in range(3)]
    clients = list(await asyncio.gather(*(hs.register() for _ in range(CLIENTS))))
    moderators = {client.user_id: 50 for client in clients[:MODERATORS]}
    rooms = []
    for owner, version in zip(owners, ("10", "11", "12")):
        users = dict(moderators)
        if version != "12":
            users[owner.user_id] = 100
        for preset in ("public_chat", "private_chat"):
            rooms.append(
                await hs.create_room(
                    owner,
                    preset=preset,
                    room_version=version,
                    power_level_content_override={"users": users},
                )
            )
    return owners, clients, rooms


async def churn(hs, clients, rooms, seed: int) -> Counter:
    """Every client at once: random joins, leaves, invites, kicks, bans and unbans."""
    statuses: Counter = Counter()

    async def post(user, path, body):
        response = await hs.http.post(f"{V3}{path}", json=body, headers=user.headers)
        await response.read()
        statuses[response.status] += 1

    async def client_life(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        me = clients[index]
        for _ in range(ROUNDS):
            room = quote(rng.choice(rooms))
            other = rng.choice(clients).user_id
            action = rng.choice(["join", "join", "join", "leave", "invite", "kick", "ban", "unban"])
            if action == "join":
                await post(me, f"/rooms/{room}/join", {})
            elif action == "leave":
                await post(me, f"/rooms/{room}/leave", {})
            else:
                await post(me, f"/rooms/{room}/{action}", {"user_id": other})

    await asyncio.wait_for(
        asyncio.gather(*(client_life(i) for i in range(CLIENTS))), HANG_GUARD_SECONDS
    )
    return statuses


async def file_homeserver(make_homeserver, path):
    config = test_config()
    config.database = dataclasses.replace(config.database, path=str(path))
    return await make_homeserver(config=config), config


@pytest.fixture
async def churned(make_homeserver, tmp_path):
    """A file-backed server after a concurrent churn: (hs, config, owners, clients, rooms, statuses)."""
    hs, config = await file_homeserver(make_homeserver, tmp_path / "minihs.db")
    owners, clients, rooms = await build_world(hs)
    statuses = await churn(hs, clients, rooms, seed=7)
    return hs, config, owners, clients, rooms, statuses


# --- after a concurrent churn ------------------------------------------------------------------


async def test_churn_gives_no_server_errors(churned):
    *_, statuses = churned
    assert sum(statuses.values()) == CLIENTS * ROUNDS
    assert set(statuses) <= {200, 403}, statuses
    assert statuses[200] > CLIENTS  # the churn really changed memberships


async def test_index_equals_the_database_after_concurrent_churn(churned):
    hs, _, owners, clients, rooms, _ = churned
    await assert_index_matches_database(hs)
    joined = await stored_joined_pairs(hs.homeserver.db)
    assert len(joined) > 10
    # What clients read (GET /joined_rooms comes from the index) is what the database holds.
    for user in owners + clients:
        expected = sorted(room for who, room in joined if who == user.user_id)
        assert sorted(await hs.joined_rooms(user)) == expected


async def test_room_state_in_memory_equals_the_database_after_churn(churned):
    hs, _, owners, _, rooms, _ = churned
    database = await memberships_in_database(hs)
    for index, room in enumerate(rooms):
        owner = owners[index // 2]
        body = await hs.request("GET", f"{V3}/rooms/{quote(room)}/members", owner)
        served = {(room, e["state_key"], e["content"]["membership"]) for e in body["chunk"]}
        assert served == {row for row in database if row[0] == room}


async def test_each_rooms_events_form_one_chain_after_churn(churned):
    # The room lock serialises changes: every event follows exactly the one before it.
    hs, *_ = churned
    rows = await hs.homeserver.db.read(
        lambda conn: conn.execute(
            "SELECT room_nid, event_id, json FROM events ORDER BY stream_ordering"
        ).fetchall()
    )
    last: dict[int, tuple[str, int]] = {}
    for room_nid, event_id, text in rows:
        pdu = json.loads(text)
        if room_nid in last:
            previous_id, previous_depth = last[room_nid]
            assert pdu["prev_events"] == [previous_id]
            assert pdu["depth"] == previous_depth + 1
        last[room_nid] = (event_id, pdu["depth"])


# --- after a restart ---------------------------------------------------------------------------


async def test_index_is_rebuilt_identically_after_a_restart(churned, make_homeserver):
    hs, config, *_ = churned
    before = index_pairs(hs.homeserver.joined_rooms)
    await hs.http.close()
    reopened = await make_homeserver(config=config)
    assert index_pairs(reopened.homeserver.joined_rooms) == before
    await assert_index_matches_database(reopened)


async def test_memberships_keep_changing_correctly_after_a_restart(make_homeserver, tmp_path):
    hs, config = await file_homeserver(make_homeserver, tmp_path / "minihs.db")
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    public = await hs.create_room(alice, preset="public_chat", room_version="11")
    private = await hs.create_room(alice, preset="private_chat", invite=[carol.user_id])
    await hs.join(bob, public)
    await hs.ban(alice, public, carol)
    await hs.http.close()
    hs = await make_homeserver(config=config)
    # Tokens and rooms survive; each room's state is loaded from the database on first use.
    await hs.join(carol, public, expect=403)
    await hs.join(bob, private, expect=403)
    await hs.join(carol, private)
    await hs.leave(bob, public)
    await hs.kick(alice, private, carol)
    await hs.unban(alice, public, carol)
    await hs.join(carol, public)
    assert await hs.joined_rooms(carol) == [public]
    assert await hs.joined_rooms(bob) == []
    await assert_index_matches_database(hs)


# --- failed changes change nothing --------------------------------------------------------------


async def test_forbidden_changes_leave_index_and_database_unchanged(hs):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    private = await hs.create_room(alice, preset="private_chat")
    public = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, public)
    await hs.ban(alice, public, carol)
    before = await snapshot(hs)
    await hs.join(bob, private, expect=403)  # not invited
    await hs.join(carol, public, expect=403)  # banned
    await hs.invite(bob, public, carol, expect=403)  # invite level 50 in a public room
    await hs.kick(bob, public, alice, expect=403)  # no power
    await hs.leave(carol, private, expect=403)  # not in the room
    await hs.unban(bob, public, carol, expect=403)  # no power
    await hs.join(bob, public, expect=413, blob="x" * 70000)  # too large
    assert await snapshot(hs) == before
    await assert_index_matches_database(hs)


async def test_a_change_whose_commit_fails_leaves_index_database_and_room_unchanged(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    before = await snapshot(hs)
    with failing_commits(hs), pytest.raises(sqlite3.OperationalError):
        await hs.homeserver.rooms.join(bob.user_id, room, {})
    assert await snapshot(hs) == before
    assert await hs.joined_rooms(bob) == []
    # The room's in-memory state did not move either: the next change chains on correctly.
    await hs.join(bob, room)
    await assert_index_matches_database(hs)
    rows = await hs.homeserver.db.read(
        lambda conn: conn.execute(
            "SELECT event_id, json FROM events ORDER BY stream_ordering DESC LIMIT 2"
        ).fetchall()
    )
    (_, newest), (previous_id, _) = rows
    assert json.loads(newest)["prev_events"] == [previous_id]


async def test_a_create_room_whose_commit_fails_leaves_the_index_unchanged(hs):
    alice = await hs.register()
    before = await snapshot(hs)
    with failing_commits(hs), pytest.raises(sqlite3.OperationalError):
        await hs.homeserver.rooms.create_room(alice.user_id, CreateRoomRequest())
    assert await snapshot(hs) == before


async def test_a_refused_domain_call_raises_matrix_error_and_changes_nothing(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="private_chat")
    before = await snapshot(hs)
    with pytest.raises(MatrixError) as raised:
        await hs.homeserver.rooms.join(bob.user_id, room, {})
    assert raised.value.status == 403
    assert await snapshot(hs) == before


async def test_concurrent_join_and_ban_of_one_user_end_consistent(hs):
    alice = await hs.register()
    users = [await hs.register() for _ in range(20)]
    room = await hs.create_room(alice, preset="public_chat")

    async def join_then_get_banned(user):
        await asyncio.gather(
            hs.http.post(f"{V3}/rooms/{quote(room)}/join", json={}, headers=user.headers),
            hs.http.post(
                f"{V3}/rooms/{quote(room)}/ban", json={"user_id": user.user_id}, headers=alice.headers
            ),
        )

    await asyncio.gather(*(join_then_get_banned(user) for user in users))
    await assert_index_matches_database(hs)
    # Whichever came first, the ban wins: a join before it is undone by it, a join after it
    # is refused. So only the creator is left joined.
    joined = {user for user, r in index_pairs(hs.homeserver.joined_rooms) if r == room}
    assert joined == {alice.user_id}


async def test_concurrent_first_use_of_a_room_after_restart_loads_it_once(make_homeserver, tmp_path):
    hs, config = await file_homeserver(make_homeserver, tmp_path / "minihs.db")
    alice = await hs.register()
    users = list(await asyncio.gather(*(hs.register() for _ in range(20))))
    room = await hs.create_room(alice, preset="public_chat")
    await hs.http.close()
    hs = await make_homeserver(config=config)
    # Nobody has touched the room since the restart: every request races to load it.
    responses = await asyncio.gather(
        *(
            hs.http.post(f"{V3}/rooms/{quote(room)}/join", json={}, headers=user.headers)
            for user in users
        ),
        *(
            hs.http.get(f"{V3}/rooms/{quote(room)}/joined_members", headers=alice.headers)
            for _ in range(5)
        ),
    )
    assert [r.status for r in responses] == [200] * 25
    await assert_index_matches_database(hs)
    body = await hs.request("GET", f"{V3}/rooms/{quote(room)}/joined_members", alice)
    assert set(body["joined"]) == {alice.user_id, *(user.user_id for user in users)}


async def test_a_change_cancelled_during_its_commit_still_updates_index_and_releases_the_room(hs):
    # A client that hangs up while its join is being committed: the join is committed anyway,
    # so the index and the room's state must follow it, and the room's lock must come free.
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    database = hs.homeserver.db
    async with database_thread_held(database):
        join = asyncio.ensure_future(hs.homeserver.rooms.join(bob.user_id, room, {}))
        while not database._queue:  # until the join is built and queued behind the held thread
            await asyncio.sleep(0)
        join.cancel()
    with pytest.raises(asyncio.CancelledError):
        await join
    await asyncio.wait_for(hs.join(carol, room), 10)  # the room's lock was released
    assert room in await hs.joined_rooms(bob)
    await assert_index_matches_database(hs)
    rows = await database.read(
        lambda conn: conn.execute(
            "SELECT event_id, json FROM events ORDER BY stream_ordering DESC LIMIT 2"
        ).fetchall()
    )
    (_, newest), (previous_id, _) = rows
    assert json.loads(newest)["prev_events"] == [previous_id]  # carol's join chains on bob's
