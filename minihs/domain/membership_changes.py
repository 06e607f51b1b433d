"""Several membership changes of one room, built as one chain of events.

The batched path for a room created together with its members (a scenario's rooms): each change
passes the rule the membership endpoints apply (``membership_rules``, chosen as
``PUT /state/m.room.member`` chooses it), checked against the state the changes before it made,
and the chain is committed with the room's initial events in one transaction. A room of twenty
members then costs one write instead of twenty, and a change the rules refuse leaves nothing
behind: the room is never written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from minihs.domain import membership_rules
from minihs.domain.room_state import MEMBER, RoomState
from minihs.spec.errors import MatrixError, bad_json, forbidden, invalid_param
from minihs.spec.events import Event, RoomVersion, check_content
from minihs.spec.ids import is_valid_user_id

MEMBERSHIPS = ("join", "invite", "leave", "ban")


@dataclass
class MembershipChange:
    """``sender`` sets ``target``'s membership. ``content``: what the member event carries
    besides ``membership`` (a join's display name and avatar are added to it)."""

    sender: str
    target: str
    membership: str
    content: dict[str, Any] = field(default_factory=dict)

    def event_content(self) -> dict[str, Any]:
        return {**self.content, "membership": self.membership}


class ChangeRefused(Exception):
    """Change number ``index`` of a chain broke a rule; ``error`` is the rule's own answer."""

    def __init__(self, index: int, error: MatrixError) -> None:
        super().__init__(f"membership change {index}: {error.message}")
        self.index = index
        self.error = error


def check_change(room: RoomState, change: MembershipChange) -> None:
    """The rule the membership endpoints apply to this change (raises its MatrixError)."""
    sender, target = change.sender, change.target
    if not is_valid_user_id(target):
        raise invalid_param(f"Invalid user_id: {target!r}")
    if change.membership == "join":
        if target != sender:
            raise forbidden("You can only set your own membership to join")
        membership_rules.check_join(room, sender)
    elif change.membership == "invite":
        membership_rules.check_invite(room, sender, target)
    elif change.membership == "leave":
        if target == sender:
            membership_rules.check_leave(room, sender)
        elif room.membership_of(target) == "ban":
            membership_rules.check_unban(room, sender, target)
        else:
            membership_rules.check_kick(room, sender, target)
    elif change.membership == "ban":
        membership_rules.check_ban(room, sender, target)
    else:
        raise bad_json(f"'membership' must be one of {', '.join(MEMBERSHIPS)}")


def staged(version: RoomVersion, events: Sequence[Event]) -> RoomState:
    """A scratch copy of the state ``events`` make (not the cached room: nothing is committed)."""
    room = RoomState(0, events[0].room_id, version, {}, "", 0)
    for event in events:
        room.apply(event)
    return room


def build_changes(
    room: RoomState, changes: Sequence[MembershipChange], origin_server_ts: int
) -> list[Event]:
    """The events of ``changes``, in order, each following the state the ones before it made
    (``room`` is advanced past them: pass a scratch copy). A change that asks for the
    membership the target already has, from the same sender, records nothing, as the
    endpoints answer it. Raises :class:`ChangeRefused` for the first change a rule refuses."""
    events = []
    for index, change in enumerate(changes):
        content = change.event_content()
        try:
            check_content(content)
            check_change(room, change)
        except MatrixError as error:
            raise ChangeRefused(index, error) from None
        current = room.state.get((MEMBER, change.target))
        if current is not None and current[1]["content"] == content and current[1]["sender"] == change.sender:
            continue
        event = room.next_event(MEMBER, change.sender, content, change.target, origin_server_ts)
        room.apply(event)
        events.append(event)
    return events
