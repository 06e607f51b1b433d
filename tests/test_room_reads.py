"""Reading rooms: joined_rooms, joined_members, members, state, and the room directory (spec v1.19,
Client-Server API "Room membership", "Getting events for a room", "Room aliases")."""

from __future__ import annotations

import pytest

from conftest import quote

V3 = "/_matrix/client/v3"
CLIENT_EVENT_KEYS = {"content", "event_id", "origin_server_ts", "room_id", "sender", "type"}


def room_path(room: str, rest: str) -> str:
    return f"{V3}/rooms/{quote(room)}/{rest}"


async def populated_room(hs):
    """alice (creator), bob joined, carol invited, dave left, erin banned: a public room."""
    alice, bob, carol, dave, erin = [await hs.register() for _ in range(5)]
    room = await hs.create_room(alice, preset="public_chat", room_version="11")
    await hs.join(bob, room, displayname="Bob", avatar_url="mxc://localhost/bob")
    await hs.invite(alice, room, carol)
    await hs.join(dave, room)
    await hs.leave(dave, room)
    await hs.ban(alice, room, erin)
    return room, alice, bob, carol, dave, erin


async def members(hs, user, room, **params) -> dict[str, str]:
    body = await hs.request("GET", room_path(room, "members"), user, params=params)
    return {event["state_key"]: event["content"]["membership"] for event in body["chunk"]}


# --- GET /joined_rooms -------------------------------------------------------------------------


async def test_joined_rooms_is_empty_for_a_new_user(hs):
    alice = await hs.register()
    body = await hs.request("GET", f"{V3}/joined_rooms", alice)
    assert body == {"joined_rooms": []}


async def test_joined_rooms_lists_only_rooms_with_membership_join(hs):
    room, alice, bob, carol, dave, erin = await populated_room(hs)
    other = await hs.create_room(bob)
    assert sorted(await hs.joined_rooms(bob)) == sorted([room, other])
    for user in (carol, dave, erin):
        assert await hs.joined_rooms(user) == []


async def test_joined_rooms_needs_an_access_token(hs):
    body = await hs.request("GET", f"{V3}/joined_rooms", expect=401)
    assert body["errcode"] == "M_MISSING_TOKEN"


# --- GET /rooms/{roomId}/joined_members ----------------------------------------------------------


async def test_joined_members_maps_joined_users_to_their_profile(hs):
    room, alice, bob, *_ = await populated_room(hs)
    body = await hs.request("GET", room_path(room, "joined_members"), bob)
    assert body == {
        "joined": {
            # Registration gave alice her localpart as display name; her join carried it.
            alice.user_id: {"display_name": alice.user_id[1:].split(":")[0]},
            bob.user_id: {"display_name": "Bob", "avatar_url": "mxc://localhost/bob"},
        }
    }


@pytest.mark.parametrize("who", ["stranger", "invited", "left", "banned"])
async def test_joined_members_is_403_for_non_members(hs, who):
    room, alice, bob, carol, dave, erin = await populated_room(hs)
    user = {"stranger": await hs.register(), "invited": carol, "left": dave, "banned": erin}[who]
    body = await hs.request("GET", room_path(room, "joined_members"), user, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


# --- GET /rooms/{roomId}/members -----------------------------------------------------------------


async def test_members_lists_every_member_event(hs):
    room, alice, bob, carol, dave, erin = await populated_room(hs)
    assert await members(hs, alice, room) == {
        alice.user_id: "join",
        bob.user_id: "join",
        carol.user_id: "invite",
        dave.user_id: "leave",
        erin.user_id: "ban",
    }


async def test_members_chunk_holds_client_events(hs):
    room, alice, *_ = await populated_room(hs)
    body = await hs.request("GET", room_path(room, "members"), alice)
    for event in body["chunk"]:
        assert CLIENT_EVENT_KEYS <= set(event)
        assert event["type"] == "m.room.member" and event["room_id"] == room


@pytest.mark.parametrize("value", ["join", "invite", "leave", "ban"])
async def test_members_membership_filter_keeps_only_that_membership(hs, value):
    room, alice, *_ = await populated_room(hs)
    found = await members(hs, alice, room, membership=value)
    assert found and set(found.values()) == {value}


async def test_members_not_membership_filter_drops_that_membership(hs):
    room, alice, bob, carol, dave, erin = await populated_room(hs)
    assert await members(hs, alice, room, not_membership="join") == {
        carol.user_id: "invite",
        dave.user_id: "leave",
        erin.user_id: "ban",
    }


async def test_members_with_both_filters_is_an_or_of_the_two(hs):
    # Spec: "either the membership *is* the same as membership **or** *is not* the same as
    # not_membership".
    room, alice, bob, carol, dave, erin = await populated_room(hs)
    assert set(await members(hs, alice, room, membership="join", not_membership="join")) == {
        alice.user_id, bob.user_id, carol.user_id, dave.user_id, erin.user_id,
    }
    assert await members(hs, alice, room, membership="ban", not_membership="leave") == {
        alice.user_id: "join",
        bob.user_id: "join",
        carol.user_id: "invite",
        erin.user_id: "ban",
    }


@pytest.mark.parametrize("params", [{"membership": "joined"}, {"not_membership": "x"}])
async def test_members_with_an_unknown_filter_value_is_400(hs, params):
    room, alice, *_ = await populated_room(hs)
    body = await hs.request("GET", room_path(room, "members"), alice, params=params, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_members_is_403_for_non_members(hs):
    room, *_ = await populated_room(hs)
    stranger = await hs.register()
    body = await hs.request("GET", room_path(room, "members"), stranger, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


# --- GET /rooms/{roomId}/state -------------------------------------------------------------------


async def test_state_lists_the_current_state_as_client_events(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, name="N", room_version="12")
    events = await hs.request("GET", room_path(room, "state"), alice)
    keys = {(event["type"], event["state_key"]) for event in events}
    assert keys == {
        ("m.room.create", ""),
        ("m.room.member", alice.user_id),
        ("m.room.power_levels", ""),
        ("m.room.join_rules", ""),
        ("m.room.history_visibility", ""),
        ("m.room.guest_access", ""),
        ("m.room.name", ""),
    }
    for event in events:
        assert CLIENT_EVENT_KEYS <= set(event)
        assert event["room_id"] == room
        assert event["event_id"].startswith("$")


async def test_state_shows_only_the_latest_event_per_key(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.leave(bob, room)
    await hs.join(bob, room, displayname="again")
    events = await hs.request("GET", room_path(room, "state"), alice)
    bobs = [e for e in events if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    assert [e["content"] for e in bobs] == [{"membership": "join", "displayname": "again"}]


async def test_state_is_403_for_non_members(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    body = await hs.request("GET", room_path(room, "state"), bob, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_state_of_unknown_room_is_403_forbidden(hs):
    alice = await hs.register()
    body = await hs.request("GET", room_path("!nothing:localhost", "state"), alice, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


# --- GET /rooms/{roomId}/state/{eventType}/{stateKey} ---------------------------------------------


async def test_state_event_returns_its_content_by_default(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, name="Named")
    body = await hs.request("GET", room_path(room, "state/m.room.name/"), alice)
    assert body == {"name": "Named"}


async def test_state_event_with_empty_state_key_needs_no_trailing_slash(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, name="Named")
    body = await hs.request("GET", room_path(room, "state/m.room.name"), alice)
    assert body == {"name": "Named"}


async def test_state_event_with_a_state_key(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    path = room_path(room, f"state/m.room.member/{quote(alice.user_id)}")
    localpart = alice.user_id[1:].split(":")[0]
    assert await hs.request("GET", path, alice) == {"membership": "join", "displayname": localpart}


async def test_state_event_format_event_returns_the_whole_client_event(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, name="Named")
    event = await hs.request(
        "GET", room_path(room, "state/m.room.name/"), alice, params={"format": "event"}
    )
    assert CLIENT_EVENT_KEYS <= set(event)
    assert event["content"] == {"name": "Named"}
    assert (event["type"], event["state_key"], event["sender"]) == ("m.room.name", "", alice.user_id)
    assert event["room_id"] == room


async def test_state_event_format_content_is_the_default(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, name="Named")
    body = await hs.request(
        "GET", room_path(room, "state/m.room.name/"), alice, params={"format": "content"}
    )
    assert body == {"name": "Named"}


async def test_state_event_with_an_unknown_format_is_400(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, name="Named")
    await hs.request(
        "GET", room_path(room, "state/m.room.name/"), alice, params={"format": "xml"}, expect=400
    )


async def test_missing_state_is_404_not_found(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    body = await hs.request("GET", room_path(room, "state/m.room.topic/"), alice, expect=404)
    assert body["errcode"] == "M_NOT_FOUND"
    body = await hs.request("GET", room_path(room, "state/m.room.name/other"), alice, expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


async def test_state_event_is_403_for_non_members(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat", name="n")
    body = await hs.request("GET", room_path(room, "state/m.room.name/"), bob, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_state_event_of_unknown_room_is_403(hs):
    alice = await hs.register()
    body = await hs.request(
        "GET", room_path("!" + "Z" * 43, "state/m.room.name/"), alice, expect=403
    )
    assert body["errcode"] == "M_FORBIDDEN"


# --- GET /directory/room/{roomAlias} -------------------------------------------------------------


async def test_directory_resolves_an_alias_without_authentication(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, room_alias_name="dir")
    body = await hs.request("GET", f"{V3}/directory/room/{quote('#dir:' + hs.server_name)}")
    assert body == {"room_id": room, "servers": [hs.server_name]}


async def test_directory_unknown_alias_is_404_not_found(hs):
    body = await hs.request(
        "GET", f"{V3}/directory/room/{quote('#ghost:' + hs.server_name)}", expect=404
    )
    assert body["errcode"] == "M_NOT_FOUND"


@pytest.mark.parametrize("alias", ["nohash:localhost", "#nocolon", "#bad:serv er"])
async def test_directory_invalid_alias_is_400_invalid_param(hs, alias):
    body = await hs.request("GET", f"{V3}/directory/room/{quote(alias)}", expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_alias_with_non_ascii_localpart_is_created_and_resolves(hs):
    # Spec "Room Aliases": the localpart may be any character but ':' and NUL.
    alice = await hs.register()
    room = await hs.create_room(alice, room_alias_name="café")
    from urllib.parse import quote

    body = await hs.request("GET", f"/_matrix/client/v3/directory/room/{quote('#café:localhost')}")
    assert body["room_id"] == room


# --- issue 13: answers the official OpenAPI documents ----------------------------------------------


async def test_joined_members_leaves_out_a_display_name_and_avatar_the_member_event_lacks(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room, displayname="Bob")
    body = await hs.request("GET", room_path(room, "joined_members"), alice)
    # alice's join carried the display name registration gave her, and no avatar.
    assert body["joined"][alice.user_id] == {"display_name": alice.user_id[1:].split(":")[0]}
    assert body["joined"][bob.user_id] == {"display_name": "Bob"}


async def test_joined_members_leaves_out_a_display_name_that_is_not_a_string(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room, displayname=None, avatar_url=7)
    body = await hs.request("GET", room_path(room, "joined_members"), alice)
    assert body["joined"][bob.user_id] == {}


@pytest.mark.parametrize(
    "rest", ["state", "state/m.room.create/", "members", "joined_members"]
)
async def test_reads_of_an_unknown_room_answer_as_for_a_room_you_are_not_in(hs, rest):
    """Spec: 403 M_FORBIDDEN; the same answer for both keeps whether a room exists private."""
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    unknown = "!unknownroomabcdefg:" + hs.server_name
    not_in = await hs.request("GET", room_path(room, rest), bob, expect=403)
    missing = await hs.request("GET", room_path(unknown, rest), bob, expect=403)
    assert not_in == {"errcode": "M_FORBIDDEN", "error": f"{bob.user_id} not in room {room}."}
    assert missing == {"errcode": "M_FORBIDDEN", "error": f"{bob.user_id} not in room {unknown}."}
