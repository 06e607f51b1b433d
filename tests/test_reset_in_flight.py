"""A reset while requests are in flight: every request completes before it or runs after it.

A request that started before the reset finishes against the old server; one that arrives
during it waits, then gets the answer an empty server gives (401 for a token that no longer
exists), never a 500. The in-memory state goes in the same step as the database, so after every
reset the joined-rooms index equals the database.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading

import pytest
from conftest import User, database_thread_held
from joined_pairs import index_pairs, stored_joined_pairs

from minihs.api.admin import RESET_PATH
from minihs.testing import MinihsServer

RESETS = 200
WHOAMI = "/_matrix/client/v3/account/whoami"

_names = itertools.count()


async def index_matches_database(homeserver) -> bool:
    """Compare with no request in flight: the reset's own gate keeps them out meanwhile."""
    async with homeserver.gate.exclusive():
        stored = await stored_joined_pairs(homeserver.db)
        return index_pairs(homeserver.joined_rooms) == stored


# --- ordering -------------------------------------------------------------------------------


async def test_a_request_in_flight_finishes_against_the_old_server_before_the_reset(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    bob = await hs.register()
    async with database_thread_held(hs.homeserver.db):
        join = asyncio.ensure_future(hs.join(bob, room))  # stuck behind the held thread
        await asyncio.sleep(0.01)
        reset = asyncio.ensure_future(hs.request("POST", RESET_PATH))
        await asyncio.sleep(0.01)
        assert not reset.done()  # waiting for the join in flight
    assert (await join)["room_id"] == room
    assert await reset == {}
    await hs.request("GET", WHOAMI, bob, expect=401)


async def test_a_request_arriving_during_a_reset_waits_then_sees_the_empty_server(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    async with database_thread_held(hs.homeserver.db):
        in_flight = asyncio.ensure_future(hs.request("GET", WHOAMI, alice))
        await asyncio.sleep(0.01)
        reset = asyncio.ensure_future(hs.request("POST", RESET_PATH))
        await asyncio.sleep(0.01)
        assert hs.homeserver.gate.closed
        late_join = asyncio.ensure_future(hs.join(alice, room, expect=None))
        await asyncio.sleep(0.01)
        assert not late_join.done()  # held at the gate, not run against the old state
    assert (await in_flight)["user_id"] == alice.user_id
    await reset
    body = await late_join
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
    since = (await hs.sync(alice))["next_batch"]
    waiting = asyncio.ensure_future(hs.sync(alice, since=since, timeout=120_000))
    while hs.homeserver.stream.waiting() == 0:
        await asyncio.sleep(0.01)
    # The reset waits for the requests in flight: it completes long before the sync's timeout
    # only because the sync answers when the reset starts.
    await asyncio.wait_for(hs.request("POST", RESET_PATH), timeout=30)
    answered = await asyncio.wait_for(waiting, timeout=5)
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


async def _member_churn(hs, statuses: list[int], rooms: list[str], stop: asyncio.Event) -> None:
    """Register, create or join rooms, leave, ask mutual rooms; start over when reset away."""
    me = None
    while not stop.is_set():
        if me is None:
            body = await hs.request(
                "POST",
                "/_matrix/client/v3/register",
                json={"username": f"churn{next(_names)}", "password": "p",
                      "auth": {"type": "m.login.dummy"}},
                expect=None,
            )
            statuses.append(hs.last_response.status)
            if hs.last_response.status == 200:
                me = User(body["user_id"], body["access_token"], body["device_id"], "p")
            continue
        if not rooms or next(_names) % 5 == 0:
            body = await hs.create_room(me, expect=None, preset="public_chat")
            outcome = hs.last_response.status
            if outcome == 200:
                rooms.append(body["room_id"])
        else:
            room = rooms[-1]
            await hs.join(me, room, expect=None)
            outcome = hs.last_response.status
            statuses.append(outcome)
            await hs.request("GET", "/_matrix/client/v1/mutual_rooms", me,
                             params={"user_id": me.user_id.replace("churn", "x")}, expect=None)
            statuses.append(hs.last_response.status)
            await hs.leave(me, room, expect=None)
            outcome = hs.last_response.status
        statuses.append(outcome)
        if outcome == 401:
            me = None  # reset away: register again


async def test_coroutines_hammering_the_server_through_hundreds_of_resets_see_no_5xx(hs, caplog):
    statuses: list[int] = []
    rooms: list[str] = []
    stop = asyncio.Event()
    writers = [asyncio.ensure_future(_member_churn(hs, statuses, rooms, stop)) for _ in range(4)]
    mismatches = 0
    try:
        for _ in range(RESETS):
            await asyncio.sleep(0.002)  # let the writers get some requests in flight
            assert await hs.request("POST", RESET_PATH) == {}
            if not await index_matches_database(hs.homeserver):
                mismatches += 1
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert mismatches == 0
    assert [s for s in statuses if s >= 500] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert 401 in statuses  # requests did straddle resets
    assert 200 in statuses
    assert await index_matches_database(hs.homeserver)


def _thread_churn(server: MinihsServer, statuses: list, errors: list, stop: threading.Event):
    try:
        me = None
        room = None
        while not stop.is_set():
            if me is None:
                try:
                    me = server.register_user(f"t{threading.get_ident()}-{next(_names)}")
                    room = server.create_room(me, preset="public_chat")
                except Exception as exc:  # noqa: BLE001 - a 401/400 from a reset meanwhile
                    statuses.append(getattr(exc, "status", 0))
                    me = None
                continue
            for method, path in (
                ("POST", f"/_matrix/client/v3/rooms/{room}/leave"),
                ("POST", f"/_matrix/client/v3/join/{room}"),
                ("GET", WHOAMI),
            ):
                server.request(method, path, me, json_body={} if method == "POST" else None,
                               expect=None)
            status = server.request("GET", WHOAMI, me, expect=None)
            statuses.append(200 if status and "user_id" in status else 401)
            if status is None or "user_id" not in status:
                me = None
    except BaseException as exc:  # noqa: BLE001 - the test reports it
        errors.append(exc)


def test_threads_hammering_a_fixture_server_through_hundreds_of_resets_see_no_5xx():
    statuses: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    with MinihsServer() as server:
        threads = [
            threading.Thread(target=_thread_churn, args=(server, statuses, errors, stop))
            for _ in range(4)
        ]
        # Every status, from any helper: _exchange is where they all pass.
        real_exchange = server._exchange

        def exchange(*args, **kwargs):
            status, data = real_exchange(*args, **kwargs)
            statuses.append(status)
            return status, data

        server._exchange = exchange
        for thread in threads:
            thread.start()
        try:
            for _ in range(RESETS):
                server.reset()
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        homeserver, loop = server._homeserver, server._loop
        matches = asyncio.run_coroutine_threadsafe(index_matches_database(homeserver), loop)
        assert matches.result(30)
    assert errors == []
    assert [s for s in statuses if s >= 500] == []
    assert 401 in statuses and 200 in statuses
