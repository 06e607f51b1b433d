"""For tests only: clients that keep requests in flight while a test resets or restores the
server, and the check that the joined-rooms index still equals the database afterwards.

tests/test_reset_in_flight.py and tests/test_snapshots_in_flight.py both hammer the server
this way; only what they do to it between requests differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from dataclasses import dataclass, field
from typing import AsyncIterator, Iterator

from conftest import User, database_thread_held, until
from joined_pairs import index_pairs, stored_joined_pairs

from minihs.testing import MinihsServer

WHOAMI = "/_matrix/client/v3/account/whoami"
CHURNERS = 4

_names = itertools.count()


@dataclass
class Churn:
    """What the churning clients saw: every status they were answered, and any exception that
    ended a churning thread."""

    statuses: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def assert_served_throughout(churn: Churn) -> None:
    """What a hammering test asks of the churners' answers: no 5xx, no churning thread ended by
    an exception, and requests on both sides of a swap (401: a token the swap took away; 200:
    work done)."""
    assert churn.errors == []
    assert [s for s in churn.statuses if s >= 500] == []
    assert 401 in churn.statuses and 200 in churn.statuses


async def index_matches_database(homeserver) -> bool:
    """Compare with no request in flight: the gate, held alone, keeps them out meanwhile."""
    async with homeserver.gate.exclusive():
        stored = await stored_joined_pairs(homeserver.db)
        return index_pairs(homeserver.joined_rooms) == stored


def fixture_index_matches_database(server: MinihsServer) -> bool:
    """index_matches_database for a fixture server, run on its own loop."""
    return server.on_server(index_matches_database, timeout=30)


# --- ordering: ``path`` is the admin call that swaps the server's state (a reset, a restore) --


async def join_in_flight_then(hs, user: User, room: str, path: str) -> tuple[dict, dict]:
    """POST ``path`` while ``user``'s join to ``room`` is in flight (held behind the database
    thread), checking that it waits for the join; returns the join's and the POST's answers."""
    gate = hs.homeserver.gate
    async with database_thread_held(hs.homeserver.db):
        join = asyncio.ensure_future(hs.join(user, room))  # stuck behind the held thread
        await until(lambda: gate.in_flight == 1)
        swapping = asyncio.ensure_future(hs.request("POST", path))
        await until(lambda: gate.closed)
        assert not swapping.done()  # waiting for the join in flight
    return await join, await swapping


async def join_arriving_during(hs, user: User, room: str, path: str) -> tuple[dict, dict]:
    """POST ``path`` while a whoami of ``user`` is in flight, then have ``user`` join ``room``
    while the POST is under way, checking that the join is held at the closed gate; returns the
    whoami's answer and the late join's."""
    gate = hs.homeserver.gate
    async with database_thread_held(hs.homeserver.db):
        in_flight = asyncio.ensure_future(hs.request("GET", WHOAMI, user))
        # Answered at once if its token is cached, else stuck behind the held thread.
        await until(lambda: gate.in_flight == 1 or in_flight.done())
        swapping = asyncio.ensure_future(hs.request("POST", path))
        await until(lambda: gate.closed)
        late_join = asyncio.ensure_future(hs.join(user, room, expect=None))
        # Nothing to wait for: the join must not run. Give it the time it would need if it did.
        await asyncio.sleep(0.01)
        assert not late_join.done()  # held at the gate, not run against the old state
    whoami = await in_flight
    await swapping
    return whoami, await late_join


async def sync_waiting_through(hs, user: User, path: str) -> tuple[str, dict]:
    """POST ``path`` while ``user`` waits in an incremental /sync with a 2-minute timeout;
    returns the sync's since token and its answer, both of which must come within seconds."""
    since = (await hs.sync(user))["next_batch"]
    waiting = asyncio.ensure_future(hs.sync(user, since=since, timeout=120_000))
    while hs.homeserver.stream.waiting() == 0:
        await asyncio.sleep(0.01)
    # The POST waits for the requests in flight: it completes long before the sync's timeout
    # only because the sync answers when it starts.
    await asyncio.wait_for(hs.request("POST", path), timeout=30)
    return since, await asyncio.wait_for(waiting, timeout=5)


# --- under load -----------------------------------------------------------------------------


async def _member_churn(hs, churn: Churn, rooms: list[str], stop: asyncio.Event, send: bool):
    """Register, create or join rooms, (send,) leave, ask mutual rooms; start over when a reset
    or a restore took the account away."""
    statuses = churn.statuses
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
            if send:
                await hs.send(me, room, expect=None)
                statuses.append(hs.last_response.status)
            await hs.request("GET", "/_matrix/client/v1/mutual_rooms", me,
                             params={"user_id": me.user_id.replace("churn", "x")}, expect=None)
            statuses.append(hs.last_response.status)
            await hs.leave(me, room, expect=None)
            outcome = hs.last_response.status
        statuses.append(outcome)
        if outcome == 401:
            me = None  # reset or restored away: register again


@contextlib.asynccontextmanager
async def churning_coroutines(hs, *, send: bool = False) -> AsyncIterator[Churn]:
    """Coroutines churning members through rooms on ``hs`` until the block ends (``send``: each
    round also sends a message)."""
    churn = Churn()
    rooms: list[str] = []
    stop = asyncio.Event()
    writers = [
        asyncio.ensure_future(_member_churn(hs, churn, rooms, stop, send))
        for _ in range(CHURNERS)
    ]
    try:
        yield churn
    finally:
        stop.set()
        await asyncio.gather(*writers)


async def hammered_through(
    hs, path: str, times: int, pause: float, *, send: bool = False
) -> tuple[Churn, int]:
    """POST ``path`` ``times`` times, ``pause`` seconds apart, while coroutines churn members
    (see churning_coroutines); each POST must answer {}. Returns what the churners saw and after
    how many POSTs the joined-rooms index differed from the database."""
    mismatches = 0
    async with churning_coroutines(hs, send=send) as churn:
        for _ in range(times):
            await asyncio.sleep(pause)  # let the writers get some requests in flight
            assert await hs.request("POST", path) == {}
            if not await index_matches_database(hs.homeserver):
                mismatches += 1
    return churn, mismatches


def _thread_churn(server: MinihsServer, errors: list, stop: threading.Event) -> None:
    try:
        me = None
        room = None
        while not stop.is_set():
            if me is None:
                try:
                    me = server.register_user(f"t{threading.get_ident()}-{next(_names)}")
                    room = server.create_room(me, preset="public_chat")
                except Exception:  # noqa: BLE001 - a 401, 400 or 404 from a reset meanwhile
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


@contextlib.contextmanager
def churning_threads(server: MinihsServer) -> Iterator[Churn]:
    """Threads churning members through rooms on a fixture server until the block ends; the
    statuses are those of every request the server answered meanwhile, from any thread."""
    churn = Churn()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_thread_churn, args=(server, churn.errors, stop))
        for _ in range(CHURNERS)
    ]
    # Every status, from any helper: _exchange is where they all pass.
    real_exchange = server._exchange

    def exchange(*args, **kwargs):
        status, data = real_exchange(*args, **kwargs)
        churn.statuses.append(status)
        return status, data

    server._exchange = exchange
    for thread in threads:
        thread.start()
    try:
        yield churn
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        del server._exchange  # the class's own again
