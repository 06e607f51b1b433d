"""Receipts and read markers, and the ``m.receipt`` ephemeral event of a room in sync.

Spec: Client-Server API, "Receipts" and "Fully read markers". A receipt names an event the user
has read; ``m.read`` receipts are shown to every member of the room, ``m.read.private`` ones only
to their owner. ``m.fully_read`` is not a receipt but the read marker: room account data.
Receipts are stored (they survive a restart, as in Synapse); the sender must be joined to the
room and the event must be one of that room's.
"""

from __future__ import annotations

from typing import Any, Iterable

from minihs.domain.account_data import FULLY_READ, AccountData
from minihs.domain.clock import ServerClock
from minihs.domain.stream import Stream
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.spec.errors import forbidden, invalid_param, not_found
from minihs.spec.ids import is_valid_room_id
from minihs.store.receipts import UNTHREADED, ReceiptStore, StoredReceipt

READ = "m.read"
READ_PRIVATE = "m.read.private"
RECEIPT_TYPES = (READ, READ_PRIVATE, FULLY_READ)


class Receipts:
    def __init__(
        self,
        store: ReceiptStore,
        account_data: AccountData,
        index: JoinedRoomsIndex,
        stream: Stream,
        *,
        clock: ServerClock | None = None,
    ) -> None:
        self._store = store
        self._account_data = account_data
        self._index = index
        self._stream = stream
        self._clock = clock or ServerClock()  # a receipt's ts

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
        ts = self._clock.now_ms()

        def settled(committed: bool, written: tuple[int, list[str]] | None) -> None:
            # A public receipt wakes the room's joined members; a private one its owner alone.
            if committed and written is not None:
                position, members = written
                self._stream.notify(members if receipt_type == READ else (user_id,), position)

        await self._store.put(
            room_id, receipt_type, user_id, thread_id or UNTHREADED, event_id, ts, settled
        )

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
        """The room's ``m.receipt`` event for ``user_id`` with the receipts that moved after
        position ``since`` (None: all of them); None when there are none."""
        return receipt_event(await self._store.changed_since(room_id, since or 0), user_id)


def receipt_event(receipts: Iterable[StoredReceipt], user_id: str) -> dict[str, Any] | None:
    """One room's ``m.receipt`` ephemeral event in a sync for ``user_id``, from its receipts
    that moved (oldest first): private ones only when they are the user's own; None when there
    are none."""
    content: dict[str, Any] = {}
    for receipt in receipts:
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
