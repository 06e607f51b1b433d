"""Admin API: snapshots (minihs only, not in the Matrix spec). Every handler calls
:func:`minihs.api.admin.require_admin_api` first.

A suite in another process loads its world once, takes a snapshot, and restores it before each
test (:mod:`minihs.domain.snapshots`). These paths are outside the request gate
(``admin._outside_the_gate``): taking and restoring hold it alone, and would wait for
themselves inside it.
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.admin import SNAPSHOTS_PATH, require_admin_api
from minihs.api.request import homeserver
from minihs.api.responses import json_response

SNAPSHOT_PATH = SNAPSHOTS_PATH + "/{name}"
RESTORE_PATH = SNAPSHOT_PATH + "/restore"


async def list_snapshots(request: web.Request) -> web.Response:
    """GET /_minihs/admin/snapshots

    minihs only, not in the Matrix spec: the snapshots the server keeps, oldest first, as
    ``{"snapshots": [{"name", "taken_at_ms", "events"}]}``.
    """
    require_admin_api(request)
    return json_response({"snapshots": homeserver(request).list_snapshots()})


async def take_snapshot(request: web.Request) -> web.Response:
    """PUT /_minihs/admin/snapshots/{name}

    minihs only, not in the Matrix spec: snapshot the whole server (its database, the ID
    source, the clock when frozen) under ``name``, replacing a snapshot of that name; answers
    ``{"name", "taken_at_ms", "events"}``. Any body is ignored. 400 ``M_INVALID_PARAM`` for a
    name that is not 1-64 characters of ``[A-Za-z0-9._-]``, 400 ``M_LIMIT_EXCEEDED`` when the
    server already keeps the most snapshots it will.
    """
    require_admin_api(request)
    name = request.match_info["name"]
    return json_response(await homeserver(request).take_snapshot(name))


async def restore_snapshot(request: web.Request) -> web.Response:
    """POST /_minihs/admin/snapshots/{name}/restore

    minihs only, not in the Matrix spec: put the server back as it was when the snapshot was
    taken; answers ``{}`` once done. Requests in flight finish first; requests arriving
    meanwhile wait, then see the restored server. Sync tokens from before are refused (the
    client starts again without ``since``). 404 ``M_NOT_FOUND`` for an unknown name.
    """
    require_admin_api(request)
    await homeserver(request).restore_snapshot(request.match_info["name"])
    return json_response({})


async def delete_snapshot(request: web.Request) -> web.Response:
    """DELETE /_minihs/admin/snapshots/{name}

    minihs only, not in the Matrix spec: forget the snapshot; answers ``{}``. 404
    ``M_NOT_FOUND`` for an unknown name.
    """
    require_admin_api(request)
    homeserver(request).delete_snapshot(request.match_info["name"])
    return json_response({})


ROUTES = [
    ("GET", SNAPSHOTS_PATH, list_snapshots),
    ("PUT", SNAPSHOT_PATH, take_snapshot),
    ("DELETE", SNAPSHOT_PATH, delete_snapshot),
    ("POST", RESTORE_PATH, restore_snapshot),
]
