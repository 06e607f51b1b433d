"""The aiohttp application: middlewares, routes and the homeserver's lifetime."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from minihs.api import (
    account,
    account_data,
    admin,
    admin_clock,
    admin_faults,
    admin_inspect,
    admin_requests,
    admin_scenarios,
    admin_snapshots,
    capabilities,
    filters,
    membership,
    messages,
    mutual_rooms,
    observe,
    openapi,
    presence,
    profile,
    push_rules,
    receipts,
    rooms,
    sync,
    typing,
    versions,
)
from minihs.config import Config
from minihs.api.middleware import matrix_error_middleware
from minihs.api.request import HOMESERVER, redact_tokens, request_key
from minihs.domain.homeserver import Homeserver

CLIENT_V3 = "/_matrix/client/v3"
CLIENT_R0 = "/_matrix/client/r0"  # matrix-nio 0.24 and older still call r0 paths
CLIENT_V1 = "/_matrix/client/v1"



# When the request reached the application, by the process's high-resolution clock.
STARTED_AT = request_key("minihs.started_at", float)


@web.middleware
async def timing_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Notes when the request arrived, for the access log.

    aiohttp hands its access logger a duration measured with the event loop's clock, and
    uvloop's clock counts whole milliseconds (libuv's uv_now), so most requests would log 0 ms.
    """
    request[STARTED_AT] = time.perf_counter()
    return await handler(request)


class RedactingAccessLogger(AbstractAccessLogger):
    """One line per request, with any ``access_token`` query parameter replaced, and its
    duration in milliseconds to the microsecond."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        started_at = request.get(STARTED_AT)
        elapsed = _elapsed_since(started_at) if started_at is not None else time
        self.logger.info(
            '%s "%s %s" %s %.3fms',
            request.remote,
            request.method,
            redact_tokens(request.path_qs),
            response.status,
            elapsed * 1000,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def _elapsed_since(started_at: float) -> float:
    return time.perf_counter() - started_at


def _add_routes(app: web.Application) -> None:
    router = app.router
    client_modules = (
        account, rooms, membership, messages, sync, filters,
        profile, account_data, push_rules, capabilities, presence, typing, receipts,
    )
    for module in client_modules:
        for method, path, handler in module.ROUTES:
            for prefix in (CLIENT_V3, CLIENT_R0):
                router.add_route(method, prefix + path, handler)
    for method, path, handler in account.V1_ROUTES:
        router.add_route(method, CLIENT_V1 + path, handler)
    for method, path, handler in mutual_rooms.ROUTES + admin.ROUTES:
        router.add_route(method, path, handler)
    admin_modules = (
        admin_scenarios, admin_snapshots, admin_clock, admin_faults, admin_requests, admin_inspect,
    )
    for module in admin_modules:
        for method, path, handler in module.ROUTES:
            router.add_route(method, path, handler)
    router.add_get("/_matrix/client/versions", versions.versions)
    router.add_get("/.well-known/matrix/client", versions.well_known_client)
    router.add_get(openapi.PATH, openapi.openapi_document)


def runner_options(config: Config) -> dict:
    """Keyword arguments for ``web.AppRunner`` that carry out the configured connection limits.

    aiohttp closes a connection whose keep-alive timer runs out while it waits for a complete
    request, which covers both idle connections and headers sent one byte at a time.
    """
    limits = config.limits
    return {
        "access_log_class": RedactingAccessLogger,
        "access_log": logging.getLogger("minihs.access") if config.access_log else None,
        "keepalive_timeout": limits.idle_timeout_seconds,
        "max_line_size": limits.max_header_bytes,
        "max_field_size": limits.max_header_bytes,
    }


# An HTTP/0.9 request line (`GET /path`, no version) makes aiohttp's parser wait for headers
# that will never come, until the idle timeout closes the connection without a word. Synapse
# answers 400 at once; so does minihs, for the first request line of each connection, before
# aiohttp's parser sees it.
_VERSIONLESS_REPLY_BODY = (
    b'{"errcode":"M_UNRECOGNIZED","error":"The request line has no HTTP version: '
    b'HTTP/0.9 requests are not supported"}'
)
VERSIONLESS_REQUEST_REPLY = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(_VERSIONLESS_REPLY_BODY)).encode() + b"\r\n"
    b"Connection: close\r\n"
    b"\r\n" + _VERSIONLESS_REPLY_BODY
)


class _RequestLineGuard(asyncio.Protocol):
    """One connection's protocol: aiohttp's own, behind a check of the first request line."""

    def __init__(self, make_handler: Callable[[], Any], max_line_bytes: int) -> None:
        self._handler = make_handler()
        self._max_line_bytes = max_line_bytes
        self._transport: asyncio.BaseTransport | None = None
        self._first_bytes: bytes | None = b""  # None once the first line has been passed on

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._first_bytes is None:
            self._handler.data_received(data)
            return
        self._first_bytes += data
        line, newline, _rest = self._first_bytes.partition(b"\n")
        if not newline and len(self._first_bytes) <= self._max_line_bytes:
            return  # the line is not complete yet
        line = line.rstrip(b"\r")
        if newline and line and b" HTTP/" not in line:
            transport: Any = self._transport  # uvloop's transports are not asyncio's classes
            transport.write(VERSIONLESS_REQUEST_REPLY)
            transport.close()
            self._first_bytes = None
            return
        # A complete line with a version, an empty line, or a line too long: aiohttp's to judge.
        data, self._first_bytes = self._first_bytes, None
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._handler.connection_lost(exc)

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()


class MinihsRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer a versionless request line with 400 at once.

    Sites (``web.TCPSite`` and the others) take their protocol factory from the public
    ``runner.server`` (aiohttp 3.14.5 checked; tests/test_protocol.py fails if a release stops
    doing so); the runner's own shutdown uses the aiohttp server underneath, which every
    connection's handler still registers with.
    """

    def __init__(self, app: web.Application, *, max_line_bytes: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._max_line_bytes = max_line_bytes

    @property
    def server(self) -> Any:
        aiohttp_server = super().server
        if aiohttp_server is None:
            return None
        max_line_bytes = self._max_line_bytes
        return lambda: _RequestLineGuard(aiohttp_server, max_line_bytes)


def make_runner(app: web.Application, config: Config, **kwargs: Any) -> MinihsRunner:
    """The runner to serve ``app`` with: the configured limits and the request-line check.
    ``kwargs`` go to ``web.AppRunner`` (``handle_signals``, ``shutdown_timeout``...)."""
    return MinihsRunner(
        app, max_line_bytes=config.limits.max_header_bytes, **runner_options(config), **kwargs
    )


def create_app(config: Config, homeserver: Homeserver | None = None) -> web.Application:
    """Build the application. Without ``homeserver``, one is opened on startup and closed on
    cleanup; with one, the caller owns its lifetime (the fixture server shares it)."""
    middlewares = [matrix_error_middleware, admin.reset_gate_middleware]
    # Each of these only when on: no cost otherwise. Their order is observe.py's docstring's.
    if config.admin_api_enabled:  # fault rules are set through the admin API
        middlewares.insert(1, observe.fault_middleware)
    if config.request_log.enabled:
        middlewares.insert(0, observe.request_log_middleware)
    if config.access_log:  # the arrival time is for the access log only: no cost without it
        middlewares.insert(0, timing_middleware)
    app = web.Application(
        middlewares=middlewares,
        client_max_size=config.limits.max_request_body_bytes,
    )
    _add_routes(app)

    if homeserver is not None:
        app[HOMESERVER] = homeserver
    else:

        async def homeserver_lifetime(app: web.Application) -> AsyncIterator[None]:
            app[HOMESERVER] = await Homeserver.open(config)
            yield
            await app[HOMESERVER].close()

        app.cleanup_ctx.append(homeserver_lifetime)
    return app
