"""Presence: each user's online / unavailable / offline state and status message.

Spec: Client-Server API, "Presence". Kept in memory only: a restart forgets it and every user
reads as offline again (Synapse persists presence; a test server has no use for it surviving).
A user may see their own presence and that of users they share a joined room with; anyone else
gets 403, which also keeps the existence of unknown users hidden.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from minihs.domain.changes import ChangeListeners
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.spec.errors import forbidden, invalid_param

PRESENCE_STATES = ("online", "unavailable", "offline")


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class PresenceState:
    presence: str
    status_msg: str | None
    last_active_ts: int
    position: int


class Presence:
    def __init__(self, index: JoinedRoomsIndex, changes: ChangeListeners) -> None:
        self._index = index
        self._changes = changes
        self._states: dict[str, PresenceState] = {}
        # Presence's own stream: a position per change, in memory like the states.
        self._position = 0

    @property
    def current_position(self) -> int:
        return self._position

    def clear(self) -> None:
        self._states.clear()

    def set_presence(self, user_id: str, presence: str, status_msg: str | None = None) -> None:
        """PUT /presence/{userId}/status (and ``/sync?set_presence=``)."""
        if presence not in PRESENCE_STATES:
            raise invalid_param(f"'presence' must be one of {', '.join(PRESENCE_STATES)}")
        self._position += 1
        self._states[user_id] = PresenceState(presence, status_msg, _now_ms(), self._position)
        self._changes.notify(users={user_id}, rooms=set(self._index.joined_rooms_of(user_id)))

    def _may_see(self, requester: str, user_id: str) -> bool:
        return requester == user_id or bool(self._index.mutual_rooms(requester, user_id))

    @staticmethod
    def _content(state: PresenceState | None, now: int) -> dict[str, Any]:
        if state is None:
            return {"presence": "offline"}
        content: dict[str, Any] = {
            "presence": state.presence,
            "last_active_ago": max(0, now - state.last_active_ts),
            "currently_active": state.presence == "online",
        }
        if state.status_msg is not None:
            content["status_msg"] = state.status_msg
        return content

    def get_presence(self, requester: str, user_id: str) -> dict[str, Any]:
        """GET /presence/{userId}/status"""
        if not self._may_see(requester, user_id):
            raise forbidden("You are not allowed to see their presence")
        return self._content(self._states.get(user_id), _now_ms())

    def presence_since(self, user_id: str, since: int | None) -> list[dict[str, Any]]:
        """The ``presence.events`` of a sync: an ``m.presence`` event for each user ``user_id``
        may see (themselves, users sharing a joined room) whose presence changed after position
        ``since`` (None: every such user that ever set one)."""
        now = _now_ms()
        events = []
        for other, state in self._states.items():
            if since is not None and state.position <= since:
                continue
            if self._may_see(user_id, other):
                events.append(
                    {"type": "m.presence", "sender": other, "content": self._content(state, now)}
                )
        return events
