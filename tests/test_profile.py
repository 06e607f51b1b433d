"""Profiles (spec v1.19, Client-Server API "Profiles", profile.yaml): display name and avatar URL,
and the member events that carry them into rooms."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import quote, test_config
from spec_schemas import assert_matches_spec

V3 = "/_matrix/client/v3"


def profile_path(user_id: str, field: str | None = None) -> str:
    path = f"{V3}/profile/{quote(user_id)}"
    return path if field is None else f"{path}/{field}"


def localpart(user) -> str:
    return user.user_id[1:].split(":")[0]


async def member_content(hs, viewer, room, user):
    path = f"{V3}/rooms/{quote(room)}/state/m.room.member/{quote(user.user_id)}"
    return await hs.request("GET", path, viewer)


# --- reading -------------------------------------------------------------------------------------


async def test_a_new_user_has_their_localpart_as_display_name(hs):
    alice = await hs.register()
    body = await hs.request("GET", profile_path(alice.user_id))
    assert body == {"displayname": localpart(alice)}
    assert_matches_spec(body, "profile.yaml", "/profile/{userId}", "get")


async def test_reading_a_profile_needs_no_access_token(hs):
    alice = await hs.register()
    body = await hs.request("GET", profile_path(alice.user_id, "displayname"))
    assert body == {"displayname": localpart(alice)}
    assert_matches_spec(body, "profile.yaml", "/profile/{userId}/{keyName}", "get")


async def test_profile_of_an_unknown_user_is_404_not_found(hs):
    body = await hs.request("GET", profile_path("@nobody:localhost"), expect=404)
    assert body["errcode"] == "M_NOT_FOUND"
    body = await hs.request("GET", profile_path("@nobody:localhost", "displayname"), expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


async def test_an_unset_avatar_url_is_404_not_found(hs):
    alice = await hs.register()
    body = await hs.request("GET", profile_path(alice.user_id, "avatar_url"), expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


async def test_profile_of_a_malformed_user_id_is_400_invalid_param(hs):
    body = await hs.request("GET", profile_path("not-a-user-id"), expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_other_profile_keys_read_as_not_set(hs):
    alice = await hs.register()
    body = await hs.request("GET", profile_path(alice.user_id, "m.tz"), expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


async def test_other_profile_keys_cannot_be_set(hs):
    alice = await hs.register()
    body = await hs.request("PUT", profile_path(alice.user_id, "m.tz"), alice,
                            json={"m.tz": "Europe/London"}, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


# --- setting -------------------------------------------------------------------------------------


async def test_set_displayname_then_read_it_back(hs):
    alice = await hs.register()
    body = await hs.request(
        "PUT", profile_path(alice.user_id, "displayname"), alice, json={"displayname": "Alice"}
    )
    assert body == {}
    assert_matches_spec(body, "profile.yaml", "/profile/{userId}/{keyName}", "put")
    assert await hs.request("GET", profile_path(alice.user_id, "displayname")) == {
        "displayname": "Alice"
    }


async def test_set_avatar_url_then_read_the_whole_profile(hs):
    alice = await hs.register()
    await hs.request(
        "PUT", profile_path(alice.user_id, "avatar_url"), alice,
        json={"avatar_url": "mxc://localhost/abc"},
    )
    body = await hs.request("GET", profile_path(alice.user_id))
    assert body == {"displayname": localpart(alice), "avatar_url": "mxc://localhost/abc"}
    assert_matches_spec(body, "profile.yaml", "/profile/{userId}", "get")


async def test_an_empty_displayname_clears_it(hs):
    alice = await hs.register()
    await hs.request("PUT", profile_path(alice.user_id, "displayname"), alice,
                     json={"displayname": ""})
    await hs.request("GET", profile_path(alice.user_id, "displayname"), expect=404)


async def test_a_displayname_is_trimmed(hs):
    alice = await hs.register()
    await hs.request("PUT", profile_path(alice.user_id, "displayname"), alice,
                     json={"displayname": "  Alice  "})
    body = await hs.request("GET", profile_path(alice.user_id, "displayname"))
    assert body == {"displayname": "Alice"}


async def test_setting_another_users_profile_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    body = await hs.request("PUT", profile_path(bob.user_id, "displayname"), alice,
                            json={"displayname": "Mallory"}, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"
    assert await hs.request("GET", profile_path(bob.user_id, "displayname")) == {
        "displayname": localpart(bob)
    }


async def test_setting_a_profile_needs_an_access_token(hs):
    alice = await hs.register()
    body = await hs.request("PUT", profile_path(alice.user_id, "displayname"),
                            json={"displayname": "x"}, expect=401)
    assert body["errcode"] == "M_MISSING_TOKEN"


async def test_a_body_without_the_key_is_400_missing_param(hs):
    alice = await hs.register()
    body = await hs.request("PUT", profile_path(alice.user_id, "displayname"), alice,
                            json={"avatar_url": "mxc://x/y"}, expect=400)
    assert body["errcode"] == "M_MISSING_PARAM"


@pytest.mark.parametrize("value", [None, 5, True, ["Alice"], {"name": "Alice"}])
@pytest.mark.parametrize("field", ["displayname", "avatar_url"])
async def test_a_value_that_is_not_a_string_is_400_invalid_param(hs, field, value):
    alice = await hs.register()
    body = await hs.request("PUT", profile_path(alice.user_id, field), alice,
                            json={field: value}, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


@pytest.mark.parametrize("field, limit", [("displayname", 256), ("avatar_url", 1000)])
async def test_values_over_synapses_length_limits_are_400(hs, field, limit):
    alice = await hs.register()
    await hs.request("PUT", profile_path(alice.user_id, field), alice, json={field: "a" * limit})
    body = await hs.request("PUT", profile_path(alice.user_id, field), alice,
                            json={field: "a" * (limit + 1)}, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"
    assert await hs.request("GET", profile_path(alice.user_id, field)) == {field: "a" * limit}


# --- member events -------------------------------------------------------------------------------


async def test_a_join_carries_the_profile_into_the_member_event(hs):
    alice, bob = await hs.register(), await hs.register()
    await hs.request("PUT", profile_path(bob.user_id, "avatar_url"), bob,
                     json={"avatar_url": "mxc://localhost/bob"})
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    assert await member_content(hs, alice, room, bob) == {
        "membership": "join", "displayname": localpart(bob), "avatar_url": "mxc://localhost/bob",
    }


async def test_the_creators_join_carries_their_profile(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    content = await member_content(hs, alice, room, alice)
    assert content["displayname"] == localpart(alice)


async def test_a_profile_the_client_gives_in_the_join_wins(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room, displayname="Bob in this room")
    content = await member_content(hs, alice, room, bob)
    assert content["displayname"] == "Bob in this room"


async def test_a_profile_change_updates_the_member_event_in_each_joined_room(hs):
    alice, bob = await hs.register(), await hs.register()
    rooms = [await hs.create_room(alice, preset="public_chat") for _ in range(2)]
    for room in rooms:
        await hs.join(bob, room)
    left = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, left)
    await hs.leave(bob, left)

    await hs.request("PUT", profile_path(bob.user_id, "displayname"), bob,
                     json={"displayname": "Robert"})

    for room in rooms:
        assert await member_content(hs, alice, room, bob) == {
            "membership": "join", "displayname": "Robert",
        }
    assert (await member_content(hs, alice, left, bob))["membership"] == "leave"


async def test_joined_members_shows_the_new_display_name(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.request("PUT", profile_path(bob.user_id, "displayname"), bob,
                     json={"displayname": "Robert"})
    body = await hs.request("GET", f"{V3}/rooms/{quote(room)}/joined_members", alice)
    assert body["joined"][bob.user_id]["display_name"] == "Robert"


async def test_profile_routes_are_served_under_r0_too(hs):
    alice = await hs.register()
    body = await hs.request("GET", f"/_matrix/client/r0/profile/{quote(alice.user_id)}")
    assert body == {"displayname": localpart(alice)}


async def test_a_join_after_a_restart_carries_the_stored_profile(make_homeserver, tmp_path):
    config = test_config()
    config.database = dataclasses.replace(config.database, path=str(tmp_path / "hs.db"))
    first = await make_homeserver(config)
    alice, bob = await first.register(), await first.register()
    await first.request("PUT", profile_path(bob.user_id, "displayname"), bob,
                        json={"displayname": "Robert"})
    room = await first.create_room(alice, preset="public_chat")
    await first.http.close()
    second = await make_homeserver(config)
    await second.join(bob, room)
    assert (await member_content(second, alice, room, bob))["displayname"] == "Robert"
