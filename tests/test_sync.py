"""GET /sync (spec v1.19, Client-Server API "Syncing"): initial and incremental syncs, long
polling on the change stream, tokens, filters, and the sections clients expect."""

from __future__ import annotations

import asyncio

from conftest import quote
from spec_schemas import assert_matches_spec

V3 = "/_matrix/client/v3"


def joined(body, room):
    return body["rooms"]["join"][room]


def timeline_bodies(section):
    return [e["content"].get("body") for e in section["timeline"]["events"] if e["type"] == "m.room.message"]


def state_keys(section):
    return {(e["type"], e["state_key"]) for e in section["state"]["events"]}


async def two_in_a_room(hs, **create):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat", **create)
    await hs.join(bob, room)
    return alice, bob, room


async def pending(hs, user, since, timeout=30_000, **params):
    """Start a long-polling sync and let it reach its wait."""
    task = asyncio.ensure_future(hs.sync(user, since=since, timeout=timeout, **params))
    for _ in range(100):
        await asyncio.sleep(0.001)
        if hs.homeserver.stream.waiting() or task.done():
            break
    return task


# --- initial sync ----------------------------------------------------------------------------


async def test_an_initial_sync_matches_the_spec_schema(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.send(bob, room, "hi")
    body = await hs.sync(alice)
    assert_matches_spec(body, "sync.yaml", "/sync", "get")


async def test_an_initial_sync_shows_each_joined_room_with_its_timeline_and_state(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.send(bob, room, "hello alice")
    section = joined(await hs.sync(alice), room)
    assert timeline_bodies(section) == ["hello alice"]
    keys = state_keys(section) | {
        (e["type"], e.get("state_key")) for e in section["timeline"]["events"] if "state_key" in e
    }
    assert ("m.room.create", "") in keys
    assert ("m.room.member", bob.user_id) in keys


async def test_the_timeline_holds_the_last_limit_events_and_says_it_was_limited(hs):
    alice, bob, room = await two_in_a_room(hs)
    for n in range(5):
        await hs.send(bob, room, f"m{n}")
    section = joined(await hs.sync(alice, filter={"room": {"timeline": {"limit": 3}}}), room)
    assert timeline_bodies(section) == ["m2", "m3", "m4"]
    assert section["timeline"]["limited"] is True
    # What the short timeline leaves out of the state comes in the state section.
    assert ("m.room.create", "") in state_keys(section)
    assert ("m.room.member", bob.user_id) in state_keys(section)


async def test_prev_batch_paginates_back_from_the_start_of_the_timeline(hs):
    alice, bob, room = await two_in_a_room(hs)
    for n in range(4):
        await hs.send(bob, room, f"m{n}")
    section = joined(await hs.sync(alice, filter={"room": {"timeline": {"limit": 2}}}), room)
    page = await hs.messages(alice, room, dir="b", **{"from": section["timeline"]["prev_batch"]}, limit=2)
    assert [e["content"]["body"] for e in page["chunk"]] == ["m1", "m0"]


async def test_an_initial_sync_leaves_out_left_rooms_unless_the_filter_includes_them(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.leave(bob, room)
    assert room not in (await hs.sync(bob))["rooms"]["leave"]
    body = await hs.sync(bob, filter={"room": {"include_leave": True}})
    assert room in body["rooms"]["leave"]
    assert room not in body["rooms"]["join"]


async def test_an_invited_room_shows_its_stripped_state_and_the_invite(hs):
    alice, carol = await hs.register(), await hs.register()
    room = await hs.create_room(alice, name="Secret", invite=[carol.user_id])
    body = await hs.sync(carol)
    events = body["rooms"]["invite"][room]["invite_state"]["events"]
    kinds = {(e["type"], e["state_key"]) for e in events}
    assert ("m.room.name", "") in kinds
    assert ("m.room.member", carol.user_id) in kinds
    assert room not in body["rooms"]["join"]
    assert_matches_spec(body, "sync.yaml", "/sync", "get")


async def test_the_sections_clients_expect_are_present_even_when_empty(hs):
    alice = await hs.register()
    first = await hs.sync(alice, set_presence="offline")
    body = await hs.sync(alice, since=first["next_batch"], timeout=0, set_presence="offline")
    assert body["presence"] == {"events": []}
    assert body["account_data"] == {"events": []}
    assert body["to_device"] == {"events": []}
    assert body["device_lists"] == {"changed": [], "left": []}
    assert body["device_one_time_keys_count"] == {}
    assert body["next_batch"]


async def test_a_joined_room_carries_a_summary_with_heroes_and_counts(hs):
    alice, bob, room = await two_in_a_room(hs)
    summary = joined(await hs.sync(alice), room)["summary"]
    assert summary == {"m.heroes": [bob.user_id], "m.joined_member_count": 2, "m.invited_member_count": 0}


# --- incremental sync ------------------------------------------------------------------------


async def test_an_incremental_sync_shows_only_what_happened_since(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.send(bob, room, "old")
    first = await hs.sync(alice)
    await hs.send(bob, room, "new")
    body = await hs.sync(alice, since=first["next_batch"])
    section = joined(body, room)
    assert timeline_bodies(section) == ["new"]
    assert section["timeline"]["limited"] is False
    assert section["state"]["events"] == []
    assert_matches_spec(body, "sync.yaml", "/sync", "get")


async def test_an_incremental_sync_leaves_out_rooms_where_nothing_happened(hs):
    alice, bob, room = await two_in_a_room(hs)
    quiet = await hs.create_room(alice)
    first = await hs.sync(alice)
    await hs.send(bob, room, "new")
    body = await hs.sync(alice, since=first["next_batch"])
    assert list(body["rooms"]["join"]) == [room]
    assert quiet not in body["rooms"]["join"]


async def test_an_incremental_sync_with_more_than_the_limit_is_limited_and_fills_the_gap_state(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.sync(alice)
    await hs.set_state(alice, room, "m.room.topic", {"topic": "changed in the gap"})
    for n in range(4):
        await hs.send(bob, room, f"m{n}")
    body = await hs.sync(alice, since=first["next_batch"], filter={"room": {"timeline": {"limit": 2}}})
    section = joined(body, room)
    assert section["timeline"]["limited"] is True
    assert timeline_bodies(section) == ["m2", "m3"]
    topics = [e for e in section["state"]["events"] if e["type"] == "m.room.topic"]
    assert [t["content"]["topic"] for t in topics] == ["changed in the gap"]


async def test_a_state_change_since_the_last_sync_arrives_in_the_timeline(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.sync(bob)
    await hs.set_state(alice, room, "m.room.name", {"name": "New name"})
    section = joined(await hs.sync(bob, since=first["next_batch"]), room)
    names = [e for e in section["timeline"]["events"] if e["type"] == "m.room.name"]
    assert names and names[0]["content"] == {"name": "New name"}


async def test_a_room_joined_since_the_last_sync_comes_with_its_full_state(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    first = await hs.sync(bob)
    await hs.join(bob, room)
    section = joined(await hs.sync(bob, since=first["next_batch"]), room)
    keys = state_keys(section) | {
        (e["type"], e.get("state_key")) for e in section["timeline"]["events"] if "state_key" in e
    }
    assert ("m.room.create", "") in keys
    assert ("m.room.join_rules", "") in keys


async def test_an_invite_since_the_last_sync_arrives_in_the_invite_section(hs):
    alice, carol = await hs.register(), await hs.register()
    room = await hs.create_room(alice)
    first = await hs.sync(carol)
    await hs.invite(alice, room, carol)
    body = await hs.sync(carol, since=first["next_batch"])
    assert room in body["rooms"]["invite"]


async def test_leaving_since_the_last_sync_puts_the_room_in_the_leave_section(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.sync(bob)
    await hs.leave(bob, room)
    body = await hs.sync(bob, since=first["next_batch"])
    section = body["rooms"]["leave"][room]
    leave = [e for e in section["timeline"]["events"] if e["type"] == "m.room.member"]
    assert leave[-1]["content"]["membership"] == "leave"
    assert room not in body["rooms"]["join"]
    assert_matches_spec(body, "sync.yaml", "/sync", "get")


async def test_a_left_room_shows_nothing_after_the_leave(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.sync(bob)
    await hs.send(alice, room, "before")
    await hs.leave(bob, room)
    await hs.send(alice, room, "after")
    section = (await hs.sync(bob, since=first["next_batch"]))["rooms"]["leave"][room]
    assert timeline_bodies(section) == ["before"]


async def test_full_state_returns_the_whole_state_with_a_since_token(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.sync(alice)
    body = await hs.sync(alice, since=first["next_batch"], full_state=True)
    section = joined(body, room)
    assert ("m.room.create", "") in state_keys(section)
    assert section["timeline"]["events"] == []


async def test_an_own_event_carries_its_transaction_id_for_the_sending_device(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.sync(alice)
    await hs.send(alice, room, "mine", txn_id="my-txn-1")
    section = joined(await hs.sync(alice, since=first["next_batch"]), room)
    assert section["timeline"]["events"][-1]["unsigned"]["transaction_id"] == "my-txn-1"
    other = joined(await hs.sync(bob, since=first["next_batch"]), room)
    assert "transaction_id" not in other["timeline"]["events"][-1]["unsigned"]


async def test_a_sync_with_nothing_new_and_no_timeout_returns_at_once_with_a_next_batch(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.sync(alice)
    body = await hs.sync(alice, since=first["next_batch"], timeout=0)
    assert body["rooms"] == {"join": {}, "invite": {}, "leave": {}, "knock": {}}
    assert body["next_batch"]


# --- long polling ----------------------------------------------------------------------------


async def test_a_pending_sync_wakes_when_the_other_user_sends_a_message(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.sync(alice)
    waiting = await pending(hs, alice, first["next_batch"])
    assert not waiting.done()
    await hs.send(bob, room, "wake up")
    body = await asyncio.wait_for(waiting, 10)
    assert timeline_bodies(joined(body, room)) == ["wake up"]


async def test_a_pending_sync_wakes_when_its_user_is_invited(hs):
    alice, carol = await hs.register(), await hs.register()
    room = await hs.create_room(alice)
    first = await hs.sync(carol)
    waiting = await pending(hs, carol, first["next_batch"])
    await hs.invite(alice, room, carol)
    body = await asyncio.wait_for(waiting, 10)
    assert room in body["rooms"]["invite"]


async def test_a_pending_sync_wakes_when_another_user_joins_its_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    first = await hs.sync(alice)
    waiting = await pending(hs, alice, first["next_batch"])
    await hs.join(bob, room)
    body = await asyncio.wait_for(waiting, 10)
    members = [e["state_key"] for e in joined(body, room)["timeline"]["events"]]
    assert bob.user_id in members


async def test_a_pending_sync_is_not_woken_by_a_room_its_user_is_not_in(hs):
    alice, bob, room = await two_in_a_room(hs)
    carol = await hs.register()
    elsewhere = await hs.create_room(carol, preset="public_chat")
    first = await hs.sync(alice)
    waiting = await pending(hs, alice, first["next_batch"])
    await hs.send(carol, elsewhere, "not for alice")
    await hs.sync(carol)  # a full round trip: the send above is settled by now
    assert not waiting.done()
    await hs.send(bob, room, "for alice")
    body = await asyncio.wait_for(waiting, 10)
    assert list(body["rooms"]["join"]) == [room]


async def test_a_pending_sync_that_times_out_returns_an_empty_answer(hs):
    alice = await hs.register()
    first = await hs.sync(alice)
    body = await hs.sync(alice, since=first["next_batch"], timeout=20)
    assert body["rooms"]["join"] == {}
    assert body["next_batch"]


async def test_a_pending_sync_keeps_waiting_past_a_change_its_filter_hides(hs):
    alice, bob, room = await two_in_a_room(hs)
    only_messages = {"room": {"timeline": {"types": ["m.room.message"]}}}
    first = await hs.sync(alice, filter=only_messages)
    waiting = await pending(hs, alice, first["next_batch"], filter=only_messages)
    await hs.set_state(alice, room, "m.room.topic", {"topic": "hidden by the filter"})
    await hs.sync(bob, set_presence="offline")  # a round trip; no presence change
    assert not waiting.done()
    await hs.send(bob, room, "shown")
    body = await asyncio.wait_for(waiting, 10)
    assert timeline_bodies(joined(body, room)) == ["shown"]


# --- tokens ----------------------------------------------------------------------------------


async def test_a_since_token_never_issued_is_refused(hs):
    alice = await hs.register()
    for token in ("garbage", "s999999_00000000", "", "s1_zzzzzzzz"):
        body = await hs.sync(alice, since=token, expect=400)
        assert body["errcode"] == "M_INVALID_PARAM"


async def test_a_since_token_from_ahead_of_the_stream_is_refused(hs):
    alice = await hs.register()
    token = (await hs.sync(alice))["next_batch"]
    position, epoch = token[1:].split("_")
    body = await hs.sync(alice, since=f"s{int(position) + 100}_{epoch}", expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_since_from_before_a_reset_is_refused(hs):
    alice = await hs.register()
    token = (await hs.sync(alice))["next_batch"]
    await hs.homeserver.reset()
    alice = await hs.register()
    body = await hs.sync(alice, since=token, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"
    assert "reset" in body["error"]


# --- filters and parameters ------------------------------------------------------------------


async def test_a_stored_filter_is_applied_by_its_id(hs):
    alice, bob, room = await two_in_a_room(hs)
    for n in range(3):
        await hs.send(bob, room, f"m{n}")
    reply = await hs.request(
        "POST", f"{V3}/user/{quote(alice.user_id)}/filter", alice,
        json={"room": {"timeline": {"limit": 1}}},
    )
    section = joined(await hs.sync(alice, filter=reply["filter_id"]), room)
    assert timeline_bodies(section) == ["m2"]


async def test_an_unknown_filter_id_is_refused(hs):
    alice = await hs.register()
    body = await hs.sync(alice, filter="12345", expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_the_room_filter_keeps_only_the_listed_rooms(hs):
    alice = await hs.register()
    kept, dropped = await hs.create_room(alice), await hs.create_room(alice)
    body = await hs.sync(alice, filter={"room": {"rooms": [kept]}})
    assert list(body["rooms"]["join"]) == [kept]
    body = await hs.sync(alice, filter={"room": {"not_rooms": [kept]}})
    assert list(body["rooms"]["join"]) == [dropped]


async def test_timeline_types_with_a_wildcard_select_the_events(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.send(bob, room, "text")
    await hs.send(bob, room, event_type="org.example.custom", content={"x": 1})
    body = await hs.sync(alice, filter={"room": {"timeline": {"types": ["org.example.*"]}}})
    types = [e["type"] for e in joined(body, room)["timeline"]["events"]]
    assert types == ["org.example.custom"]
    body = await hs.sync(alice, filter={"room": {"timeline": {"not_types": ["m.*"]}}})
    assert [e["type"] for e in joined(body, room)["timeline"]["events"]] == ["org.example.custom"]


async def test_lazy_loading_sends_only_the_members_of_timeline_senders(hs):
    alice, bob, room = await two_in_a_room(hs)
    carol = await hs.register()
    await hs.join(carol, room)
    for n in range(3):
        await hs.send(bob, room, f"m{n}")
    lazy = {"room": {"timeline": {"limit": 2}, "state": {"lazy_load_members": True}}}
    section = joined(await hs.sync(alice, filter=lazy), room)
    members = {key for kind, key in state_keys(section) if kind == "m.room.member"}
    assert bob.user_id in members
    assert carol.user_id not in members


async def test_use_state_after_and_set_presence_are_accepted(hs):
    alice = await hs.register()
    await hs.sync(alice, set_presence="online", **{"org.matrix.msc4222.use_state_after": "true"})


async def test_hostile_sync_parameters_get_4xx(hs):
    alice = await hs.register()
    cases = [
        {"timeout": "-1"}, {"timeout": "soon"}, {"timeout": "9" * 40},
        {"full_state": "yes"}, {"set_presence": "dancing"},
        {"filter": "{not json"}, {"filter": '{"room": {"timeline": {"limit": "ten"}}}'},
        {"filter": '{"room": {"rooms": "!a:b"}}'}, {"filter": "[" * 5000 + "]" * 5000},
        {"filter": '{"room": ' * 100 + "{}" + "}" * 100}, {"filter": "abc"},
        {"since": "s1_" + "f" * 500},
    ]
    for params in cases:
        response = await hs.http.get(f"{V3}/sync", params=params, headers=alice.headers)
        assert 400 <= response.status < 500, (params, response.status, await response.text())


async def test_sync_needs_an_access_token(hs):
    body = await hs.request("GET", f"{V3}/sync", expect=401)
    assert body["errcode"] == "M_MISSING_TOKEN"


async def test_a_profile_change_in_a_joined_room_is_not_sent_as_a_newly_joined_room(hs):
    alice, bob, room = await two_in_a_room(hs)
    for n in range(3):
        await hs.send(alice, room, f"m{n}")
    first = await hs.sync(bob)
    await hs.join(bob, room, displayname="Bob again")
    section = joined(await hs.sync(bob, since=first["next_batch"]), room)
    assert [e["type"] for e in section["timeline"]["events"]] == ["m.room.member"]
    assert section["state"]["events"] == []
