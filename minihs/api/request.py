"""Reading a request: the JSON body, fields of the right type, query parameters, the requester,
and its URL with the access tokens redacted (what the access log and the request log show).

Every way a request can be malformed becomes the errcode the spec names for it here, once, so
each handler reads as a list of the parameters its endpoint takes.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar
from urllib.parse import unquote_plus

from aiohttp import web

from minihs.domain.accounts import Requester
from minihs.spec.errors import Codes, MatrixError, bad_json, invalid_param, missing_param
from minihs.domain.homeserver import Homeserver
from minihs.spec.json_codec import JsonRejected, loads_strict

T = TypeVar("T")

# Where the application keeps its Homeserver: the HTTP layer's one way to the domain.
HOMESERVER = web.AppKey("homeserver", Homeserver)



def request_key(name: str, kind: type) -> Any:
    """A key for a value kept on a request: typed where aiohttp has them (3.14.5 warns about
    string keys on requests), the plain name on older versions."""
    return web.RequestKey(name, kind) if hasattr(web, "RequestKey") else name


# The user a request authenticated as, stashed where it is known (:func:`requester`) for the
# middlewares around the handler: the request log records it.
AUTHENTICATED_USER = request_key("minihs.authenticated_user", str)

_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", dict: "an object", list: "an array"}


def homeserver(request: web.Request) -> Homeserver:
    return request.app[HOMESERVER]


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object. An empty body counts as ``{}``: clients POST join, leave and
    logout with no body at all, with or without a Content-Type."""
    raw = await request.read()
    if not raw.strip():
        return {}
    max_depth = homeserver(request).config.limits.max_json_depth
    try:
        body = loads_strict(raw, max_depth)
    except JsonRejected as exc:
        raise bad_json(f"Unusable JSON: {exc}") from None
    except ValueError as exc:
        raise MatrixError(400, Codes.NOT_JSON, f"Content not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_json("Content must be a JSON object")
    return body


def field(body: dict[str, Any], name: str, kind: type[T], *, required: bool = False) -> T | None:
    """``body[name]`` checked to be of ``kind``; None when absent (or null) and not required."""
    value = body.get(name)
    if value is None:
        if required:
            raise missing_param(name)
        return None
    # bool is an int in Python, and an integer is not a boolean in JSON.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_json(f"'{name}' must be {_TYPE_NAMES.get(kind, kind.__name__)}")
    return value


def query_param(request: web.Request, name: str, *, required: bool = False) -> str | None:
    values = request.query.getall(name, [])
    if not values:
        if required:
            raise missing_param(name)
        return None
    if len(values) > 1:
        raise MatrixError(400, Codes.INVALID_PARAM, f"Parameter '{name}' given more than once")
    return values[0]


def whole_number(text: str, low: int, high: int) -> int | None:
    """``text`` as an integer from ``low`` to ``high`` (0 <= low, high < 2**63), or None: plain
    ASCII digits only. Nineteen digits hold any such number: a longer text is refused before
    int() reads it (thousands of digits are slow to read, then a ValueError)."""
    if 0 < len(text) <= 19 and text.isascii() and text.isdigit():
        value = int(text)
        if low <= value <= high:
            return value
    return None


def int_query_param(request: web.Request, name: str, low: int, high: int) -> int | None:
    """Query parameter ``name`` as an integer from ``low`` to ``high``; None when absent; 400
    ``M_INVALID_PARAM`` for anything else."""
    text = query_param(request, name)
    if text is None:
        return None
    value = whole_number(text, low, high)
    if value is None:
        raise invalid_param(f"{name}: must be an integer from {low} to {high}")
    return value


def access_token_of(request: web.Request) -> str | None:
    """The token from ``Authorization: Bearer`` or (when enabled) ``?access_token=``.

    Spec: "Using access tokens". Both at once is refused, as Synapse does: which one to believe
    would be a guess.
    """
    headers = request.headers.getall("Authorization", [])
    if len(headers) > 1:
        raise MatrixError(401, Codes.MISSING_TOKEN, "Too many Authorization headers")
    header = headers[0] if headers else None
    query_token = None
    if "access_token" in request.query:
        if not homeserver(request).config.allow_access_token_in_query:
            raise MatrixError(
                401, Codes.MISSING_TOKEN, "Access tokens in the query string are disabled here"
            )
        query_token = query_param(request, "access_token")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MatrixError(401, Codes.MISSING_TOKEN, "Invalid Authorization header")
        if query_token is not None:
            raise MatrixError(
                401,
                Codes.MISSING_TOKEN,
                "Mixing Authorization headers and access_token query parameters.",
            )
        return token.strip()
    return query_token


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


async def requester(request: web.Request) -> Requester:
    """Authenticate the request. Spec: 401 M_MISSING_TOKEN without a token, 401 M_UNKNOWN_TOKEN
    (with ``soft_logout: false``) for one the server does not know."""
    token = access_token_of(request)
    if not token:
        raise MatrixError(401, Codes.MISSING_TOKEN, "Missing access token")
    owner = await homeserver(request).accounts.requester_for_token(token)
    if owner is None:
        raise MatrixError(
            401, Codes.UNKNOWN_TOKEN, "Unrecognised access token", extra={"soft_logout": False}
        )
    request[AUTHENTICATED_USER] = owner.user_id
    return owner


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"
