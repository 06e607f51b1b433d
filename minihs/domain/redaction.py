"""Keeping credentials out of what the request log shows: passwords and tokens in bodies and
headers are replaced when an entry is read.

The log stores bodies as they came (cut to ``max_body_bytes``), which costs a request one
slice, and redacts here, on the way out. So redaction must work on a body cut anywhere, and on
bodies that are not JSON at all: it is a pattern over the bytes, not a parse. A secret key is
found however the client spelt it (each character plain or as a ``\\uXXXX`` escape, as Python's
``json.dumps`` writes non-ASCII text), and its value is replaced whether it is a string (even
one cut short), a number or a bare word. Everything else is kept byte for byte, so a body keeps
its shape.
"""

from __future__ import annotations

import re
from typing import Mapping

REDACTED = "<redacted>"
# Request headers whose values are credentials.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# JSON keys whose values are credentials wherever they appear in a body: login and
# registration passwords (also inside UIA ``auth``), access and refresh tokens (register, login
# and refresh answers), registration and login tokens, 3PID session secrets.
SECRET_KEYS = (
    "password", "new_password", "access_token", "refresh_token", "id_access_token", "token",
    "login_token", "client_secret",
)


def _spelt_any_way(key: str) -> bytes:
    """A regex for ``key`` with each character plain or ``\\u``-escaped (hex in any case)."""
    parts = []
    for char in key:
        escaped = rb"\\u" + b"".join(
            f"[{digit}{digit.upper()}]".encode() if digit.isalpha() else digit.encode()
            for digit in f"{ord(char):04x}"
        )
        parts.append(b"(?:" + re.escape(char.encode()) + b"|" + escaped + b")")
    return b"".join(parts)


_SECRET_VALUE = re.compile(
    rb'("(?:' + b"|".join(_spelt_any_way(key) for key in SECRET_KEYS) + rb')"\s*:\s*)'
    # The value: a string (escapes inside; maybe cut before its closing quote), or any bare
    # scalar but null. A nested object or array under a secret key is left alone: no
    # credential in Matrix has that shape.
    rb'(?:"(?:[^"\\]|\\.)*(?:"|\\?\Z)|(?!null\b)[^\s,}\]"]+)'
)


def redact_credentials(body: bytes) -> bytes:
    """``body`` with the value of every secret key replaced by ``"<redacted>"``."""
    return _SECRET_VALUE.sub(b'\\1"' + REDACTED.encode() + b'"', body)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers as a plain dict (repeated names joined with ", "), credentials replaced."""
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        name = str(name)  # aiohttp's case-insensitive names are a str subclass JSON refuses
        if name.lower() in SECRET_HEADERS:
            value = REDACTED
        redacted[name] = redacted[name] + ", " + value if name in redacted else value
    return redacted
