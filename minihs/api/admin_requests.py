"""Admin API: the request log (minihs only, not in the Matrix spec).

What the server answered, newest last (:mod:`minihs.domain.request_log`; recorded by
:mod:`minihs.api.observe`). Every handler calls :func:`minihs.api.admin.require_admin_api`
first. With ``request_log.enabled`` off the endpoints still answer, with an empty log and
``"enabled": false``, so a client can tell "nothing happened" from "nothing was recorded".
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.admin import ADMIN_PREFIX, require_admin_api
from minihs.api.request import homeserver, int_query_param, query_param, whole_number
from minihs.api.responses import json_response
from minihs.domain.path_patterns import compile_pattern
from minihs.spec.errors import invalid_param, not_found

REQUESTS_PATH = ADMIN_PREFIX + "/requests"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000
MAX_ID = 2**63 - 1


async def list_requests(request: web.Request) -> web.Response:
    """GET /_minihs/admin/requests

    minihs only, not in the Matrix spec: a page of the request log. ``since``/``before``
    bound the ids (exclusive), ``order`` is ``asc`` (default) or ``desc``, ``limit`` 1 to
    1,000 (default 100); ``path`` (a fault-rule path pattern), ``user``, ``status`` and
    ``method`` filter. ``mark`` is the newest id recorded: pass it as ``since`` later.
    """
    require_admin_api(request)
    log = homeserver(request).request_log
    order = query_param(request, "order") or "asc"
    if order not in ("asc", "desc"):
        raise invalid_param("order: must be asc or desc")
    path = query_param(request, "path")
    method = query_param(request, "method")
    entries = log.query(
        since=int_query_param(request, "since", 0, MAX_ID),
        before=int_query_param(request, "before", 0, MAX_ID),
        limit=int_query_param(request, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT,
        descending=order == "desc",
        path=None if path is None else compile_pattern(path, "path"),
        user=query_param(request, "user"),
        status=int_query_param(request, "status", 100, 999),
        method=None if method is None else method.upper(),
    )
    return json_response({
        "requests": [entry.summary() for entry in entries],
        "mark": log.mark,
        "total": len(log),
        "enabled": log.enabled,
    })


async def get_request(request: web.Request) -> web.Response:
    """GET /_minihs/admin/requests/{requestId}

    minihs only, not in the Matrix spec: one entry of the request log with its query,
    headers and bodies (``request`` and ``response`` are null once the entry is older than the
    newest ``bodies_kept``). 404 ``M_NOT_FOUND`` for an id not (or no longer) in the log.
    """
    require_admin_api(request)
    text = request.match_info["requestId"]
    entry_id = whole_number(text, 1, MAX_ID)
    entry = None if entry_id is None else homeserver(request).request_log.get(entry_id)
    if entry is None:
        raise not_found(f"No request {text!r} in the request log")
    return json_response(entry.detail())


async def clear_requests(request: web.Request) -> web.Response:
    """DELETE /_minihs/admin/requests

    minihs only, not in the Matrix spec: empty the request log. Ids go on from where they
    were, so a mark taken before still works.
    """
    require_admin_api(request)
    homeserver(request).request_log.clear()
    return json_response({})


ROUTES = [
    ("GET", REQUESTS_PATH, list_requests),
    ("DELETE", REQUESTS_PATH, clear_requests),
    ("GET", REQUESTS_PATH + "/{requestId}", get_request),
]
