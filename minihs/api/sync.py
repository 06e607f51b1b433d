"""Syncing: GET /sync.

Spec: Client-Server API "Syncing" > GET /sync. The response is assembled by
``minihs.domain.sync``; this handler reads and checks the query parameters.
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import homeserver, query_param, requester
from minihs.api.responses import json_response
from minihs.domain.sync import SyncRequest
from minihs.spec.errors import invalid_param

SET_PRESENCE = ("online", "offline", "unavailable")


def _boolean(request: web.Request, name: str) -> bool:
    value = query_param(request, name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise invalid_param(f"'{name}' must be true or false")
    return value == "true"


def _timeout_ms(request: web.Request) -> int:
    value = query_param(request, "timeout")
    if value is None:
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise invalid_param("'timeout' must be a non-negative integer (milliseconds)")
    return int(value)


async def sync(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/sync

    Spec: "Syncing" > GET /sync: ``since`` (a ``next_batch`` of an earlier answer), ``timeout``
    (milliseconds to wait when nothing happened; at most five minutes), ``full_state``,
    ``set_presence`` (``online``, the default, or ``unavailable`` becomes the user's
    presence; ``offline`` leaves it as it is), ``filter`` (an ID or
    inline JSON). A ``since`` minihs never issued, or issued before a reset, is 400
    M_INVALID_PARAM (see ``Stream.parse_token``). ``org.matrix.msc4222.use_state_after``, sent
    by matrix-js-sdk, is accepted and ignored: the answer carries ``state`` as the spec defines
    it, which the client reads when ``state_after`` is absent.
    """
    who = await requester(request)
    hs = homeserver(request)
    presence = query_param(request, "set_presence")
    if presence is not None and presence not in SET_PRESENCE:
        raise invalid_param("'set_presence' must be online, offline or unavailable")
    sync_request = SyncRequest(
        user_id=who.user_id,
        device_id=who.device_id,
        since=query_param(request, "since"),
        filter=await hs.filters.resolve(who.user_id, query_param(request, "filter")),
        full_state=_boolean(request, "full_state"),
        timeout_ms=_timeout_ms(request),
        set_presence=presence or "online",
    )
    return json_response(await hs.sync.sync(sync_request))


ROUTES = [
    ("GET", "/sync", sync),
]
