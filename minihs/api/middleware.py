"""The middleware that renders every outcome of a request as Matrix JSON with CORS headers.

Spec: Client-Server API, "Standard error response" and "Web Browser Clients". The domain raises
:class:`~minihs.spec.errors.MatrixError`; this is the one place that turns it (and anything
else) into a response.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

from aiohttp import web

from minihs.api.responses import error_response
from minihs.spec.errors import Codes, MatrixError

logger = logging.getLogger(__name__)

# aiohttp raises its own HTTP exceptions before a handler runs (no route, wrong method,
# body too big). Each maps to the Matrix error a client expects for that situation.
_AIOHTTP_STATUS_TO_ERROR = {
    400: (400, Codes.UNKNOWN, "Bad request"),
    404: (404, Codes.UNRECOGNIZED, "Unrecognized request"),
    405: (405, Codes.UNRECOGNIZED, "Unrecognized request: method not allowed for this path"),
    413: (413, Codes.TOO_LARGE, "Request body too large"),
    414: (414, Codes.UNKNOWN, "Request URI too long"),
    431: (431, Codes.UNKNOWN, "Request headers too large"),
}

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def matrix_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every outcome into Matrix JSON with CORS headers, and answer CORS preflights
    without running endpoints.

    Spec: "Web Browser Clients" (every response carries the CORS headers; OPTIONS needs no
    endpoint logic) and "Standard error response". The headers are added here rather than in
    an ``on_response_prepare`` signal, which would cost every request a coroutine.
    """
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
    else:
        try:
            response = await handler(request)
        except MatrixError as error:
            response = error_response(error)
        except web.HTTPException as exc:
            if exc.status < 400:
                exc.headers.update(CORS_HEADERS)
                raise
            status, errcode, message = _AIOHTTP_STATUS_TO_ERROR.get(
                exc.status, (exc.status, Codes.UNKNOWN, exc.reason or "Request failed")
            )
            response = error_response(MatrixError(status, errcode, message))
        except Exception:
            # Nothing internal reaches the client: the traceback goes to the log only.
            logger.exception("Unhandled error serving %s %s", request.method, request.path)
            response = error_response(MatrixError(500, Codes.UNKNOWN, "Internal server error"))
    response.headers.update(CORS_HEADERS)
    return response
