"""Admin API: scenarios (minihs only, not in the Matrix spec). Every handler calls
:func:`minihs.api.admin.require_admin_api` first."""

from __future__ import annotations

from aiohttp import web

from minihs.api.admin import SCENARIO_PATH, require_admin_api
from minihs.api.request import homeserver
from minihs.api.responses import json_response
from minihs.spec.errors import Codes, MatrixError

# Content types that mean a YAML body; anything else is read as JSON.
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


async def load_scenario(request: web.Request) -> web.Response:
    """POST /_minihs/admin/scenario

    minihs only, not in the Matrix spec: load a scenario (users, rooms with their members,
    messages) and answer the map from its names to the real IDs and access tokens. The body is
    the scenario as a JSON object, or as YAML with ``Content-Type: application/yaml`` (or
    ``text/yaml``). Everything passes the rules the client API applies; a scenario that breaks
    one is answered 400 with that rule's errcode, ``"error": "request body line N: ..."`` and
    ``"line": N``, and leaves nothing behind. Requests wait while a scenario loads: none sees
    half of one.
    """
    require_admin_api(request)
    if request.method != "POST":
        raise MatrixError(405, Codes.UNRECOGNIZED, "Unrecognized request: method not allowed")
    syntax = "yaml" if request.content_type in YAML_TYPES else "json"
    body = await request.read()
    ids = await homeserver(request).load_scenario(body, source="request body", syntax=syntax)
    return json_response(ids)


# Any method: the admin API's rule decides first, so that a server with it off answers 404 to
# every method alike.
ROUTES = [("*", SCENARIO_PATH, load_scenario)]
