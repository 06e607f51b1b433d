"""Sending events and reading a room's history.

Spec: Client-Server API "Sending events to a room" (``PUT .../send/{eventType}/{txnId}``, ``PUT
.../state/{eventType}/{stateKey}``), "Getting events for a room" (``GET .../event/{eventId}``)
and "Syncing" > ``GET .../messages``.

Sends run through ``Rooms.append`` under the room's lock, so the rules are checked against the
state the event will follow. History is read through one database snapshot per request.

Who may read history: a joined member reads all of it (every minihs room behaves as
``history_visibility: shared``); a member who left or was banned reads up to that event; anyone
else, and anyone asking about a room that does not exist, gets 403, so that the answer never
tells whether a room exists. (Synapse applies each room's history visibility event by event.)
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from minihs.config import Config
from minihs.domain import power_levels
from minihs.domain.accounts import Requester
from minihs.domain.clock import ServerClock
from minihs.domain.room_state import CREATE, MEMBER, POWER_LEVELS, RoomState
from minihs.domain.rooms import Rooms
from minihs.domain.stream import Stream
from minihs.spec.errors import MatrixError, bad_json, forbidden, invalid_param, not_found
from minihs.spec.events import Event, check_content, client_event
from minihs.spec.filters import EventFilter
from minihs.store.rooms import RoomStore, TxnKey
from minihs.store.sync import SyncReader, SyncStore

MAX_EVENT_TYPE_BYTES = 255
MAX_STATE_KEY_BYTES = 255
MAX_TXN_ID_BYTES = 255
DEFAULT_PAGE = 10
MAX_PAGE = 1000
# Recent transactions answered from memory; older ones (and all after a restart) from SQLite.
TXN_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class MessagesRequest:
    room_id: str
    direction: str  # "b" or "f"
    from_token: str | None
    to_token: str | None
    limit: int
    filter: EventFilter


def _check_name(value: str, what: str, limit: int) -> None:
    if not value:
        raise invalid_param(f"The {what} may not be empty")
    if len(value.encode("utf-8", "surrogatepass")) > limit:
        raise invalid_param(f"The {what} may not be longer than {limit} bytes")


class Messages:
    def __init__(
        self,
        config: Config,
        rooms: Rooms,
        store: RoomStore,
        history: SyncStore,
        stream: Stream,
        *,
        clock: ServerClock | None = None,
    ) -> None:
        self._config = config
        self._clock = clock or ServerClock()  # origin_server_ts
        self._rooms = rooms
        self._store = store
        self._history = history
        self._stream = stream
        self._recent_txns: OrderedDict[tuple[str, str, str, str, str], str] = OrderedDict()

    def clear_caches(self) -> None:
        self._recent_txns.clear()

    # --- sending ---------------------------------------------------------------------------

    async def send(
        self,
        who: Requester,
        room_id: str,
        event_type: str,
        txn_id: str,
        content: dict[str, Any],
    ) -> str:
        """PUT /rooms/{roomId}/send/{eventType}/{txnId}: the event ID.

        Idempotent per device and request path: a retry gets the first event's ID, whatever its
        body (as Synapse does), even after a restart (the mapping is written with the event).
        """
        key = (who.user_id, who.device_id, room_id, event_type, txn_id)
        known = self._recent_txns.get(key)
        if known is not None:
            return known
        _check_name(event_type, "event type", MAX_EVENT_TYPE_BYTES)
        _check_name(txn_id, "transaction ID", MAX_TXN_ID_BYTES)
        check_content(content)
        sender = who.user_id

        def build(room: RoomState) -> Event:
            power_levels.check_may_send(room, sender, event_type, is_state=False)
            return room.next_event(event_type, sender, content, None, self._clock.now_ms())

        txn = TxnKey(who.user_id, who.device_id, event_type, txn_id)
        _, event_id = await self._append(room_id, build, txn)
        self._remember(key, event_id)
        return event_id

    def _remember(self, key: tuple[str, str, str, str, str], event_id: str) -> None:
        self._recent_txns[key] = event_id
        if len(self._recent_txns) > TXN_CACHE_SIZE:
            self._recent_txns.popitem(last=False)

    async def set_state(
        self, who: Requester, room_id: str, event_type: str, state_key: str, content: dict[str, Any]
    ) -> str:
        """PUT /rooms/{roomId}/state/{eventType}/{stateKey}: the event ID.

        The same content from the same sender again returns the current event's ID and writes
        nothing (as Synapse does). ``m.room.member`` goes through the membership rules, as
        Synapse routes it; ``m.room.create`` can never be sent again.
        """
        _check_name(event_type, "event type", MAX_EVENT_TYPE_BYTES)
        if len(state_key.encode("utf-8", "surrogatepass")) > MAX_STATE_KEY_BYTES:
            raise invalid_param(f"The state key may not be longer than {MAX_STATE_KEY_BYTES} bytes")
        check_content(content)
        sender = who.user_id
        if event_type == CREATE:
            raise forbidden("A room's m.room.create event cannot be replaced")
        if event_type == MEMBER:
            return await self._set_membership(who, room_id, state_key, content)

        def build(room: RoomState) -> Event | str:
            power_levels.check_may_send(room, sender, event_type, is_state=True)
            # Auth rules: "If the event has a state_key that starts with an @ and does not match
            # the sender, reject."
            if state_key.startswith("@") and state_key != sender:
                raise forbidden("A state key that is a user ID may only be set by that user")
            if event_type == POWER_LEVELS:
                if state_key != "":
                    raise forbidden("m.room.power_levels takes the empty state key")
                power_levels.check_power_levels_change(room, sender, content)
            current = room.state.get((event_type, state_key))
            if current is not None and current[1]["content"] == content and current[1]["sender"] == sender:
                return current[0]
            return room.next_event(event_type, sender, content, state_key, self._clock.now_ms())

        _, event_id = await self._append(room_id, build)
        return event_id

    async def _append(self, room_id: str, build, txn: TxnKey | None = None) -> tuple[RoomState, str]:
        try:
            return await self._rooms.append(room_id, build, txn)
        except MatrixError as error:
            # A room that does not exist answers as one the sender is not in: 403, as Synapse
            # does, and without telling whether it exists.
            if error.errcode == "M_NOT_FOUND":
                raise forbidden(f"You are not in room {room_id}") from None
            raise

    async def _set_membership(
        self, who: Requester, room_id: str, target: str, content: dict[str, Any]
    ) -> str:
        # A member event through the state endpoint is a membership change like any other: the
        # same rules as the membership endpoints (Synapse routes it to the same handler).
        membership = content.get("membership")
        reason = content.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise bad_json("'reason' must be a string")
        rooms = self._rooms
        if membership == "join":
            if target != who.user_id:
                raise forbidden("You can only set your own membership to join")
            await rooms.join(who.user_id, room_id, {k: v for k, v in content.items() if k != "membership"})
        elif membership == "invite":
            await rooms.invite(who.user_id, room_id, target, reason)
        elif membership == "leave":
            room = await rooms.room(room_id)
            if target == who.user_id:
                await rooms.leave(who.user_id, room_id, reason)
            elif room.membership_of(target) == "ban":
                await rooms.unban(who.user_id, room_id, target, reason)
            else:
                await rooms.kick(who.user_id, room_id, target, reason)
        elif membership == "ban":
            await rooms.ban(who.user_id, room_id, target, reason)
        else:
            raise bad_json("'membership' must be one of join, invite, leave, ban")
        room = await rooms.room(room_id)
        event_id = room.event_id_of(MEMBER, target)
        assert event_id is not None
        return event_id

    # --- reading ---------------------------------------------------------------------------

    @staticmethod
    def _visible_upto(reader: SyncReader, room_id: str, user_id: str) -> tuple[int, int]:
        """(room_nid, the last position the user may read), or 403."""
        room_nid = reader.room_nid(room_id)
        membership = None if room_nid is None else reader.membership(room_nid, user_id)
        if membership is None or membership[0] not in ("join", "leave", "ban"):
            raise forbidden(f"User {user_id} not in room {room_id}")
        upto = reader.position() if membership[0] == "join" else membership[1]
        return room_nid, upto

    async def event(self, user_id: str, room_id: str, event_id: str) -> dict[str, Any]:
        """GET /rooms/{roomId}/event/{eventId}: 404 when unknown or not visible to the user."""

        def read(reader: SyncReader) -> dict[str, Any]:
            try:
                room_nid, upto = self._visible_upto(reader, room_id, user_id)
            except MatrixError:
                raise not_found("Event not found") from None
            found = reader.event(event_id)
            if found is None or found[1] != room_nid or found[0] > upto:
                raise not_found("Event not found")
            return client_event(event_id, json.loads(found[2]), room_id)

        return await self._history.snapshot(read)

    async def messages(self, user_id: str, request: MessagesRequest) -> dict[str, Any]:
        """GET /rooms/{roomId}/messages: one page of the room's events in either direction."""
        stream = self._stream
        start = None if request.from_token is None else stream.parse_token(request.from_token, "from")
        stop = None if request.to_token is None else stream.parse_token(request.to_token, "to")
        backwards = request.direction == "b"

        def read(reader: SyncReader) -> dict[str, Any]:
            room_nid, visible = self._visible_upto(reader, request.room_id, user_id)
            if backwards:
                position = reader.position() if start is None else start
                rows = reader.events_backwards(room_nid, stop or 0, min(position, visible))
            else:
                position = 0 if start is None else start
                upto = visible if stop is None else min(stop, visible)
                rows = reader.events_forwards(room_nid, position, upto)
            chunk: list[tuple[int, str, dict[str, Any]]] = []
            more = False
            for stream_ordering, event_id, etype, _, text in rows:
                pdu = json.loads(text)
                if not request.filter.allows(etype, pdu["sender"]):
                    continue
                if len(chunk) >= request.limit:
                    more = True
                    break
                chunk.append((stream_ordering, event_id, pdu))
            body: dict[str, Any] = {
                "chunk": [client_event(eid, pdu, request.room_id) for _, eid, pdu in chunk],
                "start": stream.token(position),
            }
            if more and chunk:
                last = chunk[-1][0]
                body["end"] = stream.token(last - 1 if backwards else last)
            if request.filter.lazy_load_members:
                senders = {pdu["sender"] for _, _, pdu in chunk}
                body["state"] = [
                    client_event(eid, json.loads(text), request.room_id)
                    for _, eid, etype, key, text in reader.state_at(room_nid, visible)
                    if etype == MEMBER and key in senders
                ]
            return body

        return await self._history.snapshot(read)
