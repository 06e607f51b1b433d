"""Presence: each user's online / unavailable / offline state and status message.

Spec: Client-Server API, "Presence". Kept in memory only: a restart forgets it and every user
reads as offline again (Synapse persists presence; a test server has no use for it surviving).
A user may see their own presence and that of users they share a joined room with; anyone else
gets 403, which also keeps the existence of unknown users hidden.

Each change takes a position in the change stream (``minihs.domain.changes``) and is recorded
in memory with it once committed, so a sync reports the changes between its two positions. A
``/sync`` marks its user ``online`` (or ``unavailable``) as Synapse does, but only a change of
state is a change: a client syncing in a loop does not wake its room mates' syncs each time.
minihs never times a user out to ``offline`` (Synapse does after some idle minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minihs.domain.changes import MemoryChanges
from minihs.domain.clock import ServerClock
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.spec.errors import forbidden, invalid_param

PRESENCE_STATES = ("online", "unavailable", "offline")


@dataclass
class PresenceState:
    presence: str
    status_msg: str | None
    last_active_ts: int
    position: int


class Presence:
    def __init__(
        self, index: JoinedRoomsIndex, changes: MemoryChanges, *, clock: ServerClock | None = None
    ) -> None:
        self._index = index
        self._changes = changes
        self._clock = clock or ServerClock()  # last_active_ago is measured on it
        self._states: dict[str, PresenceState] = {}

    def clear(self) -> None:
        self._states.clear()

    async def set_presence(self, user_id: str, presence: str, status_msg: str | None = None) -> None:
        """PUT /presence/{userId}/status"""
        if presence not in PRESENCE_STATES:
            raise invalid_param(f"'presence' must be one of {', '.join(PRESENCE_STATES)}")
        active_ts = self._clock.now_ms()

        def record(position: int) -> None:
            self._states[user_id] = PresenceState(presence, status_msg, active_ts, position)

        await self._changes.of_user(user_id, record)

    async def syncing(self, user_id: str, set_presence: str) -> None:
        """A ``/sync`` with ``set_presence``: ``online`` or ``unavailable`` becomes the user's
        state (keeping their status message) when it is not already; ``offline`` changes
        nothing (spec, ``set_presence``: "offline": "the client is not marked as being online")."""
        if set_presence == "offline":
            return
        state = self._states.get(user_id)
        if state is not None and state.presence == set_presence:
            if set_presence == "online":
                state.last_active_ts = self._clock.now_ms()  # activity alone is no change to report
            return
        await self.set_presence(user_id, set_presence, None if state is None else state.status_msg)

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
        return self._content(self._states.get(user_id), self._clock.now_ms())

    def presence_since(self, user_id: str, since: int | None, upto: int) -> list[dict[str, Any]]:
        """The ``presence.events`` of a sync: an ``m.presence`` event for each user ``user_id``
        may see (themselves, users sharing a joined room) whose presence changed at a position
        in (``since``, ``upto``] (``since`` None: every such user that ever set one)."""
        now = self._clock.now_ms()
        events = []
        for other, state in self._states.items():
            if state.position > upto or since is not None and state.position <= since:
                continue
            if self._may_see(user_id, other):
                events.append(
                    {"type": "m.presence", "sender": other, "content": self._content(state, now)}
                )
        return events
