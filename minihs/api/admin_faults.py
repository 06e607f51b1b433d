"""Admin API: fault injection (minihs only, not in the Matrix spec).

A test makes chosen requests fail, wait or go unanswered: ``POST /_minihs/admin/faults`` adds a
rule (see :mod:`minihs.domain.faults` for what a rule is, :mod:`minihs.api.observe` for how it
is applied). Every handler calls :func:`minihs.api.admin.require_admin_api` first.
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.admin import ADMIN_PREFIX, require_admin_api
from minihs.api.request import homeserver, json_object
from minihs.api.responses import json_response

FAULTS_PATH = ADMIN_PREFIX + "/faults"


async def add_fault(request: web.Request) -> web.Response:
    """POST /_minihs/admin/faults

    minihs only, not in the Matrix spec: add a fault rule; answers the rule with its ``id``.
    A rule that cannot work is 400 ``M_INVALID_PARAM`` naming the field; more than 1,000 rules
    at once is 400 ``M_LIMIT_EXCEEDED``.
    """
    require_admin_api(request)
    rule = homeserver(request).faults.add(await json_object(request))
    return json_response(rule.to_json())


async def list_faults(request: web.Request) -> web.Response:
    """GET /_minihs/admin/faults

    minihs only, not in the Matrix spec: the live rules, in the order they apply, with how
    often each matched and how many turns it has left.
    """
    require_admin_api(request)
    return json_response({"faults": [rule.to_json() for rule in homeserver(request).faults.list()]})


async def clear_faults(request: web.Request) -> web.Response:
    """DELETE /_minihs/admin/faults

    minihs only, not in the Matrix spec: remove every rule.
    """
    require_admin_api(request)
    homeserver(request).faults.clear()
    return json_response({})


async def remove_fault(request: web.Request) -> web.Response:
    """DELETE /_minihs/admin/faults/{faultId}

    minihs only, not in the Matrix spec: remove one rule; 404 ``M_NOT_FOUND`` if there is no
    live rule of that id (a rule whose ``times`` ran out is gone by itself).
    """
    require_admin_api(request)
    homeserver(request).faults.remove(request.match_info["faultId"])
    return json_response({})


ROUTES = [
    ("POST", FAULTS_PATH, add_fault),
    ("GET", FAULTS_PATH, list_faults),
    ("DELETE", FAULTS_PATH, clear_faults),
    ("DELETE", FAULTS_PATH + "/{faultId}", remove_fault),
]
