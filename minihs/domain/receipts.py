"""Receipts and read markers, and the ephemeral events of a room in sync.

Spec: Client-Server API, "Receipts" and "Fully read markers". A receipt names an event the user
has read; ``m.read`` receipts are shown to every member of the room, ``m.read.private`` ones only
to their owner. ``m.fully_read`` is not a receipt but the read marker: room account data.
Receipts are stored (they survive a restart, as in Synapse); the sender must be joined to the
room and the event must be one of that room's.
"""

from __future__ import annotations

import time
from typing import Any

from minihs.domain.account_data import FULLY_READ, AccountData
from minihs.domain.changes import ChangeListeners
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.domain.typing import Typing
from minihs.spec.errors import forbidden, invalid_param, not_found
from minihs.spec.ids import is_valid_room_id
from minihs.store.receipts import UNTHREADED, ReceiptStore

READ = "m.read"
READ_PRIVATE = "m.read.private"
RECEIPT_TYPES = (READ, READ_PRIVATE, FULLY_READ)


class Receipts:
    def __init__(
        self,
        store: ReceiptStore,
        account_data: AccountData,
        index: JoinedRoomsIndex,
        changes: ChangeListeners,
    ) -> None:
        self._store = store
        self._account_data = account_data
        self._index = index
        self._changes = changes

    async def _check(self, user_id: str, room_id: str, event_id: str) -> None:
        if not is_valid_room_id(room_id) or not event_id.startswith("$"):
            raise invalid_param("A valid room ID and event ID must be specified")
        if room_id not in self._index.joined_rooms_of(user_id):
            raise forbidden(f"User {user_id} not in room {room_id}")
        if not await self._store.event_in_room(room_id, event_id):
            raise not_found(f"Event {event_id} not found in room {room_id}")

    async def send_receipt(
        self, user_id: str, room_id: str, receipt_type: str, event_id: str, thread_id: Any
    ) -> None:
        """POST /rooms/{roomId}/receipt/{receiptType}/{eventId}"""
        if receipt_type not in RECEIPT_TYPES:
            raise invalid_param(f"Receipt type must be one of {', '.join(RECEIPT_TYPES)}")
        if thread_id is not None:
            # As Synapse: a non-empty string, and never on the read marker. minihs keeps no
            # event relations, so it does not check that the event belongs to the thread.
            if not isinstance(thread_id, str) or not thread_id:
                raise invalid_param("thread_id field must be a non-empty string")
            if receipt_type == FULLY_READ:
                raise invalid_param(f"thread_id is not compatible with {FULLY_READ} receipts.")
        await self._check(user_id, room_id, event_id)
        if receipt_type == FULLY_READ:
            await self._account_data.set_fully_read(user_id, room_id, event_id)
            return
        ts = int(time.time() * 1000)
        await self._store.put(room_id, receipt_type, user_id, thread_id or UNTHREADED, event_id, ts)
        if receipt_type == READ:
            self._changes.notify(rooms={room_id})
        else:
            self._changes.notify(users={user_id})

    async def set_read_markers(
        self, user_id: str, room_id: str, markers: dict[str, str]
    ) -> None:
        """POST /rooms/{roomId}/read_markers: ``m.fully_read`` moves the read marker,
        ``m.read`` and ``m.read.private`` send receipts. ``markers`` maps each given key to its
        event ID."""
        for key in (FULLY_READ, READ, READ_PRIVATE):
            if key in markers:
                await self._check(user_id, room_id, markers[key])
        if FULLY_READ in markers:
            await self._account_data.set_fully_read(user_id, room_id, markers[FULLY_READ])
        for key in (READ, READ_PRIVATE):
            if key in markers:
                await self.send_receipt(user_id, room_id, key, markers[key], None)

    async def receipt_event(self, room_id: str, user_id: str, since: int | None) -> dict[str, Any] | None:
        """The room's ``m.receipt`` ephemeral event for ``user_id``: the receipts that moved after
        position ``since`` (None: all of them), private ones only when they are the user's own;
        None when there are none."""
        content: dict[str, Any] = {}
        for receipt in await self._store.changed_since(room_id, since or 0):
            if receipt.receipt_type == READ_PRIVATE and receipt.user_id != user_id:
                continue
            entry: dict[str, Any] = {"ts": receipt.ts}
            if receipt.thread_id != UNTHREADED:
                entry["thread_id"] = receipt.thread_id
            by_type = content.setdefault(receipt.event_id, {})
            by_type.setdefault(receipt.receipt_type, {})[receipt.user_id] = entry
        if not content:
            return None
        return {"type": "m.receipt", "content": content}


async def ephemeral_for_room(
    typing: Typing,
    receipts: Receipts,
    room_id: str,
    user_id: str,
    typing_since: int | None,
    receipts_since: int | None,
) -> list[dict[str, Any]]:
    """The ``ephemeral.events`` of one joined room in a sync for ``user_id``: its ``m.typing``
    and ``m.receipt`` events, each only if it changed after its own stream's position (typing
    is in memory, receipts are stored, so a sync token carries one position for each)."""
    events = []
    typing_event = typing.typing_event(room_id, typing_since)
    if typing_event is not None:
        events.append(typing_event)
    receipt_event = await receipts.receipt_event(room_id, user_id, receipts_since)
    if receipt_event is not None:
        events.append(receipt_event)
    return events
