"""The aiohttp application: middlewares, routes and the homeserver's lifetime."""

from __future__ import annotations

import logging
import re
from typing import AsyncIterator
from urllib.parse import unquote_plus

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from minihs.api import (
    account,
    account_data,
    admin,
    capabilities,
    membership,
    mutual_rooms,
    openapi,
    presence,
    profile,
    push_rules,
    receipts,
    rooms,
    typing,
    versions,
)
from minihs.config import Config
from minihs.api.middleware import matrix_error_middleware
from minihs.api.request import HOMESERVER
from minihs.domain.homeserver import Homeserver

CLIENT_V3 = "/_matrix/client/v3"
CLIENT_R0 = "/_matrix/client/r0"  # matrix-nio 0.24 and older still call r0 paths
CLIENT_V1 = "/_matrix/client/v1"

_TOKEN_IN_QUERY = re.compile(r"(access_token=)[^&\s]*")


def redact_tokens(text: str) -> str:
    """``text`` (a path and query) with the value of every ``access_token`` parameter replaced.

    The server decodes parameter names (``access%5Ftoken`` is ``access_token`` to it), so names
    are compared decoded, as the server reads them.
    """
    path, question, query = text.partition("?")
    if question:
        parts = []
        for part in query.split("&"):
            name, equals, _value = part.partition("=")
            if equals and unquote_plus(name) == "access_token":
                part = name + "=<redacted>"
            parts.append(part)
        text = path + question + "&".join(parts)
    return _TOKEN_IN_QUERY.sub(r"\1<redacted>", text)


class RedactingAccessLogger(AbstractAccessLogger):
    """One line per request, with any ``access_token`` query parameter replaced."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1fms',
            request.remote,
            request.method,
            redact_tokens(request.path_qs),
            response.status,
            time * 1000,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def _add_routes(app: web.Application) -> None:
    router = app.router
    client_modules = (
        account, rooms, membership,
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


def create_app(config: Config, homeserver: Homeserver | None = None) -> web.Application:
    """Build the application. Without ``homeserver``, one is opened on startup and closed on
    cleanup; with one, the caller owns its lifetime (the fixture server shares it)."""
    app = web.Application(
        middlewares=[matrix_error_middleware],
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
