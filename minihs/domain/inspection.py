"""What the server holds, as the inspector page and the admin API's read-only endpoints show it.

Nothing here changes anything. Every list is a page: ``limit`` entries at most and an opaque
``next_batch`` token for the next, so that a page of a server with ten thousand rooms costs what
it costs with ten. Mutual rooms are answered by :class:`minihs.domain.mutual_rooms.MutualRooms`,
the object ``GET /_matrix/client/v1/mutual_rooms`` asks, so the page shows what a client gets.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from minihs.domain.room_reads import MEMBERSHIPS
from minihs.spec.errors import invalid_param, not_found
from minihs.spec.ids import is_valid_user_id
from minihs.spec.json_codec import loads_strict
from minihs.store.inspection import EventRow, InspectionStore, RoomRow, UserRow

if TYPE_CHECKING:
    from minihs.domain.homeserver import Homeserver

# An event list shows each event's summary; its JSON is fetched on demand. A preview is cut to
# this many characters.
PREVIEW_CHARS = 120
MAX_TOKEN_CHARS = 2048


def encode_token(*key: Any) -> str:
    """An opaque page token for the sort key ``key`` (URL-safe, no padding)."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_token(token: str | None, *kinds: type) -> tuple | None:
    """The key a token of :func:`encode_token` carries, checked against ``kinds``; None for no
    token; 400 M_INVALID_PARAM for anything else."""
    if token is None:
        return None
    try:
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError("too long")
        # Strict: a forged token's key goes to SQLite, which cannot take an integer past 64
        # bits or a string with a lone surrogate (both a 500 there); a flat list is all a key is.
        key = loads_strict(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), max_depth=1)
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid_param("Invalid 'from' token") from None
    if not isinstance(key, list) or len(key) != len(kinds) or not all(
        type(value) is kind for value, kind in zip(key, kinds)
    ):
        raise invalid_param("Invalid 'from' token")
    return tuple(key)


def _page(items: list, limit: int, key_of) -> tuple[list, str | None]:
    """The first ``limit`` of ``items`` (fetched ``limit + 1`` long) and the next page's token."""
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode_token(*key_of(items[-1]))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _preview(event: dict[str, Any]) -> str:
    content = event.get("content")
    if not isinstance(content, dict):
        return ""
    for key in ("body", "membership", "name", "topic", "join_rule", "alias", "history_visibility"):
        value = content.get(key)
        if isinstance(value, str):
            break
    else:
        value = json.dumps(content, ensure_ascii=False, sort_keys=True)
    return value if len(value) <= PREVIEW_CHARS else value[: PREVIEW_CHARS - 1] + "…"


def _event_summary(row: EventRow) -> dict[str, Any]:
    event = json.loads(row.json)
    return {
        "event_id": row.event_id,
        "position": row.position,
        "type": row.type,
        "state_key": row.state_key,
        "sender": event.get("sender"),
        "origin_server_ts": event.get("origin_server_ts"),
        "preview": _preview(event),
    }


def _whole(row: EventRow) -> dict[str, Any]:
    # Stored PDUs of room versions 3 and later carry no event ID (it is their hash): add it,
    # as the client API does.
    return {"event_id": row.event_id, **json.loads(row.json)}


def _user(row: UserRow) -> dict[str, Any]:
    return {
        "user_id": row.user_id,
        "displayname": row.displayname,
        "admin": row.admin,
        "created_ts": row.created_ts,
        "devices": [
            {"device_id": d.device_id, "display_name": d.display_name, "live_token": d.live_token}
            for d in row.devices
        ],
        "device_count": row.device_count,
    }


def _room(row: RoomRow) -> dict[str, Any]:
    canonical = _text(row.canonical_alias)
    return {
        "room_id": row.room_id,
        "name": _text(row.name),
        "alias": canonical or (row.local_aliases[0] if row.local_aliases else None),
        "version": row.room_version,
        "join_rule": _text(row.join_rule),
        "creator": row.creator,
        "created_ts": row.created_ts,
        "members": {m: row.member_counts.get(m, 0) for m in MEMBERSHIPS},
    }


class Inspection:
    """The read-only view of one homeserver. Cheap to make: one per request."""

    def __init__(self, homeserver: "Homeserver") -> None:
        self._hs = homeserver
        self._store = InspectionStore(homeserver.db)

    async def status(self) -> dict[str, Any]:
        """What the page polls to know whether anything changed: counts, positions, the clock,
        the request log's mark (the id of its newest entry) and how many fault rules are on."""
        hs = self._hs
        counts = await self._store.counts()
        return {
            "server_name": hs.config.server_name,
            "stream_position": hs.stream.position,
            "users": counts.users,
            "live_tokens": counts.live_tokens,
            "rooms": counts.rooms,
            "clock": hs.clock.state(),
            "requests": {"mark": hs.request_log.mark, "total": len(hs.request_log)},
            "faults": len(hs.faults),
        }

    async def users(self, search: str | None, from_token: str | None, limit: int) -> dict:
        """Users, newest first, each with (up to 20 of) their devices and whether a device's
        access token is live; ``search`` keeps those whose ID or display name contains it."""
        after = decode_token(from_token, int)
        rows = await self._store.users_page(after and after[0], limit + 1, search)
        rows, next_batch = _page(rows, limit, lambda row: (row.position,))
        return {"users": [_user(row) for row in rows], "next_batch": next_batch}

    async def rooms(self, search: str | None, from_token: str | None, limit: int) -> dict:
        """Rooms, newest first; ``search`` keeps those whose ID, name or an alias contains it."""
        after = decode_token(from_token, int)
        rows = await self._store.rooms_page(after and after[0], limit + 1, search)
        rows, next_batch = _page(rows, limit, lambda row: (row.room_nid,))
        return {"rooms": [_room(row) for row in rows], "next_batch": next_batch}

    async def _room_row(self, room_id: str) -> RoomRow:
        row = await self._store.room(room_id)
        if row is None:
            raise not_found(f"No room {room_id}")
        return row

    async def _room_nid(self, room_id: str) -> int:
        # Only the handle: the whole row counts the room's members, for nothing here.
        room_nid = await self._store.room_nid(room_id)
        if room_nid is None:
            raise not_found(f"No room {room_id}")
        return room_nid

    async def room(self, room_id: str) -> dict[str, Any]:
        """One room: what the list shows, with its local aliases, topic, history visibility,
        encryption, power levels and how many state entries and events it has."""
        row = await self._room_row(room_id)
        state = {
            event_type: json.loads(text).get("content", {})
            for event_type, text in (await self._store.summary_state(row.room_nid)).items()
        }
        state_count, event_count = await self._store.room_sizes(row.room_nid)
        return {
            **_room(row),
            "aliases": row.local_aliases,
            "topic": _text(state.get("m.room.topic", {}).get("topic")),
            "history_visibility": _text(
                state.get("m.room.history_visibility", {}).get("history_visibility")
            ),
            "encryption": state.get("m.room.encryption"),
            "power_levels": state.get("m.room.power_levels"),
            "state_count": state_count,
            "event_count": event_count,
        }

    async def members(
        self, room_id: str, membership: str | None, from_token: str | None, limit: int
    ) -> dict:
        """The room's members by user ID, each with their membership (or only ``membership``)."""
        if membership is not None and membership not in MEMBERSHIPS:
            raise invalid_param(f"'membership' must be one of {', '.join(MEMBERSHIPS)}")
        after = decode_token(from_token, str)
        room_nid = await self._room_nid(room_id)
        rows = await self._store.members_page(room_nid, after and after[0], limit + 1, membership)
        rows, next_batch = _page(rows, limit, lambda member: (member[0],))
        members = [{"user_id": user_id, "membership": m} for user_id, m in rows]
        return {"members": members, "next_batch": next_batch}

    async def state(self, room_id: str, from_token: str | None, limit: int) -> dict:
        """The room's current state events (whole), by type then state key."""
        after = decode_token(from_token, str, str)
        room_nid = await self._room_nid(room_id)
        rows = await self._store.state_page(room_nid, after, limit + 1)
        rows, next_batch = _page(rows, limit, lambda event: (event.type, event.state_key))
        return {"state": [_whole(event) for event in rows], "next_batch": next_batch}

    async def events(self, room_id: str, from_token: str | None, limit: int) -> dict:
        """The room's events, newest first, each as a summary (its JSON: :meth:`event`)."""
        after = decode_token(from_token, int)
        room_nid = await self._room_nid(room_id)
        rows = await self._store.events_page(room_nid, after and after[0], limit + 1)
        rows, next_batch = _page(rows, limit, lambda event: (event.position,))
        return {"events": [_event_summary(event) for event in rows], "next_batch": next_batch}

    async def event(self, event_id: str) -> dict[str, Any]:
        """One event, whole, with its room and its position in the stream."""
        found = await self._store.event(event_id)
        if found is None:
            raise not_found(f"No event {event_id}")
        room_id, row = found
        return {"room_id": room_id, "position": row.position, "event": _whole(row)}

    def mutual_rooms(self, user_a: str, user_b: str, from_token: str | None) -> dict:
        """The page of rooms both users are joined to that ``user_a`` would get from
        ``GET /_matrix/client/v1/mutual_rooms?user_id=<user_b>``: the same call, so the same
        rooms, count and tokens (a token pages on in either API)."""
        for name, user_id in (("user_a", user_a), ("user_b", user_b)):
            if not is_valid_user_id(user_id):
                raise invalid_param(f"'{name}' is not a valid user ID")
        if user_a == user_b:
            raise invalid_param("Mutual rooms need two different users")
        page = self._hs.mutual_rooms.page(user_a, user_b, from_token)
        return {"joined": page.joined, "count": page.count, "next_batch": page.next_batch}
