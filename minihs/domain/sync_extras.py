"""The sync sections beyond rooms' timelines and state: account data, presence, typing, receipts.

Spec: Client-Server API "Syncing" (``GET /sync``), with "Client Config", "Presence", "Typing
Notifications" and "Receipts". Every change of these takes a position in the change stream
(``minihs.domain.changes``, or the write unit of account data and receipts), so a sync shows
those at positions in (``since``, ``upto``]; an initial sync (or ``full_state``) shows what is
current instead:
- ``account_data``: the user's global account data, with ``m.push_rules`` at an initial sync
  (as Synapse: the rules never change in minihs, so an incremental sync never repeats them);
  each joined room's ``account_data`` (``m.fully_read``, ``m.tag``...).
- ``presence``: ``m.presence`` of the user and of users sharing a joined room with them.
- each joined room's ``ephemeral``: ``m.typing`` (the room's current typers) and ``m.receipt``
  (``m.read.private`` only to its owner).
A room new to the client (joined after ``since``) gets its account data and receipts whole.
"""

from __future__ import annotations

from typing import Any

from minihs.domain.account_data import sync_account_data
from minihs.domain.presence import Presence
from minihs.domain.receipts import receipt_event
from minihs.domain.sync import Sync, SyncContext, SyncRequest, joined_room
from minihs.domain.typing import Typing
from minihs.store.sync import SyncReader

PRESENCE = "m.presence"
TYPING = "m.typing"
RECEIPT = "m.receipt"


def _whole(context: SyncContext) -> bool:
    return context.since is None or context.full_state


def account_data_section(reader: SyncReader, context: SyncContext, response: dict[str, Any]) -> None:
    """On the database thread: global and per-room account data, through the sync's snapshot."""
    whole = _whole(context)
    changes = reader.account_data_after(context.user_id, 0 if whole else context.since)
    section = sync_account_data(changes, context.user_id, initial=whole)
    global_filter = context.filter.account_data
    response["account_data"]["events"] = [
        event for event in section["global"] if global_filter.allows_type(event["type"])
    ]
    room_filter = context.filter.room.account_data
    by_room = section["rooms"]
    if not whole and any(context.joined.values()):
        # A room new to the client gets all of its account data, not only what changed.
        everything = sync_account_data(reader.account_data_after(context.user_id, 0), context.user_id, False)
        by_room = {**by_room, **{r: e for r, e in everything["rooms"].items() if context.joined.get(r)}}
    for room_id in context.joined:
        events = by_room.get(room_id)
        if not events or not room_filter.allows_room(room_id):
            continue
        events = [event for event in events if room_filter.allows_type(event["type"])]
        if events:
            joined_room(response, context, room_id)["account_data"]["events"] = events


def receipts_section(reader: SyncReader, context: SyncContext, response: dict[str, Any]) -> None:
    """On the database thread: each joined room's ``m.receipt``, through the sync's snapshot."""
    ephemeral_filter = context.filter.room.ephemeral
    if not ephemeral_filter.allows_type(RECEIPT):
        return
    whole = _whole(context)
    for room_id, new in context.joined.items():
        if not ephemeral_filter.allows_room(room_id):
            continue
        since = 0 if whole or new else context.since
        event = receipt_event(reader.receipts_after(room_id, since), context.user_id)
        if event is not None:
            joined_room(response, context, room_id)["ephemeral"]["events"].append(event)


def presence_section(presence: Presence):
    def fill(context: SyncContext, response: dict[str, Any]) -> None:
        """On the event loop: ``m.presence`` of the user and their room mates."""
        presence_filter = context.filter.presence
        since = None if _whole(context) else context.since
        response["presence"]["events"] = [
            event
            for event in presence.presence_since(context.user_id, since, context.upto)
            if presence_filter.allows(PRESENCE, event["sender"])
        ]

    return fill


def typing_section(typing: Typing):
    def fill(context: SyncContext, response: dict[str, Any]) -> None:
        """On the event loop: each joined room's ``m.typing``, when its list changed."""
        ephemeral_filter = context.filter.room.ephemeral
        if not ephemeral_filter.allows_type(TYPING):
            return
        whole = _whole(context)
        for room_id, new in context.joined.items():
            if not ephemeral_filter.allows_room(room_id):
                continue
            event = typing.typing_event(room_id, None if whole or new else context.since, context.upto)
            if event is not None:
                # m.typing first, as Synapse orders a room's ephemeral events.
                joined_room(response, context, room_id)["ephemeral"]["events"].insert(0, event)

    return fill


def install(sync: Sync, presence: Presence, typing: Typing) -> None:
    """Add these sections (and the sync's ``set_presence``) to ``sync``."""

    async def mark_presence(request: SyncRequest) -> None:
        await presence.syncing(request.user_id, request.set_presence)

    sync.before.append(mark_presence)
    sync.snapshot_sections.append(account_data_section)
    sync.snapshot_sections.append(receipts_section)
    sync.memory_sections.append(presence_section(presence))
    sync.memory_sections.append(typing_section(typing))
