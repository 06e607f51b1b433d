"""Assembling a ``/sync`` response (spec: Client-Server API "Syncing", ``GET /sync``).

A sync reads one snapshot of the database (``minihs.store.sync``) and reports, for the
requesting user, what happened between its ``since`` position and the snapshot's position
(``next_batch``). Without ``since`` (an initial sync) it reports each room's current state and
last ``timeline.limit`` events. With nothing to report and a ``timeout``, it waits on the
change stream's notifier (``minihs.domain.stream``), which wakes it only once a change that
concerns its user is committed; it then reads again.

What a room section holds (minihs rooms have one linear history, so "the state at" a position
is the last event of each state key up to it):
- joined rooms: ``timeline`` (the newest events after ``since``, at most the limit; ``limited``
  when more happened), ``state`` (the state the client is missing before the timeline: all of
  it for an initial sync, a newly joined room or ``full_state``; after ``since``, the keys that
  changed in the gap a limited timeline leaves), ``summary``, and the empty ``ephemeral``,
  ``account_data`` and ``unread_notifications`` clients expect.
- invited rooms: ``invite_state``, the stripped state the spec recommends plus the invite.
- left rooms (left or banned after ``since``; at an initial sync only with ``include_leave``):
  the timeline and state up to the leave, never past it.

``state`` is the current state minus the events the timeline carries, not the state at the
start of the timeline: the two differ only when one key changed twice inside the timeline, and a
client applying ``state`` then the timeline ends with the same state either way.

Hooks for the other sections (account data, presence, typing, receipts: see
``minihs.domain.sync_extras``): append to ``Sync.snapshot_sections`` a function ``(reader,
context, response)`` that reads through the same snapshot (on the database thread), or to
``Sync.memory_sections`` a function ``(context, response)`` that reads in-memory state on the
event loop, reporting only changes at positions in (``since``, ``upto``]; either fills
``response`` (the global sections, or a joined room's through :func:`joined_room`), and a sync
with something in them is not empty. ``Sync.before`` runs first, once per request (a sync's
``set_presence``). Such a change must call ``Stream.notify`` to wake waiting syncs.
"""

from __future__ import annotations

import asyncio
import orjson
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from minihs.domain.filters import Filters
from minihs.domain.request_gate import RequestGate
from minihs.domain.stream import Stream
from minihs.spec.events import client_event
from minihs.spec.errors import Codes, MatrixError
from minihs.spec.filters import EventFilter, Filter
from minihs.store.sync import EventRow, SyncReader, SyncStore

MEMBER = "m.room.member"
# Spec: "Stripped state": the state an invite shows (the recommended events, and the topic).
INVITE_STATE_TYPES = frozenset(
    {
        "m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar",
        "m.room.canonical_alias", "m.room.encryption", "m.room.topic",
    }
)
HEROES = 5
# The longest a /sync waits, whatever its timeout asks (Synapse has no cap; five minutes keeps
# a forgotten client from holding a connection forever).
MAX_TIMEOUT_MS = 300_000


@dataclass(frozen=True)
class SyncRequest:
    user_id: str
    device_id: str
    since: str | None
    filter: Filter
    full_state: bool = False
    timeout_ms: int = 0
    set_presence: str = "online"


@dataclass(frozen=True)
class SyncContext:
    """What a section hook needs: whose sync, and the range (since, upto] it covers."""

    user_id: str
    device_id: str
    since: int | None
    upto: int
    filter: Filter
    full_state: bool
    # The user's joined rooms this sync covers (the room filter let them through), each with
    # whether it is new to the client (joined after ``since``: show it whole).
    joined: dict[str, bool]
    prev_batch: str  # the ``prev_batch`` of a room section that has no timeline events


def joined_room(response: dict[str, Any], context: SyncContext, room_id: str) -> dict[str, Any]:
    """The joined room's section of ``response``, made (with an empty timeline) when the room
    had no new events: a room with only new ephemeral events or account data."""
    rooms = response["rooms"]["join"]
    body = rooms.get(room_id)
    if body is None:
        body = rooms[room_id] = {
            "timeline": {"events": [], "limited": False, "prev_batch": context.prev_batch},
            "state": {"events": []},
            "account_data": {"events": []},
            "ephemeral": {"events": []},
            "unread_notifications": {"highlight_count": 0, "notification_count": 0},
            "summary": {},
        }
    return body


def _empty_response() -> dict[str, Any]:
    return {
        "next_batch": "",
        "rooms": {"join": {}, "invite": {}, "leave": {}, "knock": {}},
        "presence": {"events": []},
        "account_data": {"events": []},
        "to_device": {"events": []},
        "device_lists": {"changed": [], "left": []},
        "device_one_time_keys_count": {},
    }


def is_empty(response: dict[str, Any]) -> bool:
    if any(response["rooms"].values()):
        return False
    for section in ("presence", "account_data", "to_device"):
        if response[section]["events"]:
            return False
    return not (response["device_lists"]["changed"] or response["device_lists"]["left"])


class _Timeline:
    def __init__(self) -> None:
        self.rows: list[tuple[EventRow, dict[str, Any]]] = []
        self.limited = False

    @property
    def event_ids(self) -> set[str]:
        return {row[1] for row, _ in self.rows}


class Sync:
    def __init__(self, store: SyncStore, stream: Stream, filters: Filters, gate: RequestGate) -> None:
        self._store = store
        self._stream = stream
        self.filters = filters
        self._gate = gate
        self.snapshot_sections: list[Callable[[SyncReader, SyncContext, dict], None]] = []
        self.memory_sections: list[Callable[[SyncContext, dict], None]] = []
        self.before: list[Callable[[SyncRequest], Awaitable[None]]] = []

    async def sync(self, request: SyncRequest) -> dict[str, Any]:
        """GET /sync: what happened for the user since ``since``, waiting up to the timeout."""
        stream = self._stream
        epoch = stream.epoch
        since = None if request.since is None else stream.parse_token(request.since)
        for hook in self.before:
            await hook(request)
        timeout_s = min(max(request.timeout_ms, 0), MAX_TIMEOUT_MS) / 1000
        # The long poll waits in real time (the event loop's), not on the server clock: a
        # frozen clock must not hang a client, nor an advanced one cut its wait short.
        loop_time = asyncio.get_running_loop().time
        deadline = loop_time() + timeout_s
        while True:
            if since is None or request.full_state or stream.changed_since(request.user_id, since):
                response, context = await self._store.snapshot(
                    lambda reader: self._build(reader, request, since)
                )
                upto = context.upto
                for fill in self.memory_sections:
                    fill(context, response)
                if since is None or request.full_state or not is_empty(response):
                    response["next_batch"] = stream.token(upto)
                    return response
                since = upto  # nothing to show up to here: wait for what comes next
            remaining = deadline - loop_time()
            if remaining <= 0:
                response = _empty_response()
                response["next_batch"] = stream.token(since)
                return response
            # A reset waits for the requests in flight: a waiting sync answers at once, with
            # nothing new, so that it does not hold the reset up for the rest of its timeout.
            reset_starting = self._gate.reset_starting()
            await stream.wait_for_change(request.user_id, since, remaining, reset_starting)
            if reset_starting.done():
                response = _empty_response()
                response["next_batch"] = stream.token(since)
                return response
            if stream.epoch != epoch:
                raise MatrixError(
                    400, Codes.INVALID_PARAM, "The server's data was reset while this sync waited"
                )

    # --- on the database thread ------------------------------------------------------------

    def _build(
        self, reader: SyncReader, request: SyncRequest, since: int | None
    ) -> tuple[dict[str, Any], SyncContext]:
        upto = reader.position()
        joined: dict[str, bool] = {}
        response = _empty_response()
        rooms = response["rooms"]
        room_filter = request.filter.room
        changed = None if since is None else reader.rooms_with_events_after(since)
        for room_nid, room_id, membership, member_at in reader.memberships(request.user_id):
            if not room_filter.allows_room(room_id):
                continue
            new = since is None or member_at > since
            if membership == "join" and new and since is not None:
                # A join over a join (a profile change) is no new room for the client.
                new = reader.membership_at(room_nid, request.user_id, since) != "join"
            if membership == "join":
                joined[room_id] = new
                if new or request.full_state:
                    after = None if new else since
                    body = self._room(reader, request, room_nid, upto, after, full=True)
                elif room_nid in changed:
                    body = self._room(reader, request, room_nid, upto, since, full=False)
                else:
                    continue
                if body is not None:
                    rooms["join"][room_id] = body
            elif membership == "invite" and new:
                rooms["invite"][room_id] = {"invite_state": {"events": self._invite_state(reader, room_nid, member_at)}}
            elif membership in ("leave", "ban"):
                if since is None and not room_filter.include_leave:
                    continue
                if since is not None and not new:
                    continue
                body = self._room(
                    reader, request, room_nid, member_at, None if since is None else since,
                    full=True, left=True,
                )
                if body is not None:
                    rooms["leave"][room_id] = body
        context = SyncContext(
            request.user_id, request.device_id, since, upto, request.filter, request.full_state,
            joined, self._stream.token(upto),
        )
        for fill in self.snapshot_sections:
            fill(reader, context, response)
        return response, context

    def _room(
        self,
        reader: SyncReader,
        request: SyncRequest,
        room_nid: int,
        upto: int,
        since: int | None,
        *,
        full: bool,
        left: bool = False,
    ) -> dict[str, Any] | None:
        """One room's section. ``since`` None: the newest events, whatever their age."""
        room_filter = request.filter.room
        timeline = self._timeline(
            reader, room_nid, since or 0, upto, room_filter.timeline, room_filter.timeline_limit
        )
        if not full and not timeline.rows:
            return None  # nothing this filter lets through
        in_timeline = timeline.event_ids
        if full:
            state_rows = reader.state_at(room_nid, upto) if left else reader.current_state(room_nid)
        elif timeline.limited and timeline.rows:
            # The gap between since and the timeline: the keys changed there, as they are now.
            gap = reader.state_keys_changed(room_nid, since, timeline.rows[0][0][0])
            state_rows = [
                row
                for row in (reader.state_at(room_nid, upto) if left else reader.current_state(room_nid))
                if (row[2], row[3]) in gap
            ]
        else:
            state_rows = []
        lazy = room_filter.state.lazy_load_members or room_filter.timeline.lazy_load_members
        senders = {pdu["sender"] for _, pdu in timeline.rows} | {request.user_id}
        if lazy and not full:
            # A lazy-loading client may not hold the member events of these senders yet.
            wanted = {(MEMBER, sender) for sender in senders}
            present = {(row[2], row[3]) for row in state_rows}
            state_rows = state_rows + [
                row
                for row in (reader.state_at(room_nid, upto) if left else reader.current_state(room_nid))
                if (row[2], row[3]) in wanted and (row[2], row[3]) not in present
            ]
        state = []
        for row in state_rows:
            if row[1] in in_timeline:
                continue
            if lazy and row[2] == MEMBER and row[3] not in senders:
                continue
            pdu = orjson.loads(row[4])
            if not room_filter.state.allows(row[2], pdu["sender"]):
                continue
            state.append(_sync_event(row[1], pdu))
        txn_ids = reader.txn_ids(request.user_id, request.device_id, (row[0] for row, _ in timeline.rows))
        events = []
        for row, pdu in timeline.rows:
            event = _sync_event(row[1], pdu)
            txn_id = txn_ids.get(row[0])
            if txn_id is not None:
                event["unsigned"]["transaction_id"] = txn_id
            events.append(event)
        first = timeline.rows[0][0][0] if timeline.rows else upto + 1
        body: dict[str, Any] = {
            "timeline": {
                "events": events,
                "limited": timeline.limited,
                "prev_batch": self._stream.token(first - 1),
            },
            "state": {"events": state},
            "account_data": {"events": []},
        }
        if not left:
            body["ephemeral"] = {"events": []}
            body["unread_notifications"] = {"highlight_count": 0, "notification_count": 0}
            body["summary"] = _summary(reader.member_counts(room_nid), request.user_id)
        return body

    @staticmethod
    def _timeline(
        reader: SyncReader, room_nid: int, after: int, upto: int, event_filter: EventFilter, limit: int
    ) -> _Timeline:
        timeline = _Timeline()
        for row in reader.events_backwards(room_nid, after, upto):
            pdu = orjson.loads(row[4])
            if not event_filter.allows(row[2], pdu["sender"]):
                continue
            if len(timeline.rows) >= limit:
                timeline.limited = True
                break
            timeline.rows.append((row, pdu))
        timeline.rows.reverse()
        return timeline

    @staticmethod
    def _invite_state(reader: SyncReader, room_nid: int, invite_at: int) -> list[dict[str, Any]]:
        events = []
        for _, _, etype, state_key, text in reader.state_at(room_nid, invite_at):
            if etype in INVITE_STATE_TYPES or etype == MEMBER and orjson.loads(text)["content"].get(
                "membership"
            ) == "invite":
                pdu = orjson.loads(text)
                events.append(
                    {"content": pdu["content"], "sender": pdu["sender"], "state_key": state_key, "type": etype}
                )
        return events


def _sync_event(event_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
    """Spec "ClientEventWithoutRoomID": an event in a sync room section."""
    event = client_event(event_id, pdu, "")
    del event["room_id"]  # the room is named by the section the event is in
    return event


def _summary(members: list[tuple[str, str]], user_id: str) -> dict[str, Any]:
    """Spec "RoomSummary": heroes (up to five other members, joined or invited first), counts."""
    joined = [user for user, membership in members if membership == "join"]
    invited = [user for user, membership in members if membership == "invite"]
    heroes = [user for user in joined + invited if user != user_id][:HEROES]
    if not heroes:
        heroes = [user for user, m in members if m in ("leave", "ban") and user != user_id][:HEROES]
    return {
        "m.heroes": heroes,
        "m.joined_member_count": len(joined),
        "m.invited_member_count": len(invited),
    }
