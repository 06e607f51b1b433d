"""Who may send which event, and who may change ``m.room.power_levels`` how.

Spec: "Room Versions" > "Authorization rules" (versions 10 to 12): the rule for any event ("If
the event type's required power level is greater than the sender's power level, reject"), the
``m.room.power_levels`` rules quoted below, and the ``m.room.power_levels`` event schema for the
defaults (``events_default`` 0, ``state_default`` 50, even without a power levels event).
"""

from __future__ import annotations

from typing import Any

from minihs.domain.room_state import POWER_LEVELS, RoomState, _as_int
from minihs.spec.errors import bad_json, forbidden
from minihs.spec.ids import is_valid_user_id

_TOP_LEVEL = ("users_default", "events_default", "state_default", "ban", "redact", "kick", "invite")


def required_level(room: RoomState, event_type: str, is_state: bool) -> int:
    levels = room.content_of(POWER_LEVELS) or {}
    events = levels.get("events")
    if isinstance(events, dict) and event_type in events:
        return _as_int(events[event_type], 0)
    if is_state:
        return _as_int(levels.get("state_default"), 50)
    return _as_int(levels.get("events_default"), 0)


def check_may_send(room: RoomState, sender: str, event_type: str, is_state: bool) -> None:
    # "If the sender's current membership state is not join, reject."
    if room.membership_of(sender) != "join":
        raise forbidden(f"User {sender} not in room {room.room_id}")
    needed = required_level(room, event_type, is_state)
    if room.power_level_of(sender) < needed:
        raise forbidden(
            f"You don't have permission to send {event_type} events (power level {needed} needed)"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_shape(room: RoomState, content: dict[str, Any]) -> None:
    # "If any of the properties users_default, events_default, state_default, ban, redact, kick,
    # or invite in content are present and not an integer, reject."
    for key in _TOP_LEVEL:
        if key in content and not _is_int(content[key]):
            raise bad_json(f"'{key}' must be an integer")
    # "If either of the properties events or notifications in content are present and not an
    # object with values that are integers, reject."
    for key in ("events", "notifications"):
        if key in content:
            value = content[key]
            if not isinstance(value, dict) or not all(_is_int(v) for v in value.values()):
                raise bad_json(f"'{key}' must be an object of integers")
    # "If the users property in content is not an object with keys that are valid user IDs with
    # values that are integers, reject."
    users = content.get("users", {})
    if not isinstance(users, dict) or not all(
        is_valid_user_id(k) and _is_int(v) for k, v in users.items()
    ):
        raise bad_json("'users' must be an object of user IDs to integers")
    # Version 12: "If the users property in content contains the sender of the m.room.create
    # event or any of the additional_creators ... reject."
    if room.version.privileged_creators and room.creators & users.keys():
        raise bad_json("Room creators have unlimited power and may not be listed in 'users'")


def check_power_levels_change(room: RoomState, sender: str, content: dict[str, Any]) -> None:
    """The ``m.room.power_levels`` authorization rules for a new power levels event."""
    _check_shape(room, content)
    old = room.content_of(POWER_LEVELS)
    # "If there is no previous m.room.power_levels event in the room, allow."
    if old is None:
        return
    mine = room.power_level_of(sender)

    def above_me(value: Any) -> bool:
        return _as_int(value, 0) > mine

    # "For the properties users_default, events_default, state_default, ban, redact, kick,
    # invite check if they were added, changed or removed. For each found alteration: if the
    # current value is higher than the sender's current power level, reject; if the new value is
    # higher than the sender's current power level, reject."
    for key in _TOP_LEVEL:
        if old.get(key) != content.get(key):
            if (key in old and above_me(old[key])) or (key in content and above_me(content[key])):
                raise forbidden(f"You cannot change '{key}' past your own power level")
    # "For each entry being changed in, or removed from, the events or notifications properties:
    # if the current value is higher than the sender's current power level, reject. For each
    # entry being added to, or changed in ...: if the new value is higher ..., reject."
    for key in ("events", "notifications"):
        before = old.get(key) if isinstance(old.get(key), dict) else {}
        after = content.get(key, {})
        for name in before.keys() | after.keys():
            if before.get(name) == after.get(name):
                continue
            if (name in before and above_me(before[name])) or (name in after and above_me(after[name])):
                raise forbidden(f"You cannot change '{key}.{name}' past your own power level")
    # "For each entry being changed in, or removed from, the users property, other than the
    # sender's own entry: if the current value is greater than or equal to the sender's current
    # power level, reject. For each entry being added to, or changed in, the users property: if
    # the new value is greater than the sender's current power level, reject."
    before = old.get("users") if isinstance(old.get("users"), dict) else {}
    after = content.get("users", {})
    for user in before.keys() | after.keys():
        if before.get(user) == after.get(user):
            continue
        if user != sender and user in before and _as_int(before[user], 0) >= mine:
            raise forbidden(f"You cannot change the power level of {user}, at or above yours")
        if user in after and above_me(after[user]):
            raise forbidden(f"You cannot give {user} a power level above your own")
