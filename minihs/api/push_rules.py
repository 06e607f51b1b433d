"""Push rules: the server-default rules every user has.

Spec: Client-Server API, "Push Notifications" > "Push Rules: API" (``pushrules.yaml``). minihs
sends no pushes and keeps no rules of users' own: the two GETs that list the rules answer the
spec's predefined server-default rules; changing a rule (PUT/DELETE
``/pushrules/global/{kind}/{ruleId}`` and its ``enabled`` / ``actions``) is not served and
answers 404 ``M_UNRECOGNIZED``.
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import requester
from minihs.api.responses import json_response
from minihs.spec.push_rules import server_default_ruleset


async def get_push_rules(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/pushrules/

    Spec: "Push Rules: API" > GET /pushrules/. ``{"global": ruleset}``.
    """
    who = await requester(request)
    return json_response({"global": server_default_ruleset(who.user_id)})


async def get_global_push_rules(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/pushrules/global/

    Spec: "Push Rules: API" > GET /pushrules/global/. The ruleset itself.
    """
    who = await requester(request)
    return json_response(server_default_ruleset(who.user_id))


ROUTES = [
    ("GET", "/pushrules/", get_push_rules),
    ("GET", "/pushrules/global/", get_global_push_rules),
]
