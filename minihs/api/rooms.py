"""Room endpoints: creation, room directory aliases, and reading a room's members and state.

Spec: Client-Server API, "Rooms" > "Creation", "Room aliases", "Room membership" (joined_rooms,
joined_members, members) and "Getting events for a room" (state).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from minihs.api.request import field, homeserver, json_object, query_param, requester
from minihs.spec.errors import bad_json, invalid_param
from minihs.api.responses import json_response
from minihs.domain.room_creation import CreateRoomRequest


def _string_list(body: dict[str, Any], name: str) -> list[str]:
    values = field(body, name, list) or []
    if not all(isinstance(value, str) for value in values):
        raise bad_json(f"'{name}' must be a list of strings")
    return values


def _initial_state(body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    entries = []
    for entry in field(body, "initial_state", list) or []:
        if not isinstance(entry, dict):
            raise bad_json("'initial_state' must be a list of objects")
        event_type = field(entry, "type", str, required=True)
        state_key = field(entry, "state_key", str) or ""
        content = field(entry, "content", dict, required=True)
        entries.append((event_type, state_key, content))
    return entries


def create_room_request(body: dict[str, Any]) -> CreateRoomRequest:
    """Type-check a createRoom body; the meaning of each value is checked by room creation."""
    return CreateRoomRequest(
        visibility=field(body, "visibility", str) or "private",
        preset=field(body, "preset", str),
        name=field(body, "name", str),
        topic=field(body, "topic", str),
        room_alias_name=field(body, "room_alias_name", str),
        invite=_string_list(body, "invite"),
        is_direct=field(body, "is_direct", bool) or False,
        initial_state=_initial_state(body),
        creation_content=field(body, "creation_content", dict) or {},
        power_level_content_override=field(body, "power_level_content_override", dict),
        room_version=field(body, "room_version", str),
    )


async def create_room(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/createRoom

    Spec: "Rooms" > "Creation" > POST /createRoom.
    """
    who = await requester(request)
    create = create_room_request(await json_object(request))
    room_id = await homeserver(request).rooms.create_room(who.user_id, create)
    return json_response({"room_id": room_id})


async def room_alias(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/directory/room/{roomAlias}

    Spec: "Room aliases" > GET /directory/room/{roomAlias}. No authentication needed.
    """
    hs = homeserver(request)
    room_id = await hs.rooms.resolve_alias(request.match_info["roomAlias"])
    return json_response({"room_id": room_id, "servers": [hs.config.server_name]})


async def joined_rooms(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/joined_rooms

    Spec: "Room membership" > GET /joined_rooms.
    """
    who = await requester(request)
    rooms = homeserver(request).room_reads.joined_rooms(who.user_id)
    return json_response({"joined_rooms": rooms})


async def joined_members(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/rooms/{roomId}/joined_members

    Spec: "Room membership" > GET /rooms/{roomId}/joined_members.
    """
    who = await requester(request)
    joined = await homeserver(request).room_reads.joined_members(
        who.user_id, request.match_info["roomId"]
    )
    return json_response({"joined": joined})


async def members(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/rooms/{roomId}/members

    Spec: "Room membership" > GET /rooms/{roomId}/members, with ``membership`` and
    ``not_membership`` filters (``at`` is accepted and ignored: minihs serves current state).
    """
    who = await requester(request)
    chunk = await homeserver(request).room_reads.members(
        who.user_id,
        request.match_info["roomId"],
        query_param(request, "membership"),
        query_param(request, "not_membership"),
    )
    return json_response({"chunk": chunk})


async def room_state(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/rooms/{roomId}/state

    Spec: "Getting events for a room" > GET /rooms/{roomId}/state.
    """
    who = await requester(request)
    events = await homeserver(request).room_reads.state(who.user_id, request.match_info["roomId"])
    return json_response(events)


async def room_state_event(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}

    Spec: "Getting events for a room" > GET /rooms/{roomId}/state/{eventType}/{stateKey};
    ``format=event`` returns the whole event instead of its content.
    """
    who = await requester(request)
    response_format = query_param(request, "format") or "content"
    if response_format not in ("content", "event"):
        raise invalid_param("'format' must be 'content' or 'event'")
    event = await homeserver(request).room_reads.state_event(
        who.user_id,
        request.match_info["roomId"],
        request.match_info["eventType"],
        request.match_info.get("stateKey", ""),
    )
    return json_response(event if response_format == "event" else event["content"])


ROUTES = [
    ("POST", "/createRoom", create_room),
    ("GET", "/directory/room/{roomAlias}", room_alias),
    ("GET", "/joined_rooms", joined_rooms),
    ("GET", "/rooms/{roomId}/joined_members", joined_members),
    ("GET", "/rooms/{roomId}/members", members),
    ("GET", "/rooms/{roomId}/state", room_state),
    ("GET", "/rooms/{roomId}/state/{eventType}", room_state_event),
    ("GET", "/rooms/{roomId}/state/{eventType}/{stateKey:.*}", room_state_event),
]
