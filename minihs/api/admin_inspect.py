"""Admin API: inspect (minihs only, not in the Matrix spec). Every handler calls
:func:`minihs.api.admin.require_admin_api` first.

The read-only endpoints the inspector page calls (and any test harness may): users with their
devices, rooms, one room's members, state and events, one event, the mutual rooms of two users
and a status to poll. Every list is paged: ``limit`` entries at most, and the answer's
``next_batch`` (null on the last page) is the ``from`` of the next. The page itself,
``GET /_minihs/``, and its static files are served here too, under the same rule.
"""

from __future__ import annotations

import functools
from importlib import resources

from aiohttp import web

from minihs.api.admin import ADMIN_PREFIX, require_admin_api
from minihs.api.request import homeserver, int_query_param, query_param
from minihs.api.responses import json_response
from minihs.domain.inspection import Inspection
from minihs.spec.errors import invalid_param, not_found

PAGE_PATH = "/_minihs/"
ASSETS_PATH = "/_minihs/inspector/"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_SEARCH_CHARS = 256

# The page's files, shipped in the package (setup.py's package_data), and their types. Only
# these names are served: a request names a key here, never a path on disk. The scripts are
# ES modules: inspector.js imports the others by these names.
ASSET_TYPES = {
    "index.html": "text/html",
    "inspector.css": "text/css",
    "inspector.js": "text/javascript",
    "common.js": "text/javascript",
    "users.js": "text/javascript",
    "rooms.js": "text/javascript",
    "log.js": "text/javascript",
    "controls.js": "text/javascript",
}
# The page runs nothing but its own scripts and talks to nothing but this server ('self' lets
# the modules import one another: they are served from this origin).
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _inspection(request: web.Request) -> Inspection:
    require_admin_api(request)
    return Inspection(homeserver(request))


def _limit(request: web.Request) -> int:
    return int_query_param(request, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT


def _search(request: web.Request) -> str | None:
    text = query_param(request, "search")
    if text is not None and len(text) > MAX_SEARCH_CHARS:
        raise invalid_param(f"'search' is longer than {MAX_SEARCH_CHARS} characters")
    return text or None


async def status(request: web.Request) -> web.Response:
    """GET /_minihs/admin/status

    minihs only, not in the Matrix spec: what changes when anything happens (the stream
    position, counts of users, live tokens and rooms, the clock), for a page to poll cheaply.
    """
    return json_response(await _inspection(request).status())


async def users(request: web.Request) -> web.Response:
    """GET /_minihs/admin/users

    minihs only, not in the Matrix spec: users, newest first, with their devices and whether
    each device has a live access token. Query: ``search``, ``from``, ``limit``.
    """
    inspection = _inspection(request)
    page = await inspection.users(_search(request), query_param(request, "from"), _limit(request))
    return json_response(page)


async def rooms(request: web.Request) -> web.Response:
    """GET /_minihs/admin/rooms

    minihs only, not in the Matrix spec: rooms, newest first, with name, alias, version, join
    rule and member counts by membership. Query: ``search`` (room ID, name or alias contains
    it), ``from``, ``limit``.
    """
    inspection = _inspection(request)
    page = await inspection.rooms(_search(request), query_param(request, "from"), _limit(request))
    return json_response(page)


async def room(request: web.Request) -> web.Response:
    """GET /_minihs/admin/rooms/{roomId}

    minihs only, not in the Matrix spec: one room's summary, power levels and sizes.
    """
    inspection = _inspection(request)
    return json_response(await inspection.room(request.match_info["roomId"]))


async def room_members(request: web.Request) -> web.Response:
    """GET /_minihs/admin/rooms/{roomId}/members

    minihs only, not in the Matrix spec: the room's members by user ID with their membership.
    Query: ``membership`` (only that one), ``from``, ``limit``.
    """
    inspection = _inspection(request)
    page = await inspection.members(
        request.match_info["roomId"],
        query_param(request, "membership"),
        query_param(request, "from"),
        _limit(request),
    )
    return json_response(page)


async def room_state(request: web.Request) -> web.Response:
    """GET /_minihs/admin/rooms/{roomId}/state

    minihs only, not in the Matrix spec: the room's current state events, whole, by type and
    state key. Query: ``from``, ``limit``.
    """
    inspection = _inspection(request)
    page = await inspection.state(
        request.match_info["roomId"], query_param(request, "from"), _limit(request)
    )
    return json_response(page)


async def room_events(request: web.Request) -> web.Response:
    """GET /_minihs/admin/rooms/{roomId}/events

    minihs only, not in the Matrix spec: the room's events, newest first, as summaries (type,
    sender, a preview); ``GET /_minihs/admin/events/{eventId}`` gives one whole. Query:
    ``from``, ``limit``.
    """
    inspection = _inspection(request)
    page = await inspection.events(
        request.match_info["roomId"], query_param(request, "from"), _limit(request)
    )
    return json_response(page)


async def event(request: web.Request) -> web.Response:
    """GET /_minihs/admin/events/{eventId}

    minihs only, not in the Matrix spec: one event's JSON as stored, with its room.
    """
    inspection = _inspection(request)
    return json_response(await inspection.event(request.match_info["eventId"]))


async def mutual_rooms(request: web.Request) -> web.Response:
    """GET /_minihs/admin/mutual_rooms

    minihs only, not in the Matrix spec: the page of mutual rooms ``user_a`` gets from
    ``GET /_matrix/client/v1/mutual_rooms?user_id=<user_b>`` (same code, no rate limit).
    Query: ``user_a``, ``user_b``, ``from``.
    """
    inspection = _inspection(request)
    page = inspection.mutual_rooms(
        query_param(request, "user_a", required=True),
        query_param(request, "user_b", required=True),
        query_param(request, "from"),
    )
    return json_response(page)


@functools.cache
def _asset(name: str) -> bytes:
    return resources.files("minihs.api").joinpath("inspector", name).read_bytes()


def _asset_response(name: str) -> web.Response:
    response = web.Response(body=_asset(name), content_type=ASSET_TYPES[name], charset="utf-8")
    response.headers.update(_PAGE_HEADERS)
    return response


async def page(request: web.Request) -> web.Response:
    """GET /_minihs/

    minihs only, not in the Matrix spec: the inspector, a page showing users, rooms, events,
    the request log, faults and the clock, live. It reads the admin API like any client.
    """
    require_admin_api(request)
    return _asset_response("index.html")


async def asset(request: web.Request) -> web.Response:
    """GET /_minihs/inspector/{name}

    minihs only, not in the Matrix spec: the inspector page's scripts and style sheet.
    """
    require_admin_api(request)
    name = request.match_info["name"]
    if name not in ASSET_TYPES:
        raise not_found(f"No inspector file {name}")
    return _asset_response(name)


ROUTES = [
    ("GET", ADMIN_PREFIX + "/status", status),
    ("GET", ADMIN_PREFIX + "/users", users),
    ("GET", ADMIN_PREFIX + "/rooms", rooms),
    ("GET", ADMIN_PREFIX + "/rooms/{roomId}", room),
    ("GET", ADMIN_PREFIX + "/rooms/{roomId}/members", room_members),
    ("GET", ADMIN_PREFIX + "/rooms/{roomId}/state", room_state),
    ("GET", ADMIN_PREFIX + "/rooms/{roomId}/events", room_events),
    ("GET", ADMIN_PREFIX + "/events/{eventId}", event),
    ("GET", ADMIN_PREFIX + "/mutual_rooms", mutual_rooms),
    ("GET", PAGE_PATH, page),
    ("GET", ASSETS_PATH + "{name}", asset),
]
