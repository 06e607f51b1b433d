"""Capabilities: what a client may do on this server.

Spec: Client-Server API, "Capabilities negotiation" (``capabilities.yaml``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from minihs.api.request import homeserver, requester
from minihs.api.responses import json_response
from minihs.config import SUPPORTED_ROOM_VERSIONS, Config


def capabilities_of(config: Config) -> dict[str, Any]:
    """Each capability as it really is here."""
    return {
        # minihs has no password-change endpoint.
        "m.change_password": {"enabled": False},
        "m.room_versions": {
            "default": config.rooms.default_room_version,
            "available": {version: "stable" for version in SUPPORTED_ROOM_VERSIONS},
        },
        # Deprecated in favour of m.profile_fields, but still read by clients.
        "m.set_displayname": {"enabled": True},
        "m.set_avatar_url": {"enabled": True},
        "m.profile_fields": {"enabled": True, "allowed": ["displayname", "avatar_url"]},
        "m.3pid_changes": {"enabled": False},
        "m.get_login_token": {"enabled": False},
    }


async def get_capabilities(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/capabilities

    Spec: "Capabilities negotiation" > GET /capabilities.
    """
    await requester(request)
    return json_response({"capabilities": capabilities_of(homeserver(request).config)})


ROUTES = [("GET", "/capabilities", get_capabilities)]
