"""Admin endpoints: the rule every ``/_minihs/`` endpoint obeys, the test harness reset, and
Synapse-compatible shared-secret registration.

None is part of the Matrix spec. ``/_minihs/admin/...`` is minihs's own admin API, for test
suites that run minihs in another process (the other ``admin_*`` modules hold the rest of it);
``/_synapse/admin/v1/register`` mirrors Synapse's Admin API ("Shared-Secret Registration") so
that tooling written for Synapse creates users here unchanged.
"""

from __future__ import annotations

import ipaddress
from typing import Awaitable, Callable

from aiohttp import web

from minihs.api.request import homeserver, json_object
from minihs.spec.errors import Codes, MatrixError
from minihs.api.responses import json_response

ADMIN_PREFIX = "/_minihs/admin"
RESET_PATH = ADMIN_PREFIX + "/reset"
SNAPSHOTS_PATH = ADMIN_PREFIX + "/snapshots"
SCENARIO_PATH = ADMIN_PREFIX + "/scenario"
SHARED_SECRET_REGISTER_PATH = "/_synapse/admin/v1/register"

# Headers a reverse proxy adds. A request carrying one did not come from this host, whatever
# its socket's address says.
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (``::ffff:127.0.0.1``)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False  # a Unix socket or something else without an IP address
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _from_this_host(request: web.Request) -> bool:
    return is_loopback(request.remote) and not any(h in request.headers for h in _PROXY_HEADERS)


def require_admin_api(request: web.Request) -> None:
    """The one rule of every ``/_minihs/`` endpoint: it exists only when the admin API is on
    (``enable_admin_api``; the ``--testing`` profile turns it on) and only for requests from a
    loopback address that did not pass through a proxy. Anything else gets the answer an
    unknown path gets, 404 ``M_UNRECOGNIZED``, so that a server not in a test says nothing of it.
    """
    if not homeserver(request).config.admin_api_enabled or not _from_this_host(request):
        raise MatrixError(404, Codes.UNRECOGNIZED, "Unrecognized request")


def _outside_the_gate(path: str) -> bool:
    # A reset, a snapshot's restore and a scenario's load take the gate whole (and a snapshot
    # reads a still server): inside it, they would wait for themselves.
    return path in (RESET_PATH, SCENARIO_PATH) or path.startswith(SNAPSHOTS_PATH)


@web.middleware
async def reset_gate_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every request but the reset itself holds the homeserver's request gate while it runs:
    a reset waits for the requests in flight and holds new ones until it is done
    (:mod:`minihs.domain.request_gate`). The reset, snapshot and scenario endpoints stay
    outside, or they would wait for themselves."""
    path = request.path
    # Every request passes here: a client request pays one prefix test, no more (the
    # exceptions are all admin paths).
    if path.startswith(ADMIN_PREFIX) and _outside_the_gate(path):
        return await handler(request)
    gate = homeserver(request).gate
    if not gate.try_enter():
        await gate.enter()
    try:
        return await handler(request)
    finally:
        gate.leave()


async def reset(request: web.Request) -> web.Response:
    """POST /_minihs/admin/reset

    minihs only (not in the spec): forget every user, room and access token, as a fresh start
    would, for test harnesses in other processes. Like every admin endpoint, it exists only
    under :func:`require_admin_api`'s rule. Answers ``{}`` once the reset is complete. Requests in flight
    finish first, against the old state; requests arriving meanwhile wait, then see the empty
    server.
    """
    require_admin_api(request)
    hs = homeserver(request)
    if request.method != "POST":
        raise MatrixError(405, Codes.UNRECOGNIZED, "Unrecognized request: method not allowed")
    await hs.reset()
    return json_response({})


async def shared_secret_nonce(request: web.Request) -> web.Response:
    """GET /_synapse/admin/v1/register

    Synapse Admin API, "Shared-Secret Registration": a one-time nonce for the POST, valid for
    60 seconds. No authentication.
    """
    return json_response({"nonce": homeserver(request).shared_secret_registration.new_nonce()})


async def shared_secret_register(request: web.Request) -> web.Response:
    """POST /_synapse/admin/v1/register

    Synapse Admin API, "Shared-Secret Registration": create a user (an admin if ``admin`` is
    true) given a nonce and the HMAC-SHA1 of the request keyed by ``registration.shared_secret``.
    400 ``M_UNKNOWN`` "Shared secret registration is not enabled" when no secret is configured,
    400 "unrecognised nonce", 403 "HMAC incorrect", as Synapse answers.
    """
    hs = homeserver(request)
    session = await hs.shared_secret_registration.register(await json_object(request))
    body = {"user_id": session.user_id, "home_server": hs.config.server_name}
    if session.access_token is not None:
        body["access_token"] = session.access_token
        body["device_id"] = session.device_id
    return json_response(body)


ROUTES = [
    ("*", RESET_PATH, reset),
    ("GET", SHARED_SECRET_REGISTER_PATH, shared_secret_nonce),
    ("POST", SHARED_SECRET_REGISTER_PATH, shared_secret_register),
]
