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

from minihs.errors import Codes, MatrixError, invalid_param
from minihs.events import ROOM_VERSIONS, RoomVersion
from minihs.ids import MAX_ID_BYTES, is_valid_room_alias

PRESETS = {
    # preset: (join_rule, history_visibility, guest_access)
    "private_chat": ("invite", "shared", "can_join"),
    "trusted_private_chat": ("invite", "shared", "can_join"),
    "public_chat": ("public", "shared", "forbidden"),
}

# Types that only the server may set while creating a room.
_RESERVED_INITIAL_STATE = ("m.room.create", "m.room.member")


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
    version = ROOM_VERSIONS.get(requested or default)
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
    if request.visibility not in ("public", "private"):
        raise invalid_param("'visibility' must be 'public' or 'private'")
    if request.preset is None:
        return "public_chat" if request.visibility == "public" else "private_chat"
    if request.preset not in PRESETS:
        raise invalid_param(f"{request.preset!r} is not a valid preset")
    return request.preset


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
                400, Codes.INVALID_PARAM, f"initial_state may not contain {etype} events"
            )

    create_content = {k: v for k, v in request.creation_content.items() if k != "room_version"}
    create_content["room_version"] = version.identifier
    if version.creator_in_content:
        create_content["creator"] = creator
    else:
        create_content.pop("creator", None)
    if version.privileged_creators and preset == "trusted_private_chat" and invitees:
        # v12: trusted invitees share the creator's rank by being additional creators.
        existing = create_content.get("additional_creators", [])
        if not isinstance(existing, list):
            raise MatrixError(400, Codes.BAD_JSON, "'additional_creators' must be a list")
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
    return events
