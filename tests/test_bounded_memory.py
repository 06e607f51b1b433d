"""Memory stays bounded however many rooms and registrations a server sees.

The room cache keeps at most its size of rooms (plus any whose lock is in use), a room's lock
exists only while it is held or awaited, and UIA sessions and cached access tokens are capped
in number. A room that
falls out of the cache is read back from the database on its next use, and the joined-rooms
index, which is not a cache, stays complete throughout.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from minihs.config import Config
from minihs.domain.accounts import TOKEN_CACHE_SIZE, Accounts, new_access_token
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.domain.minting import IdSource
from minihs.domain.room_creation import CreateRoomRequest
from minihs.domain.room_reads import RoomReads
from minihs.domain.room_state import CREATE, MEMBER
from minihs.domain.rooms import ROOM_CACHE_SIZE, Rooms, persistable
from minihs.domain.stream import Stream
from minihs.domain.uia import MAX_SESSIONS, RegistrationAuth
from minihs.spec.events import ROOM_VERSIONS
from minihs.store.database import Database
from minihs.store.accounts import TokenOwner
from minihs.store.rooms import RoomStore, StoredRoom
from minihs.testing.seeding import build_room_events

CREATOR = "@alice:test"
BOB = "@bob:test"
DISTINCT_ROOMS = 100_000


def rooms_and_reads(store: Any, cache_size: int = ROOM_CACHE_SIZE) -> tuple[Rooms, RoomReads]:
    """Rooms over ``store``, and the reads clients make through it (as the Homeserver pairs them)."""
    index = JoinedRoomsIndex()
    rooms = Rooms(Config(), store, index, Stream(), cache_size=cache_size)
    return rooms, RoomReads(rooms, index)


class OneRoomTemplateStore:
    """A room store that knows every ``!<n>:test`` room: each is stored as the same room made
    by ``CREATOR`` (one real room's events, built by the seeding helpers), under its own ID.

    Stands in for the database in the 100,000-room test only: through the in-memory database
    a room costs about half a millisecond to write and read back, nearly a minute for 100,000
    on a busy machine. What is measured here, the cache and the locks, sits above the store;
    the tests further down use the real database.
    """

    def __init__(self) -> None:
        room_id, events = build_room_events(ROOM_VERSIONS["10"], CREATOR, (), 0)
        # The create event and the creator's join: the least state a room has (reading a
        # room's state back is JSON decoding, one event at a time).
        kept = [persistable(e) for e in events if e.type in (CREATE, MEMBER)]
        self._template = StoredRoom(
            0,
            room_id,
            "10",
            {(e.type, e.state_key): (e.event_id, e.json) for e in kept},
            kept[-1].event_id,
            kept[-1].depth,
        )
        self.loads = 0

    async def stored_room(self, room_id: str) -> StoredRoom | None:
        self.loads += 1
        t = self._template
        return StoredRoom(self.loads, room_id, t.room_version, t.state, t.last_event_id, t.last_depth)


async def test_100000_distinct_rooms_touched_once_leave_the_cache_and_locks_bounded():
    """Each room is touched once by GET /joined_members's domain call, which loads the room
    (under its lock) on a cache miss: the cheapest public call that does, about 25 µs of CPU
    a room, most of it decoding the room's stored state. The store is the template store
    above, not the database (see its docstring for why)."""
    store = OneRoomTemplateStore()
    rooms, reads = rooms_and_reads(store)
    most_locks = 0
    for n in range(DISTINCT_ROOMS):
        members = await reads.joined_members(CREATOR, f"!{n}:test")
        assert CREATOR in members
        most_locks = max(most_locks, len(rooms._locks))
    assert store.loads == DISTINCT_ROOMS  # every touch really loaded a room
    assert len(rooms._rooms) == ROOM_CACHE_SIZE
    assert most_locks == 0 and len(rooms._locks) == 0


def test_100000_registration_attempts_leave_the_uia_sessions_bounded():
    auth = RegistrationAuth("open", [])
    most = 0
    for _ in range(DISTINCT_ROOMS):
        # A dummy stage naming no session starts a new one (and completes it, unspent).
        auth.authenticate({"type": "m.login.dummy"})
        most = max(most, len(auth._sessions))
    assert most == len(auth._sessions) == MAX_SESSIONS


class EveryTokenStore:
    """An account store that knows every token: each belongs to its own device of alice."""

    def __init__(self) -> None:
        self.lookups = 0

    async def token_owner(self, digest: bytes) -> TokenOwner:
        self.lookups += 1
        return TokenOwner(CREATOR, digest.hex()[:10])


async def test_100000_distinct_access_tokens_leave_the_token_cache_bounded():
    accounts = Accounts(Config(), EveryTokenStore())
    most = 0
    for _ in range(DISTINCT_ROOMS):
        assert await accounts.requester_for_token(new_access_token(IdSource())) is not None
        most = max(most, len(accounts._token_cache))
    assert most == TOKEN_CACHE_SIZE


async def test_the_newest_cached_token_is_answered_from_memory_after_the_oldest_goes():
    store = EveryTokenStore()
    accounts = Accounts(Config(), store)
    ids = IdSource()
    tokens = [new_access_token(ids) for _ in range(TOKEN_CACHE_SIZE + 1)]
    for token in tokens:
        await accounts.requester_for_token(token)
    lookups = store.lookups
    await accounts.requester_for_token(tokens[-1])
    assert store.lookups == lookups  # still cached
    await accounts.requester_for_token(tokens[0])
    assert store.lookups == lookups + 1  # pushed out, read again


# --- through the in-memory database, with a small cache ---------------------------------------


class GatedRoomStore(RoomStore):
    """The real store, except that event writes wait until ``gate`` is open."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.gate = asyncio.Event()
        self.gate.set()
        self._pending: set[asyncio.Task] = set()

    def append_sent_event(self, room_nid, event, txn, on_settled=None):
        result = asyncio.get_running_loop().create_future()

        async def write_when_open():
            await self.gate.wait()
            try:
                written = RoomStore.append_sent_event(self, room_nid, event, txn, on_settled)
                result.set_result(await written)
            except BaseException as exc:
                result.set_exception(exc)

        task = asyncio.ensure_future(write_when_open())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return result


@pytest.fixture
async def db():
    database = await Database.open(":memory:")
    yield database
    await database.close()


async def make_rooms(rooms: Rooms, count: int) -> list[str]:
    return [
        await rooms.create_room(CREATOR, CreateRoomRequest(preset="public_chat"))
        for _ in range(count)
    ]


async def test_an_evicted_room_is_reloaded_with_every_change_made_to_it(db):
    rooms, reads = rooms_and_reads(RoomStore(db), cache_size=5)
    made = await make_rooms(rooms, 30)
    for room_id in made:
        await rooms.join(BOB, room_id, {})
    assert len(rooms._rooms) == 5 and len(rooms._locks) == 0
    for room_id in made:  # most of these were evicted since bob joined
        assert set(await reads.joined_members(CREATOR, room_id)) == {CREATOR, BOB}
    for room_id in made:
        await rooms.leave(BOB, room_id, None)
    for room_id in made:
        assert set(await reads.joined_members(CREATOR, room_id)) == {CREATOR}
    assert len(rooms._rooms) == 5 and len(rooms._locks) == 0


async def test_the_joined_rooms_index_stays_complete_while_rooms_are_evicted(db):
    rooms, reads = rooms_and_reads(RoomStore(db), cache_size=3)
    made = await make_rooms(rooms, 20)
    for room_id in made:
        await rooms.join(BOB, room_id, {})
    assert reads.joined_rooms(BOB) == sorted(made)
    assert reads.joined_rooms(CREATOR) == sorted(made)


async def test_a_room_whose_lock_is_held_is_not_evicted(db):
    store = GatedRoomStore(db)
    rooms, reads = rooms_and_reads(store, cache_size=2)
    first, *others = await make_rooms(rooms, 6)
    await reads.joined_members(CREATOR, first)  # cached again, most recently used
    store.gate.clear()
    joining = asyncio.ensure_future(rooms.join(BOB, first, {}))
    for _ in range(1000):  # bob's join holds the room's lock, its write waits
        if len(rooms._locks) and store._pending:
            break
        await asyncio.sleep(0)
    else:
        raise AssertionError("the join never reached the store")
    for room_id in others:  # enough loads to evict `first` many times over
        await reads.joined_members(CREATOR, room_id)
    assert first in rooms._rooms  # the join's copy stayed the cached one
    store.gate.set()
    await joining
    assert set(await reads.joined_members(CREATOR, first)) == {CREATOR, BOB}
    for room_id in others:  # now it may go, and comes back with bob's join
        await reads.joined_members(CREATOR, room_id)
    assert first not in rooms._rooms
    assert set(await reads.joined_members(CREATOR, first)) == {CREATOR, BOB}
    assert len(rooms._locks) == 0
