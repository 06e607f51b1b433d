"""The sync sections beyond room timelines and state (spec v1.19, Client-Server API "Syncing",
with "Client Config", "Presence", "Typing Notifications", "Receipts"): global and room account
data, ``m.push_rules``, ``m.presence``, and each joined room's ``m.typing`` and ``m.receipt``;
and a pending sync waking for each of them. Every body is checked against sync.yaml."""

from __future__ import annotations

import asyncio

from conftest import quote
from spec_schemas import assert_matches_spec

V3 = "/_matrix/client/v3"
QUIET = {"set_presence": "offline"}  # syncs that must not change presence themselves


async def two_in_a_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    return alice, bob, room


async def sync(hs, user, **params):
    body = await hs.sync(user, **{**QUIET, **params})
    assert_matches_spec(body, "sync.yaml", "/sync", "get")
    return body


async def pending(hs, user, since, **params):
    """Start a long-polling sync and let it reach its wait."""
    task = asyncio.ensure_future(sync(hs, user, since=since, timeout=30_000, **params))
    for _ in range(200):
        await asyncio.sleep(0.001)
        if hs.homeserver.stream.waiting() or task.done():
            break
    assert not task.done(), "the sync answered at once instead of waiting"
    return task


async def put_account_data(hs, user, data_type, content, room=None):
    where = f"/rooms/{quote(room)}" if room else ""
    await hs.request(
        "PUT", f"{V3}/user/{quote(user.user_id)}{where}/account_data/{quote(data_type)}", user, json=content
    )


async def set_typing(hs, user, room, typing=True):
    await hs.request(
        "PUT", f"{V3}/rooms/{quote(room)}/typing/{quote(user.user_id)}", user,
        json={"typing": typing, "timeout": 30_000},
    )


async def send_receipt(hs, user, room, event_id, receipt_type="m.read"):
    await hs.request(
        "POST", f"{V3}/rooms/{quote(room)}/receipt/{receipt_type}/{quote(event_id)}", user, json={}
    )


async def set_presence(hs, user, presence, status_msg=None):
    body = {"presence": presence} | ({"status_msg": status_msg} if status_msg else {})
    await hs.request("PUT", f"{V3}/presence/{quote(user.user_id)}/status", user, json=body)


def ephemeral(body, room, event_type):
    return [e for e in body["rooms"]["join"][room]["ephemeral"]["events"] if e["type"] == event_type]


def presence_of(body, user):
    return [e["content"] for e in body["presence"]["events"] if e["sender"] == user.user_id]


# --- account data ------------------------------------------------------------------------------


async def test_initial_sync_carries_global_account_data_and_the_push_rules(hs):
    alice = await hs.register()
    await put_account_data(hs, alice, "m.direct", {"@bob:localhost": ["!r:localhost"]})
    body = await sync(hs, alice)
    events = {e["type"]: e["content"] for e in body["account_data"]["events"]}
    assert events["m.direct"] == {"@bob:localhost": ["!r:localhost"]}
    assert "override" in events["m.push_rules"]["global"]


async def test_a_pending_sync_wakes_when_the_user_sets_account_data(hs):
    alice = await hs.register()
    waiting = await pending(hs, alice, (await sync(hs, alice))["next_batch"])
    await put_account_data(hs, alice, "org.example.setting", {"on": True})
    body = await waiting
    assert body["account_data"]["events"] == [{"type": "org.example.setting", "content": {"on": True}}]


async def test_incremental_sync_does_not_repeat_unchanged_account_data(hs):
    alice = await hs.register()
    await put_account_data(hs, alice, "m.direct", {})
    first = await sync(hs, alice)
    await put_account_data(hs, alice, "org.example.other", {"n": 1})
    body = await sync(hs, alice, since=first["next_batch"])
    assert [e["type"] for e in body["account_data"]["events"]] == ["org.example.other"]


async def test_another_users_account_data_change_does_not_wake_a_pending_sync(hs):
    alice, bob = await hs.register(), await hs.register()
    waiting = await pending(hs, alice, (await sync(hs, alice))["next_batch"])
    await put_account_data(hs, bob, "m.direct", {})
    await sync(hs, bob)  # a round trip: a wake would have answered alice's sync by now
    assert not waiting.done()
    waiting.cancel()


async def test_room_account_data_appears_under_its_room(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await sync(hs, alice)
    await put_account_data(hs, alice, "m.tag", {"tags": {"u.work": {}}}, room=room)
    body = await sync(hs, alice, since=first["next_batch"])
    assert body["rooms"]["join"][room]["account_data"]["events"] == [
        {"type": "m.tag", "content": {"tags": {"u.work": {}}}}
    ]
    assert body["account_data"]["events"] == []


async def test_the_read_marker_appears_as_m_fully_read_room_account_data(hs):
    alice, bob, room = await two_in_a_room(hs)
    event_id = await hs.send(bob, room, "hi")
    await send_receipt(hs, alice, room, event_id, "m.fully_read")
    body = await sync(hs, alice)
    assert {"type": "m.fully_read", "content": {"event_id": event_id}} in (
        body["rooms"]["join"][room]["account_data"]["events"]
    )


async def test_the_account_data_filter_types_hide_other_global_account_data(hs):
    alice = await hs.register()
    await put_account_data(hs, alice, "m.direct", {})
    body = await sync(hs, alice, filter={"account_data": {"not_types": ["m.push_rules"]}})
    assert [e["type"] for e in body["account_data"]["events"]] == ["m.direct"]


async def test_the_room_account_data_filter_hides_a_room_not_listed(hs):
    alice, bob, room = await two_in_a_room(hs)
    await put_account_data(hs, alice, "m.tag", {"tags": {}}, room=room)
    body = await sync(hs, alice, filter={"room": {"account_data": {"not_rooms": [room]}}})
    assert body["rooms"]["join"][room]["account_data"]["events"] == []


# --- typing --------------------------------------------------------------------------------------


async def test_a_pending_sync_wakes_when_another_member_types_and_shows_m_typing(hs):
    alice, bob, room = await two_in_a_room(hs)
    waiting = await pending(hs, alice, (await sync(hs, alice))["next_batch"])
    await set_typing(hs, bob, room)
    body = await waiting
    assert ephemeral(body, room, "m.typing") == [{"type": "m.typing", "content": {"user_ids": [bob.user_id]}}]


async def test_initial_sync_shows_who_is_typing(hs):
    alice, bob, room = await two_in_a_room(hs)
    await set_typing(hs, bob, room)
    body = await sync(hs, alice)
    assert ephemeral(body, room, "m.typing")[0]["content"]["user_ids"] == [bob.user_id]


async def test_incremental_sync_does_not_repeat_an_unchanged_typing_list(hs):
    alice, bob, room = await two_in_a_room(hs)
    await set_typing(hs, bob, room)
    first = await sync(hs, alice)
    await hs.send(bob, room, "hi")
    body = await sync(hs, alice, since=first["next_batch"])
    assert ephemeral(body, room, "m.typing") == []


async def test_the_ephemeral_filter_can_hide_typing(hs):
    alice, bob, room = await two_in_a_room(hs)
    await set_typing(hs, bob, room)
    body = await sync(hs, alice, filter={"room": {"ephemeral": {"not_types": ["m.typing"]}}})
    assert ephemeral(body, room, "m.typing") == []


# --- receipts ------------------------------------------------------------------------------------


async def test_a_receipt_reaches_the_other_members_in_ephemeral(hs):
    alice, bob, room = await two_in_a_room(hs)
    event_id = await hs.send(alice, room, "hi")
    waiting = await pending(hs, alice, (await sync(hs, alice))["next_batch"])
    await send_receipt(hs, bob, room, event_id)
    body = await waiting
    [receipt] = ephemeral(body, room, "m.receipt")
    assert list(receipt["content"][event_id]["m.read"]) == [bob.user_id]


async def test_a_private_receipt_reaches_only_its_owner(hs):
    alice, bob, room = await two_in_a_room(hs)
    event_id = await hs.send(alice, room, "hi")
    since_alice = (await sync(hs, alice))["next_batch"]
    since_bob = (await sync(hs, bob))["next_batch"]
    await send_receipt(hs, bob, room, event_id, "m.read.private")
    own = await sync(hs, bob, since=since_bob)
    assert list(ephemeral(own, room, "m.receipt")[0]["content"][event_id]["m.read.private"]) == [bob.user_id]
    other = await sync(hs, alice, since=since_alice)
    assert room not in other["rooms"]["join"] or ephemeral(other, room, "m.receipt") == []


async def test_incremental_sync_does_not_repeat_a_receipt(hs):
    alice, bob, room = await two_in_a_room(hs)
    event_id = await hs.send(alice, room, "hi")
    await send_receipt(hs, bob, room, event_id)
    first = await sync(hs, alice)
    assert ephemeral(first, room, "m.receipt")
    await hs.send(bob, room, "again")
    body = await sync(hs, alice, since=first["next_batch"])
    assert ephemeral(body, room, "m.receipt") == []


# --- presence ------------------------------------------------------------------------------------


async def test_presence_of_a_room_mate_appears_in_sync(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await sync(hs, alice)
    await set_presence(hs, bob, "unavailable", "lunch")
    body = await sync(hs, alice, since=first["next_batch"])
    [content] = presence_of(body, bob)
    assert content["presence"] == "unavailable"
    assert content["status_msg"] == "lunch"


async def test_presence_of_a_user_sharing_no_room_does_not_appear(hs):
    alice, stranger = await hs.register(), await hs.register()
    await set_presence(hs, stranger, "online")
    body = await sync(hs, alice)
    assert presence_of(body, stranger) == []


async def test_a_sync_marks_its_user_online_and_the_room_mates_see_it(hs):
    alice, bob, room = await two_in_a_room(hs)
    waiting = await pending(hs, alice, (await sync(hs, alice))["next_batch"])
    await hs.sync(bob)  # set_presence defaults to online
    body = await waiting
    assert presence_of(body, bob)[0]["presence"] == "online"


async def test_a_sync_with_set_presence_unavailable_marks_its_user_unavailable(hs):
    alice = await hs.register()
    body = await sync(hs, alice, set_presence="unavailable")
    assert presence_of(body, alice)[0]["presence"] == "unavailable"


async def test_a_sync_with_set_presence_offline_does_not_change_presence(hs):
    alice = await hs.register()
    await set_presence(hs, alice, "unavailable")
    await sync(hs, alice, set_presence="offline")
    status = await hs.request("GET", f"{V3}/presence/{quote(alice.user_id)}/status", alice)
    assert status["presence"] == "unavailable"


async def test_syncing_again_while_online_wakes_nobody(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.sync(bob)
    waiting = await pending(hs, alice, (await sync(hs, alice))["next_batch"])
    await hs.sync(bob)
    await sync(hs, bob)  # a round trip: a wake would have answered alice's sync by now
    assert not waiting.done()
    waiting.cancel()


async def test_the_presence_filter_can_hide_presence(hs):
    alice = await hs.register()
    await set_presence(hs, alice, "online")
    body = await sync(hs, alice, filter={"presence": {"not_types": ["m.presence"]}})
    assert body["presence"]["events"] == []


# --- reset ---------------------------------------------------------------------------------------


async def test_a_reset_forgets_presence_and_typing(hs):
    alice, bob, room = await two_in_a_room(hs)
    await set_presence(hs, bob, "online")
    await set_typing(hs, bob, room)
    await hs.homeserver.reset()
    assert hs.homeserver.typing.typing_in(room) == []
    assert hs.homeserver.presence.presence_since(bob.user_id, None, hs.homeserver.stream.position) == []
