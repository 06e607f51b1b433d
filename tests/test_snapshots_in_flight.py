"""A restore while requests are in flight: every request completes before it or runs after it.

As with a reset (tests/test_reset_in_flight.py): a request that started before the restore
finishes against the server as it was; one that arrives during it waits, then gets the answer
the restored server gives (401 for a token minted after the snapshot), never a 500. The
in-memory state is rebuilt in the same step as the database, so after every restore the
joined-rooms index equals the database.
"""

from __future__ import annotations

import asyncio
import logging

from conftest import database_thread_held, until
from in_flight import (
    WHOAMI,
    assert_served_throughout,
    churning_threads,
    fixture_index_matches_database,
    hammered_through,
    index_matches_database,
    join_arriving_during,
    join_in_flight_then,
    sync_waiting_through,
)

from minihs.testing import MinihsServer

RESTORES = 60
SNAPSHOT = "/_minihs/admin/snapshots/base"
RESTORE = SNAPSHOT + "/restore"


async def a_base_world(hs):
    """Two users sharing a room, snapshotted as "base"."""
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.request("PUT", SNAPSHOT)
    return alice, bob, room


# --- ordering -------------------------------------------------------------------------------


async def test_a_request_in_flight_finishes_against_the_old_server_before_the_restore(hs):
    alice, _, room = await a_base_world(hs)
    carol = await hs.register()
    joined, restored = await join_in_flight_then(hs, carol, room, RESTORE)
    assert joined["room_id"] == room
    assert restored == {}
    await hs.request("GET", WHOAMI, carol, expect=401)  # carol came after the snapshot
    assert await hs.request("GET", WHOAMI, alice)


async def test_a_request_arriving_during_a_restore_waits_then_sees_the_restored_server(hs):
    alice, _, room = await a_base_world(hs)
    carol = await hs.register()
    whoami, body = await join_arriving_during(hs, carol, room, RESTORE)
    assert whoami["user_id"] == carol.user_id
    assert hs.last_response.status == 401
    assert body["errcode"] == "M_UNKNOWN_TOKEN"


async def test_a_snapshot_taken_while_a_write_is_in_flight_holds_that_write(hs):
    alice = await hs.register()
    gate = hs.homeserver.gate
    async with database_thread_held(hs.homeserver.db):
        creating = asyncio.ensure_future(hs.create_room(alice, preset="public_chat"))
        await until(lambda: gate.in_flight == 1)
        taking = asyncio.ensure_future(hs.request("PUT", SNAPSHOT))
        await until(lambda: gate.closed)
        assert not taking.done()  # waiting for the write in flight
    room = await creating
    await taking
    await hs.request("POST", RESTORE)
    assert await hs.joined_rooms(alice) == [room]


async def test_a_waiting_sync_answers_at_once_when_a_restore_starts(hs):
    alice, _, _ = await a_base_world(hs)
    since, answered = await sync_waiting_through(hs, alice, RESTORE)
    assert answered["next_batch"] == since
    body = await hs.sync(alice, since=since, expect=400)  # the client starts again
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_restores_one_after_another_each_complete(hs):
    await a_base_world(hs)
    await asyncio.gather(*(hs.request("POST", RESTORE) for _ in range(5)))
    assert not hs.homeserver.gate.closed
    assert await index_matches_database(hs.homeserver)


async def test_restores_and_resets_interleaved_each_complete(hs):
    alice, _, _ = await a_base_world(hs)
    calls = [hs.request("POST", RESTORE if i % 2 else "/_minihs/admin/reset") for i in range(6)]
    await asyncio.gather(*calls)
    await hs.request("GET", WHOAMI, alice)  # the last one was a restore
    assert await index_matches_database(hs.homeserver)


# --- under load -----------------------------------------------------------------------------


async def test_coroutines_hammering_the_server_through_restores_see_no_5xx(hs, caplog):
    await a_base_world(hs)
    churn, mismatches = await hammered_through(hs, RESTORE, RESTORES, pause=0.005, send=True)
    assert mismatches == 0
    assert_served_throughout(churn)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert await index_matches_database(hs.homeserver)


def test_threads_hammering_a_fixture_server_through_restores_see_no_5xx():
    with MinihsServer() as server:
        alice = server.register_user("alice")
        server.join(server.register_user("bob"), server.create_room(alice, preset="public_chat"))
        server.snapshot("base")
        mismatches = 0
        with churning_threads(server) as churn:
            for _ in range(RESTORES):
                server.restore("base")
                mismatches += not fixture_index_matches_database(server)
        assert server.request("GET", WHOAMI, alice)["user_id"] == alice.user_id
    assert mismatches == 0
    assert_served_throughout(churn)
