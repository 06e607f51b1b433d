"""Profile endpoints: a user's display name and avatar URL.

Spec: Client-Server API, "Profiles" (``profile.yaml``). Reading a profile needs no access token
(the spec's GETs name no security, and Synapse asks for none by default). minihs serves the two
fields of the classic profile, ``displayname`` and ``avatar_url``; other profile keys (``m.tz``,
custom fields of spec v1.16) are not kept: reading one is 404, setting one 403.
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


async def get_field(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/profile/{userId}/{keyName}

    Spec: "Profiles" > GET /profile/{userId}/{keyName}. ``displayname`` or ``avatar_url``; 404
    ``M_NOT_FOUND`` when the user does not exist, has no such field set, or names a key minihs
    does not keep (``m.tz``, custom fields: the spec's 404 "no profile field with this key").
    """
    info = request.match_info
    return json_response(await homeserver(request).profiles.field(info["userId"], info["keyName"]))


async def put_field(request: web.Request) -> web.Response:
    """PUT /_matrix/client/v3/profile/{userId}/{keyName}

    Spec: "Profiles" > PUT /profile/{userId}/{keyName}. Only your own profile, and only
    ``displayname`` and ``avatar_url`` (the ``m.profile_fields`` capability says so; any other
    key is 403 ``M_FORBIDDEN``, the spec's answer when a modification is not permitted). The
    value must be a string (400 ``M_INVALID_PARAM`` otherwise, null included, as Synapse) of at
    most 256 characters for a display name and 1000 for an avatar URL (Synapse's limits). A
    display name is trimmed; an empty value clears the field (as Synapse). Like Synapse, minihs
    does not check that an avatar URL is an ``mxc://`` URI (the spec puts that on the client).
    Every room the user is joined to then gets a new member event with the new profile.
    """
    who = await requester(request)
    body = await json_object(request)
    name = request.match_info["keyName"]
    profiles = homeserver(request).profiles
    profiles.check_settable(who.user_id, request.match_info["userId"], name)
    if name not in body:
        raise missing_param(name)
    await profiles.set_field(who.user_id, request.match_info["userId"], name, body[name])
    return json_response({})


ROUTES = [
    ("GET", "/profile/{userId}", get_profile),
    ("GET", "/profile/{userId}/{keyName}", get_field),
    ("PUT", "/profile/{userId}/{keyName}", put_field),
]
