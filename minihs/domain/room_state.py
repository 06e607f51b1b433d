"""A room's current state in memory, and the power levels read from it.

Loaded from the database the first time a room is touched after start, then kept current by the
membership code under the room's lock. The authorization rules read it instead of SQL.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from minihs.spec.events import ROOM_VERSIONS, Event, RoomVersion, build_event
from minihs.store.rooms import StoredRoom

CREATE = "m.room.create"
MEMBER = "m.room.member"
POWER_LEVELS = "m.room.power_levels"
JOIN_RULES = "m.room.join_rules"

# Spec "m.room.power_levels": the values that apply when the content leaves a key out.
DEFAULT_POWER = {"ban": 50, "kick": 50, "redact": 50, "invite": 0, "state_default": 50}


def _as_int(value: Any, default: int) -> int:
    # Power levels are integers; a string like "50" is tolerated in older rooms, anything else
    # falls back to the default rather than failing the whole room.
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


@dataclass
class RoomState:
    room_nid: int
    room_id: str
    version: RoomVersion
    # (type, state_key) -> (event_id, PDU)
    state: dict[tuple[str, str], tuple[str, dict[str, Any]]]
    last_event_id: str
    depth: int
    creators: frozenset[str] = field(default_factory=frozenset)
    # Users whose sync a new event of this room concerns (joined or invited); None = recompute.
    _audience: frozenset[str] | None = field(default=None, repr=False)

    @classmethod
    def from_stored(cls, stored: StoredRoom) -> "RoomState":
        state = {key: (event_id, json.loads(text)) for key, (event_id, text) in stored.state.items()}
        room = cls(
            stored.room_nid,
            stored.room_id,
            ROOM_VERSIONS[stored.room_version],
            state,
            stored.last_event_id,
            stored.last_depth,
        )
        room.creators = room._creators_from_create_event()
        return room

    def _creators_from_create_event(self) -> frozenset[str]:
        _, create = self.state[(CREATE, "")]
        creators = {create["sender"]}
        if self.version.privileged_creators:
            extra = create["content"].get("additional_creators", [])
            creators.update(u for u in extra if isinstance(u, str))
        return frozenset(creators)

    def apply(self, event: Event) -> None:
        """Advance the in-memory state past an event (once it is committed)."""
        if event.state_key is not None:
            self.state[(event.type, event.state_key)] = (event.event_id, event.pdu)
            if event.type == CREATE and event.state_key == "":
                self.creators = self._creators_from_create_event()
            if event.type == MEMBER:
                self._audience = None
        self.last_event_id = event.event_id
        self.depth = event.depth

    def next_event(
        self,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        state_key: str | None,
        origin_server_ts: int,
    ) -> Event:
        """Build the event that follows this state: the room's single forward extremity as
        ``prev_events``, the auth events the spec selects, one more than the current depth."""
        return build_event(
            self.version,
            room_id=self.room_id,
            event_type=event_type,
            sender=sender,
            content=content,
            state_key=state_key,
            prev_events=[self.last_event_id],
            auth_events=self.auth_event_ids(sender, event_type, state_key),
            depth=self.depth + 1,
            origin_server_ts=origin_server_ts,
        )

    # --- reading state ---------------------------------------------------------------------

    def content_of(self, event_type: str, state_key: str = "") -> dict[str, Any] | None:
        entry = self.state.get((event_type, state_key))
        return None if entry is None else entry[1]["content"]

    def event_id_of(self, event_type: str, state_key: str = "") -> str | None:
        entry = self.state.get((event_type, state_key))
        return None if entry is None else entry[0]

    def membership_of(self, user_id: str) -> str | None:
        content = self.content_of(MEMBER, user_id)
        if content is None:
            return None
        membership = content.get("membership")
        return membership if isinstance(membership, str) else None

    def members_with(self, membership: str) -> list[str]:
        return [
            key
            for (etype, key), (_, pdu) in self.state.items()
            if etype == MEMBER and pdu["content"].get("membership") == membership
        ]

    def audience(self) -> frozenset[str]:
        """The members (joined or invited) whose sync shows this room's new events."""
        if self._audience is None:
            self._audience = frozenset(
                key
                for (etype, key), (_, pdu) in self.state.items()
                if etype == MEMBER and pdu["content"].get("membership") in ("join", "invite")
            )
        return self._audience

    @property
    def join_rule(self) -> str:
        content = self.content_of(JOIN_RULES) or {}
        # No join rules event (or no join_rule in it) means the room cannot be joined without
        # an invite, as Synapse reads it; a join_rule that is not a string is a rule nobody
        # can satisfy.
        rule = content.get("join_rule", "invite")
        return rule if isinstance(rule, str) else ""

    # --- power levels (spec: "m.room.power_levels"; v12: creators rank above everyone) -------

    def power_level_of(self, user_id: str) -> float:
        if self.version.privileged_creators and user_id in self.creators:
            return math.inf
        levels = self.content_of(POWER_LEVELS)
        if levels is None:
            # Before any power levels event the creator has 100 and everyone else 0.
            return 100 if user_id in self.creators else 0
        users = levels.get("users")
        if isinstance(users, dict) and user_id in users:
            return _as_int(users[user_id], 0)
        return _as_int(levels.get("users_default"), 0)

    def required_level(self, action: str) -> int:
        """The level needed to ban, kick, invite or redact."""
        levels = self.content_of(POWER_LEVELS) or {}
        return _as_int(levels.get(action), DEFAULT_POWER[action])

    def auth_event_ids(self, sender: str, event_type: str, target: str | None) -> list[str]:
        """The auth events an event selects (spec: "Auth events selection")."""
        keys: list[tuple[str, str]] = []
        if not self.version.room_id_from_create_event:
            keys.append((CREATE, ""))
        keys += [(POWER_LEVELS, ""), (MEMBER, sender)]
        if event_type == MEMBER and target is not None:
            keys += [(MEMBER, target), (JOIN_RULES, "")]
        seen: list[str] = []
        for key in keys:
            event_id = self.event_id_of(*key)
            if event_id is not None and event_id not in seen:
                seen.append(event_id)
        return seen
