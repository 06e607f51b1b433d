"""Bulk seeding: users, rooms and memberships written straight into a minihs database.

For benchmarks and big test scenarios only; the server never imports this module. Creating a
hundred thousand rooms through HTTP would take hours, so :class:`Seeder` builds the same rows
the server writes, without the round trips:

* rooms are real rooms: their events come from minihs's own planning and event building
  (``room_creation.initial_events``, ``events.build_event``, the auth events chosen by
  ``RoomState``) and every join passes ``membership_rules.check_join``, so a server started on
  a seeded database loads them, lets users join and leave them, and answers about them exactly
  as it does for rooms created over HTTP;
* the rows are written by :class:`minihs.store.bulk.BulkWriter` (all the SQL stays in the
  store): one transaction per chunk of rooms, on a plain ``sqlite3`` connection.

A tool on top of the server: it uses the domain's event building rather than copying it, and
nothing in the server imports it.

Shortcuts a real server would not take (all harmless for benchmarks): every seeded user gets the
same password hash (one hash run, not one per user), and all events of a seeded room carry the
same ``origin_server_ts``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

from minihs.domain import membership_rules, passwords
from minihs.domain.accounts import new_access_token, new_device_id, token_digest
from minihs.domain.minting import IdSource
from minihs.config import PasswordHashingConfig
from minihs.spec.events import ROOM_VERSIONS, Event, RoomVersion
from minihs.spec.ids import user_id_for
from minihs.domain.room_creation import CreateRoomRequest, initial_events
from minihs.domain.room_state import MEMBER, RoomState
from minihs.domain.rooms import build_initial_events, new_room_id, persistable
from minihs.store.bulk import BulkWriter

# Bumped whenever seeded rows would change shape: benchmark caches key on it.
SEED_FORMAT = 1

DEFAULT_PASSWORD = "seeded-password"

# (step, done, total): called after every chunk of a long step.
Progress = Callable[[str, int, int], None]

@dataclass(frozen=True)
class SeededRoom:
    room_id: str
    creator: str
    # Every joined member, the creator first.
    members: tuple[str, ...]


@dataclass(frozen=True)
class SeededToken:
    user_id: str
    device_id: str
    access_token: str


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _localpart(user_id: str) -> str:
    return user_id[1:].partition(":")[0]


def build_room_events(
    version: RoomVersion,
    creator: str,
    joiners: Sequence[str],
    origin_server_ts: int,
    *,
    preset: str = "public_chat",
    server_name: str = "localhost",
    rng: random.Random | None = None,
) -> tuple[str, list[Event]]:
    """The events of a room ``creator`` made with ``preset`` and ``joiners`` then joined, in order.

    The same sequence ``POST /createRoom`` followed by ``POST /join`` for each joiner produces.
    Returns the room ID and the events.
    """
    room_id = None
    if not version.room_id_from_create_event:
        room_id = new_room_id(server_name, rng or random.Random())
    plan = initial_events(CreateRoomRequest(preset=preset), creator, version, None)
    plan[1].content["displayname"] = _localpart(creator)  # a join carries the profile
    events = build_initial_events(version, plan, room_id, origin_server_ts)
    staging = RoomState(0, events[0].room_id, version, {}, "", 0)
    for event in events:
        staging.apply(event)
    for joiner in joiners:
        # The rule the server applies to POST /join: a seeded join is one the server would allow.
        membership_rules.check_join(staging, joiner)
        if staging.membership_of(joiner) == "join":
            continue  # joining again changes nothing (the server records no event either)
        content = {"membership": "join", "displayname": _localpart(joiner)}
        event = staging.next_event(MEMBER, joiner, content, joiner, origin_server_ts)
        staging.apply(event)
        events.append(event)
    return staging.room_id, events


class Seeder:
    """Writes users, access tokens and rooms into a minihs database file (created if needed).

    Use as a context manager, or call :meth:`close`. ``progress`` is told about long steps.
    """

    def __init__(
        self,
        path: str,
        *,
        server_name: str = "localhost",
        room_version: str = "12",
        chunk_rooms: int = 1000,
        chunk_users: int = 20000,
        progress: Progress | None = None,
        seed: int = 0,
    ) -> None:
        if room_version not in ROOM_VERSIONS:
            raise ValueError(f"unsupported room version {room_version!r}")
        self.path = path
        self.server_name = server_name
        self.version = ROOM_VERSIONS[room_version]
        self._chunk_rooms = chunk_rooms
        self._chunk_users = chunk_users
        self._progress = progress
        self._rng = random.Random(seed)
        self._tokens = IdSource()  # access tokens stay unguessable, whatever the seed
        # Locked as a server locks it: a seeder never writes under a running server.
        self._writer = BulkWriter(path)
        # v12 derives the room ID from the create event; distinct timestamps keep two rooms of
        # the same creator apart, also from rooms already in the database.
        self._next_ts = max(int(time.time() * 1000), (self._writer.latest_room_ts() or 0) + 1)

    def __enter__(self) -> "Seeder":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._writer.close()

    def user_id(self, localpart: str) -> str:
        return user_id_for(localpart, self.server_name)

    def _report(self, step: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(step, done, total)

    # --- users -----------------------------------------------------------------------------

    def add_users(
        self,
        localparts: Sequence[str],
        *,
        password: str | None = DEFAULT_PASSWORD,
        hashing: PasswordHashingConfig | None = None,
    ) -> list[str]:
        """Create these users (all with ``password``, hashed once at ``hashing`` cost; None:
        no password). Returns their user IDs. An existing user ID fails the chunk it is in."""
        password_hash = None
        if password is not None:
            cost = hashing or PasswordHashingConfig()
            password_hash = passwords.hash_password_sync(password, cost)
        now = int(time.time() * 1000)
        user_ids = [self.user_id(localpart) for localpart in localparts]
        done = 0
        self._report("users", 0, len(user_ids))
        for chunk in _chunks(user_ids, self._chunk_users):
            self._writer.insert_users(chunk, password_hash, now)
            done += len(chunk)
            self._report("users", done, len(user_ids))
        return user_ids

    def issue_token(self, user_id: str, device_id: str | None = None) -> SeededToken:
        """A new device with a live access token for an existing user (as a login makes)."""
        device_id = device_id or new_device_id(self._tokens)
        token = new_access_token(self._tokens)
        self._writer.insert_device(user_id, device_id, token_digest(token))
        return SeededToken(user_id, device_id, token)

    # --- rooms -----------------------------------------------------------------------------

    def add_rooms(
        self,
        rooms: Iterable[tuple[str, Sequence[str]]],
        *,
        total: int | None = None,
        preset: str = "public_chat",
        keep: bool = True,
    ) -> list[SeededRoom]:
        """Create rooms from ``(creator, joiners)`` pairs: the creator makes the room with
        ``preset`` and each joiner joins it. ``total`` (when known) is for progress only.
        Returns the rooms made (an empty list when ``keep`` is false, to save memory)."""
        made: list[SeededRoom] = []
        done = 0
        total = total if total is not None else 0
        self._report("rooms", 0, total)
        for chunk in _chunks(rooms, self._chunk_rooms):
            built = []
            for creator, joiners in chunk:
                ts = self._next_ts
                self._next_ts += 1
                room_id, events = build_room_events(
                    self.version,
                    creator,
                    joiners,
                    ts,
                    preset=preset,
                    server_name=self.server_name,
                    rng=self._rng,
                )
                built.append((room_id, creator, ts, [persistable(e) for e in events]))
                if keep:
                    members = tuple(
                        e.state_key for e in events if e.type == MEMBER and e.state_key is not None
                    )
                    made.append(SeededRoom(room_id, creator, members))
            self._writer.insert_rooms(self.version.identifier, built)
            done += len(chunk)
            self._report("rooms", done, max(total, done))
        return made


# --- ready-made scenarios ------------------------------------------------------------------


@dataclass(frozen=True)
class MutualScenario:
    """Two users, each joined to ``rooms_each`` rooms, ``shared`` of them the same rooms; and,
    when asked for, a third user C in ``small_rooms`` rooms, ``small_shared`` of them A's."""

    user_a: SeededToken
    user_b: SeededToken
    shared_room_ids: list[str]
    rooms_each: int
    shared: int
    user_c: SeededToken | None = None
    c_shared_room_ids: list[str] = field(default_factory=list)
    small_rooms: int = 0
    small_shared: int = 0


def seed_mutual_rooms(
    seeder: Seeder,
    rooms_each: int,
    shared: int,
    *,
    small: tuple[int, int] | None = None,
    localparts: tuple[str, str, str] = ("bench-a", "bench-b", "bench-c"),
) -> MutualScenario:
    """Users A and B, each in ``rooms_each`` public rooms, ``shared`` of which both are in.

    A creates the shared rooms and B joins them; each also creates ``rooms_each - shared``
    rooms of their own. ``small=(rooms, shared_with_a)`` adds user C, who joins
    ``shared_with_a`` of A's own rooms (so A and B still share exactly ``shared``) and creates
    the rest: a pair whose smaller set stays small however big A's grows. Every seeded user
    gets an access token.
    """
    if not 0 <= shared <= rooms_each:
        raise ValueError("shared must be between 0 and rooms_each")
    only = rooms_each - shared
    small_rooms, small_shared = small or (0, 0)
    if small is not None and not 0 <= small_shared <= min(small_rooms, only):
        raise ValueError("small: C's shared rooms must come from A's own rooms")
    names = list(localparts if small is not None else localparts[:2])
    # No password: the scenario's users act through the tokens issued below.
    user_ids = seeder.add_users(names, password=None)
    user_a, user_b = user_ids[0], user_ids[1]
    user_c = user_ids[2] if small is not None else None

    def plan() -> Iterator[tuple[str, Sequence[str]]]:
        for _ in range(shared):
            yield user_a, (user_b,)
        for i in range(only):
            yield user_a, ((user_c,) if user_c is not None and i < small_shared else ())
        for _ in range(only):
            yield user_b, ()
        if user_c is not None:
            for _ in range(small_rooms - small_shared):
                yield user_c, ()

    total = shared + 2 * only + (small_rooms - small_shared if user_c else 0)
    rooms = seeder.add_rooms(plan(), total=total)
    return MutualScenario(
        seeder.issue_token(user_a),
        seeder.issue_token(user_b),
        [room.room_id for room in rooms[:shared]],
        rooms_each,
        shared,
        seeder.issue_token(user_c) if user_c is not None else None,
        [room.room_id for room in rooms[shared : shared + small_shared]],
        small_rooms,
        small_shared,
    )


def seed_population(
    seeder: Seeder,
    users: int,
    memberships: int,
    *,
    room_size: int = 100,
    localpart_prefix: str = "user",
) -> int:
    """``users`` users and about ``memberships`` joined memberships in rooms of ``room_size``
    members (the creator and ``room_size - 1`` joiners drawn at random). Returns the number of
    rooms made."""
    if users < 1 or room_size < 1:
        raise ValueError("users and room_size must be at least 1")
    room_size = min(room_size, users)
    user_ids = seeder.add_users([f"{localpart_prefix}{i}" for i in range(users)])
    room_count = max(1, memberships // room_size)
    rng = seeder._rng

    def plan() -> Iterator[tuple[str, Sequence[str]]]:
        for _ in range(room_count):
            members = rng.sample(user_ids, room_size)
            yield members[0], members[1:]

    seeder.add_rooms(plan(), total=room_count, keep=False)
    return room_count
