"""Receipts and read markers (spec v1.19, Client-Server API "Receipts", "Fully read markers";
receipts.yaml, read_markers.yaml), and the m.receipt event of a room a sync delivers
(``Receipts.receipt_event``; its delivery by /sync is in test_sync_extras.py)."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import quote, test_config
from spec_schemas import assert_event_matches_spec, assert_matches_spec

V3 = "/_matrix/client/v3"
RECEIPT_PATH = "/rooms/{roomId}/receipt/{receiptType}/{eventId}"
MARKERS_PATH = "/rooms/{roomId}/read_markers"


def receipt_path(room: str, receipt_type: str, event_id: str) -> str:
    return f"{V3}/rooms/{quote(room)}/receipt/{quote(receipt_type)}/{quote(event_id)}"


def markers_path(room: str) -> str:
    return f"{V3}/rooms/{quote(room)}/read_markers"


async def room_with_an_event(hs):
    """alice and bob joined to a public room; the ID of bob's join event."""
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    event = await hs.request(
        "GET", f"{V3}/rooms/{quote(room)}/state/m.room.member/{quote(bob.user_id)}",
        alice, params={"format": "event"},
    )
    return alice, bob, room, event["event_id"]


async def test_a_read_receipt_is_shown_to_every_member(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    body = await hs.request("POST", receipt_path(room, "m.read", event_id), bob, json={})
    assert body == {}
    assert_matches_spec(body, "receipts.yaml", RECEIPT_PATH, "post")
    event = await hs.homeserver.receipts.receipt_event(room, alice.user_id, None)
    assert list(event["content"]) == [event_id]
    assert list(event["content"][event_id]["m.read"]) == [bob.user_id]
    assert isinstance(event["content"][event_id]["m.read"][bob.user_id]["ts"], int)
    assert_event_matches_spec(event, "m.receipt")


async def test_a_private_receipt_is_shown_only_to_its_owner(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    await hs.request("POST", receipt_path(room, "m.read.private", event_id), bob, json={})
    receipts = hs.homeserver.receipts
    assert await receipts.receipt_event(room, alice.user_id, None) is None
    own = await receipts.receipt_event(room, bob.user_id, None)
    assert list(own["content"][event_id]) == ["m.read.private"]


async def test_a_threaded_receipt_carries_its_thread_id(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    await hs.request("POST", receipt_path(room, "m.read", event_id), bob, json={"thread_id": "main"})
    event = await hs.homeserver.receipts.receipt_event(room, alice.user_id, None)
    assert event["content"][event_id]["m.read"][bob.user_id]["thread_id"] == "main"
    assert_event_matches_spec(event, "m.receipt")


async def test_receipt_event_since_a_position_has_only_receipts_that_moved(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    receipts = hs.homeserver.receipts
    await hs.request("POST", receipt_path(room, "m.read", event_id), bob, json={})
    since = hs.homeserver.stream.position
    assert await receipts.receipt_event(room, alice.user_id, since) is None
    await hs.request("POST", receipt_path(room, "m.read", event_id), alice, json={})
    event = await receipts.receipt_event(room, bob.user_id, since)
    assert list(event["content"][event_id]["m.read"]) == [alice.user_id]


async def test_receipts_survive_a_restart(tmp_path, make_homeserver):
    config = test_config()
    config.database = dataclasses.replace(config.database, path=str(tmp_path / "hs.db"))
    first = await make_homeserver(config)
    alice, bob, room, event_id = await room_with_an_event(first)
    await first.request("POST", receipt_path(room, "m.read", event_id), bob, json={})
    await first.http.close()
    second = await make_homeserver(config)
    event = await second.homeserver.receipts.receipt_event(room, alice.user_id, None)
    assert list(event["content"][event_id]["m.read"]) == [bob.user_id]


async def test_an_m_fully_read_receipt_moves_the_read_marker(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    await hs.request("POST", receipt_path(room, "m.fully_read", event_id), bob, json={})
    path = f"{V3}/user/{quote(bob.user_id)}/rooms/{quote(room)}/account_data/m.fully_read"
    assert await hs.request("GET", path, bob) == {"event_id": event_id}


async def test_an_unknown_receipt_type_is_400(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    body = await hs.request("POST", receipt_path(room, "m.seen", event_id), bob, json={},
                            expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


@pytest.mark.parametrize("thread_id", ["", 5, ["main"]])
async def test_a_thread_id_that_is_not_a_non_empty_string_is_400(hs, thread_id):
    alice, bob, room, event_id = await room_with_an_event(hs)
    body = await hs.request("POST", receipt_path(room, "m.read", event_id), bob,
                            json={"thread_id": thread_id}, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_a_thread_id_on_the_read_marker_is_400(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    body = await hs.request("POST", receipt_path(room, "m.fully_read", event_id), bob,
                            json={"thread_id": "main"}, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_a_receipt_for_an_event_not_in_the_room_is_404(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    other = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, other)
    body = await hs.request("POST", receipt_path(other, "m.read", event_id), bob, json={},
                            expect=404)
    assert body["errcode"] == "M_NOT_FOUND"
    body = await hs.request("POST", receipt_path(room, "m.read", "$nope"), bob, json={},
                            expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


async def test_a_receipt_in_a_room_you_are_not_joined_to_is_403(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    stranger = await hs.register()
    body = await hs.request("POST", receipt_path(room, "m.read", event_id), stranger, json={},
                            expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_a_malformed_event_id_is_400(hs):
    alice, bob, room, _ = await room_with_an_event(hs)
    body = await hs.request("POST", receipt_path(room, "m.read", "not-an-event"), bob, json={},
                            expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


# --- read markers --------------------------------------------------------------------------------


async def test_read_markers_set_the_read_marker_and_a_receipt(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    body = await hs.request("POST", markers_path(room), bob,
                            json={"m.fully_read": event_id, "m.read": event_id})
    assert body == {}
    assert_matches_spec(body, "read_markers.yaml", MARKERS_PATH, "post")
    path = f"{V3}/user/{quote(bob.user_id)}/rooms/{quote(room)}/account_data/m.fully_read"
    assert await hs.request("GET", path, bob) == {"event_id": event_id}
    event = await hs.homeserver.receipts.receipt_event(room, alice.user_id, None)
    assert list(event["content"][event_id]["m.read"]) == [bob.user_id]


async def test_read_markers_private_receipt_stays_private(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    await hs.request("POST", markers_path(room), bob, json={"m.read.private": event_id})
    assert await hs.homeserver.receipts.receipt_event(room, alice.user_id, None) is None


async def test_read_markers_with_an_event_not_in_the_room_change_nothing(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    await hs.request("POST", markers_path(room), bob,
                     json={"m.fully_read": event_id, "m.read": "$nope"}, expect=404)
    path = f"{V3}/user/{quote(bob.user_id)}/rooms/{quote(room)}/account_data/m.fully_read"
    await hs.request("GET", path, bob, expect=404)


async def test_read_markers_with_a_non_string_is_400(hs):
    alice, bob, room, event_id = await room_with_an_event(hs)
    body = await hs.request("POST", markers_path(room), bob, json={"m.fully_read": 1}, expect=400)
    assert body["errcode"] == "M_BAD_JSON"
