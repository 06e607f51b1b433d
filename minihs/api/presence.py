"""Presence endpoints: set and read a user's presence.

Spec: Client-Server API, "Presence" (``presence.yaml``). Presence is kept in memory only (see
``minihs.domain.presence``): a restart forgets it.
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import field, homeserver, json_object, requester
from minihs.api.responses import json_response
from minihs.spec.errors import forbidden


async def put_status(request: web.Request) -> web.Response:
    """PUT /_matrix/client/v3/presence/{userId}/status

    Spec: "Presence" > PUT /presence/{userId}/status. Only for yourself (403 otherwise);
    ``presence`` must be ``online``, ``unavailable`` or ``offline`` (400 ``M_INVALID_PARAM``);
    ``status_msg`` a string; leaving it out clears it.
    """
    who = await requester(request)
    body = await json_object(request)
    presence = field(body, "presence", str, required=True)
    status_msg = field(body, "status_msg", str)
    if request.match_info["userId"] != who.user_id:
        raise forbidden("Can only set your own presence state")
    await homeserver(request).presence.set_presence(who.user_id, presence, status_msg)
    return json_response({})


async def get_status(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/presence/{userId}/status

    Spec: "Presence" > GET /presence/{userId}/status. Your own, or that of a user you share a
    joined room with; 403 ``M_FORBIDDEN`` otherwise. A user who never set one is ``offline``.
    """
    who = await requester(request)
    presence = homeserver(request).presence.get_presence(who.user_id, request.match_info["userId"])
    return json_response(presence)


ROUTES = [
    ("PUT", "/presence/{userId}/status", put_status),
    ("GET", "/presence/{userId}/status", get_status),
]
