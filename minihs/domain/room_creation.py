"""What a new room starts with: the ordered list of initial state events of ``createRoom``.

Spec: Client-Server API, "Creation" (``POST /createRoom``): the server MUST send, in order,
1. m.room.create, 2. the creator's join, 3. m.room.power_levels (with the override applied),
4. m.room.canonical_alias, 5. the preset's join rules / history visibility / guest access,
6. ``initial_state``, 7. m.room.name and m.room.topic, 8. the invites.
Defaults follow Synapse where the spec leaves them open (the power levels content).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minihs.spec.errors import Codes, MatrixError, bad_json, invalid_param
from minihs.spec.events import ROOM_VERSIONS, RoomVersion
from minihs.spec.ids import MAX_ID_BYTES, is_valid_room_alias, is_valid_user_id

PRESETS = {
    # preset: (join_rule, history_visibility, guest_access)
    "private_chat": ("invite", "shared", "can_join"),
    "trusted_private_chat": ("invite", "shared", "can_join"),
    "public_chat": ("public", "shared", "forbidden"),
}

# Types that only the server may set while creating a room.
_RESERVED_INITIAL_STATE = ("m.room.create", "m.room.member")

# Spec createRoom, 400: "The initial state implied by the parameters to the createRoom request
# is invalid" (for example the creator could not send one of the initial events).
INVALID_ROOM_STATE = "M_INVALID_ROOM_STATE"

# Spec "Authorization rules" for m.room.power_levels (v10 and later): these must be integers,
# and `events`, `notifications` and `users` objects whose values are integers.
_POWER_LEVEL_INTS = (
    "users_default", "events_default", "state_default", "ban", "redact", "kick", "invite",
)
_POWER_LEVEL_MAPS = ("events", "notifications", "users")


@dataclass
class CreateRoomRequest:
    """The body of ``POST /createRoom``, type-checked by the API layer."""

    visibility: str = "private"
    preset: str | None = None
    name: str | None = None
    topic: str | None = None
    room_alias_name: str | None = None
    invite: list[str] = field(default_factory=list)
    is_direct: bool = False
    initial_state: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    creation_content: dict[str, Any] = field(default_factory=dict)
    power_level_content_override: dict[str, Any] | None = None
    room_version: str | None = None


@dataclass
class InitialEvent:
    type: str
    state_key: str
    content: dict[str, Any]
    sender: str


def room_version_for(requested: str | None, default: str) -> RoomVersion:
    version = ROOM_VERSIONS.get(default if requested is None else requested)
    if version is None:
        raise MatrixError(
            400,
            Codes.UNSUPPORTED_ROOM_VERSION,
            f"Room version {requested!r} is not supported here; supported: "
            + ", ".join(sorted(ROOM_VERSIONS, key=int)),
        )
    return version


def alias_for(room_alias_name: str, server_name: str) -> str:
    if not room_alias_name or any(ch.isspace() for ch in room_alias_name):
        raise invalid_param("Invalid characters in room alias")
    if ":" in room_alias_name:
        raise invalid_param("':' is not permitted in the room alias name. Please note this expects a local part, not a full alias.")
    alias = f"#{room_alias_name}:{server_name}"
    if len(alias.encode("utf-8")) > MAX_ID_BYTES:
        raise invalid_param(f"Can't create aliases longer than {MAX_ID_BYTES} bytes")
    if not is_valid_room_alias(alias):
        raise invalid_param("Invalid characters in room alias")
    return alias


def preset_of(request: CreateRoomRequest) -> str:
    # Values outside the spec's enums are malformed bodies: M_BAD_JSON, as Synapse answers.
    if request.visibility not in ("public", "private"):
        raise bad_json("'visibility' must be 'public' or 'private'")
    if request.preset is None:
        return "public_chat" if request.visibility == "public" else "private_chat"
    if request.preset not in PRESETS:
        raise bad_json(f"{request.preset!r} is not a valid preset")
    return request.preset


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_power_levels_content(content: dict[str, Any]) -> None:
    """The m.room.power_levels authorization rules of room versions 10 and later: integer
    levels, maps of integers, and ``users`` keyed by valid user IDs. A request that would produce anything else is
    refused with 400 M_BAD_JSON, as Synapse's event validator does."""
    for key in _POWER_LEVEL_INTS:
        if key in content and not _is_int(content[key]):
            raise bad_json(f"m.room.power_levels: '{key}' must be an integer")
    for key in _POWER_LEVEL_MAPS:
        if key not in content:
            continue
        value = content[key]
        if not isinstance(value, dict) or not all(_is_int(v) for v in value.values()):
            raise bad_json(f"m.room.power_levels: '{key}' must be an object of integers")
    for user_id in content.get("users", {}):
        if not is_valid_user_id(user_id):
            raise bad_json(f"m.room.power_levels: {user_id!r} in 'users' is not a valid user ID")


def _check_additional_creators(value: Any) -> None:
    # v12 auth rule 1.4: "If the additional_creators field is present and is not an array of
    # strings where each string passes the same user ID validation ..., reject."
    if not isinstance(value, list) or not all(
        isinstance(user, str) and is_valid_user_id(user) for user in value
    ):
        raise bad_json("'additional_creators' must be an array of valid user IDs")


def check_creator_can_send(unlimited: set[str], events: list["InitialEvent"]) -> None:
    """Apply the auth rules the events after m.room.power_levels must pass, all sent by the
    creator: the event's required power level, the ``@`` state key rule, and the invite level.
    ``unlimited`` holds the v12 creators (empty before v12). Anything the creator could not
    send makes the request 400 M_INVALID_ROOM_STATE."""
    levels: dict[str, Any] | None = None
    for event in events:
        if event.type == "m.room.power_levels" and event.state_key == "":
            levels = event.content
            continue
        if levels is None:
            continue  # the create event and the creator's join come before any power levels
        if event.sender in unlimited:
            sender_level: float = float("inf")
        else:
            sender_level = levels.get("users", {}).get(event.sender, levels.get("users_default", 0))
        if event.type == "m.room.member":
            if event.state_key == event.sender:
                continue
            # Invites: "If the sender's power level is greater than or equal to the invite level".
            needed = levels.get("invite", 0)
            what = f"invite {event.state_key}"
        else:
            # "If the event has a state_key that starts with an @ and does not match the
            # sender, reject."
            if event.state_key.startswith("@") and event.state_key != event.sender:
                raise MatrixError(
                    400,
                    INVALID_ROOM_STATE,
                    f"{event.type} with state key {event.state_key!r} may only be sent by that user",
                )
            needed = levels.get("events", {}).get(event.type, levels.get("state_default", 50))
            what = f"send {event.type}"
        if sender_level < needed:
            raise MatrixError(
                400,
                INVALID_ROOM_STATE,
                f"The initial power levels would not let the creator {what} "
                f"(needs {needed}, has {sender_level})",
            )


def default_power_levels(
    version: RoomVersion, creator: str, preset: str, invitees: list[str]
) -> dict[str, Any]:
    """Synapse's default power levels for a new room, with the preset's adjustments."""
    users: dict[str, int] = {}
    if not version.privileged_creators:
        # Up to v11 the creator holds power through the users map; in v12 creators are
        # above the power levels and must not be listed there.
        users[creator] = 100
        if preset == "trusted_private_chat":
            users.update({invitee: 100 for invitee in invitees})
    return {
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            # v12 requires tombstones to need more than state_default (spec, createRoom step 3).
            "m.room.tombstone": 150 if version.privileged_creators else 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        # Private presets let every member invite; public rooms need moderator level.
        "invite": 0 if preset in ("private_chat", "trusted_private_chat") else 50,
        "historical": 100,
    }


def initial_events(
    request: CreateRoomRequest,
    creator: str,
    version: RoomVersion,
    alias: str | None,
) -> list[InitialEvent]:
    """The state events of a new room, in the order the spec requires."""
    preset = preset_of(request)
    invitees = [user for user in dict.fromkeys(request.invite) if user != creator]
    initial_state = {(etype, key): content for etype, key, content in request.initial_state}
    for etype, _ in initial_state:
        if etype in _RESERVED_INITIAL_STATE:
            raise MatrixError(
                400, INVALID_ROOM_STATE, f"initial_state may not contain {etype} events"
            )

    create_content = {k: v for k, v in request.creation_content.items() if k != "room_version"}
    create_content["room_version"] = version.identifier
    if version.creator_in_content:
        create_content["creator"] = creator
    else:
        create_content.pop("creator", None)
    if version.privileged_creators and "additional_creators" in create_content:
        _check_additional_creators(create_content["additional_creators"])
    if version.privileged_creators and preset == "trusted_private_chat" and invitees:
        # v12: trusted invitees share the creator's rank by being additional creators.
        existing = create_content.get("additional_creators", [])
        create_content["additional_creators"] = list(dict.fromkeys([*existing, *invitees]))

    events = [
        InitialEvent("m.room.create", "", create_content, creator),
        InitialEvent("m.room.member", creator, {"membership": "join"}, creator),
    ]

    if ("m.room.power_levels", "") in initial_state:
        power_levels = initial_state.pop(("m.room.power_levels", ""))
    else:
        power_levels = default_power_levels(version, creator, preset, invitees)
        if request.power_level_content_override:
            power_levels.update(request.power_level_content_override)
    if version.privileged_creators and isinstance(power_levels.get("users"), dict):
        # v12 rejects a power levels event that lists a creator (auth rule 10.4); the creators
        # outrank every level anyway, so an override written for older rooms loses nothing.
        creators = {creator, *create_content.get("additional_creators", [])}
        power_levels["users"] = {
            u: lvl for u, lvl in power_levels["users"].items() if u not in creators
        }
    check_power_levels_content(power_levels)
    events.append(InitialEvent("m.room.power_levels", "", power_levels, creator))

    if alias is not None and ("m.room.canonical_alias", "") not in initial_state:
        events.append(InitialEvent("m.room.canonical_alias", "", {"alias": alias}, creator))

    join_rule, history_visibility, guest_access = PRESETS[preset]
    for etype, content in (
        ("m.room.join_rules", {"join_rule": join_rule}),
        ("m.room.history_visibility", {"history_visibility": history_visibility}),
        ("m.room.guest_access", {"guest_access": guest_access}),
    ):
        if (etype, "") not in initial_state:  # initial_state takes precedence over the preset
            events.append(InitialEvent(etype, "", content, creator))

    for (etype, key), content in initial_state.items():
        events.append(InitialEvent(etype, key, content, creator))

    if request.name is not None:
        events.append(InitialEvent("m.room.name", "", {"name": request.name}, creator))
    if request.topic is not None:
        topic = {
            "topic": request.topic,
            "m.topic": {"m.text": [{"body": request.topic, "mimetype": "text/plain"}]},
        }
        events.append(InitialEvent("m.room.topic", "", topic, creator))

    for invitee in invitees:
        content: dict[str, Any] = {"membership": "invite"}
        if request.is_direct:
            content["is_direct"] = True
        events.append(InitialEvent("m.room.member", invitee, content, creator))

    unlimited: set[str] = set()
    if version.privileged_creators:
        unlimited = {creator, *create_content.get("additional_creators", [])}
    check_creator_can_send(unlimited, events)
    return events
