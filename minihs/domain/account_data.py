"""Account data: per-user configuration objects, global or per room, and their delivery in sync.

Spec: Client-Server API, "Client Config". Only the user may read or write their own; the types
the server manages (``m.fully_read``, set through read markers, and ``m.push_rules``, served by
the push rules API) are refused with 405 ``M_BAD_JSON`` as the spec requires.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from minihs.domain.stream import Stream
from minihs.spec.errors import MatrixError, Codes, forbidden, invalid_param, not_found
from minihs.spec.ids import is_valid_room_id
from minihs.spec.json_codec import dumps
from minihs.spec.push_rules import server_default_ruleset
from minihs.store.account_data import GLOBAL, AccountDataChange, AccountDataStore

FULLY_READ = "m.fully_read"
PUSH_RULES = "m.push_rules"
# Spec "Client Config": "Servers MUST reject clients from setting account data for event types
# that the server manages. Currently, this only includes m.fully_read and m.push_rules. This
# applies to both global and room-specific account data."
SERVER_MANAGED = (FULLY_READ, PUSH_RULES)


def push_rules_event(user_id: str) -> dict[str, Any]:
    """The ``m.push_rules`` global account data event: the server-default rules (minihs keeps
    no rules of users' own, so they never change and need sending only in an initial sync)."""
    return {"type": PUSH_RULES, "content": {"global": server_default_ruleset(user_id)}}


class AccountData:
    def __init__(self, store: AccountDataStore, stream: Stream) -> None:
        self._store = store
        self._stream = stream

    @staticmethod
    def _check_access(requester: str, user_id: str, action: str) -> None:
        if user_id != requester:
            raise forbidden(f"Cannot {action} account data for other users.")

    @staticmethod
    def _check_room(room_id: str) -> None:
        if not is_valid_room_id(room_id):
            raise invalid_param(f"{room_id!r} is not a valid room ID")

    @staticmethod
    def _check_settable(data_type: str) -> None:
        if data_type in SERVER_MANAGED:
            raise MatrixError(405, Codes.BAD_JSON, f"Cannot set {data_type} through this API.")

    async def _put(self, user_id: str, room_id: str, data_type: str, content: dict[str, Any]) -> int:
        # Only the user's own syncs show it; woken once committed, even if this request is gone.
        return await self._store.put(
            user_id, room_id, data_type, dumps(content).decode(),
            on_settled=lambda committed, position: committed
            and self._stream.notify((user_id,), position),
        )

    async def put_global(self, requester: str, user_id: str, data_type: str,
                         content: dict[str, Any]) -> None:
        """PUT /user/{userId}/account_data/{type}"""
        self._check_access(requester, user_id, "add")
        self._check_settable(data_type)
        await self._put(user_id, GLOBAL, data_type, content)

    async def get_global(self, requester: str, user_id: str, data_type: str) -> dict[str, Any]:
        """GET /user/{userId}/account_data/{type}"""
        self._check_access(requester, user_id, "get")
        if data_type == PUSH_RULES:
            return push_rules_event(user_id)["content"]
        stored = await self._store.get(user_id, GLOBAL, data_type)
        if stored is None:
            raise not_found("Account data not found")
        return json.loads(stored)

    async def put_room(self, requester: str, user_id: str, room_id: str, data_type: str,
                       content: dict[str, Any]) -> None:
        """PUT /user/{userId}/rooms/{roomId}/account_data/{type}"""
        self._check_access(requester, user_id, "add")
        self._check_room(room_id)
        self._check_settable(data_type)
        await self._put(user_id, room_id, data_type, content)

    async def get_room(self, requester: str, user_id: str, room_id: str,
                       data_type: str) -> dict[str, Any]:
        """GET /user/{userId}/rooms/{roomId}/account_data/{type}"""
        self._check_access(requester, user_id, "get")
        self._check_room(room_id)
        stored = await self._store.get(user_id, room_id, data_type)
        if stored is None:
            raise not_found("Room account data not found.")
        return json.loads(stored)

    async def set_fully_read(self, user_id: str, room_id: str, event_id: str) -> None:
        """The read marker (spec "Fully read markers"): room account data ``m.fully_read``,
        written by the server on behalf of the read markers and receipts APIs."""
        await self._put(user_id, room_id, FULLY_READ, {"event_id": event_id})

    async def account_data_since(self, user_id: str, since: int | None) -> dict[str, Any]:
        """What a sync shows of the user's account data after position ``since`` (see
        :func:`sync_account_data`), read on its own (sync reads it through its snapshot)."""
        return sync_account_data(await self._store.changed_since(user_id, since or 0), user_id, since is None)


def sync_account_data(
    changes: Iterable[AccountDataChange], user_id: str, initial: bool
) -> dict[str, Any]:
    """The ``account_data`` of a sync: ``{"global": [events], "rooms": {room_id: [events]}}``
    from the changes it covers (oldest first); an initial sync also gets ``m.push_rules``.
    Each event is ``{"type", "content"}``, newest value only."""
    global_events: list[dict[str, Any]] = []
    if initial:
        global_events.append(push_rules_event(user_id))
    rooms: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        event = {"type": change.type, "content": json.loads(change.content)}
        if change.room_id == GLOBAL:
            global_events.append(event)
        else:
            rooms.setdefault(change.room_id, []).append(event)
    return {"global": global_events, "rooms": rooms}
