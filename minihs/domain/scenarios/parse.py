"""A scenario's values checked into a plan: the right keys of the right types, and every name
it uses declared in it.

Nothing here knows the server: whether a localpart is valid, a room version supported or a
join allowed is for the domain's own rules, applied by :mod:`.apply`. Every refusal names the
dotted key it is about (the line is found from it).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from minihs.domain.scenarios.document import Path, Rejected, dotted
from minihs.spec.errors import Codes

MEMBER_STATES = ("joined", "invited", "left", "banned")
# What a member entry may say beyond its user, per state: ``invited_by`` is who invites the
# user before they join; ``by`` who sends the membership the state names (the inviter, the
# one who kicks, the one who bans).
MEMBER_ENTRY_KEYS = {
    "joined": ("user", "invited_by"),
    "invited": ("user", "by"),
    "left": ("user", "invited_by", "by"),
    "banned": ("user", "by"),
}

_USER_KEYS = {"localpart": str, "password": str, "display_name": str, "admin": bool}
_ROOM_KEYS = {
    "creator": str,
    "preset": str,
    "version": (str, int),
    "name": str,
    "topic": str,
    "alias": str,
    "power_levels": dict,
    "members": dict,
}
_MESSAGE_KEYS = {"name": str, "room": str, "sender": str, "body": str, "type": str, "content": dict}
_TOP_KEYS = {"users": dict, "rooms": dict, "messages": list}

_KIND_NAMES = {str: "a string", bool: "true or false", dict: "a mapping", list: "a list", int: "a number"}


@dataclass
class UserPlan:
    name: str
    path: Path
    localpart: str
    password: str | None
    display_name: str | None
    admin: bool


@dataclass
class MemberPlan:
    path: Path
    state: str
    user: str
    by: str | None = None
    invited_by: str | None = None


@dataclass
class RoomPlan:
    name: str
    path: Path
    creator: str
    preset: str | None = None
    version: str | None = None
    room_name: str | None = None
    topic: str | None = None
    alias: str | None = None
    # As written, except that the keys of ``users`` may still be names.
    power_levels: dict[str, Any] | None = None
    members: list[MemberPlan] = field(default_factory=list)


@dataclass
class MessagePlan:
    path: Path
    name: str | None
    room: str
    sender: str
    event_type: str
    content: dict[str, Any]


@dataclass
class Plan:
    users: dict[str, UserPlan]
    rooms: dict[str, RoomPlan]
    messages: list[MessagePlan]


def parse(data: Any) -> Plan:
    top = _fields(data, (), _TOP_KEYS)
    users = {
        name: _user(name, value)
        for name, value in _named(top.get("users"), ("users",), "user").items()
    }
    rooms = {
        name: _room(name, value, users)
        for name, value in _named(top.get("rooms"), ("rooms",), "room").items()
    }
    messages = [
        _message(index, value, users, rooms) for index, value in enumerate(top.get("messages") or [])
    ]
    _refuse_repeats(
        [(m.name, m.path + ("name",)) for m in messages if m.name is not None], "message name"
    )
    _refuse_repeats(
        [(r.alias, r.path + ("alias",)) for r in rooms.values() if r.alias is not None], "alias"
    )
    return Plan(users, rooms, messages)


# --- the parts ---------------------------------------------------------------------------


def _user(name: str, value: Any) -> UserPlan:
    path = ("users", name)
    fields = _fields(value, path, _USER_KEYS)
    return UserPlan(
        name,
        path,
        fields.get("localpart", name),
        fields.get("password"),
        fields.get("display_name"),
        fields.get("admin", False),
    )


def _room(name: str, value: Any, users: dict[str, UserPlan]) -> RoomPlan:
    path = ("rooms", name)
    fields = _fields(value, path, _ROOM_KEYS, required=("creator",))
    version = fields.get("version")
    room = RoomPlan(
        name,
        path,
        _user_name(fields["creator"], path + ("creator",), users),
        preset=fields.get("preset"),
        version=None if version is None else str(version),
        room_name=fields.get("name"),
        topic=fields.get("topic"),
        alias=fields.get("alias"),
    )
    if "power_levels" in fields:
        room.power_levels = _power_levels(fields["power_levels"], path + ("power_levels",), users)
    members = _fields(fields.get("members"), path + ("members",), dict.fromkeys(MEMBER_STATES, list))
    listed: dict[str, Path] = {}
    for state in MEMBER_STATES:
        for index, entry in enumerate(members.get(state) or []):
            member = _member(state, entry, path + ("members", state, index), users)
            if member.user in listed:
                raise Rejected(
                    f"{member.user} is already listed at {dotted(listed[member.user])}: "
                    "a member has one membership",
                    member.path,
                )
            listed[member.user] = member.path
            room.members.append(member)
    return room


def _member(state: str, entry: Any, path: Path, users: dict[str, UserPlan]) -> MemberPlan:
    if isinstance(entry, str):
        return MemberPlan(path, state, _user_name(entry, path, users))
    keys = MEMBER_ENTRY_KEYS[state]
    if not isinstance(entry, dict):
        raise Rejected(
            f"must be a user's name or a mapping with {_listed(keys)}", path
        )
    fields = _fields(entry, path, dict.fromkeys(keys, str), required=("user",))
    member = MemberPlan(path, state, _user_name(fields["user"], path + ("user",), users))
    for key in ("by", "invited_by"):
        if key in fields:
            setattr(member, key, _user_name(fields[key], path + (key,), users))
    return member


def _power_levels(value: dict[str, Any], path: Path, users: dict[str, UserPlan]) -> dict[str, Any]:
    """The override as written, JSON-checked; keys of ``users`` that are not user IDs must be
    names of the scenario's users."""
    _json_value(value, path)
    levels = dict(value)
    if isinstance(levels.get("users"), dict):
        for key in levels["users"]:
            if not key.startswith("@"):
                _user_name(key, path + ("users", key), users)
    return levels


def _message(index: int, value: Any, users: dict[str, UserPlan], rooms: dict[str, RoomPlan]) -> MessagePlan:
    path = ("messages", index)
    fields = _fields(value, path, _MESSAGE_KEYS, required=("room", "sender"))
    if ("body" in fields) == ("content" in fields):
        raise Rejected("give either 'body' (an m.text message) or 'content'", path, Codes.MISSING_PARAM)
    if "content" in fields:
        _json_value(fields["content"], path + ("content",))
        content = fields["content"]
    else:
        content = {"msgtype": "m.text", "body": fields["body"]}
    room = fields["room"]
    if room not in rooms:
        raise Rejected(_unknown("room", room, rooms), path + ("room",))
    return MessagePlan(
        path,
        fields.get("name"),
        room,
        _user_name(fields["sender"], path + ("sender",), users),
        fields.get("type", "m.room.message"),
        content,
    )


# --- checks ------------------------------------------------------------------------------


def _fields(
    value: Any, path: Path, kinds: dict[str, Any], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``value`` as a mapping of the known keys (null or absent: none), each of its kind."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise Rejected(f"must be a mapping, not {_kind_of(value)}", path)
    fields = {}
    for key, item in value.items():
        if not isinstance(key, str) or key not in kinds:
            raise Rejected(_unknown("key", key, kinds), path + (str(key),))
        if item is None:
            continue  # null is as good as absent, as in the API's request bodies
        kind = kinds[key]
        accepted = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(item, accepted) or (isinstance(item, bool) and bool not in accepted):
            names = " or ".join(_KIND_NAMES[k] for k in accepted)
            raise Rejected(f"must be {names}, not {_kind_of(item)}", path + (key,))
        fields[key] = item
    for key in required:
        if key not in fields:
            raise Rejected(f"missing '{key}'", path, Codes.MISSING_PARAM)
    return fields


def _named(value: Any, path: Path, what: str) -> dict[str, Any]:
    """A mapping from names (non-empty strings) to declarations."""
    if value is None:
        return {}
    for name in value:
        if not isinstance(name, str) or not name:
            raise Rejected(
                f"a {what}'s name must be a non-empty string, not {name!r} (quote it)",
                path + (str(name),),
            )
    return value


def _user_name(name: Any, path: Path, users: dict[str, UserPlan]) -> str:
    if not isinstance(name, str):
        raise Rejected(f"must be a user's name, not {_kind_of(name)}", path)
    if name not in users:
        raise Rejected(_unknown("user", name, users), path)
    return name


def _refuse_repeats(named: list[tuple[str, Path]], what: str) -> None:
    first: dict[str, Path] = {}
    for value, path in named:
        if value in first:
            raise Rejected(f"{what} {value!r} is also given at {dotted(first[value])}", path)
        first[value] = path


def _json_value(value: Any, path: Path) -> None:
    """Free-form values (content, power levels) must be JSON: what YAML adds is refused."""
    if isinstance(value, float):
        raise Rejected("numbers in events must be integers", path)
    if value is None or isinstance(value, (str, int)):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _json_value(item, path + (index,))
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise Rejected(f"keys must be strings, not {_kind_of(key)} (quote it)", path + (str(key),))
            _json_value(item, path + (key,))
    else:
        raise Rejected(f"{_kind_of(value)} is not a JSON value (quote it)", path)


def _unknown(what: str, name: Any, known: Any) -> str:
    shown = name if isinstance(name, str) and name.isprintable() else repr(name)
    message = f"unknown {what} '{shown}'"
    if isinstance(name, str):
        nearest = difflib.get_close_matches(name, sorted(known), n=1)
        if nearest:
            return message + f"; did you mean '{nearest[0]}'?"
    if what == "key":
        return message + f" (known: {_listed(tuple(known))})"
    return message


def _listed(keys: tuple[str, ...]) -> str:
    return ", ".join(f"'{key}'" for key in keys)


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in (
        (bool, "true or false"), (str, "a string"), (int, "a number"), (float, "a number"),
        (dict, "a mapping"), (list, "a list"),
    ):
        if isinstance(value, kind):
            return name
    return f"a YAML {type(value).__name__}"
