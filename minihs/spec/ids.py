"""The identifier grammar of the spec (appendix "Identifier Grammar").

Two grammars for user IDs matter here: the one new accounts must follow (registration), and the
wider "historical" one that every server must still accept from others (mutual rooms, invites).
"""

from __future__ import annotations

import functools
import re

MAX_ID_BYTES = 255

# server_name = hostname [ ":" port ]; hostname = IPv4 / "[" IPv6 "]" / dns-name
_IPV4 = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
_IPV6 = r"\[[0-9A-Fa-f:.]{2,45}\]"
_DNS_NAME = r"[0-9A-Za-z.\-]{1,255}"
_SERVER_NAME = re.compile(rf"(?:{_IPV4}|{_IPV6}|{_DNS_NAME})(?::[0-9]{{1,5}})?")

# New localparts: a-z 0-9 . _ = - / + (spec v1.8+ added '+').
_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")
# Historical localparts: any of U+0021..U+007E except ':'.
_HISTORICAL_LOCALPART = re.compile(r"[\x21-\x39\x3b-\x7e]+")
# Alias localparts: any character but ':' and NUL (spec: "Room Aliases").
_ALIAS_LOCALPART = re.compile(r"[^:\x00]+")


def is_valid_server_name(name: str) -> bool:
    return _SERVER_NAME.fullmatch(name) is not None


def is_valid_localpart(localpart: str) -> bool:
    """The grammar new user IDs must follow (registration)."""
    return _LOCALPART.fullmatch(localpart) is not None


def split_id(identifier: str, sigil: str) -> tuple[str, str] | None:
    """Split ``<sigil>localpart:server`` at the first colon; None when the shape is wrong."""
    if not identifier.startswith(sigil):
        return None
    localpart, colon, server = identifier[1:].partition(":")
    if not colon:
        return None
    return localpart, server


def is_valid_user_id(user_id: str) -> bool:
    """A user ID every server must accept: the historical grammar, at most 255 bytes.

    Non-compliant per spec: empty localpart, characters outside U+0021-U+007E or ':' in the
    localpart, a missing or invalid server name, or more than 255 bytes in all.
    """
    # Too long is decided before the cache, so the cache never holds more than 255 characters
    # a key, whatever clients send (a request line may carry kilobytes).
    if len(user_id) > MAX_ID_BYTES:
        return False
    return _is_valid_short_user_id(user_id)


# Cached: every Mutual Rooms request checks its `user_id`, and a handful of IDs come back often.
@functools.lru_cache(maxsize=8192)
def _is_valid_short_user_id(user_id: str) -> bool:
    if len(user_id.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return False
    parts = split_id(user_id, "@")
    if parts is None:
        return False
    localpart, server = parts
    return _HISTORICAL_LOCALPART.fullmatch(localpart) is not None and is_valid_server_name(server)


def user_id_for(localpart: str, server_name: str) -> str:
    return f"@{localpart}:{server_name}"


def is_valid_room_id(room_id: str) -> bool:
    """``!`` then an opaque part; room version 12 IDs have no ``:server`` part, so none is assumed."""
    return (
        room_id.startswith("!")
        and 1 < len(room_id)
        and len(room_id.encode("utf-8", "surrogatepass")) <= MAX_ID_BYTES
        and all("\x21" <= ch <= "\x7e" for ch in room_id)
    )


def is_valid_room_alias(alias: str) -> bool:
    if len(alias.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return False
    parts = split_id(alias, "#")
    if parts is None:
        return False
    localpart, server = parts
    return _ALIAS_LOCALPART.fullmatch(localpart) is not None and is_valid_server_name(server)
