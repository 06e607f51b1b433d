"""What clients read of rooms: their joined rooms, a room's members and its current state.

Spec: Client-Server API "Room membership" (``GET /joined_rooms``, ``.../joined_members``,
``.../members``) and "Getting events for a room" (``GET .../state``, ``.../state/{eventType}/
{stateKey}``).

Nothing here changes a room: it reads the current state :class:`~minihs.domain.rooms.Rooms`
keeps (``Rooms.room``, which loads a room missing from the cache under the room's lock) and
the joined-rooms index Rooms maintains. Who may read: a room's state and members go to its
current joined members only, and a room the user is not in answers the same 403 as one that
does not exist, so that the answer never tells whether a room exists.
"""

from __future__ import annotations

from typing import Any

from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.domain.room_state import MEMBER, RoomState
from minihs.domain.rooms import Rooms
from minihs.spec.errors import MatrixError, forbidden, invalid_param, not_found
from minihs.spec.events import client_event

MEMBERSHIPS = ("join", "invite", "knock", "leave", "ban")


class RoomReads:
    def __init__(self, rooms: Rooms, index: JoinedRoomsIndex) -> None:
        self._rooms = rooms
        self._index = index

    def joined_rooms(self, user_id: str) -> list[str]:
        """GET /joined_rooms, from the index."""
        return sorted(self._index.joined_rooms_of(user_id))

    async def _known_room_or_forbidden(self, room_id: str, user_id: str) -> RoomState:
        """The room, or the 403 M_FORBIDDEN a room the user is not in gets: the spec documents
        403 for these endpoints, and the same answer for both does not leak that a room exists."""
        try:
            return await self._rooms.room(room_id)
        except MatrixError as error:
            if error.errcode != "M_NOT_FOUND":
                raise
            raise forbidden(f"{user_id} not in room {room_id}.") from None

    async def _room_visible_to(self, user_id: str, room_id: str) -> RoomState:
        room = await self._known_room_or_forbidden(room_id, user_id)
        # minihs shows a room's state to its current members only; Synapse also shows former
        # members the state as it was when they left (see README).
        if room.membership_of(user_id) != "join":
            raise forbidden(f"{user_id} not in room {room_id}.")
        return room

    async def joined_members(self, user_id: str, room_id: str) -> dict[str, dict[str, Any]]:
        """GET /rooms/{roomId}/joined_members: each joined member's display name and avatar."""
        room = await self._room_visible_to(user_id, room_id)
        joined = {}
        for member in room.members_with("join"):
            content = room.content_of(MEMBER, member) or {}
            # The spec types both as strings: one the member event does not give (as a string)
            # is left out rather than sent as null. minihs has no profiles to fall back on.
            profile = {}
            for key, source in (("display_name", "displayname"), ("avatar_url", "avatar_url")):
                if isinstance(content.get(source), str):
                    profile[key] = content[source]
            joined[member] = profile
        return joined

    async def members(
        self, user_id: str, room_id: str, membership: str | None, not_membership: str | None
    ) -> list[dict[str, Any]]:
        """GET /rooms/{roomId}/members: the member events, filtered by membership."""
        for name, value in (("membership", membership), ("not_membership", not_membership)):
            if value is not None and value not in MEMBERSHIPS:
                raise invalid_param(f"'{name}' must be one of {', '.join(MEMBERSHIPS)}")
        room = await self._room_visible_to(user_id, room_id)
        chunk = []
        for (etype, _), (event_id, pdu) in room.state.items():
            if etype != MEMBER:
                continue
            if self._membership_matches(
                pdu["content"].get("membership"), membership, not_membership
            ):
                chunk.append(client_event(event_id, pdu, room.room_id))
        return chunk

    @staticmethod
    def _membership_matches(value: Any, membership: str | None, not_membership: str | None) -> bool:
        # Spec: "When specified alongside not_membership, the two parameters create an 'or'
        # condition: either the membership *is* the same as membership **or** *is not* the
        # same as not_membership." (Synapse applies both filters instead; the spec wins.)
        if membership is not None and not_membership is not None:
            return value == membership or value != not_membership
        if membership is not None:
            return value == membership
        if not_membership is not None:
            return value != not_membership
        return True

    async def state(self, user_id: str, room_id: str) -> list[dict[str, Any]]:
        """GET /rooms/{roomId}/state: every current state event."""
        room = await self._room_visible_to(user_id, room_id)
        return [client_event(eid, pdu, room.room_id) for eid, pdu in room.state.values()]

    async def state_event(
        self, user_id: str, room_id: str, event_type: str, state_key: str
    ) -> dict[str, Any]:
        """GET /rooms/{roomId}/state/{eventType}/{stateKey}: one state event (404 if unset)."""
        room = await self._room_visible_to(user_id, room_id)
        entry = room.state.get((event_type, state_key))
        if entry is None:
            raise not_found("Event not found.")
        return client_event(entry[0], entry[1], room.room_id)
