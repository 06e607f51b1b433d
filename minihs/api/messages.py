"""Sending events and reading a room's history.

Spec: Client-Server API "Sending events to a room" (``PUT /rooms/{roomId}/send/{eventType}/
{txnId}``, ``PUT /rooms/{roomId}/state/{eventType}/{stateKey}``), "Getting events for a room"
(``GET /rooms/{roomId}/event/{eventId}``) and "Syncing" (``GET /rooms/{roomId}/messages``).
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import homeserver, json_object, query_param, requester
from minihs.api.responses import json_response
from minihs.domain.messages import DEFAULT_PAGE, MAX_PAGE, MessagesRequest
from minihs.spec.errors import invalid_param
from minihs.spec.filters import EventFilter, decode_filter_json, parse_event_filter


async def send_event(request: web.Request) -> web.Response:
    """PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}

    Spec: "Sending events to a room" > PUT /rooms/{roomId}/send/{eventType}/{txnId}. Any event
    type is accepted; 403 when the sender is not joined or lacks the power level the room's
    ``m.room.power_levels`` asks for the type; 413 M_TOO_LARGE for an event over 64 KiB.
    """
    who = await requester(request)
    content = await json_object(request)
    event_id = await homeserver(request).messages.send(
        who,
        request.match_info["roomId"],
        request.match_info["eventType"],
        request.match_info["txnId"],
        content,
    )
    return json_response({"event_id": event_id})


async def set_state(request: web.Request) -> web.Response:
    """PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}

    Spec: "Sending events to a room" > PUT /rooms/{roomId}/state/{eventType}/{stateKey} (no
    ``stateKey`` means the empty one). ``m.room.power_levels`` changes follow the authorization
    rules for it; ``m.room.member`` goes through the membership rules; ``m.room.create`` is 403.
    """
    who = await requester(request)
    content = await json_object(request)
    event_id = await homeserver(request).messages.set_state(
        who,
        request.match_info["roomId"],
        request.match_info["eventType"],
        request.match_info.get("stateKey", ""),
        content,
    )
    return json_response({"event_id": event_id})


async def get_event(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}

    Spec: "Getting events for a room" > GET /rooms/{roomId}/event/{eventId}. 404 M_NOT_FOUND
    when the event is unknown, in another room, or not visible to the user.
    """
    who = await requester(request)
    event = await homeserver(request).messages.event(
        who.user_id, request.match_info["roomId"], request.match_info["eventId"]
    )
    return json_response(event)


def _limit(request: web.Request) -> int:
    value = query_param(request, "limit")
    if value is None:
        return DEFAULT_PAGE
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise invalid_param("'limit' must be a non-negative integer")
    # 0 would ask for a page that can never move on: read it as 1. Above the cap, the cap.
    return min(max(int(value), 1), MAX_PAGE)


def _room_event_filter(request: web.Request) -> EventFilter:
    value = query_param(request, "filter")
    if value is None:
        return EventFilter()
    return parse_event_filter(decode_filter_json(value))


async def messages(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/rooms/{roomId}/messages

    Spec: "Syncing" > GET /rooms/{roomId}/messages: ``dir`` (required, ``b`` or ``f``), ``from``
    and ``to`` (tokens from /sync or from this endpoint), ``limit`` (default 10, at most 1000),
    ``filter`` (a RoomEventFilter as JSON). ``end`` is left out at the end of what the user may
    see. 403 for a room the user is not in (or that does not exist).
    """
    who = await requester(request)
    direction = query_param(request, "dir", required=True)
    if direction not in ("b", "f"):
        raise invalid_param("'dir' must be 'b' or 'f'")
    body = await homeserver(request).messages.messages(
        who.user_id,
        MessagesRequest(
            room_id=request.match_info["roomId"],
            direction=direction,
            from_token=query_param(request, "from"),
            to_token=query_param(request, "to"),
            limit=_limit(request),
            filter=_room_event_filter(request),
        ),
    )
    return json_response(body)


ROUTES = [
    ("PUT", "/rooms/{roomId}/send/{eventType}/{txnId}", send_event),
    ("PUT", "/rooms/{roomId}/state/{eventType}", set_state),
    ("PUT", "/rooms/{roomId}/state/{eventType}/{stateKey:.*}", set_state),
    ("GET", "/rooms/{roomId}/event/{eventId}", get_event),
    ("GET", "/rooms/{roomId}/messages", messages),
]
