"""Admin API: the server clock (minihs only, not in the Matrix spec). Every handler calls
:func:`minihs.api.admin.require_admin_api` first.

The clock is :class:`minihs.domain.clock.ServerClock`: what ``origin_server_ts``, token and
session lifetimes, pagination-token expiry and rate-limit windows read. A test from another
process freezes it, sets it and steps it forward here (``MinihsServer.clock`` is the same from
Python).
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.admin import ADMIN_PREFIX, require_admin_api
from minihs.api.request import homeserver, json_object
from minihs.api.responses import json_response
from minihs.spec.errors import bad_json

CLOCK_PATH = ADMIN_PREFIX + "/clock"
_FIELDS = ("now_ms", "advance_ms", "frozen")


async def get_clock(request: web.Request) -> web.Response:
    """GET /_minihs/admin/clock

    minihs only, not in the Matrix spec: the server clock, ``{"now_ms": int, "frozen": bool}``.
    """
    require_admin_api(request)
    return json_response(homeserver(request).clock.state())


async def set_clock(request: web.Request) -> web.Response:
    """POST /_minihs/admin/clock

    minihs only, not in the Matrix spec: move the server clock. The body holds any of
    ``now_ms`` (set it, back or forward), ``advance_ms`` (step it forward) and ``frozen``
    (stop or restart it), applied in that order; answers the clock's state as ``GET`` does.
    A bad value changes nothing: 400 ``M_BAD_JSON`` for a wrong type or an unknown field,
    ``M_INVALID_PARAM`` for a value out of range.
    """
    require_admin_api(request)
    body = await json_object(request)
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        # A misspelt field would otherwise be a silent no-op, and a test would wait in vain.
        raise bad_json(f"Unknown field {unknown[0]!r}: the clock takes {', '.join(_FIELDS)}")
    state = homeserver(request).clock.adjust(
        now_ms=body.get("now_ms"), advance_ms=body.get("advance_ms"), frozen=body.get("frozen")
    )
    return json_response(state)


ROUTES = [
    ("GET", CLOCK_PATH, get_clock),
    ("POST", CLOCK_PATH, set_clock),
]
