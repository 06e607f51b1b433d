"""Account data endpoints: a user's own configuration objects, global and per room.

Spec: Client-Server API, "Client Config" (``account-data.yaml``).
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import homeserver, json_object, requester
from minihs.api.responses import json_response


async def put_global(request: web.Request) -> web.Response:
    """PUT /_matrix/client/v3/user/{userId}/account_data/{type}

    Spec: "Client Config" > PUT /user/{userId}/account_data/{type}. 403 for another user's
    data; 405 ``M_BAD_JSON`` for ``m.fully_read`` and ``m.push_rules`` (the server manages
    them); 400 when the body is not a JSON object.
    """
    who = await requester(request)
    content = await json_object(request)
    info = request.match_info
    await homeserver(request).account_data.put_global(
        who.user_id, info["userId"], info["type"], content
    )
    return json_response({})


async def get_global(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/user/{userId}/account_data/{type}

    Spec: "Client Config" > GET /user/{userId}/account_data/{type}. 404 ``M_NOT_FOUND`` for a
    type never set; ``m.push_rules`` answers the server-default rules.
    """
    who = await requester(request)
    info = request.match_info
    content = await homeserver(request).account_data.get_global(
        who.user_id, info["userId"], info["type"]
    )
    return json_response(content)


async def put_room(request: web.Request) -> web.Response:
    """PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}

    Spec: "Client Config" > PUT /user/{userId}/rooms/{roomId}/account_data/{type}. As the
    global form, plus 400 ``M_INVALID_PARAM`` for a malformed room ID.
    """
    who = await requester(request)
    content = await json_object(request)
    info = request.match_info
    await homeserver(request).account_data.put_room(
        who.user_id, info["userId"], info["roomId"], info["type"], content
    )
    return json_response({})


async def get_room(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}

    Spec: "Client Config" > GET /user/{userId}/rooms/{roomId}/account_data/{type}.
    """
    who = await requester(request)
    info = request.match_info
    content = await homeserver(request).account_data.get_room(
        who.user_id, info["userId"], info["roomId"], info["type"]
    )
    return json_response(content)


ROUTES = [
    ("PUT", "/user/{userId}/account_data/{type}", put_global),
    ("GET", "/user/{userId}/account_data/{type}", get_global),
    ("PUT", "/user/{userId}/rooms/{roomId}/account_data/{type}", put_room),
    ("GET", "/user/{userId}/rooms/{roomId}/account_data/{type}", get_room),
]
