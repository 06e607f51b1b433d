"""Path patterns: which request paths a fault rule or a request-log query is about.

The syntax, shared by the fault rules and the request log's ``path`` filter:

- ``{anything}`` matches exactly one path segment (any text between two slashes);
- a trailing ``*`` matches one or more segments;
- any other segment is literal, compared percent-decoded on both sides, so ``!a:b`` and
  ``%21a%3Ab`` are the same segment (but an encoded ``%2F`` stays inside its segment).

A pattern that starts with ``/_matrix/``, ``/_synapse/`` or ``/.well-known/`` is matched against
the whole path. Any other pattern is a client API path without its prefix: it is matched
against what follows ``/_matrix/client/<version>``, whichever version (v3, r0, v1, unstable) the
client called, so ``/rooms/{roomId}/send/*`` catches both the v3 and the r0 send.

A pattern is compiled once (:func:`compile_pattern`) into one regular expression over the path
as sent, still percent-encoded: each literal character accepts itself or any spelling of its
percent-encoding. So a path is never split or decoded to be matched, and a test is one
``re.match`` (the request log filters 100,000 entries with it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from minihs.spec.errors import Codes, MatrixError

ABSOLUTE_PREFIXES = ("/_matrix/", "/_synapse/", "/.well-known/")
# A pattern for these would be read as a client path and never match: refused, to say so.
NEVER_MATCHED = "/_minihs/"
MAX_PATTERN_LENGTH = 1024
_SEGMENT = "[^/]*"


def _encoded_byte(byte: int) -> str:
    # Percent-encoding's hex digits may be either case (RFC 3986 section 2.1).
    return "%" + "".join(
        f"[{digit}{digit.lower()}]" if digit.isalpha() else digit for digit in f"{byte:02X}"
    )


def _literal(text: str) -> str:
    """A regex for the decoded segment ``text`` as a client may send it, encoded or not."""
    parts = []
    for char in text:
        encoded = "".join(_encoded_byte(byte) for byte in char.encode("utf-8", "surrogatepass"))
        # A '/' inside a segment can only have been sent encoded.
        parts.append(encoded if char == "/" else f"(?:{re.escape(char)}|{encoded})")
    return "".join(parts)


_CLIENT_PREFIX = f"/{_literal('_matrix')}/{_literal('client')}/{_SEGMENT}"


@dataclass(frozen=True)
class PathPattern:
    source: str
    regex: re.Pattern[str]

    def matches(self, raw_path: str) -> bool:
        """Whether ``raw_path`` (the path as sent: percent-encoded, no query) matches."""
        return self.regex.fullmatch(raw_path) is not None


def compile_pattern(source: object, field: str = "path") -> PathPattern:
    """``source`` compiled, or 400 ``M_INVALID_PARAM`` naming ``field`` and what is wrong."""

    def refuse(why: str) -> MatrixError:
        return MatrixError(400, Codes.INVALID_PARAM, f"{field}: {why}")

    if not isinstance(source, str):
        raise refuse("must be a string (a path pattern such as /rooms/{roomId}/send/*)")
    if not source.startswith("/"):
        raise refuse("a path pattern starts with '/'")
    if len(source) > MAX_PATTERN_LENGTH:
        raise refuse(f"at most {MAX_PATTERN_LENGTH} characters")
    if source.startswith(NEVER_MATCHED):
        raise refuse("requests under /_minihs/ (the admin API) are never faulted or logged")
    if "?" in source or "#" in source:
        raise refuse("a path pattern has no query string or fragment")
    segments = source.split("/")[1:]
    tail = segments[-1] == "*"
    if tail:
        segments = segments[:-1]
    regex = "" if source.startswith(ABSOLUTE_PREFIXES) else _CLIENT_PREFIX
    for segment in segments:
        if segment.startswith("{") and segment.endswith("}") and len(segment) > 2:
            if "{" in segment[1:-1] or "}" in segment[1:-1]:
                raise refuse(f"the segment {segment!r} is not one {{name}} placeholder")
            regex += "/" + _SEGMENT  # the name inside is only for the reader
        elif "{" in segment or "}" in segment:
            raise refuse(f"a {{name}} placeholder must be a whole segment, not {segment!r}")
        elif "*" in segment:
            raise refuse("'*' may only be the whole last segment (one or more segments)")
        else:
            regex += "/" + _literal(unquote(segment))
    if tail:
        regex += f"(?:/{_SEGMENT})+"
    return PathPattern(source, re.compile(regex))
