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

A pattern is compiled once (:func:`compile_pattern`); a path is split once
(:func:`split_path`) and can then be tested against any number of patterns, each test a
comparison of a few short strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from minihs.spec.errors import Codes, MatrixError

ABSOLUTE_PREFIXES = ("/_matrix/", "/_synapse/", "/.well-known/")
MAX_PATTERN_LENGTH = 2048


@dataclass(frozen=True)
class SplitPath:
    """A request path cut into decoded segments, ready to be matched.

    ``segments``: every segment of the whole path. ``client_rest``: the segments after
    ``/_matrix/client/<version>``, or None when the path is not a client API path."""

    segments: tuple[str, ...]
    client_rest: tuple[str, ...] | None


def split_path(raw_path: str) -> SplitPath:
    """``raw_path`` is the path as sent (still percent-encoded, no query string)."""
    parts = raw_path.split("/")[1:]
    if "%" in raw_path:
        parts = [unquote(part) if "%" in part else part for part in parts]
    segments = tuple(parts)
    client_rest = None
    if len(segments) >= 3 and segments[0] == "_matrix" and segments[1] == "client":
        client_rest = segments[3:]
    return SplitPath(segments, client_rest)


@dataclass(frozen=True)
class PathPattern:
    source: str
    absolute: bool
    # One entry per segment before the tail: the literal text, or None for a placeholder.
    parts: tuple[str | None, ...]
    # Whether a trailing ``*`` follows them (one or more further segments).
    tail: bool

    def matches(self, path: SplitPath) -> bool:
        segments = path.segments if self.absolute else path.client_rest
        if segments is None:
            return False
        parts = self.parts
        count = len(parts)
        if self.tail:
            if len(segments) <= count:
                return False
        elif len(segments) != count:
            return False
        for index in range(count):
            part = parts[index]
            if part is not None and part != segments[index]:
                return False
        return True

    def matches_path(self, raw_path: str) -> bool:
        """The same test for one path: split it and match (use :meth:`matches` for many)."""
        return self.matches(split_path(raw_path))


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
    if "?" in source or "#" in source:
        raise refuse("a path pattern has no query string or fragment")
    raw_parts = source.split("/")[1:]
    tail = raw_parts[-1] == "*"
    if tail:
        raw_parts = raw_parts[:-1]
    parts: list[str | None] = []
    for raw in raw_parts:
        if raw.startswith("{") and raw.endswith("}") and len(raw) > 2:
            if "{" in raw[1:-1] or "}" in raw[1:-1]:
                raise refuse(f"the segment {raw!r} is not one {{name}} placeholder")
            parts.append(None)  # the name inside is only for the reader
        elif "{" in raw or "}" in raw:
            raise refuse(f"a {{name}} placeholder must be a whole segment, not {raw!r}")
        elif "*" in raw:
            raise refuse("'*' may only be the whole last segment (one or more segments)")
        else:
            parts.append(unquote(raw))
    absolute = source.startswith(ABSOLUTE_PREFIXES)
    return PathPattern(source, absolute, tuple(parts), tail)
