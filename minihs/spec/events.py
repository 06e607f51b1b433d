"""Building events by the room-version rules: content hash, redaction, reference hash, event ID.

Spec: "Room Versions" (v10, v11, v12), server-server API "Calculating the content hash for an
event" and "Calculating the reference hash for an event", and the appendix "Canonical JSON".
minihs does not federate, so its events carry no ``signatures`` and no ``origin``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from minihs.spec.errors import bad_json, too_large

MAX_CONTENT_BYTES = 65536


@dataclass(frozen=True)
class RoomVersion:
    identifier: str
    # v11 (MSC2176/MSC3821/MSC3989) narrowed the top-level keys a redaction keeps and kept more
    # content; v12 (MSC4291) derives the room ID from the create event, which has no room_id.
    redaction_v11: bool
    room_id_from_create_event: bool
    # v11 (MSC2175): the creator is the create event's sender; `creator` left the content.
    creator_in_content: bool
    # v12 (MSC4289): creators have unlimited power and are not listed in m.room.power_levels.
    privileged_creators: bool


ROOM_VERSIONS = {
    "10": RoomVersion("10", False, False, True, False),
    "11": RoomVersion("11", True, False, False, False),
    "12": RoomVersion("12", True, True, False, True),
}

# Top-level keys a redacted event keeps (spec: "Redactions" in each room version).
_KEPT_TOP_LEVEL_V10 = frozenset(
    {
        "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures",
        "depth", "prev_events", "prev_state", "auth_events", "origin", "origin_server_ts",
        "membership",
    }
)
_KEPT_TOP_LEVEL_V11 = frozenset(
    {
        "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures",
        "depth", "prev_events", "auth_events", "origin_server_ts",
    }
)

_POWER_LEVEL_KEYS_V10 = (
    "ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default",
)


def _kept_content(version: RoomVersion, event_type: str, content: dict[str, Any]) -> dict[str, Any]:
    """The content keys that survive redaction for this event type in this room version."""
    keep: tuple[str, ...]
    if event_type == "m.room.member":
        kept = {k: content[k] for k in ("membership", "join_authorised_via_users_server") if k in content}
        if version.redaction_v11:
            # v11: "it allows the signed key of the third_party_invite key". An object without
            # `signed` is kept as {} (as Synapse does), so event IDs agree with it.
            invite = content.get("third_party_invite")
            if isinstance(invite, dict):
                kept["third_party_invite"] = {"signed": invite["signed"]} if "signed" in invite else {}
        return kept
    if event_type == "m.room.create":
        if version.redaction_v11:
            return dict(content)
        keep = ("creator",)
    elif event_type == "m.room.join_rules":
        keep = ("join_rule", "allow")
    elif event_type == "m.room.power_levels":
        keep = _POWER_LEVEL_KEYS_V10 + (("invite",) if version.redaction_v11 else ())
    elif event_type == "m.room.history_visibility":
        keep = ("history_visibility",)
    elif event_type == "m.room.redaction" and version.redaction_v11:
        keep = ("redacts",)
    else:
        keep = ()
    return {k: content[k] for k in keep if k in content}


def redact(version: RoomVersion, event: dict[str, Any]) -> dict[str, Any]:
    kept_keys = _KEPT_TOP_LEVEL_V11 if version.redaction_v11 else _KEPT_TOP_LEVEL_V10
    redacted = {k: v for k, v in event.items() if k in kept_keys}
    redacted["content"] = _kept_content(version, event["type"], event.get("content", {}))
    return redacted


def canonical_json(value: Any) -> bytes:
    """The spec's canonical JSON (appendix "Canonical JSON"): keys sorted by code point, no
    insignificant whitespace, UTF-8, strings escaped only where JSON requires it.

    orjson with sorted keys writes exactly these bytes for JSON values with integer numbers,
    the only values events hold (tests/test_canonical_json.py checks it against the
    canonicaljson package, Synapse's encoder), at a tenth of the cost: hashing every event
    twice made the encoder the largest share of building one. Anything else (a lone
    surrogate, an integer past 64 bits, a key that is not a string) raises a TypeError."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _unpadded_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unpadded_urlsafe_b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def content_hash(event: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the event without unsigned, signatures and hashes."""
    stripped = {k: v for k, v in event.items() if k not in ("unsigned", "signatures", "hashes")}
    return _unpadded_b64(hashlib.sha256(canonical_json(stripped)).digest())


def reference_hash(version: RoomVersion, event: dict[str, Any]) -> bytes:
    """sha256 of the canonical JSON of the redacted event without signatures and unsigned."""
    redacted = redact(version, event)
    redacted.pop("signatures", None)
    redacted.pop("unsigned", None)
    return hashlib.sha256(canonical_json(redacted)).digest()


def event_id_of(version: RoomVersion, event: dict[str, Any]) -> str:
    """Room versions 4 and up: ``$`` + unpadded URL-safe base64 of the reference hash."""
    return "$" + _unpadded_urlsafe_b64(reference_hash(version, event))


def room_id_from_create_event(create_event_id: str) -> str:
    """Room version 12: the room ID is ``!`` + the create event's reference hash (its event ID's
    opaque part), so it has no ``:server`` part."""
    return "!" + create_event_id[1:]


def check_content(content: dict[str, Any]) -> None:
    """Content must be canonical-JSON encodable and at most 65536 bytes (spec: "Size limits")."""
    # Numbers first: canonical JSON has integers only, and the encoder writes NaN as null.
    _reject_floats(content)
    try:
        encoded = canonical_json(content)
    except (TypeError, ValueError) as exc:
        raise bad_json(f"Event content cannot be encoded as canonical JSON: {exc}") from None
    if len(encoded) > MAX_CONTENT_BYTES:
        raise too_large(f"Event content is larger than {MAX_CONTENT_BYTES} bytes")


MAX_SAFE_INTEGER = 2**53 - 1


def _reject_floats(value: Any) -> None:
    # Canonical JSON has integers only, within [-(2**53)+1, 2**53-1] (spec appendix
    # "Canonical JSON"); the HTTP layer checks the range too, this guards every other caller.
    if isinstance(value, float):
        raise bad_json("Event content may not contain non-integer numbers")
    if isinstance(value, int) and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise bad_json("Event content may not contain integers outside ±(2**53-1)")
    if isinstance(value, dict):
        for item in value.values():
            _reject_floats(item)
    elif isinstance(value, list):
        for item in value:
            _reject_floats(item)


@dataclass(frozen=True)
class Event:
    """A persisted-form event (PDU) plus its ID."""

    event_id: str
    pdu: dict[str, Any]
    room_id: str

    @property
    def type(self) -> str:
        return self.pdu["type"]

    @property
    def state_key(self) -> str | None:
        return self.pdu.get("state_key")

    @property
    def content(self) -> dict[str, Any]:
        return self.pdu["content"]

    @property
    def depth(self) -> int:
        return self.pdu["depth"]


def build_event(
    version: RoomVersion,
    *,
    room_id: str | None,
    event_type: str,
    sender: str,
    content: dict[str, Any],
    state_key: str | None,
    prev_events: list[str],
    auth_events: list[str],
    depth: int,
    origin_server_ts: int,
) -> Event:
    """Assemble a PDU, hash it, and derive its event ID.

    ``room_id`` is None only for a room version 12 create event; the returned Event then carries
    the room ID derived from it.
    """
    pdu: dict[str, Any] = {
        "auth_events": auth_events,
        "content": content,
        "depth": depth,
        "origin_server_ts": origin_server_ts,
        "prev_events": prev_events,
        "sender": sender,
        "type": event_type,
    }
    if room_id is not None:
        pdu["room_id"] = room_id
    if state_key is not None:
        pdu["state_key"] = state_key
    pdu["hashes"] = {"sha256": content_hash(pdu)}
    event_id = event_id_of(version, pdu)
    if room_id is None:
        room_id = room_id_from_create_event(event_id)
    return Event(event_id, pdu, room_id)


def client_event(event_id: str, pdu: dict[str, Any], room_id: str) -> dict[str, Any]:
    """The client-server format of an event (spec: "ClientEvent")."""
    event: dict[str, Any] = {
        "content": pdu["content"],
        "event_id": event_id,
        "origin_server_ts": pdu["origin_server_ts"],
        "room_id": room_id,
        "sender": pdu["sender"],
        "type": pdu["type"],
        "unsigned": {},
    }
    if "state_key" in pdu:
        event["state_key"] = pdu["state_key"]
    return event
