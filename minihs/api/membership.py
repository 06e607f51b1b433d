"""Membership endpoints: join, invite, leave, kick, ban, unban.

Spec: Client-Server API, "Room membership" > "Joining rooms", "Leaving rooms", "Banning users
in a room". The rules each change must pass live in ``minihs.domain.membership_rules``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from minihs.api.request import field, homeserver, json_object, requester
from minihs.api.responses import json_response
from minihs.spec.errors import bad_json

# Keys of a join body that steer the request rather than describe the member.
_JOIN_CONTROL_KEYS = ("third_party_signed", "membership")


def _check_third_party_signed(body: dict[str, Any]) -> None:
    """A ``third_party_signed`` must have the shape of the spec's "Third-party Signed" object
    (string ``sender``, ``mxid`` and ``token``; ``signatures`` mapping servers to key IDs to
    strings), or the join is 400 M_BAD_JSON. minihs has no third-party invites, so a well-formed
    one is then not used (see the join docstrings)."""
    signed = field(body, "third_party_signed", dict)
    if signed is None:
        return
    # A missing key inside the object is a wrong shape (M_BAD_JSON), not a missing parameter.
    for name in ("sender", "mxid", "token"):
        value = signed.get(name)
        if not isinstance(value, str) or (name != "token" and not value.startswith("@")):
            raise bad_json(f"third_party_signed '{name}' must be a string" + (
                "" if name == "token" else " starting with '@'"))
    signatures = signed.get("signatures")
    if not isinstance(signatures, dict):
        raise bad_json("third_party_signed 'signatures' must be an object")
    for keys in signatures.values():
        if not isinstance(keys, dict) or not all(isinstance(sig, str) for sig in keys.values()):
            raise bad_json("third_party_signed 'signatures' must map servers to key IDs to strings")


async def _join(request: web.Request, room_id_or_alias: str) -> web.Response:
    hs = homeserver(request)
    who = await requester(request)
    body = await json_object(request)
    field(body, "reason", str)
    _check_third_party_signed(body)
    hs.ratelimits.joins_per_user.check(who.user_id)
    extra = {k: v for k, v in body.items() if k not in _JOIN_CONTROL_KEYS}
    room_id = await hs.rooms.join(who.user_id, room_id_or_alias, extra)
    return json_response({"room_id": room_id})


async def join_by_id_or_alias(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/join/{roomIdOrAlias}

    Spec: "Joining rooms" > POST /join/{roomIdOrAlias}. Extra body keys (``reason`` and custom
    ones) go into the member event's content. ``via``/``server_name`` are ignored: minihs knows
    only its own rooms. A malformed ``third_party_signed`` is 400 M_BAD_JSON; a well-formed one
    is not used, as minihs has no third-party invites for it to match.
    """
    return await _join(request, request.match_info["roomIdOrAlias"])


async def join_by_id(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/rooms/{roomId}/join

    Spec: "Joining rooms" > POST /rooms/{roomId}/join.
    """
    return await _join(request, request.match_info["roomId"])


async def invite(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/rooms/{roomId}/invite

    Spec: "Joining rooms" > POST /rooms/{roomId}/invite.
    """
    who = await requester(request)
    body = await json_object(request)
    target = field(body, "user_id", str, required=True)
    reason = field(body, "reason", str)
    await homeserver(request).rooms.invite(who.user_id, request.match_info["roomId"], target, reason)
    return json_response({})


async def leave(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/rooms/{roomId}/leave

    Spec: "Leaving rooms" > POST /rooms/{roomId}/leave; also rejects a pending invite.
    """
    who = await requester(request)
    body = await json_object(request)
    reason = field(body, "reason", str)
    await homeserver(request).rooms.leave(who.user_id, request.match_info["roomId"], reason)
    return json_response({})


async def _moderate(request: web.Request, action: str) -> web.Response:
    who = await requester(request)
    body = await json_object(request)
    target = field(body, "user_id", str, required=True)
    reason = field(body, "reason", str)
    rooms = homeserver(request).rooms
    act = {"kick": rooms.kick, "ban": rooms.ban, "unban": rooms.unban}[action]
    await act(who.user_id, request.match_info["roomId"], target, reason)
    return json_response({})


async def kick(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/rooms/{roomId}/kick

    Spec: "Leaving rooms" > POST /rooms/{roomId}/kick.
    """
    return await _moderate(request, "kick")


async def ban(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/rooms/{roomId}/ban

    Spec: "Banning users in a room" > POST /rooms/{roomId}/ban.
    """
    return await _moderate(request, "ban")


async def unban(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/rooms/{roomId}/unban

    Spec: "Banning users in a room" > POST /rooms/{roomId}/unban.
    """
    return await _moderate(request, "unban")


ROUTES = [
    ("POST", "/join/{roomIdOrAlias}", join_by_id_or_alias),
    ("POST", "/rooms/{roomId}/join", join_by_id),
    ("POST", "/rooms/{roomId}/invite", invite),
    ("POST", "/rooms/{roomId}/leave", leave),
    ("POST", "/rooms/{roomId}/kick", kick),
    ("POST", "/rooms/{roomId}/ban", ban),
    ("POST", "/rooms/{roomId}/unban", unban),
]
