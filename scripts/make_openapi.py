#!/usr/bin/env python3
"""Write ``minihs/openapi.json``: the OpenAPI 3.1 description of every endpoint minihs serves.

Usage: ``python scripts/make_openapi.py`` (rewrites the file) or ``--check`` (exit 1 when the
file differs from what this script would write). The document is built here rather than kept by
hand because most of it repeats: every client endpoint is served under both ``/v3`` and ``/r0``,
every authenticated endpoint shares the same 400/401 answers, every body-reading endpoint the
same 400/413 answers. ``tests/test_fuzz.py`` checks that the document covers every route the app
registers and runs schemathesis against a live server with it.

Statuses are the ones minihs can actually answer for each endpoint (status-code conformance is
checked against them). The mutual-rooms operations follow ``shared/spec/mutual_rooms.yaml``:
the same parameters, response schema and statuses, plus the 401 every authenticated endpoint has.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parent.parent / "minihs" / "openapi.json"
# What registration accepts as a localpart: it lowercases first, then allows a-z 0-9 . _ = - / +
# (and the whole user ID may not pass 255 bytes, which depends on the server name).
USERNAME_PATTERN = "^[A-Za-z0-9._=/+-]+$"

CLIENT_V3 = "/_matrix/client/v3"
CLIENT_R0 = "/_matrix/client/r0"
CLIENT_V1 = "/_matrix/client/v1"
UNSTABLE_MUTUAL_ROOMS = "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms"

JSON = "application/json"
AUTHENTICATED = [{"accessTokenBearer": []}, {"accessTokenQuery": []}]
UNAUTHENTICATED: list[dict[str, list[str]]] = []


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def string(description: str = "", **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def boolean(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


# --- components ---------------------------------------------------------------------------------

USER_ID = string("A Matrix user ID, `@localpart:server_name`.", pattern="^@", examples=["@alice:localhost"])
ROOM_ID = string(
    "A room ID: `!opaque:server_name` (versions 10, 11) or `!` and 43 URL-safe base64 characters "
    "(version 12).",
    pattern="^!",
    examples=["!BeXKh925K_M46DwsuJFR0EyBpE1P7CFUDGuWW4xw55Y"],
)

SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {
            "errcode": string("The Matrix error code.", pattern="^M_[A-Z_]+$", examples=["M_FORBIDDEN"]),
            "error": string("A human-readable message."),
            "soft_logout": boolean("Only with 401 `M_UNKNOWN_TOKEN`: always `false` here."),
        },
        ("errcode", "error"),
        description="The standard error response (spec: \"Standard error response\").",
    ),
    "RateLimitedError": obj(
        {
            "errcode": string(enum=["M_LIMIT_EXCEEDED"]),
            "error": string("A human-readable message."),
            "retry_after_ms": {
                "type": "integer",
                "minimum": 0,
                "description": "How long to wait before trying again, in milliseconds.",
            },
        },
        ("errcode", "error", "retry_after_ms"),
        description="429: a rate limit was hit (spec: \"Rate limiting\").",
    ),
    "AuthenticationResponse": obj(
        {
            "session": string("The UIA session to continue with."),
            "flows": {
                "type": "array",
                "items": obj(
                    {"stages": {"type": "array", "items": string(examples=["m.login.dummy"])}},
                    ("stages",),
                ),
            },
            "params": {"type": "object"},
            "completed": {"type": "array", "items": {"type": "string"}},
            "errcode": string("Present when the stage just attempted failed.", pattern="^M_[A-Z_]+$"),
            "error": string("Present when the stage just attempted failed."),
        },
        ("session", "flows", "params", "completed"),
        description="401 of User-Interactive Authentication: the stages still needed "
        "(spec: \"User-Interactive Authentication API\").",
    ),
    "ClientEvent": obj(
        {
            "content": {"type": "object"},
            "event_id": string(pattern="^\\$"),
            "origin_server_ts": {"type": "integer"},
            "room_id": ROOM_ID,
            "sender": USER_ID,
            "state_key": {"type": "string"},
            "type": {"type": "string"},
            "unsigned": {"type": "object"},
        },
        ("content", "event_id", "origin_server_ts", "room_id", "sender", "type"),
        description="An event in the client-server format (spec: \"ClientEvent\").",
    ),
    "Empty": obj({}, description="An empty JSON object."),
    "RoomIdResponse": obj({"room_id": ROOM_ID}, ("room_id",)),
    "LoginResponse": obj(
        {
            "user_id": USER_ID,
            "access_token": string("Send it as `Authorization: Bearer <token>`."),
            "device_id": {"type": "string"},
            "home_server": string("Deprecated: the server name."),
        },
        ("user_id", "access_token", "device_id"),
    ),
    "RegisterResponse": obj(
        {
            "user_id": USER_ID,
            "access_token": string("Absent when `inhibit_login` was true."),
            "device_id": string("Absent when `inhibit_login` was true."),
            "home_server": string("Deprecated: the server name."),
        },
        ("user_id",),
    ),
    "MutualRoomsResponse": obj(
        {
            "joined": {
                "type": "array",
                "description": "The rooms where the requester and `user_id` are both joined "
                "(membership `join`), sorted by room ID.",
                "items": string(format="mx-room-id", pattern="^!"),
            },
            "count": {
                "type": "integer",
                "description": "How many such rooms there are in all, on every page alike.",
            },
            "next_batch": string("Token for the next page, as `from`; left out on the last page."),
        },
        ("joined", "count"),
    ),
    "UnstableMutualRoomsResponse": obj(
        {
            "joined": {"type": "array", "items": string(format="mx-room-id", pattern="^!")},
            "count": {"type": "integer"},
            "next_batch_token": string("The next page's token; absent on the last page."),
        },
        ("joined", "count"),
    ),
}

SECURITY_SCHEMES = {
    "accessTokenBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The access token, as `Authorization: Bearer <token>`.",
    },
    "accessTokenQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "access_token",
        "description": "The access token as a query parameter (deprecated in the spec; can be "
        "turned off with `allow_access_token_in_query: false`). Sending both forms is a 400.",
    },
}


# --- responses ----------------------------------------------------------------------------------


def ok(schema: dict[str, Any], description: str = "Success.", links: dict[str, Any] | None = None):
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if links:
        response["links"] = links
    return response


# OpenAPI links: where a value in one answer goes in the next request (schemathesis' stateful
# phase follows them: create a room, then invite, kick, ban and read state in it).
ROOM_OPERATIONS = (
    "joinRoomById", "inviteUser", "leaveRoom", "kick", "ban", "unban", "getRoomState",
    "getMembersByRoom", "getJoinedMembersByRoom", "getRoomStateWithEmptyKey",
)


def room_links() -> dict[str, Any]:
    return {
        f"RoomId{op[0].upper()}{op[1:]}": {
            "operationId": op,
            "parameters": {"roomId": "$response.body#/room_id"},
            "description": "The room just created or joined.",
        }
        for op in ROOM_OPERATIONS
    }


def user_links() -> dict[str, Any]:
    return {
        "UserIdGetMutualRooms": {
            "operationId": "getMutualRooms",
            "parameters": {"user_id": "$response.body#/user_id"},
            "description": "The rooms shared with the account just created.",
        },
    }


def error(description: str, *errcodes: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": ref("Error")}},
    }
    if errcodes:
        response["description"] += " Errcodes: " + ", ".join(f"`{code}`" for code in errcodes) + "."
        response["content"][JSON]["example"] = {"errcode": errcodes[0], "error": "..."}
    return response


RATE_LIMITED = {
    "description": "This request was rate-limited.",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait, rounded up.",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
    "content": {JSON: {"schema": ref("RateLimitedError")}},
}
TOO_LARGE = error("The body is larger than `limits.max_request_body_bytes`, or event content "
                  "larger than 65536 bytes.", "M_TOO_LARGE")
UNAUTHORIZED = error(
    "No access token, an unknown one (with `soft_logout: false`), or a query-string token while "
    "those are turned off.",
    "M_MISSING_TOKEN",
    "M_UNKNOWN_TOKEN",
)
BAD_REQUEST_BODY = ("M_NOT_JSON", "M_BAD_JSON", "M_MISSING_PARAM", "M_INVALID_PARAM")
AUTH_BAD_REQUEST = ("M_MISSING_TOKEN", "M_INVALID_PARAM")


def merge_400(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(code for group in groups for code in group))


# --- parameters ---------------------------------------------------------------------------------


def path_param(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "in": "path",
        "name": name,
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
        "example": example,
    }


def query(name: str, description: str, schema: dict[str, Any], required: bool = False, **extra: Any):
    return {"in": "query", "name": name, "required": required, "description": description,
            "schema": schema, **extra}


ROOM_ID_PARAM = path_param("roomId", "The room ID.", "!BeXKh925K_M46DwsuJFR0EyBpE1P7CFUDGuWW4xw55Y")


def body(schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


# --- operations ---------------------------------------------------------------------------------


def operation(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    authenticated: bool,
    tags: list[str],
    description: str = "",
    parameters: list[dict[str, Any]] | None = None,
    request_body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": tags}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if request_body is not None:
        op["requestBody"] = request_body
    if authenticated:
        responses = {**responses, "401": UNAUTHORIZED}
    op["security"] = AUTHENTICATED if authenticated else UNAUTHENTICATED
    op["responses"] = dict(sorted(responses.items()))
    return op


def account_paths() -> dict[str, dict[str, Any]]:
    tags = ["Account"]
    register_body = obj(
        {
            "username": string(
                "The localpart to register; lowercased, then limited to `a-z 0-9 . _ = - / +`. "
                "Omit it to get a generated one.",
                pattern=USERNAME_PATTERN,
                examples=["alice"],
            ),
            "password": string("Required by minihs (no password-less accounts); at most 512 "
                               "characters.", maxLength=512),
            "device_id": {"type": "string"},
            "initial_device_display_name": {"type": "string"},
            "inhibit_login": boolean("If true, no access token or device is created."),
            "refresh_token": boolean("Accepted; minihs tokens do not expire."),
            "auth": obj(
                {
                    "type": string(enum=["m.login.dummy", "m.login.registration_token"]),
                    "session": {"type": "string"},
                    "token": string("For `m.login.registration_token`."),
                },
                description="User-Interactive Authentication: `m.login.dummy`, or "
                "`m.login.registration_token` when registration is gated by tokens.",
            ),
        },
        ("password",),
        examples=[{"username": "alice", "password": "wonderland", "auth": {"type": "m.login.dummy"}}],
    )
    login_body = obj(
        {
            "type": string(examples=["m.login.password"]),
            "identifier": obj(
                {"type": string(examples=["m.id.user"]), "user": {"type": "string"}}, ("type",)
            ),
            "user": string("Deprecated: the user, when `identifier` is absent."),
            "password": {"type": "string"},
            "device_id": {"type": "string"},
            "initial_device_display_name": {"type": "string"},
            "refresh_token": {"type": "boolean"},
        },
        ("type",),
        examples=[{"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
                   "password": "wonderland"}],
    )
    return {
        "/register": {
            "post": operation(
                "register",
                "Register an account.",
                {
                    "200": ok(ref("RegisterResponse"), "The account was created.", user_links()),
                    "400": error("Bad username, body or `kind`; or an unknown UIA session.",
                                 *merge_400(("M_INVALID_USERNAME", "M_USER_IN_USE"),
                                            BAD_REQUEST_BODY, ("M_UNKNOWN",))),
                    "401": {
                        "description": "User-Interactive Authentication is needed (or a stage failed).",
                        "content": {JSON: {"schema": ref("AuthenticationResponse")}},
                    },
                    "403": error("Registration is closed, or a guest was asked for.",
                                 "M_FORBIDDEN", "M_GUEST_ACCESS_FORBIDDEN"),
                    "413": TOO_LARGE,
                    "429": RATE_LIMITED,
                },
                authenticated=False,
                tags=tags,
                description="Spec: \"Account registration and management\" > POST /register.",
                parameters=[query("kind", "`user` (default) or `guest` (refused).",
                                  {"type": "string", "enum": ["user", "guest"]})],
                request_body=body(register_body),
            )
        },
        "/register/available": {
            "get": operation(
                "checkUsernameAvailability",
                "Check whether a username is free.",
                {
                    "200": ok(obj({"available": {"type": "boolean", "const": True}}, ("available",))),
                    "400": error("Taken, invalid, or missing.", "M_USER_IN_USE",
                                 "M_INVALID_USERNAME", "M_MISSING_PARAM", "M_INVALID_PARAM"),
                    "429": RATE_LIMITED,
                },
                authenticated=False,
                tags=tags,
                parameters=[query("username", "The localpart to check.",
                                  {"type": "string", "pattern": USERNAME_PATTERN},
                                  required=True, example="alice")],
            )
        },
        "/login": {
            "get": operation(
                "getLoginFlows",
                "The login types minihs offers.",
                {"200": ok(obj({"flows": {"type": "array", "items": obj(
                    {"type": string(examples=["m.login.password"])}, ("type",))}}, ("flows",)))},
                authenticated=False,
                tags=tags,
            ),
            "post": operation(
                "login",
                "Log in with a password.",
                {
                    "200": ok(ref("LoginResponse")),
                    "400": error("Bad body, or an unknown login or identifier type.",
                                 *merge_400(BAD_REQUEST_BODY, ("M_UNKNOWN",))),
                    "403": error("Wrong user or password (the same answer for both).", "M_FORBIDDEN"),
                    "413": TOO_LARGE,
                    "429": RATE_LIMITED,
                },
                authenticated=False,
                tags=tags,
                request_body=body(login_body, required=True),
            ),
        },
        "/logout": {
            "post": operation(
                "logout",
                "Invalidate this access token (and its device).",
                {"200": ok(ref("Empty")), "400": error("Token sent twice.", *AUTH_BAD_REQUEST)},
                authenticated=True,
                tags=tags,
            )
        },
        "/logout/all": {
            "post": operation(
                "logoutAll",
                "Invalidate every access token of the user.",
                {"200": ok(ref("Empty")), "400": error("Token sent twice.", *AUTH_BAD_REQUEST)},
                authenticated=True,
                tags=tags,
            )
        },
        "/account/whoami": {
            "get": operation(
                "whoami",
                "Who owns this access token.",
                {
                    "200": ok(obj({"user_id": USER_ID, "device_id": {"type": "string"},
                                   "is_guest": {"type": "boolean"}}, ("user_id",))),
                    "400": error("Token sent twice.", *AUTH_BAD_REQUEST),
                },
                authenticated=True,
                tags=tags,
            )
        },
    }


def rooms_paths() -> dict[str, dict[str, Any]]:
    tags = ["Rooms"]
    state_entry = obj({"type": {"type": "string"}, "state_key": {"type": "string"},
                       "content": {"type": "object"}}, ("type", "content"))
    create_body = obj(
        {
            "visibility": string(enum=["public", "private"]),
            "preset": string(enum=["private_chat", "public_chat", "trusted_private_chat"]),
            "name": {"type": "string"},
            "topic": {"type": "string"},
            "room_alias_name": string("The localpart of an alias to create for the room."),
            "invite": {"type": "array", "items": USER_ID},
            "is_direct": {"type": "boolean"},
            "initial_state": {"type": "array", "items": state_entry},
            "creation_content": {"type": "object"},
            "power_level_content_override": {"type": "object"},
            "room_version": string(enum=["10", "11", "12"]),
        },
        examples=[{"preset": "public_chat", "name": "Lobby"}],
    )
    forbidden_in_room = error("The requester is not joined to the room.", "M_FORBIDDEN")
    unknown_room = error("No such room (or the path does not name one).", "M_NOT_FOUND",
                         "M_UNRECOGNIZED")
    state_event_responses = {
        "200": ok({"type": "object"}, "The event's content, or (with `format=event`) the "
                  "whole ClientEvent."),
        "400": error("Bad `format`, or token sent twice.", *AUTH_BAD_REQUEST),
        "403": forbidden_in_room,
        "404": error("No such room or state event.", "M_NOT_FOUND", "M_UNRECOGNIZED"),
    }
    event_type = path_param("eventType", "The state event type.", "m.room.create")
    format_param = query("format", "`content` (default) or `event`.",
                         {"type": "string", "enum": ["content", "event"]})
    membership_values = ["join", "invite", "knock", "leave", "ban"]
    return {
        "/createRoom": {
            "post": operation(
                "createRoom",
                "Create a room.",
                {
                    "200": ok(ref("RoomIdResponse"), links=room_links()),
                    "400": error("Bad body, alias, invitee or room version; alias taken.",
                                 *merge_400(BAD_REQUEST_BODY, AUTH_BAD_REQUEST,
                                            ("M_ROOM_IN_USE", "M_UNSUPPORTED_ROOM_VERSION"))),
                    "413": TOO_LARGE,
                },
                authenticated=True,
                tags=tags,
                description="Spec: \"Rooms\" > \"Creation\" > POST /createRoom.",
                request_body=body(create_body),
            )
        },
        "/directory/room/{roomAlias}": {
            "get": operation(
                "getRoomIdByAlias",
                "Resolve a room alias.",
                {
                    "200": ok(obj({"room_id": ROOM_ID, "servers": {"type": "array", "items": {
                        "type": "string"}}}, ("room_id", "servers"))),
                    "400": error("Not a valid alias.", "M_INVALID_PARAM"),
                    "404": error("No room has that alias.", "M_NOT_FOUND", "M_UNRECOGNIZED"),
                },
                authenticated=False,
                tags=tags,
                parameters=[path_param("roomAlias", "The room alias.", "#lobby:localhost")],
            )
        },
        "/joined_rooms": {
            "get": operation(
                "getJoinedRooms",
                "The rooms the user is joined to.",
                {
                    "200": ok(obj({"joined_rooms": {"type": "array", "items": ROOM_ID}},
                                  ("joined_rooms",))),
                    "400": error("Token sent twice.", *AUTH_BAD_REQUEST),
                },
                authenticated=True,
                tags=tags,
            )
        },
        "/rooms/{roomId}/joined_members": {
            "get": operation(
                "getJoinedMembersByRoom",
                "The joined members of a room.",
                {
                    "200": ok(obj({"joined": {"type": "object", "additionalProperties": obj({
                        "display_name": {"type": ["string", "null"]},
                        "avatar_url": {"type": ["string", "null"]},
                    })}}, ("joined",))),
                    "400": error("Token sent twice.", *AUTH_BAD_REQUEST),
                    "403": forbidden_in_room,
                    "404": unknown_room,
                },
                authenticated=True,
                tags=tags,
                parameters=[ROOM_ID_PARAM],
            )
        },
        "/rooms/{roomId}/members": {
            "get": operation(
                "getMembersByRoom",
                "The member events of a room.",
                {
                    "200": ok(obj({"chunk": {"type": "array", "items": ref("ClientEvent")}},
                                  ("chunk",))),
                    "400": error("Bad filter, or token sent twice.", *AUTH_BAD_REQUEST),
                    "403": forbidden_in_room,
                    "404": unknown_room,
                },
                authenticated=True,
                tags=tags,
                parameters=[
                    ROOM_ID_PARAM,
                    query("at", "Accepted and ignored: minihs serves current state.",
                          {"type": "string"}),
                    query("membership", "Only members with this membership.",
                          {"type": "string", "enum": membership_values}),
                    query("not_membership", "Leave out members with this membership.",
                          {"type": "string", "enum": membership_values}),
                ],
            )
        },
        "/rooms/{roomId}/state": {
            "get": operation(
                "getRoomState",
                "The current state events of a room.",
                {
                    "200": ok({"type": "array", "items": ref("ClientEvent")}),
                    "400": error("Token sent twice.", *AUTH_BAD_REQUEST),
                    "403": forbidden_in_room,
                    "404": unknown_room,
                },
                authenticated=True,
                tags=tags,
                parameters=[ROOM_ID_PARAM],
            )
        },
        "/rooms/{roomId}/state/{eventType}": {
            "get": operation(
                "getRoomStateWithEmptyKey",
                "One state event with the empty state key.",
                state_event_responses,
                authenticated=True,
                tags=tags,
                parameters=[ROOM_ID_PARAM, event_type, format_param],
            )
        },
        "/rooms/{roomId}/state/{eventType}/{stateKey}": {
            "get": operation(
                "getRoomStateWithKey",
                "One state event.",
                state_event_responses,
                authenticated=True,
                tags=tags,
                parameters=[
                    ROOM_ID_PARAM,
                    event_type,
                    {**path_param("stateKey", "The state key.", "@alice:localhost"),
                     "schema": {"type": "string"}},
                    format_param,
                ],
            )
        },
    }


def membership_paths() -> dict[str, dict[str, Any]]:
    tags = ["Membership"]
    join_body = obj(
        {"reason": {"type": "string"}, "third_party_signed": {"type": "object"}},
        description="Other keys go into the member event's content.",
    )
    target_body = obj({"user_id": USER_ID, "reason": {"type": "string"}}, ("user_id",))
    reason_body = obj({"reason": {"type": "string"}})
    forbidden = error("The membership rules refuse the change.", "M_FORBIDDEN")
    not_found = error("No such room (or alias).", "M_NOT_FOUND", "M_UNRECOGNIZED")
    bad = error("Bad body, user ID or room ID; or token sent twice.",
                *merge_400(BAD_REQUEST_BODY, AUTH_BAD_REQUEST))

    def change(operation_id: str, summary: str, request_body: dict[str, Any], *, joins: bool,
               extra_parameters: list[dict[str, Any]] | None = None,
               room_param: dict[str, Any] = ROOM_ID_PARAM) -> dict[str, Any]:
        responses = {
            "200": ok(ref("RoomIdResponse"), links=room_links()) if joins else ok(ref("Empty")),
            "400": bad,
            "403": forbidden,
            "404": not_found,
            "413": TOO_LARGE,
        }
        if joins:
            responses["429"] = RATE_LIMITED
        return {"post": operation(
            operation_id, summary, responses, authenticated=True, tags=tags,
            parameters=[room_param, *(extra_parameters or [])], request_body=request_body,
        )}

    via = [
        query("via", "Ignored: minihs knows only its own rooms.",
              {"type": "array", "items": {"type": "string"}}),
        query("server_name", "Ignored (deprecated form of `via`).",
              {"type": "array", "items": {"type": "string"}}),
    ]
    return {
        "/join/{roomIdOrAlias}": change(
            "joinRoom", "Join a room by ID or alias.", body(join_body), joins=True,
            extra_parameters=via,
            room_param=path_param("roomIdOrAlias", "A room ID or a room alias.", "#lobby:localhost"),
        ),
        "/rooms/{roomId}/join": change("joinRoomById", "Join a room by ID.", body(join_body),
                                       joins=True),
        "/rooms/{roomId}/invite": change("inviteUser", "Invite a user.",
                                         body(target_body, required=True), joins=False),
        "/rooms/{roomId}/leave": change("leaveRoom", "Leave a room, or reject an invite.",
                                        body(reason_body), joins=False),
        "/rooms/{roomId}/kick": change("kick", "Kick a user.", body(target_body, required=True),
                                       joins=False),
        "/rooms/{roomId}/ban": change("ban", "Ban a user.", body(target_body, required=True),
                                      joins=False),
        "/rooms/{roomId}/unban": change("unban", "Unban a user.", body(target_body, required=True),
                                        joins=False),
    }


USER_ID_PARAM = path_param("userId", "A Matrix user ID.", "@alice:localhost")
# Any path parameter can be one the router cannot match (an encoded slash, say).
UNMATCHED = ("M_UNRECOGNIZED",)


def profile_paths() -> dict[str, dict[str, Any]]:
    tags = ["Profile"]
    bad_user = error("Malformed user ID.", "M_INVALID_PARAM")
    profile = obj({"displayname": {"type": "string"}, "avatar_url": {"type": "string"}},
                  description="The fields that are set; unset ones are left out.")

    def field_item(name: str, operation_name: str, limit: int) -> dict[str, Any]:
        return {
            "get": operation(
                f"get{operation_name}",
                f"A user's `{name}`.",
                {
                    "200": ok(obj({name: {"type": "string"}}, (name,))),
                    "400": bad_user,
                    "404": error(f"No such user, or no `{name}` set.", "M_NOT_FOUND",
                                 *UNMATCHED),
                },
                authenticated=False,
                tags=tags,
                description="Spec: \"Profiles\" > GET /profile/{userId}/{keyName}.",
                parameters=[USER_ID_PARAM],
            ),
            "put": operation(
                f"set{operation_name}",
                f"Set your own `{name}`; every joined room gets a new member event with it.",
                {
                    "200": ok(ref("Empty")),
                    "400": error(f"Bad body; `{name}` missing, not a string, or longer than "
                                 f"{limit} characters; malformed user ID.",
                                 *merge_400(BAD_REQUEST_BODY, AUTH_BAD_REQUEST)),
                    "403": error("Another user's profile.", "M_FORBIDDEN"),
                    "404": error("The path names no route.", *UNMATCHED),
                    "413": TOO_LARGE,
                },
                authenticated=True,
                tags=tags,
                description="Spec: \"Profiles\" > PUT /profile/{userId}/{keyName}. An empty "
                "string clears the field.",
                parameters=[USER_ID_PARAM],
                request_body=body(obj({name: string(maxLength=limit)}, (name,)), required=True),
            ),
        }

    return {
        "/profile/{userId}": {"get": operation(
            "getUserProfile",
            "A user's display name and avatar URL.",
            {
                "200": ok(profile),
                "400": bad_user,
                "404": error("No such user, or nothing set.", "M_NOT_FOUND", *UNMATCHED),
            },
            authenticated=False,
            tags=tags,
            description="Spec: \"Profiles\" > GET /profile/{userId}. No access token needed.",
            parameters=[USER_ID_PARAM],
        )},
        "/profile/{userId}/displayname": field_item("displayname", "Displayname", 256),
        "/profile/{userId}/avatar_url": field_item("avatar_url", "AvatarUrl", 1000),
    }


def user_data_paths() -> dict[str, dict[str, Any]]:
    """Account data, push rules, capabilities and presence."""
    tags = ["User data"]
    type_param = path_param("type", "The account data type.", "m.direct")
    not_yours = error("Another user's account data.", "M_FORBIDDEN")
    server_managed = error("`m.fully_read` and `m.push_rules` are managed by the server.",
                           "M_BAD_JSON")

    def account_data_item(operation_name: str, room: bool) -> dict[str, Any]:
        parameters = [USER_ID_PARAM, *([ROOM_ID_PARAM] if room else []), type_param]
        section = "/user/{userId}" + ("/rooms/{roomId}" if room else "") + "/account_data/{type}"
        bad_room = ("M_INVALID_PARAM",) if room else ()
        return {
            "get": operation(
                f"get{operation_name}",
                "Read one type of your account data.",
                {
                    "200": ok({"type": "object"}, "The content."),
                    "400": error("Token sent twice, or a malformed room ID.",
                                 *merge_400(AUTH_BAD_REQUEST, bad_room)),
                    "403": not_yours,
                    "404": error("Never set.", "M_NOT_FOUND", *UNMATCHED),
                },
                authenticated=True,
                tags=tags,
                description=f"Spec: \"Client Config\" > GET {section}.",
                parameters=parameters,
            ),
            "put": operation(
                f"set{operation_name}",
                "Set one type of your account data.",
                {
                    "200": ok(ref("Empty")),
                    "400": error("The body is not a JSON object, or a malformed room ID.",
                                 *merge_400(BAD_REQUEST_BODY, AUTH_BAD_REQUEST)),
                    "403": not_yours,
                    "404": error("The path names no route.", *UNMATCHED),
                    "405": server_managed,
                    "413": TOO_LARGE,
                },
                authenticated=True,
                tags=tags,
                description=f"Spec: \"Client Config\" > PUT {section}.",
                parameters=parameters,
                request_body=body({"type": "object"}, required=True),
            ),
        }

    token_twice = error("Token sent twice.", *AUTH_BAD_REQUEST)
    presence_state = obj(
        {
            "presence": string(enum=["online", "unavailable", "offline"]),
            "last_active_ago": {"type": "integer", "minimum": 0},
            "status_msg": {"type": ["string", "null"]},
            "currently_active": {"type": "boolean"},
        },
        ("presence",),
    )
    return {
        "/user/{userId}/account_data/{type}": account_data_item("AccountData", room=False),
        "/user/{userId}/rooms/{roomId}/account_data/{type}": account_data_item(
            "AccountDataPerRoom", room=True),
        "/pushrules/": {"get": operation(
            "getPushRules",
            "Your push rules: the spec's server-default rules.",
            {"200": ok(obj({"global": {"type": "object"}}, ("global",))), "400": token_twice},
            authenticated=True,
            tags=tags,
            description="Spec: \"Push Rules: API\" > GET /pushrules/. Changing rules is not "
            "served (404 `M_UNRECOGNIZED`).",
        )},
        "/pushrules/global/": {"get": operation(
            "getPushRulesGlobal",
            "Your global push ruleset.",
            {"200": ok(obj({kind: {"type": "array"} for kind in
                            ("override", "content", "room", "sender", "underride")})),
             "400": token_twice},
            authenticated=True,
            tags=tags,
            description="Spec: \"Push Rules: API\" > GET /pushrules/global/.",
        )},
        "/capabilities": {"get": operation(
            "getCapabilities",
            "What you may do here: room versions, password and profile changes.",
            {"200": ok(obj({"capabilities": obj({
                "m.room_versions": obj({"default": {"type": "string"},
                                        "available": {"type": "object"}},
                                       ("default", "available")),
            })}, ("capabilities",))), "400": token_twice},
            authenticated=True,
            tags=tags,
            description="Spec: \"Capabilities negotiation\" > GET /capabilities.",
        )},
        "/presence/{userId}/status": {
            "get": operation(
                "getPresence",
                "A user's presence: your own, or that of someone you share a room with.",
                {
                    "200": ok(presence_state),
                    "400": token_twice,
                    "403": error("You share no joined room with that user.", "M_FORBIDDEN"),
                    "404": error("The path names no route.", *UNMATCHED),
                },
                authenticated=True,
                tags=tags,
                description="Spec: \"Presence\" > GET /presence/{userId}/status. Kept in "
                "memory only.",
                parameters=[USER_ID_PARAM],
            ),
            "put": operation(
                "setPresence",
                "Set your presence.",
                {
                    "200": ok(ref("Empty")),
                    "400": error("Bad body or presence value.",
                                 *merge_400(BAD_REQUEST_BODY, AUTH_BAD_REQUEST)),
                    "403": error("Another user's presence.", "M_FORBIDDEN"),
                    "404": error("The path names no route.", *UNMATCHED),
                    "413": TOO_LARGE,
                },
                authenticated=True,
                tags=tags,
                description="Spec: \"Presence\" > PUT /presence/{userId}/status.",
                parameters=[USER_ID_PARAM],
                request_body=body(obj({
                    "presence": string(enum=["online", "unavailable", "offline"]),
                    "status_msg": {"type": "string"},
                }, ("presence",)), required=True),
            ),
        },
    }


def ephemeral_paths() -> dict[str, dict[str, Any]]:
    """Typing, receipts and read markers."""
    tags = ["Rooms"]
    bad = error("Bad body, receipt type, thread ID, room ID or event ID.",
                *merge_400(BAD_REQUEST_BODY, AUTH_BAD_REQUEST))
    not_joined = error("Not joined to the room, or (typing) another user.", "M_FORBIDDEN")

    def post_like(operation_id: str, summary: str, description: str, parameters, request_body,
                  not_found: str) -> dict[str, Any]:
        return operation(
            operation_id, summary,
            {
                "200": ok(ref("Empty")),
                "400": bad,
                "403": not_joined,
                "404": error(not_found, "M_NOT_FOUND", *UNMATCHED),
                "413": TOO_LARGE,
            },
            authenticated=True, tags=tags, description=description, parameters=parameters,
            request_body=request_body,
        )

    return {
        "/rooms/{roomId}/typing/{userId}": {"put": post_like(
            "setTyping", "Start or stop typing in a room.",
            "Spec: \"Typing Notifications\" > PUT /rooms/{roomId}/typing/{userId}. `timeout` "
            "defaults to 30000 and is capped at 120000 ms.",
            [ROOM_ID_PARAM, USER_ID_PARAM],
            body(obj({"typing": {"type": "boolean"}, "timeout": {"type": "integer",
                                                                 "minimum": 0}},
                     ("typing",)), required=True),
            "The path names no route.",
        )},
        "/rooms/{roomId}/receipt/{receiptType}/{eventId}": {"post": post_like(
            "postReceipt", "Send a receipt (or, with `m.fully_read`, move the read marker).",
            "Spec: \"Receipts\" > POST /rooms/{roomId}/receipt/{receiptType}/{eventId}.",
            [ROOM_ID_PARAM,
             {**path_param("receiptType", "The receipt type.", "m.read"),
              "schema": {"type": "string", "enum": ["m.read", "m.read.private", "m.fully_read"]}},
             path_param("eventId", "The event read.", "$event")],
            body(obj({"thread_id": string(minLength=1)})),
            "The event is not in the room.",
        )},
        "/rooms/{roomId}/read_markers": {"post": post_like(
            "setReadMarker", "Move the read marker and send receipts.",
            "Spec: \"Fully read markers\" > POST /rooms/{roomId}/read_markers.",
            [ROOM_ID_PARAM],
            body(obj({"m.fully_read": {"type": "string"}, "m.read": {"type": "string"},
                      "m.read.private": {"type": "string"}}), required=True),
            "An event named is not in the room.",
        )},
    }


def mutual_rooms_paths() -> dict[str, dict[str, Any]]:
    tags = ["Mutual Rooms"]
    user_id = query(
        "user_id", "The other user (a Matrix user ID).",
        {"type": "string", "format": "mx-user-id", "pattern": "^@"}, required=True,
        example="@bob:localhost",
    )
    from_param = query(
        "from", "Where to go on from: the `next_batch` of the previous page. Left out for the "
        "first page.",
        {"type": "string"}, example="next_batch_token",
    )
    bad = error(
        "`from` is invalid or expired, or `user_id` is missing, non-compliant or the requester's "
        "own ID (or the access token was sent twice).",
        "M_INVALID_PARAM", "M_MISSING_TOKEN",
    )
    bad["content"][JSON]["example"] = {"errcode": "M_INVALID_PARAM",
                                       "error": "The user ID provided was invalid"}
    stable = operation(
        "getMutualRooms",
        "The rooms the requester shares with another user.",
        {
            "200": ok(ref("MutualRoomsResponse"),
                      "The rooms both users are joined to. A `user_id` with no account here gets "
                      "an empty list, not an error.",
                      {"NextBatch": {
                          "operationId": "getMutualRooms",
                          "parameters": {"user_id": "$request.query.user_id",
                                         "from": "$response.body#/next_batch"},
                          "description": "The next page.",
                      }}),
            "400": bad,
            "429": RATE_LIMITED,
        },
        authenticated=True,
        tags=tags,
        description="Spec v1.19 \"Mutual Rooms\" (MSC2666); `shared/spec/mutual_rooms.yaml`.",
        parameters=[user_id, from_param],
    )
    unstable = operation(
        "getMutualRoomsUnstable",
        "MSC2666 before stabilisation (as matrix-js-sdk calls it).",
        {
            "200": ok(ref("UnstableMutualRoomsResponse")),
            "400": error("As the stable endpoint; also both `batch_token` and `from` given.",
                         "M_INVALID_PARAM", "M_MISSING_TOKEN"),
            "429": RATE_LIMITED,
        },
        authenticated=True,
        tags=tags,
        description="Same semantics as GET /_matrix/client/v1/mutual_rooms; the token is sent as "
        "`batch_token` and returned as `next_batch_token`.",
        parameters=[
            user_id,
            query("batch_token", "A `next_batch_token` from a previous page.", {"type": "string"}),
            query("from", "Accepted as a synonym of `batch_token`.", {"type": "string"}),
        ],
    )
    return {
        f"{CLIENT_V1}/mutual_rooms": {"get": stable},
        UNSTABLE_MUTUAL_ROOMS: {"get": unstable},
    }


def discovery_paths() -> dict[str, dict[str, Any]]:
    tags = ["Discovery"]
    return {
        "/_matrix/client/versions": {"get": operation(
            "getVersions",
            "The spec versions and unstable features minihs supports.",
            {"200": ok(obj({
                "versions": {"type": "array", "items": {"type": "string"}},
                "unstable_features": {"type": "object",
                                      "additionalProperties": {"type": "boolean"}},
            }, ("versions",)))},
            authenticated=False,
            tags=tags,
        )},
        "/.well-known/matrix/client": {"get": operation(
            "getWellknown",
            "Where the client API lives.",
            {"200": ok(obj({"m.homeserver": obj({"base_url": string(format="uri")},
                                                ("base_url",))}, ("m.homeserver",)))},
            authenticated=False,
            tags=tags,
        )},
        "/_minihs/openapi.json": {"get": operation(
            "getOpenApiDocument",
            "This document.",
            {"200": ok(obj({"openapi": {"type": "string"}, "paths": {"type": "object"}},
                           ("openapi", "paths")))},
            authenticated=False,
            tags=tags,
        )},
    }


def v1_account_paths() -> dict[str, dict[str, Any]]:
    return {
        f"{CLIENT_V1}/register/m.login.registration_token/validity": {"get": operation(
            "registrationTokenValidity",
            "Whether a registration token is valid.",
            {
                "200": ok(obj({"valid": {"type": "boolean"}}, ("valid",))),
                "400": error("Missing or repeated `token`.", "M_MISSING_PARAM", "M_INVALID_PARAM"),
                "403": error("Registration tokens are not enabled here.", "M_FORBIDDEN"),
                "429": RATE_LIMITED,
            },
            authenticated=False,
            tags=["Account"],
            description="Spec: \"Token-authenticated registration\".",
            parameters=[query("token", "The registration token to check.",
                              {"type": "string", "pattern": "^[A-Za-z0-9._~-]{1,64}$"},
                              required=True)],
        )},
    }


def admin_paths() -> dict[str, dict[str, Any]]:
    tags = ["Admin"]
    shared_secret_body = obj(
        {
            "nonce": string("From GET /_synapse/admin/v1/register; single use."),
            "username": string("The localpart, as for POST /register; at most 512 characters.",
                               pattern=USERNAME_PATTERN, maxLength=512),
            "password": string("At most 512 characters, no NUL.", maxLength=512),
            "admin": {"type": "boolean"},
            "user_type": string(enum=["support", "bot"]),
            "mac": string("Hex HMAC-SHA1, keyed by `registration.shared_secret`, of "
                          "`nonce NUL username NUL password NUL (admin|notadmin) [NUL user_type]`."),
            "device_id": {"type": "string"},
            "initial_device_display_name": {"type": "string"},
            "inhibit_login": {"type": "boolean"},
            "refresh_token": {"type": "boolean"},
        },
        ("nonce", "username", "password", "mac"),
    )
    return {
        "/_minihs/admin/reset": {"post": operation(
            "adminReset",
            "Forget every user, room and access token (test harnesses only).",
            {
                "200": ok(ref("Empty"), "The reset is complete."),
                "404": error("Turned off (`enable_admin_reset`), or the request did not come "
                             "from a loopback address directly.", "M_UNRECOGNIZED"),
            },
            authenticated=False,
            tags=tags,
            description="minihs only. Any other method gets 405 `M_UNRECOGNIZED` (404 when "
            "turned off).",
        )},
        "/_synapse/admin/v1/register": {
            "get": operation(
                "sharedSecretRegistrationNonce",
                "A one-time nonce for shared-secret registration (valid 60 s).",
                {"200": ok(obj({"nonce": {"type": "string"}}, ("nonce",)))},
                authenticated=False,
                tags=tags,
                description="Synapse Admin API, \"Shared-Secret Registration\".",
            ),
            "post": operation(
                "sharedSecretRegister",
                "Create an account (an admin if `admin` is true) given a nonce and a MAC.",
                {
                    "200": ok(ref("RegisterResponse"), "The account was created."),
                    "400": error("Not enabled (no `registration.shared_secret`), unrecognised "
                                 "nonce, a missing or invalid field, or a bad or taken username.",
                                 "M_UNKNOWN", "M_NOT_JSON", "M_BAD_JSON", "M_INVALID_USERNAME",
                                 "M_USER_IN_USE", "M_INVALID_PARAM"),
                    "403": error("HMAC incorrect.", "M_FORBIDDEN"),
                    "413": TOO_LARGE,
                },
                authenticated=False,
                tags=tags,
                description="Synapse Admin API, \"Shared-Secret Registration\".",
                request_body=body(shared_secret_body, required=True),
            ),
        },
    }


def client_paths() -> dict[str, dict[str, Any]]:
    """Endpoints served under both /_matrix/client/v3 and the legacy /_matrix/client/r0."""
    return {**account_paths(), **rooms_paths(), **membership_paths(), **profile_paths(),
            **user_data_paths(), **ephemeral_paths()}


def build() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, item in client_paths().items():
        paths[CLIENT_V3 + path] = item
    for path, item in client_paths().items():
        r0_item = {}
        for method, op in item.items():
            r0_item[method] = {**op, "operationId": op["operationId"] + "R0",
                               "summary": op["summary"] + " (legacy r0 path)", "deprecated": True}
        paths[CLIENT_R0 + path] = r0_item
    paths.update(v1_account_paths())
    paths.update(mutual_rooms_paths())
    paths.update(discovery_paths())
    paths.update(admin_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "minihs",
            "version": "0.1.0",
            "summary": "A small Matrix homeserver: accounts, rooms, membership and the Mutual "
            "Rooms API.",
            "description": "Every error is `{\"errcode\": \"M_...\", \"error\": \"...\"}`. Any path "
            "answers `OPTIONS` with 204 and CORS headers; an unknown path is 404 "
            "`M_UNRECOGNIZED`, a wrong method 405 `M_UNRECOGNIZED`. The client endpoints under "
            "`/_matrix/client/v3` are also served under `/_matrix/client/r0`.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "The homeserver serving this document."}],
        "tags": [{"name": name} for name in
                 ("Account", "Rooms", "Membership", "Profile", "User data", "Mutual Rooms",
                  "Discovery", "Admin")],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if minihs/openapi.json is not what this script writes")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python scripts/make_openapi.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(build()['paths'])} paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
