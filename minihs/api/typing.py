"""Typing notifications.

Spec: Client-Server API, "Typing Notifications" (``typing.yaml``). Kept in memory, each with an
expiry (see ``minihs.domain.typing``).
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import field, homeserver, json_object, requester
from minihs.api.responses import json_response


async def put_typing(request: web.Request) -> web.Response:
    """PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}

    Spec: "Typing Notifications" > PUT /rooms/{roomId}/typing/{userId}. Only for yourself and
    in a room you are joined to (403 otherwise). ``timeout`` defaults to 30 s and is capped at
    120 s (as Synapse); typing ends by itself when it runs out.
    """
    who = await requester(request)
    body = await json_object(request)
    typing = field(body, "typing", bool, required=True)
    timeout = field(body, "timeout", int)
    info = request.match_info
    await homeserver(request).typing.set_typing(who.user_id, info["roomId"], info["userId"], typing, timeout)
    return json_response({})


ROUTES = [("PUT", "/rooms/{roomId}/typing/{userId}", put_typing)]
