"""A restore while requests are in flight: every request completes before it or runs after it.

As with a reset (tests/test_reset_in_flight.py): a request that started before the restore
finishes against the server as it was; one that arrives during it waits, then gets the answer
the restored server gives (401 for a token minted after the snapshot), never a 500. The
in-memory state is rebuilt in the same step as the database, so after every restore the
joined-rooms index equals the database.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading

from conftest import User, database_thread_held
from joined_pairs import index_pairs, stored_joined_pairs

from minihs.testing import MinihsServer

RESTORES = 60
WHOAMI = "/_matrix/client/v3/account/whoami"
SNAPSHOT = "/_minihs/admin/snapshots/base"
RESTORE = SNAPSHOT + "/restore"

_names = itertools.count()


async def index_matches_database(homeserver) -> bool:
    """Compare with no request in flight: the gate, held alone, keeps them out meanwhile."""
    async with homeserver.gate.exclusive():
        stored = await stored_joined_pairs(homeserver.db)
        return index_pairs(homeserver.joined_rooms) == stored


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
    async with database_thread_held(hs.homeserver.db):
        join = asyncio.ensure_future(hs.join(carol, room))  # stuck behind the held thread
        await asyncio.sleep(0.01)
        restoring = asyncio.ensure_future(hs.request("POST", RESTORE))
        await asyncio.sleep(0.01)
        assert not restoring.done()  # waiting for the join in flight
    assert (await join)["room_id"] == room
    assert await restoring == {}
    await hs.request("GET", WHOAMI, carol, expect=401)  # carol came after the snapshot
    assert await hs.request("GET", WHOAMI, alice)


async def test_a_request_arriving_during_a_restore_waits_then_sees_the_restored_server(hs):
    alice, _, room = await a_base_world(hs)
    carol = await hs.register()
    async with database_thread_held(hs.homeserver.db):
        in_flight = asyncio.ensure_future(hs.request("GET", WHOAMI, carol))
        await asyncio.sleep(0.01)
        restoring = asyncio.ensure_future(hs.request("POST", RESTORE))
        await asyncio.sleep(0.01)
        assert hs.homeserver.gate.closed
        late_join = asyncio.ensure_future(hs.join(carol, room, expect=None))
        await asyncio.sleep(0.01)
        assert not late_join.done()  # held at the gate, not run against the old state
    assert (await in_flight)["user_id"] == carol.user_id
    await restoring
    body = await late_join
    assert hs.last_response.status == 401
    assert body["errcode"] == "M_UNKNOWN_TOKEN"


async def test_a_snapshot_taken_while_a_write_is_in_flight_holds_that_write(hs):
    alice = await hs.register()
    async with database_thread_held(hs.homeserver.db):
        creating = asyncio.ensure_future(hs.create_room(alice, preset="public_chat"))
        await asyncio.sleep(0.01)
        taking = asyncio.ensure_future(hs.request("PUT", SNAPSHOT))
        await asyncio.sleep(0.01)
        assert not taking.done()
    room = await creating
    await taking
    await hs.request("POST", RESTORE)
    assert await hs.joined_rooms(alice) == [room]


async def test_a_waiting_sync_answers_at_once_when_a_restore_starts(hs):
    alice, _, _ = await a_base_world(hs)
    since = (await hs.sync(alice))["next_batch"]
    waiting = asyncio.ensure_future(hs.sync(alice, since=since, timeout=120_000))
    while hs.homeserver.stream.waiting() == 0:
        await asyncio.sleep(0.01)
    await asyncio.wait_for(hs.request("POST", RESTORE), timeout=30)
    answered = await asyncio.wait_for(waiting, timeout=5)
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


async def _member_churn(hs, statuses: list[int], rooms: list[str], stop: asyncio.Event) -> None:
    """Register, create or join rooms, send, leave, ask mutual rooms; start over when a restore
    took the account away."""
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
            statuses.append(hs.last_response.status)
            await hs.send(me, room, expect=None)
            statuses.append(hs.last_response.status)
            await hs.request("GET", "/_matrix/client/v1/mutual_rooms", me,
                             params={"user_id": me.user_id.replace("churn", "x")}, expect=None)
            statuses.append(hs.last_response.status)
            await hs.leave(me, room, expect=None)
            outcome = hs.last_response.status
        statuses.append(outcome)
        if outcome == 401:
            me = None  # restored away: register again


async def test_coroutines_hammering_the_server_through_restores_see_no_5xx(hs, caplog):
    await a_base_world(hs)
    statuses: list[int] = []
    rooms: list[str] = []
    stop = asyncio.Event()
    writers = [asyncio.ensure_future(_member_churn(hs, statuses, rooms, stop)) for _ in range(4)]
    mismatches = 0
    try:
        for _ in range(RESTORES):
            await asyncio.sleep(0.005)  # let the writers get some requests in flight
            assert await hs.request("POST", RESTORE) == {}
            if not await index_matches_database(hs.homeserver):
                mismatches += 1
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert mismatches == 0
    assert [s for s in statuses if s >= 500] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert 401 in statuses  # requests did straddle restores
    assert 200 in statuses
    assert await index_matches_database(hs.homeserver)


def _thread_churn(server: MinihsServer, errors: list, stop: threading.Event) -> None:
    try:
        me = None
        room = None
        while not stop.is_set():
            if me is None:
                try:
                    me = server.register_user(f"t{threading.get_ident()}-{next(_names)}")
                    room = server.create_room(me, preset="public_chat")
                except Exception:  # noqa: BLE001 - a 401 or 404 from a restore meanwhile
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
            if status is None or "user_id" not in status:
                me = None
    except BaseException as exc:  # noqa: BLE001 - the test reports it
        errors.append(exc)


def test_threads_hammering_a_fixture_server_through_restores_see_no_5xx():
    statuses: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    with MinihsServer() as server:
        alice = server.register_user("alice")
        server.join(server.register_user("bob"), server.create_room(alice, preset="public_chat"))
        server.snapshot("base")
        threads = [
            threading.Thread(target=_thread_churn, args=(server, errors, stop))
            for _ in range(4)
        ]
        # Every status, from any helper: _exchange is where they all pass.
        real_exchange = server._exchange

        def exchange(*args, **kwargs):
            status, data = real_exchange(*args, **kwargs)
            statuses.append(status)
            return status, data

        server._exchange = exchange
        homeserver, loop = server._homeserver, server._loop
        mismatches = 0
        for thread in threads:
            thread.start()
        try:
            for _ in range(RESTORES):
                server.restore("base")
                check = asyncio.run_coroutine_threadsafe(index_matches_database(homeserver), loop)
                mismatches += not check.result(30)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert server.request("GET", WHOAMI, alice)["user_id"] == alice.user_id
    assert errors == []
    assert mismatches == 0
    assert [s for s in statuses if s >= 500] == []
    assert 401 in statuses and 200 in statuses
