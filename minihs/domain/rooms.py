"""Rooms: creation, membership changes, and ``Rooms.append``, through which every event goes.

Every membership change in a room runs under that room's lock (as Synapse serialises them with a
Linearizer): check the authorization rules against the room's current state, build the event,
commit it with its state in one transaction, and only then advance the in-memory state and the
joined-rooms index. A failure anywhere before the commit changes nothing.

Every event of a room goes through ``Rooms.append`` (membership here, messages and state from
``minihs.domain.messages``): it is the one place that holds the room's lock, commits, and wakes
the change stream. What clients read of a room is in ``minihs.domain.room_reads``, on top of
``Rooms.room``. This module still passes 400 lines because creation, membership changes and
``append`` share the room locks, the bounded room cache and the bookkeeping after a commit, so
they stay one class; and a join carries the user's profile (a profile change sends a member
event in each joined room).
"""

from __future__ import annotations

import random
import string
from typing import Any, Awaitable, Callable, Sequence

from minihs.domain import membership_rules
from minihs.config import Config
from minihs.domain.clock import ServerClock
from minihs.domain.minting import IdSource
from minihs.spec.errors import MatrixError, forbidden, invalid_param, not_found, too_large
from minihs.spec.events import Event, RoomVersion, build_event, check_content
from minihs.spec.ids import is_valid_room_alias, is_valid_room_id, is_valid_user_id
from minihs.spec.json_codec import dumps
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.domain.keyed_lock import KeyedLock
from minihs.domain.membership_changes import MembershipChange, build_changes, staged
from minihs.domain.room_cache import RoomCache
from minihs.domain.room_creation import (
    CreateRoomRequest,
    InitialEvent,
    alias_for,
    initial_events,
    room_version_for,
)
from minihs.domain.room_state import MEMBER, RoomState
from minihs.domain.stream import Stream
from minihs.store.rooms import AliasTaken, Appended, NewEvent, RoomIdTaken, RoomStore, TxnKey

# How many rooms' current state stay in memory. A room's state is a few kilobytes; one that
# falls out is read back from the database on its next use.
ROOM_CACHE_SIZE = 10_000
MAX_PDU_BYTES = 65536


def persistable(event: Event) -> NewEvent:
    """An event in the form the store writes it."""
    membership = event.content.get("membership") if event.type == MEMBER else None
    return NewEvent(
        event.event_id,
        event.type,
        event.state_key,
        event.depth,
        dumps(event.pdu).decode("utf-8"),
        membership,
    )


def new_room_id(server_name: str, rng: IdSource | random.Random) -> str:
    """A room ID for versions before 12: ``!<18 random letters>:<server_name>``, drawn from
    ``rng`` (the homeserver's ID source; the bulk seeder's own PRNG)."""
    return "!" + "".join(rng.choices(string.ascii_letters, k=18)) + ":" + server_name


def build_initial_events(
    version: RoomVersion, plan: list[InitialEvent], room_id: str | None, ts: int
) -> list[Event]:
    """Hash the planned initial events into a chain: each follows the state the ones before it
    made. ``room_id`` is None for version 12, where the create event derives it."""
    create = plan[0]
    first = build_event(
        version,
        room_id=room_id,
        event_type=create.type,
        sender=create.sender,
        content=create.content,
        state_key=create.state_key,
        prev_events=[],
        auth_events=[],
        depth=1,
        origin_server_ts=ts,
    )
    staging = RoomState(0, first.room_id, version, {}, "", 0)
    staging.apply(first)
    events = [first]
    for planned in plan[1:]:
        event = staging.next_event(
            planned.type, planned.sender, planned.content, planned.state_key, ts
        )
        staging.apply(event)
        events.append(event)
    return events


class Rooms:
    """The rooms of this server. Two bounded tables live here: the current state of recently
    used rooms (least recently used first, at most ``cache_size`` of them, plus any whose lock
    is held) and the locks of rooms someone is changing or loading right now. The joined-rooms
    index is not a cache: it always holds every joined membership."""

    def __init__(
        self,
        config: Config,
        store: RoomStore,
        index: JoinedRoomsIndex,
        stream: Stream,
        cache_size: int = ROOM_CACHE_SIZE,
        *,
        clock: ServerClock | None = None,
        ids: IdSource | None = None,
    ) -> None:
        self._config = config
        # Every event's origin_server_ts, and room IDs (with the timestamp nudge below).
        self._clock = clock or ServerClock()
        self._ids = ids or IdSource()
        self._store = store
        self._index = index
        self._stream = stream
        self._locks = KeyedLock()
        self._rooms = RoomCache(cache_size, is_pinned=self._locks.in_use)
        # The profile a join carries into its member event (set by the Homeserver to
        # Profiles.member_profile); None: joins carry no profile.
        self.member_profile: Callable[[str], Awaitable[dict[str, str]]] | None = None

    async def load_index(self) -> None:
        """Rebuild the joined-rooms index from the database (at start and after a reset)."""
        self._index.clear()
        await self._store.joined_rooms_by_user(self._index.add_users)

    def clear_caches(self) -> None:
        """Forget every cached room and lock (a reset: the database was replaced)."""
        self._rooms.clear()
        self._locks.clear()

    # --- creation --------------------------------------------------------------------------

    async def create_room(
        self,
        creator: str,
        request: CreateRoomRequest,
        members: Sequence[MembershipChange] = (),
    ) -> str:
        """POST /createRoom. Returns the new room's ID.

        ``members``: membership changes made right after the creation, committed with it in
        one write (a scenario's room and its members): each passes the rule its endpoint
        applies, against the state the ones before it made. A change a rule refuses raises
        :class:`~minihs.domain.membership_changes.ChangeRefused`, and no room is made."""
        version = room_version_for(request.room_version, self._config.rooms.default_room_version)
        alias = None
        if request.room_alias_name is not None:
            alias = alias_for(request.room_alias_name, self._config.server_name)
        for invitee in request.invite:
            if not is_valid_user_id(invitee):
                raise invalid_param(f"Invalid user_id: {invitee!r}")
        plan = initial_events(request, creator, version, alias)
        await self._add_profile(creator, plan[1].content)  # the creator's join
        for change in members:
            if change.membership == "join":
                await self._add_profile(change.target, change.content)
        for planned in plan:
            check_content(planned.content)
        ts = self._clock.now_ms()
        while True:
            room_id = None if version.room_id_from_create_event else new_room_id(
                self._config.server_name, self._ids
            )
            events = build_initial_events(version, plan, room_id, ts)
            state = None
            if members:
                state = staged(version, events)
                events += build_changes(state, members, ts)
            written = self._store.create_room(
                events[0].room_id,
                version.identifier,
                creator,
                ts,
                [persistable(event) for event in events],
                alias,
                # Runs once the room is committed, even if this request is cancelled meanwhile.
                on_settled=lambda committed, written, events=events, state=state: committed
                and self._adopt(written, version, events, state),
            )
            try:
                await written
            except AliasTaken:
                raise MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken") from None
            except RoomIdTaken:
                # Same creator, same content, same millisecond: v12 would derive the same room
                # ID. Move the timestamp on a little, as Synapse does, and build again.
                ts += self._ids.randint(1, 10)
                continue
            return events[0].room_id

    def _adopt(
        self,
        written: tuple[int, int],
        version: RoomVersion,
        events: list[Event],
        state: RoomState | None = None,
    ) -> None:
        """A new room's initial events are committed: hold its state, index its members, and
        wake the syncs of everyone it names (the creator, the invitees). ``state``: the state
        ``events`` make, already built (a room made with its members)."""
        room_nid, position = written
        room = staged(version, events) if state is None else state
        room.room_nid = room_nid
        self._rooms.put(room)
        concerned = set()
        for event in events:
            if event.type == MEMBER:
                self._index.record(event.state_key, room.room_id, event.content["membership"])
                concerned.add(event.state_key)
        self._stream.notify(concerned, position)

    # --- looking rooms up ------------------------------------------------------------------

    async def room(self, room_id: str) -> RoomState:
        """The room's current state (404 M_NOT_FOUND when minihs has no such room)."""
        return await self._room(room_id)

    async def _room(self, room_id: str, *, locked: bool = False) -> RoomState:
        """The room's current state, from the cache or else the database. ``locked``: the
        caller holds the room's lock.

        A load runs under the room's lock: a membership change releases that lock only once
        its event is committed and applied, so a copy read from the database under it can
        never miss a change and then be cached as current.
        """
        room = self._rooms.get(room_id)
        if room is not None:
            return room
        if not is_valid_room_id(room_id):
            raise not_found(f"Unknown room {room_id}")
        if locked:
            return await self._load(room_id)
        held = await self._locks.acquire(room_id)
        try:
            # Whoever held the lock before us may have loaded it meanwhile.
            room = self._rooms.get(room_id)
            return room if room is not None else await self._load(room_id)
        finally:
            held.release()

    async def _load(self, room_id: str) -> RoomState:
        stored = await self._store.stored_room(room_id)
        if stored is None:
            raise not_found(f"Unknown room {room_id}")
        room = RoomState.from_stored(stored)
        self._rooms.put(room)
        return room

    async def resolve_alias(self, alias: str) -> str:
        """GET /directory/room/{roomAlias}: the room an alias points to."""
        if not is_valid_room_alias(alias):
            raise invalid_param("Room alias invalid")
        room_id = await self._store.room_id_for_alias(alias)
        if room_id is None:
            raise not_found(f"Room alias {alias} not found.")
        return room_id

    # --- membership ------------------------------------------------------------------------

    async def append(
        self,
        room_id: str,
        build: Callable[[RoomState], "Event | str"],
        txn: TxnKey | None = None,
    ) -> tuple[RoomState, str]:
        """Build and commit one event under the room's lock; return the room and the event ID.

        ``build(room)`` checks the rules against the current state and returns the event to
        write, or the ID of an existing event that already is the requested change (nothing is
        written then). With ``txn``, a transaction that already made an event gives that event.

        For a state event, the lock is released, and the in-memory state, the index and the
        stream advanced, by the commit's ``on_settled`` callback, not by this coroutine: a
        request cancelled while its change is being committed (a client that hangs up) can then
        neither skip that bookkeeping nor let the room's next change start from a state that is
        not yet the committed one.

        A message event (no state key) changes no state, so the rules for the next event do not
        depend on it: the room's head moves on to it and the lock is released as soon as it is
        queued, and the sends of one room are committed together (group commit) instead of one
        commit after another. Should such an event not be stored after all (a failed commit, or
        a transaction that had already made another event), the room is dropped from memory and
        read again from the database; events queued behind it in the meantime name it in their
        ``prev_events`` (harmless here: minihs does not federate, and orders by stream).
        """
        held = await self._locks.acquire(room_id)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                held.release()

        try:
            room = await self._room(room_id, locked=True)
            event = build(room)
            if isinstance(event, str):
                release()
                return room, event
            new = persistable(event)
            # Spec "Size limits": the whole event, as JSON, may not pass 65536 bytes.
            if len(new.json.encode("utf-8")) > MAX_PDU_BYTES:
                raise too_large(f"Event is larger than {MAX_PDU_BYTES} bytes")
            pipelined = event.state_key is None

            def settled(committed: bool, appended: Appended | None) -> None:
                stored = committed and appended is not None and appended.new
                if pipelined:
                    if stored:
                        self._stream.notify(room.audience(), appended.stream_ordering)
                    elif self._rooms.get(room.room_id) is room:
                        self._rooms.discard(room.room_id)
                    return
                if stored:
                    self._apply(room, event, appended.stream_ordering)
                release()

            written = self._store.append_sent_event(room.room_nid, new, txn, settled)
            if pipelined:
                room.apply(event)
                release()
        except BaseException:
            release()
            raise
        appended = await written
        return room, appended.event_id

    def _apply(self, room: RoomState, event: Event, position: int) -> None:
        """One committed event: advance the room's state, the joined-rooms index and the stream."""
        room.apply(event)
        concerned = room.audience()
        if event.type == MEMBER:
            self._index.record(event.state_key, room.room_id, event.content["membership"])
            # A member who just left or was banned must still see that in their sync.
            concerned = concerned | {event.state_key}
        self._stream.notify(concerned, position)

    async def _change_membership(
        self,
        room_id: str,
        sender: str,
        target: str,
        content: dict[str, Any],
        check: Callable[[RoomState], None],
    ) -> RoomState:
        """Check, build and commit one membership change under the room's lock."""
        check_content(content)

        def build(room: RoomState) -> Event | str:
            check(room)
            current = room.state.get((MEMBER, target))
            if current is not None and current[1]["content"] == content and current[1]["sender"] == sender:
                return current[0]  # the same change again: nothing to record (as Synapse does)
            return room.next_event(MEMBER, sender, content, target, self._clock.now_ms())

        try:
            room, _ = await self.append(room_id, build)
        except MatrixError as error:
            # An unknown room to join is 404, as Synapse answers ("No known servers"); for the
            # other changes it is the 403 a room the user is not in gets (no leak of existence).
            if error.errcode != "M_NOT_FOUND" or content["membership"] == "join":
                raise
            raise forbidden(f"{sender} not in room {room_id}.") from None
        return room

    @staticmethod
    def _member_content(membership: str, reason: str | None, extra: dict[str, Any] | None = None):
        content = dict(extra or {})
        if reason is not None:
            content["reason"] = reason
        content["membership"] = membership
        return content

    async def join(self, user_id: str, room_id_or_alias: str, extra: dict[str, Any]) -> str:
        """POST /join/{roomIdOrAlias} and /rooms/{roomId}/join. Body keys go into the content."""
        if room_id_or_alias.startswith("#"):
            room_id = await self.resolve_alias(room_id_or_alias)
        elif room_id_or_alias.startswith("!"):
            room_id = room_id_or_alias
        else:
            raise invalid_param(f"{room_id_or_alias!r} is neither a room ID nor a room alias")
        content = self._member_content("join", None, extra)
        await self._add_profile(user_id, content)
        room = await self._change_membership(
            room_id, user_id, user_id, content, lambda r: membership_rules.check_join(r, user_id)
        )
        return room.room_id

    async def invite(self, sender: str, room_id: str, target: str, reason: str | None) -> None:
        if not is_valid_user_id(target):
            raise invalid_param(f"Invalid user_id: {target!r}")
        await self._change_membership(
            room_id, sender, target, self._member_content("invite", reason),
            lambda r: membership_rules.check_invite(r, sender, target),
        )

    async def leave(self, user_id: str, room_id: str, reason: str | None) -> None:
        await self._change_membership(
            room_id, user_id, user_id, self._member_content("leave", reason),
            lambda r: membership_rules.check_leave(r, user_id),
        )

    async def kick(self, sender: str, room_id: str, target: str, reason: str | None) -> None:
        self._check_target(target)
        await self._change_membership(
            room_id, sender, target, self._member_content("leave", reason),
            lambda r: membership_rules.check_kick(r, sender, target),
        )

    async def ban(self, sender: str, room_id: str, target: str, reason: str | None) -> None:
        self._check_target(target)
        await self._change_membership(
            room_id, sender, target, self._member_content("ban", reason),
            lambda r: membership_rules.check_ban(r, sender, target),
        )

    async def unban(self, sender: str, room_id: str, target: str, reason: str | None) -> None:
        self._check_target(target)
        await self._change_membership(
            room_id, sender, target, self._member_content("leave", reason),
            lambda r: membership_rules.check_unban(r, sender, target),
        )

    # --- profiles in member events (as Synapse does) ----------------------------------------

    async def _add_profile(self, user_id: str, content: dict[str, Any]) -> None:
        """A join carries the user's display name and avatar URL, unless the client gave its own."""
        if self.member_profile is not None:
            for key, value in (await self.member_profile(user_id)).items():
                content.setdefault(key, value)

    async def update_profile_in_rooms(self, user_id: str, profile: dict[str, str]) -> None:
        """After a profile change: a new join -> join member event carrying ``profile`` in each
        room the user is joined to. Its content is the membership and the profile only, as
        Synapse sends it. A room the user left meanwhile is skipped."""

        def still_joined(room: RoomState) -> None:
            if room.membership_of(user_id) != "join":
                raise forbidden(f"User {user_id} not in room {room.room_id}")

        content = {"membership": "join", **profile}
        for room_id in sorted(self._index.joined_rooms_of(user_id)):
            try:
                await self._change_membership(room_id, user_id, user_id, dict(content), still_joined)
            except MatrixError:
                continue

    @staticmethod
    def _check_target(target: str) -> None:
        if not is_valid_user_id(target):
            raise invalid_param(f"Invalid user_id: {target!r}")
