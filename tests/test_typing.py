"""Typing notifications (spec v1.19, Client-Server API "Typing Notifications", typing.yaml), and
the m.typing ephemeral event a sync delivers (``Typing.typing_event``)."""

from __future__ import annotations

import asyncio

import pytest

from conftest import quote
from spec_schemas import assert_event_matches_spec, assert_matches_spec

V3 = "/_matrix/client/v3"
PATH = "/rooms/{roomId}/typing/{userId}"


def typing_path(room: str, user_id: str) -> str:
    return f"{V3}/rooms/{quote(room)}/typing/{quote(user_id)}"


async def sharing_a_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    return alice, bob, room


async def test_start_typing_puts_the_user_in_the_rooms_typing_event(hs):
    alice, bob, room = await sharing_a_room(hs)
    body = await hs.request("PUT", typing_path(room, bob.user_id), bob,
                            json={"typing": True, "timeout": 30000})
    assert body == {}
    assert_matches_spec(body, "typing.yaml", PATH, "put")
    event = hs.homeserver.typing.typing_event(room, None, hs.homeserver.stream.position)
    assert event == {"type": "m.typing", "content": {"user_ids": [bob.user_id]}}
    assert_event_matches_spec(event, "m.typing")


async def test_stop_typing_empties_the_list(hs):
    alice, bob, room = await sharing_a_room(hs)
    typing = hs.homeserver.typing
    await hs.request("PUT", typing_path(room, bob.user_id), bob, json={"typing": True})
    since = hs.homeserver.stream.position
    await hs.request("PUT", typing_path(room, bob.user_id), bob, json={"typing": False})
    upto = hs.homeserver.stream.position
    assert typing.typing_event(room, since, upto) == {"type": "m.typing", "content": {"user_ids": []}}


async def test_typing_event_since_a_position_is_none_when_nothing_changed(hs):
    alice, bob, room = await sharing_a_room(hs)
    typing = hs.homeserver.typing
    await hs.request("PUT", typing_path(room, bob.user_id), bob, json={"typing": True})
    position = hs.homeserver.stream.position
    assert typing.typing_event(room, position, position) is None


async def test_initial_sync_has_no_typing_event_when_nobody_types(hs):
    alice, bob, room = await sharing_a_room(hs)
    assert hs.homeserver.typing.typing_event(room, None, hs.homeserver.stream.position) is None


async def test_typing_ends_by_itself_when_the_timeout_runs_out_and_wakes_the_rooms_syncs(hs):
    alice, bob, room = await sharing_a_room(hs)
    since = (await hs.sync(alice, set_presence="offline"))["next_batch"]
    await hs.request("PUT", typing_path(room, bob.user_id), bob, json={"typing": True, "timeout": 0})
    # The start and the end each wake alice's sync; she ends up seeing nobody typing.
    for _ in range(5):
        body = await hs.sync(alice, since=since, timeout=10_000, set_presence="offline")
        since = body["next_batch"]
        typing = [e for e in body["rooms"]["join"][room]["ephemeral"]["events"] if e["type"] == "m.typing"]
        if typing and typing[0]["content"]["user_ids"] == []:
            break
    assert typing == [{"type": "m.typing", "content": {"user_ids": []}}]
    assert hs.homeserver.typing.typing_in(room) == []


async def test_typing_for_another_user_is_403(hs):
    alice, bob, room = await sharing_a_room(hs)
    body = await hs.request("PUT", typing_path(room, alice.user_id), bob, json={"typing": True},
                            expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_typing_in_a_room_you_are_not_joined_to_is_403(hs):
    alice, bob, room = await sharing_a_room(hs)
    stranger = await hs.register()
    body = await hs.request("PUT", typing_path(room, stranger.user_id), stranger,
                            json={"typing": True}, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


@pytest.mark.parametrize("body, errcode", [
    ({}, "M_MISSING_PARAM"),
    ({"typing": "yes"}, "M_BAD_JSON"),
    ({"typing": True, "timeout": "soon"}, "M_BAD_JSON"),
    ({"typing": True, "timeout": 1.5}, "M_BAD_JSON"),
    ({"typing": True, "timeout": -1}, "M_INVALID_PARAM"),
])
async def test_a_bad_typing_body_is_400(hs, body, errcode):
    alice, bob, room = await sharing_a_room(hs)
    reply = await hs.request("PUT", typing_path(room, bob.user_id), bob, json=body, expect=400)
    assert reply["errcode"] == errcode


async def test_typing_is_forgotten_on_reset(hs):
    alice, bob, room = await sharing_a_room(hs)
    await hs.request("PUT", typing_path(room, bob.user_id), bob, json={"typing": True})
    hs.homeserver.typing.clear()
    assert hs.homeserver.typing.typing_in(room) == []
