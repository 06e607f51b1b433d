"""Discovery: which spec versions minihs speaks, and where its client API lives.

Spec: Client-Server API, "API Standards" > GET /_matrix/client/versions, and "Server Discovery"
> GET /.well-known/matrix/client.
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import homeserver
from minihs.api.responses import json_response

SPEC_VERSIONS = [
    "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
    *(f"v1.{minor}" for minor in range(1, 20)),
]

UNSTABLE_FEATURES = {
    # MSC2666 mutual rooms: the unstable path (matrix-js-sdk checks this flag) and the stable one.
    "uk.half-shot.msc2666.query_mutual_rooms": True,
    "uk.half-shot.msc2666.query_mutual_rooms.stable": True,
}


async def versions(request: web.Request) -> web.Response:
    """GET /_matrix/client/versions

    Spec: "API Standards" > GET /_matrix/client/versions. Authentication is optional; the answer
    is the same either way.
    """
    return json_response({"versions": SPEC_VERSIONS, "unstable_features": UNSTABLE_FEATURES})


def base_url_of(request: web.Request) -> str:
    configured = homeserver(request).config.public_baseurl
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


async def well_known_client(request: web.Request) -> web.Response:
    """GET /.well-known/matrix/client

    Spec: "Server Discovery" > "Well-known URIs".
    """
    return json_response({"m.homeserver": {"base_url": base_url_of(request)}})
