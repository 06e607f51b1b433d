"""Filters: uploading a filter definition and reading it back.

Spec: Client-Server API "Filtering" > POST /user/{userId}/filter, GET
/user/{userId}/filter/{filterId}.
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import homeserver, json_object, requester
from minihs.api.responses import json_response


async def upload_filter(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/user/{userId}/filter

    Spec: "Filtering" > POST /user/{userId}/filter. Only for yourself (403 otherwise); a wrong
    type anywhere in the definition is 400 M_BAD_JSON, a definition over 64 KiB 413.
    """
    who = await requester(request)
    body = await json_object(request)
    filter_id = await homeserver(request).filters.upload(
        who.user_id, request.match_info["userId"], body
    )
    return json_response({"filter_id": filter_id})


async def get_filter(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/user/{userId}/filter/{filterId}

    Spec: "Filtering" > GET /user/{userId}/filter/{filterId}: the definition as uploaded; 404
    M_NOT_FOUND for an unknown ID, 403 for another user's filters.
    """
    who = await requester(request)
    definition = await homeserver(request).filters.definition(
        who.user_id, request.match_info["userId"], request.match_info["filterId"]
    )
    return json_response(definition)


ROUTES = [
    ("POST", "/user/{userId}/filter", upload_filter),
    ("GET", "/user/{userId}/filter/{filterId}", get_filter),
]
