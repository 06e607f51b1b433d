"""Receipts and read markers.

Spec: Client-Server API, "Receipts" (``receipts.yaml``) and "Fully read markers"
(``read_markers.yaml``).
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import field, homeserver, json_object, requester
from minihs.api.responses import json_response

MARKER_KEYS = ("m.fully_read", "m.read", "m.read.private")


async def post_receipt(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}

    Spec: "Receipts" > POST /rooms/{roomId}/receipt/{receiptType}/{eventId}. ``m.read``,
    ``m.read.private`` or ``m.fully_read`` (which moves the read marker); ``thread_id`` is
    accepted. 400 for another type, 403 when not joined, 404 when the event is not in the room.
    """
    who = await requester(request)
    body = await json_object(request)
    info = request.match_info
    await homeserver(request).receipts.send_receipt(
        who.user_id, info["roomId"], info["receiptType"], info["eventId"], body.get("thread_id")
    )
    return json_response({})


async def post_read_markers(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/rooms/{roomId}/read_markers

    Spec: "Fully read markers" > POST /rooms/{roomId}/read_markers. ``m.fully_read`` moves the
    read marker (room account data), ``m.read`` / ``m.read.private`` send receipts; each is
    optional and must name an event of the room.
    """
    who = await requester(request)
    body = await json_object(request)
    markers = {}
    for key in MARKER_KEYS:
        value = field(body, key, str)
        if value is not None:
            markers[key] = value
    await homeserver(request).receipts.set_read_markers(
        who.user_id, request.match_info["roomId"], markers
    )
    return json_response({})


ROUTES = [
    ("POST", "/rooms/{roomId}/receipt/{receiptType}/{eventId}", post_receipt),
    ("POST", "/rooms/{roomId}/read_markers", post_read_markers),
]
