"""Making a scenario's plan real, through the rules the HTTP API applies.

:func:`prepare` runs the checks that need the server's configuration but change nothing (user
IDs, room versions, presets, aliases, the initial power levels: the domain's own functions), so
that most mistakes are refused before anything is written. :func:`apply` then registers the
users (``Accounts.register``), sets their display names (``Profiles.set_field``), creates each
room with its members (``Rooms.create_room``: every membership change passes its rule in
``membership_rules``, against the state the ones before it made) and sends the messages
(``Messages.send``, with the sender's own device).

Rooms are independent of one another, so they are made concurrently, up to :data:`IN_FLIGHT`
at a time: the database thread then commits many rooms in one transaction (group commit) while
the next ones are built. Within a room, and for the messages of one room, the order is the
file's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence, TypeVar

from minihs.domain.membership_changes import ChangeRefused, MembershipChange
from minihs.domain.room_creation import (
    CreateRoomRequest,
    alias_for,
    initial_events,
    preset_of,
    room_version_for,
)
from minihs.domain.scenarios.document import Path, Rejected, dotted
from minihs.domain.scenarios.parse import MemberPlan, MessagePlan, Plan, RoomPlan
from minihs.spec.errors import Codes, MatrixError
from minihs.store.accounts import TokenOwner

if TYPE_CHECKING:
    from minihs.domain.homeserver import Homeserver

T = TypeVar("T")

# Rooms (or users, or rooms' message lists) in the making at once: enough for the database
# thread to commit them in groups while the next ones are built, few enough that one failure
# stops the load soon.
IN_FLIGHT = 64
GENERATED_PASSWORD_BYTES = 12
# The verb of each membership, for messages: "<sender> cannot <verb> <target>".
_VERBS = {"join": "join", "invite": "invite", "leave": "kick", "ban": "ban"}


@dataclass
class PreparedRoom:
    plan: RoomPlan
    creator: str
    request: CreateRoomRequest
    alias: str | None
    changes: list[MembershipChange] = field(default_factory=list)
    # The member entry each change comes from.
    sources: list[MemberPlan] = field(default_factory=list)


@dataclass
class Prepared:
    plan: Plan
    user_ids: dict[str, str]
    rooms: list[PreparedRoom]


def prepare(hs: "Homeserver", plan: Plan) -> Prepared:
    """Every check that needs no write: raises :class:`Rejected` at the first one that fails."""
    user_ids: dict[str, str] = {}
    owners: dict[str, Path] = {}
    for user in plan.users.values():
        where = user.path + (("localpart",) if user.localpart != user.name else ())
        user_id = _ruled(lambda: hs.accounts.user_id_from_username(user.localpart), where)
        if user_id in owners:
            raise Rejected(f"{user_id} is also the user ID of {dotted(owners[user_id])}", where)
        owners[user_id] = where
        user_ids[user.name] = user_id
    rooms = [_prepare_room(hs, room, user_ids) for room in plan.rooms.values()]
    return Prepared(plan, user_ids, rooms)


def _prepare_room(hs: "Homeserver", room: RoomPlan, user_ids: dict[str, str]) -> PreparedRoom:
    config = hs.config
    path = room.path
    creator = user_ids[room.creator]
    version = _ruled(
        lambda: room_version_for(room.version, config.rooms.default_room_version),
        path + ("version",),
    )
    request = CreateRoomRequest(
        preset=room.preset,
        name=room.room_name,
        topic=room.topic,
        room_alias_name=room.alias,
        room_version=version.identifier,
    )
    _ruled(lambda: preset_of(request), path + ("preset",))
    alias = None
    if room.alias is not None:
        alias = _ruled(lambda: alias_for(room.alias, config.server_name), path + ("alias",))
    if room.power_levels is not None:
        levels = dict(room.power_levels)
        if isinstance(levels.get("users"), dict):
            named = {user_ids.get(key, key): level for key, level in levels["users"].items()}
            # As a createRoom override, ``users`` would replace the default map whole and
            # leave the creator without power: the creator keeps 100 unless named here.
            levels["users"] = {creator: 100, **named}
        request.power_level_content_override = levels
        # What the power levels allow is known before anything is written: a room whose
        # creator could not send its own initial events is refused here, at its line.
        _ruled(lambda: initial_events(request, creator, version, alias), path + ("power_levels",))
    prepared = PreparedRoom(room, creator, request, alias)
    for member in _in_order(room.members):
        for change in _changes(member, room, user_ids):
            prepared.changes.append(change)
            prepared.sources.append(member)
    return prepared


def _in_order(members: list[MemberPlan]) -> list[MemberPlan]:
    # Joins first, so that members can invite, kick and ban; leaves last, so that a creator
    # who leaves has made the other changes first.
    order = {"joined": 0, "invited": 1, "banned": 2, "left": 3}
    return sorted(members, key=lambda member: order[member.state])


def _changes(member: MemberPlan, room: RoomPlan, user_ids: dict[str, str]) -> list[MembershipChange]:
    user = user_ids[member.user]
    creator = user_ids[room.creator]
    by = None if member.by is None else user_ids[member.by]
    changes = []
    if member.invited_by is not None:
        changes.append(MembershipChange(user_ids[member.invited_by], user, "invite"))
    if member.state in ("joined", "left"):
        changes.append(MembershipChange(user, user, "join"))
    if member.state == "invited":
        changes.append(MembershipChange(by or creator, user, "invite"))
    elif member.state == "left":
        changes.append(MembershipChange(by or user, user, "leave"))
    elif member.state == "banned":
        changes.append(MembershipChange(by or creator, user, "ban"))
    return changes


# --- applying ----------------------------------------------------------------------------


async def apply(hs: "Homeserver", prepared: Prepared) -> dict[str, Any]:
    """Make the scenario; return its ID map. Raises :class:`Rejected` when a rule refuses a
    step; what was made before it stays (the caller rolls the server back)."""
    plan = prepared.plan
    names = {user_id: name for name, user_id in prepared.user_ids.items()}
    users: dict[str, dict[str, Any]] = {}

    async def register(name: str) -> None:
        user = plan.users[name]
        password = user.password
        if password is None:
            password = hs.ids.token_urlsafe(GENERATED_PASSWORD_BYTES)
        session = await _ruled_async(
            hs.accounts.register(user.localpart, password, is_admin=user.admin), user.path
        )
        if user.display_name is not None:
            await _ruled_async(
                hs.profiles.set_field(session.user_id, session.user_id, "displayname", user.display_name),
                user.path + ("display_name",),
            )
        users[name] = {
            "user_id": session.user_id,
            "access_token": session.access_token,
            "device_id": session.device_id,
            "password": password,
        }

    await _all(list(plan.users), register)
    users = {name: users[name] for name in plan.users}  # in the file's order

    rooms: dict[str, dict[str, Any]] = {}

    async def create(room: PreparedRoom) -> None:
        room_id = await _create_room(hs, room, names)
        rooms[room.plan.name] = {"room_id": room_id, "alias": room.alias}

    await _all(prepared.rooms, create)
    rooms = {name: rooms[name] for name in plan.rooms}

    by_room: dict[str, list[MessagePlan]] = {}
    for message in plan.messages:
        by_room.setdefault(message.room, []).append(message)
    messages: dict[str, dict[str, Any]] = {}

    async def send_all(room_messages: list[MessagePlan]) -> None:
        for message in room_messages:
            sender = users[message.sender]
            room_id = rooms[message.room]["room_id"]
            event_id = await _ruled_async(
                hs.messages.send(
                    TokenOwner(sender["user_id"], sender["device_id"]),
                    room_id,
                    message.event_type,
                    f"minihs-scenario-{message.path[-1]}",
                    message.content,
                ),
                message.path,
                f"{message.sender} cannot send to {message.room}",
            )
            if message.name is not None:
                messages[message.name] = {"event_id": event_id, "room_id": room_id}

    await _all(list(by_room.values()), send_all)
    messages = {m.name: messages[m.name] for m in plan.messages if m.name is not None}
    return {"users": users, "rooms": rooms, "messages": messages}


async def _create_room(hs: "Homeserver", room: PreparedRoom, names: dict[str, str]) -> str:
    try:
        return await hs.rooms.create_room(room.creator, room.request, room.changes)
    except ChangeRefused as refused:
        member = room.sources[refused.index]
        what = _refusal(room.changes[refused.index], member, room, names)
        raise Rejected(f"{what}: {refused.error.message}", member.path, refused.error.errcode) from None
    except MatrixError as error:
        where = room.plan.path
        if error.errcode == Codes.ROOM_IN_USE:
            where += ("alias",)
        elif room.plan.power_levels is not None:
            where += ("power_levels",)
        raise Rejected(error.message, where, error.errcode) from None


def _refusal(
    change: MembershipChange, member: MemberPlan, room: PreparedRoom, names: dict[str, str]
) -> str:
    """What was refused, in the file's names: "bob cannot ban eve in lobby"."""
    sender, target = names[change.sender], names.get(change.target, change.target)
    where = room.plan.name
    if change.membership == "join":
        if member.invited_by is None and preset_of(room.request) != "public_chat":
            return f"{sender} cannot join {where} (invite-only: list them as " \
                f"{{user: {member.user}, invited_by: <a member>}})"
        return f"{sender} cannot join {where}"
    if change.membership == "leave" and change.sender == change.target:
        return f"{sender} cannot leave {where}"
    return f"{sender} cannot {_VERBS[change.membership]} {target} in {where}"


# --- helpers -----------------------------------------------------------------------------


def _ruled(check: Callable[[], T], path: Path) -> T:
    """Run a domain check; its MatrixError becomes a refusal at ``path``."""
    try:
        return check()
    except MatrixError as error:
        raise Rejected(error.message, path, error.errcode) from None


async def _ruled_async(step: Awaitable[T], path: Path, doing: str | None = None) -> T:
    try:
        return await step
    except MatrixError as error:
        message = error.message if doing is None else f"{doing}: {error.message}"
        raise Rejected(message, path, error.errcode) from None


async def _all(items: Sequence[Any], run: Callable[[Any], Awaitable[None]]) -> None:
    """``run`` every item, at most :data:`IN_FLIGHT` at once, starting them in order. After a
    failure no more are started; those running finish, and the failure of the earliest item
    is raised: the first in the file's order, whichever finished first (items are independent,
    and every item before a failed one has been started)."""
    slots = asyncio.Semaphore(IN_FLIGHT)
    failures: dict[int, BaseException] = {}
    running = []

    async def one(index: int, item: Any) -> None:
        try:
            await run(item)
        except Exception as error:  # noqa: BLE001 - raised below, once the others are done
            failures[index] = error
        finally:
            slots.release()

    for index, item in enumerate(items):
        await slots.acquire()
        if failures:
            slots.release()
            break
        running.append(asyncio.ensure_future(one(index, item)))
    await asyncio.gather(*running)
    if failures:
        raise failures[min(failures)]
