"""Profile endpoints: a user's display name and avatar URL.

Spec: Client-Server API, "Profiles" (``profile.yaml``). Reading a profile needs no access token
(the spec's GETs name no security, and Synapse asks for none by default). minihs serves the two
fields of the classic profile, ``displayname`` and ``avatar_url``; other profile keys (``m.tz``,
custom fields of spec v1.16) are not served and answer 404 ``M_UNRECOGNIZED``.
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import homeserver, json_object, requester
from minihs.api.responses import json_response
from minihs.spec.errors import missing_param


async def get_profile(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/profile/{userId}

    Spec: "Profiles" > GET /profile/{userId}. The fields that are set; 404 ``M_NOT_FOUND`` for
    an unknown user or one with no field set (as Synapse), 400 ``M_INVALID_PARAM`` for a
    malformed user ID.
    """
    return json_response(await homeserver(request).profiles.profile(request.match_info["userId"]))


async def _get_field(request: web.Request, name: str) -> web.Response:
    user_id = request.match_info["userId"]
    return json_response(await homeserver(request).profiles.field(user_id, name))


async def _put_field(request: web.Request, name: str) -> web.Response:
    who = await requester(request)
    body = await json_object(request)
    if name not in body:
        raise missing_param(name)
    await homeserver(request).profiles.set_field(
        who.user_id, request.match_info["userId"], name, body[name]
    )
    return json_response({})


async def get_displayname(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/profile/{userId}/displayname

    Spec: "Profiles" > GET /profile/{userId}/{keyName}. 404 ``M_NOT_FOUND`` when the user does
    not exist or has no display name.
    """
    return await _get_field(request, "displayname")


async def put_displayname(request: web.Request) -> web.Response:
    """PUT /_matrix/client/v3/profile/{userId}/displayname

    Spec: "Profiles" > PUT /profile/{userId}/{keyName}. Only for yourself (403 otherwise). The
    value must be a string of at most 256 characters (Synapse's limit; 400 ``M_INVALID_PARAM``
    otherwise, also for null); it is trimmed, and an empty one clears the name. Every room the
    user is joined to then gets a new member event with the new profile.
    """
    return await _put_field(request, "displayname")


async def get_avatar_url(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/profile/{userId}/avatar_url

    Spec: "Profiles" > GET /profile/{userId}/{keyName}. 404 ``M_NOT_FOUND`` when the user does
    not exist or has no avatar.
    """
    return await _get_field(request, "avatar_url")


async def put_avatar_url(request: web.Request) -> web.Response:
    """PUT /_matrix/client/v3/profile/{userId}/avatar_url

    Spec: "Profiles" > PUT /profile/{userId}/{keyName}. As for the display name, with a limit of
    1000 characters (Synapse's). Like Synapse, minihs does not check that it is an ``mxc://``
    URI (the spec puts that on the client). An empty one clears the avatar.
    """
    return await _put_field(request, "avatar_url")


ROUTES = [
    ("GET", "/profile/{userId}", get_profile),
    ("GET", "/profile/{userId}/displayname", get_displayname),
    ("PUT", "/profile/{userId}/displayname", put_displayname),
    ("GET", "/profile/{userId}/avatar_url", get_avatar_url),
    ("PUT", "/profile/{userId}/avatar_url", put_avatar_url),
]
