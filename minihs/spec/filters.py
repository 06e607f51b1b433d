"""Filters (spec: Client-Server API "Filtering", ``filter.yaml``): parsing and matching.

A filter arrives as JSON (``POST /user/{userId}/filter`` or inline in ``/sync?filter=``). It is
checked against the spec's schema here: every key the spec defines must have its type, so a
client's mistake answers 400 ``M_BAD_JSON`` instead of being silently ignored; unknown keys are
kept and ignored, as the spec allows a server to. minihs honours ``room.rooms``/``not_rooms``,
``include_leave``, the timeline's ``limit``, ``types``/``not_types`` (with ``*`` wildcards),
``senders``/``not_senders``, ``lazy_load_members``, and the same type and sender filters for
``room.state``; the rest is stored and ignored (``event_fields``, ``event_format``,
``contains_url``, ``unread_thread_notifications``, ``include_redundant_members``).

Pure: no I/O, no aiohttp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from canonicaljson import encode_canonical_json

from minihs.spec.errors import MatrixError, bad_json, too_large
from minihs.spec.json_codec import JsonRejected, loads_strict

# A filter larger than this is refused (413): nothing legitimate comes near it.
MAX_FILTER_BYTES = 65536
DEFAULT_TIMELINE_LIMIT = 10
# A larger timeline limit is read as this one: one sync answer stays bounded.
MAX_TIMELINE_LIMIT = 1000

# Filters nest a few levels; a deeper one given inline is refused before it is parsed.
MAX_FILTER_DEPTH = 16


def decode_filter_json(value: str) -> Any:
    """A filter given as JSON text (inline in a query parameter): 400 ``M_NOT_JSON`` when it is
    not JSON, ``M_BAD_JSON`` when it is JSON minihs cannot keep."""
    try:
        return loads_strict(value.encode("utf-8", "surrogatepass"), MAX_FILTER_DEPTH)
    except JsonRejected as exc:
        raise bad_json(f"Unusable 'filter': {exc}") from None
    except (ValueError, RecursionError):
        raise MatrixError(400, "M_NOT_JSON", "'filter' is not valid JSON") from None


_LIST_FIELDS = ("types", "not_types", "senders", "not_senders", "rooms", "not_rooms")
_BOOL_FIELDS = (
    "lazy_load_members", "include_redundant_members", "unread_thread_notifications", "contains_url",
)


def _wildcard(pattern: str) -> re.Pattern[str]:
    # Spec: "A '*' can be used as a wildcard to match any sequence of characters."
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _matches_any(value: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    return any(pattern.fullmatch(value) for pattern in patterns)


@dataclass(frozen=True)
class EventFilter:
    """An ``EventFilter`` or ``RoomEventFilter``/``StateFilter`` (their common part)."""

    limit: int | None = None
    types: tuple[re.Pattern[str], ...] | None = None
    not_types: tuple[re.Pattern[str], ...] = ()
    senders: frozenset[str] | None = None
    not_senders: frozenset[str] = frozenset()
    rooms: frozenset[str] | None = None
    not_rooms: frozenset[str] = frozenset()
    lazy_load_members: bool = False

    def allows(self, event_type: str, sender: str) -> bool:
        """Whether an event of this type from this sender passes (not_* win over the lists)."""
        if sender in self.not_senders:
            return False
        if self.senders is not None and sender not in self.senders:
            return False
        if self.not_types and _matches_any(event_type, self.not_types):
            return False
        if self.types is not None and not _matches_any(event_type, self.types):
            return False
        return True

    def allows_type(self, event_type: str) -> bool:
        """Whether an event of this type passes, for events without a sender (typing, receipts,
        account data): only ``types`` and ``not_types`` apply to them."""
        if self.not_types and _matches_any(event_type, self.not_types):
            return False
        return self.types is None or _matches_any(event_type, self.types)

    def allows_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    @property
    def allows_nothing(self) -> bool:
        return self.types is not None and not self.types


@dataclass(frozen=True)
class RoomFilter:
    rooms: frozenset[str] | None = None
    not_rooms: frozenset[str] = frozenset()
    include_leave: bool = False
    timeline: EventFilter = field(default_factory=EventFilter)
    state: EventFilter = field(default_factory=EventFilter)
    ephemeral: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)

    def allows_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    @property
    def timeline_limit(self) -> int:
        limit = self.timeline.limit
        if limit is None:
            return DEFAULT_TIMELINE_LIMIT
        return min(limit, MAX_TIMELINE_LIMIT)


@dataclass(frozen=True)
class Filter:
    room: RoomFilter = field(default_factory=RoomFilter)
    presence: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_json(f"'{where}' must be a list of strings")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_json(f"'{where}' must be an object")
    return value


def parse_event_filter(value: Any, where: str = "filter") -> EventFilter:
    """A ``RoomEventFilter`` on its own (the ``filter`` of ``/messages``), checked as above."""
    if not isinstance(value, dict):
        raise bad_json(f"'{where}' must be a JSON object")
    return _event_filter(value, where)


def _event_filter(value: Any, where: str) -> EventFilter:
    body = _object(value, where)
    lists: dict[str, list[str] | None] = {}
    for name in _LIST_FIELDS:
        item = body.get(name)
        lists[name] = None if item is None else _string_list(item, f"{where}.{name}")
    for name in _BOOL_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise bad_json(f"'{where}.{name}' must be a boolean")
    limit = body.get("limit")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise bad_json(f"'{where}.limit' must be an integer")
        if limit < 0:
            raise bad_json(f"'{where}.limit' may not be negative")
    types, not_types = lists["types"], lists["not_types"]
    senders, rooms = lists["senders"], lists["rooms"]
    return EventFilter(
        limit=limit,
        types=None if types is None else tuple(_wildcard(t) for t in types),
        not_types=tuple(_wildcard(t) for t in not_types or ()),
        senders=None if senders is None else frozenset(senders),
        not_senders=frozenset(lists["not_senders"] or ()),
        rooms=None if rooms is None else frozenset(rooms),
        not_rooms=frozenset(lists["not_rooms"] or ()),
        lazy_load_members=body.get("lazy_load_members") is True,
    )


def parse_filter(body: Any) -> Filter:
    """Check a filter definition against the spec's schema and read what minihs honours.

    400 M_BAD_JSON for a wrong type anywhere, 413 M_TOO_LARGE for a filter over 64 KiB.
    """
    if not isinstance(body, dict):
        raise bad_json("A filter must be a JSON object")
    try:
        size = len(encode_canonical_json(body))
    except (TypeError, ValueError) as exc:
        raise bad_json(f"Unusable filter: {exc}") from None
    if size > MAX_FILTER_BYTES:
        raise too_large(f"A filter may not be larger than {MAX_FILTER_BYTES} bytes")
    if body.get("event_fields") is not None:
        _string_list(body["event_fields"], "event_fields")
    event_format = body.get("event_format")
    if event_format is not None and event_format not in ("client", "federation"):
        raise bad_json("'event_format' must be 'client' or 'federation'")
    room = _object(body.get("room"), "room")
    for name in ("rooms", "not_rooms"):
        if room.get(name) is not None:
            _string_list(room[name], f"room.{name}")
    include_leave = room.get("include_leave")
    if include_leave is not None and not isinstance(include_leave, bool):
        raise bad_json("'room.include_leave' must be a boolean")
    return Filter(
        room=RoomFilter(
            rooms=None if room.get("rooms") is None else frozenset(room["rooms"]),
            not_rooms=frozenset(room.get("not_rooms") or ()),
            include_leave=include_leave is True,
            timeline=_event_filter(room.get("timeline"), "room.timeline"),
            state=_event_filter(room.get("state"), "room.state"),
            ephemeral=_event_filter(room.get("ephemeral"), "room.ephemeral"),
            account_data=_event_filter(room.get("account_data"), "room.account_data"),
        ),
        presence=_event_filter(body.get("presence"), "presence"),
        account_data=_event_filter(body.get("account_data"), "account_data"),
    )


DEFAULT_FILTER = Filter()
