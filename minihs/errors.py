"""The one error type of minihs, and the middleware that renders every failure as Matrix JSON.

Spec: Client-Server API, "Standard error response". Every error a client sees is
``{"errcode": "M_...", "error": "human readable"}`` with the HTTP status the spec gives for it.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

logger = logging.getLogger(__name__)


class Codes:
    """The errcodes minihs uses, as named by the spec."""

    FORBIDDEN = "M_FORBIDDEN"
    UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"
    MISSING_TOKEN = "M_MISSING_TOKEN"
    BAD_JSON = "M_BAD_JSON"
    NOT_JSON = "M_NOT_JSON"
    NOT_FOUND = "M_NOT_FOUND"
    LIMIT_EXCEEDED = "M_LIMIT_EXCEEDED"
    UNRECOGNIZED = "M_UNRECOGNIZED"
    UNKNOWN = "M_UNKNOWN"
    USER_IN_USE = "M_USER_IN_USE"
    INVALID_USERNAME = "M_INVALID_USERNAME"
    ROOM_IN_USE = "M_ROOM_IN_USE"
    INVALID_PARAM = "M_INVALID_PARAM"
    MISSING_PARAM = "M_MISSING_PARAM"
    TOO_LARGE = "M_TOO_LARGE"
    UNSUPPORTED_ROOM_VERSION = "M_UNSUPPORTED_ROOM_VERSION"
    GUEST_ACCESS_FORBIDDEN = "M_GUEST_ACCESS_FORBIDDEN"
    USER_DEACTIVATED = "M_USER_DEACTIVATED"


class MatrixError(Exception):
    """A failure a client is meant to see: HTTP status, Matrix errcode and a message.

    ``extra`` holds the additional body fields some errors carry (``soft_logout``,
    ``retry_after_ms``, the UIA ``flows``); ``headers`` the HTTP headers (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        errcode: str,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errcode = errcode
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"errcode": self.errcode, "error": self.message, **self.extra}


def bad_json(message: str) -> MatrixError:
    return MatrixError(400, Codes.BAD_JSON, message)


def invalid_param(message: str) -> MatrixError:
    return MatrixError(400, Codes.INVALID_PARAM, message)


def missing_param(name: str) -> MatrixError:
    return MatrixError(400, Codes.MISSING_PARAM, f"Missing parameter: {name}")


def forbidden(message: str) -> MatrixError:
    return MatrixError(403, Codes.FORBIDDEN, message)


def not_found(message: str) -> MatrixError:
    return MatrixError(404, Codes.NOT_FOUND, message)


def too_large(message: str) -> MatrixError:
    return MatrixError(413, Codes.TOO_LARGE, message)


def rate_limited(retry_after_ms: int) -> MatrixError:
    seconds = max(1, -(-retry_after_ms // 1000))  # Retry-After is whole seconds, rounded up
    return MatrixError(
        429,
        Codes.LIMIT_EXCEEDED,
        "Too many requests",
        extra={"retry_after_ms": retry_after_ms},
        headers={"Retry-After": str(seconds)},
    )


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


def error_response(error: MatrixError) -> web.Response:
    from minihs.jsonutil import json_response

    response = json_response(error.body(), status=error.status)
    response.headers.update(error.headers)
    return response


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
