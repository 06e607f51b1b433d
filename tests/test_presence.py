"""Presence (spec v1.19, Client-Server API "Presence", presence.yaml), kept in memory, and the
m.presence events a sync delivers (``Presence.presence_since``)."""

from __future__ import annotations

import pytest

from conftest import quote
from spec_schemas import assert_event_matches_spec, assert_matches_spec

V3 = "/_matrix/client/v3"
PATH = "/presence/{userId}/status"


def status_path(user_id: str) -> str:
    return f"{V3}/presence/{quote(user_id)}/status"


async def set_presence(hs, user, presence="online", **extra):
    return await hs.request("PUT", status_path(user.user_id), user,
                            json={"presence": presence, **extra})


async def sharing_a_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    return alice, bob, room


async def test_set_presence_then_read_it_back(hs):
    alice = await hs.register()
    body = await set_presence(hs, alice, "unavailable", status_msg="lunch")
    assert body == {}
    assert_matches_spec(body, "presence.yaml", PATH, "put")
    body = await hs.request("GET", status_path(alice.user_id), alice)
    assert body["presence"] == "unavailable"
    assert body["status_msg"] == "lunch"
    assert body["currently_active"] is False
    assert body["last_active_ago"] >= 0
    assert_matches_spec(body, "presence.yaml", PATH, "get")


async def test_a_user_who_never_set_presence_is_offline(hs):
    alice = await hs.register()
    body = await hs.request("GET", status_path(alice.user_id), alice)
    assert body == {"presence": "offline"}
    assert_matches_spec(body, "presence.yaml", PATH, "get")


async def test_online_means_currently_active(hs):
    alice = await hs.register()
    await set_presence(hs, alice, "online")
    body = await hs.request("GET", status_path(alice.user_id), alice)
    assert body["currently_active"] is True
    assert "status_msg" not in body


async def test_presence_of_a_user_sharing_a_room_is_visible(hs):
    alice, bob, _ = await sharing_a_room(hs)
    await set_presence(hs, bob, "online")
    body = await hs.request("GET", status_path(bob.user_id), alice)
    assert body["presence"] == "online"


@pytest.mark.parametrize("target", ["stranger", "@nobody:localhost"])
async def test_presence_of_a_user_sharing_no_room_is_403(hs, target):
    alice, stranger = await hs.register(), await hs.register()
    user_id = stranger.user_id if target == "stranger" else target
    body = await hs.request("GET", status_path(user_id), alice, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_setting_another_users_presence_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    body = await hs.request("PUT", status_path(bob.user_id), alice, json={"presence": "online"},
                            expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


@pytest.mark.parametrize("body, errcode", [
    ({"presence": "busy"}, "M_INVALID_PARAM"),
    ({}, "M_MISSING_PARAM"),
    ({"presence": 1}, "M_BAD_JSON"),
    ({"presence": "online", "status_msg": ["x"]}, "M_BAD_JSON"),
])
async def test_a_bad_presence_body_is_400(hs, body, errcode):
    alice = await hs.register()
    reply = await hs.request("PUT", status_path(alice.user_id), alice, json=body, expect=400)
    assert reply["errcode"] == errcode


# --- delivery in sync ----------------------------------------------------------------------------


async def test_sync_presence_has_the_users_own_and_room_sharers_changes(hs):
    alice, bob, _ = await sharing_a_room(hs)
    stranger = await hs.register()
    for user in (alice, bob, stranger):
        await set_presence(hs, user, "online")
    events = hs.homeserver.presence.presence_since(alice.user_id, None, hs.homeserver.stream.position)
    assert sorted(event["sender"] for event in events) == sorted([alice.user_id, bob.user_id])
    for event in events:
        assert_event_matches_spec(event, "m.presence")


async def test_sync_presence_since_a_position_has_only_later_changes(hs):
    alice, bob, _ = await sharing_a_room(hs)
    presence = hs.homeserver.presence
    await set_presence(hs, bob, "online")
    since = hs.homeserver.stream.position
    assert presence.presence_since(alice.user_id, since, since) == []
    await set_presence(hs, bob, "unavailable", status_msg="away")
    [event] = presence.presence_since(alice.user_id, since, hs.homeserver.stream.position)
    assert event["sender"] == bob.user_id
    assert event["content"]["presence"] == "unavailable"
    assert event["content"]["status_msg"] == "away"


async def test_a_presence_change_concerns_the_user_and_their_room_mates_only(hs):
    alice, bob, room = await sharing_a_room(hs)
    stranger = await hs.register()
    stream = hs.homeserver.stream
    before = stream.position
    await set_presence(hs, bob, "online")
    assert stream.changed_since(bob.user_id, before)
    assert stream.changed_since(alice.user_id, before)
    assert not stream.changed_since(stranger.user_id, before)


async def test_presence_is_forgotten_on_reset(hs):
    alice = await hs.register()
    await set_presence(hs, alice, "online")
    hs.homeserver.presence.clear()
    assert hs.homeserver.presence.get_presence(alice.user_id, alice.user_id) == {"presence": "offline"}
