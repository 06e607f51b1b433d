"""A reset while requests are in flight: every request completes before it or runs after it.

A request that started before the reset finishes against the old server; one that arrives
during it waits, then gets the answer an empty server gives (401 for a token that no longer
exists), never a 500. The in-memory state goes in the same step as the database, so after every
reset the joined-rooms index equals the database.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from conftest import database_thread_held
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
from joined_pairs import index_pairs

from minihs.api.admin import RESET_PATH
from minihs.testing import MinihsServer

RESETS = 200


# --- ordering -------------------------------------------------------------------------------


async def test_a_request_in_flight_finishes_against_the_old_server_before_the_reset(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    bob = await hs.register()
    joined, reset = await join_in_flight_then(hs, bob, room, RESET_PATH)
    assert joined["room_id"] == room
    assert reset == {}
    await hs.request("GET", WHOAMI, bob, expect=401)


async def test_a_request_arriving_during_a_reset_waits_then_sees_the_empty_server(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    whoami, body = await join_arriving_during(hs, alice, room, RESET_PATH)
    assert whoami["user_id"] == alice.user_id
    assert hs.last_response.status == 401
    assert body["errcode"] == "M_UNKNOWN_TOKEN"


async def test_a_reset_whose_caller_is_cancelled_still_completes_and_reopens(hs):
    alice = await hs.register()
    homeserver = hs.homeserver
    async with database_thread_held(homeserver.db):
        reset = asyncio.ensure_future(homeserver.reset())
        await asyncio.sleep(0.01)
        reset.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reset
    # The reset went on without its caller: the token is gone and the gate is open again.
    await hs.request("GET", WHOAMI, alice, expect=401)
    assert not homeserver.gate.closed


async def test_resets_one_after_another_each_complete(hs):
    await asyncio.gather(*(hs.request("POST", RESET_PATH) for _ in range(5)))
    assert not hs.homeserver.gate.closed
    await hs.register("alice")


async def test_a_long_poll_hook_fires_when_a_reset_starts(hs):
    # For a future long-polling /sync: it waits on this and answers at once, so that a reset
    # never waits for the end of its timeout.
    starting = hs.homeserver.gate.reset_starting()
    assert not starting.done()
    await hs.request("POST", RESET_PATH)
    assert starting.done()


async def test_a_waiting_sync_answers_at_once_when_a_reset_starts(hs):
    alice = await hs.register()
    since, answered = await sync_waiting_through(hs, alice, RESET_PATH)
    assert answered["rooms"]["join"] == {} and answered["next_batch"] == since


async def test_a_sync_token_from_before_a_reset_is_refused_after_it(hs):
    alice = await hs.register()
    since = (await hs.sync(alice))["next_batch"]
    await hs.request("POST", RESET_PATH)
    alice = await hs.register()  # the reset forgot the account and its token
    body = await hs.sync(alice, since=since, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


# --- what a reset forgets -------------------------------------------------------------------


async def _pair_with_two_shared_rooms(hs):
    alice, bob = await hs.register("alice"), await hs.register("bob")
    for _ in range(2):
        await hs.join(bob, await hs.create_room(alice, preset="public_chat"))
    return alice, bob


async def test_a_pagination_token_from_before_a_reset_is_refused_after_it(make_homeserver):
    hs = await make_homeserver(mutual_rooms={"page_size": 1})
    alice, bob = await _pair_with_two_shared_rooms(hs)
    old_token = (await hs.mutual_rooms(alice, bob))["next_batch"]
    await hs.request("POST", RESET_PATH)
    alice, bob = await _pair_with_two_shared_rooms(hs)  # the same users, as before
    body = await hs.mutual_rooms(alice, bob, from_token=old_token, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_a_pagination_token_from_before_a_reset_is_refused_with_a_configured_key(
    make_homeserver,
):
    hs = await make_homeserver(mutual_rooms={"page_size": 1}, token_signing_key="k" * 32)
    alice, bob = await _pair_with_two_shared_rooms(hs)
    old_token = (await hs.mutual_rooms(alice, bob))["next_batch"]
    await hs.request("POST", RESET_PATH)
    alice, bob = await _pair_with_two_shared_rooms(hs)
    body = await hs.mutual_rooms(alice, bob, from_token=old_token, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_a_registration_session_from_before_a_reset_is_unknown_after_it(hs):
    started = await hs.request(
        "POST", "/_matrix/client/v3/register", json={"username": "alice", "password": "p"},
        expect=401,
    )
    await hs.request("POST", RESET_PATH)
    body = await hs.request(
        "POST",
        "/_matrix/client/v3/register",
        json={
            "username": "alice",
            "password": "p",
            "auth": {"type": "m.login.dummy", "session": started["session"]},
        },
        expect=400,
    )
    assert "session" in body["error"]


async def test_the_joined_rooms_index_equals_the_database_after_a_reset(hs):
    alice, bob = await hs.register(), await hs.register()
    await hs.join(bob, await hs.create_room(alice, preset="public_chat"))
    await hs.request("POST", RESET_PATH)
    assert index_pairs(hs.homeserver.joined_rooms) == set()
    assert await index_matches_database(hs.homeserver)


# --- under load -----------------------------------------------------------------------------


async def test_coroutines_hammering_the_server_through_hundreds_of_resets_see_no_5xx(hs, caplog):
    churn, mismatches = await hammered_through(hs, RESET_PATH, RESETS, pause=0.002)
    assert mismatches == 0
    assert_served_throughout(churn)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert await index_matches_database(hs.homeserver)


def test_threads_hammering_a_fixture_server_through_hundreds_of_resets_see_no_5xx():
    with MinihsServer() as server:
        with churning_threads(server) as churn:
            for _ in range(RESETS):
                server.reset()
        assert fixture_index_matches_database(server)
    assert_served_throughout(churn)
