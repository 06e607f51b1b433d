"""The one error type of minihs: a Matrix error with its HTTP status, errcode and message.

Spec: Client-Server API, "Standard error response". Every error a client sees is
``{"errcode": "M_...", "error": "human readable"}`` with the HTTP status the spec gives for it.
"""

from __future__ import annotations

from typing import Any

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
