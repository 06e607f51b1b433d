"""Building JSON responses: the success bodies of handlers and the bodies of Matrix errors."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from minihs.spec.errors import MatrixError

# JSON is UTF-8 by definition (RFC 8259), so the body goes out as bytes with no charset.
_JSON_HEADERS = {"Content-Type": "application/json"}


def json_response(value: Any, status: int = 200) -> web.Response:
    """Compact JSON (orjson: the bytes of ``minihs.spec.json_codec.dumps``) with ``status``."""
    return web.Response(body=orjson.dumps(value), status=status, headers=_JSON_HEADERS)


def error_response(error: MatrixError) -> web.Response:
    """The spec's standard error body, with the headers the error carries (``Retry-After``)."""
    response = json_response(error.body(), status=error.status)
    response.headers.update(error.headers)
    return response
