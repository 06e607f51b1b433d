"""Reading a room's history (spec v1.19, Client-Server API "Syncing" > GET /rooms/{roomId}/messages
and "Getting events for a room" > GET /rooms/{roomId}/event/{eventId})."""

from __future__ import annotations

from conftest import quote
from spec_schemas import assert_matches_spec

V3 = "/_matrix/client/v3"


async def room_with_messages(hs, count=5):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    for n in range(count):
        await hs.send(bob, room, f"m{n}")
    return alice, bob, room


def bodies(page):
    return [e["content"]["body"] for e in page["chunk"] if e["type"] == "m.room.message"]


# --- GET /messages -----------------------------------------------------------------------------


async def test_backwards_pagination_starts_at_the_newest_event(hs):
    alice, bob, room = await room_with_messages(hs)
    page = await hs.messages(alice, room, dir="b", limit=3)
    assert bodies(page) == ["m4", "m3", "m2"]
    assert_matches_spec(page, "message_pagination.yaml", "/rooms/{roomId}/messages", "get")


async def test_the_end_token_continues_where_the_page_stopped(hs):
    alice, bob, room = await room_with_messages(hs)
    first = await hs.messages(alice, room, dir="b", limit=3)
    second = await hs.messages(alice, room, dir="b", limit=2, **{"from": first["end"]})
    assert bodies(second) == ["m1", "m0"]


async def test_end_is_absent_at_the_start_of_the_timeline(hs):
    alice, bob, room = await room_with_messages(hs, count=1)
    page = await hs.messages(alice, room, dir="b", limit=100)
    assert "end" not in page
    assert page["chunk"][-1]["type"] == "m.room.create"


async def test_forwards_pagination_goes_oldest_first_and_stops_at_the_newest(hs):
    alice, bob, room = await room_with_messages(hs, count=3)
    page = await hs.messages(alice, room, dir="f", limit=100)
    assert page["chunk"][0]["type"] == "m.room.create"
    assert bodies(page) == ["m0", "m1", "m2"]
    assert "end" not in page


async def test_forwards_from_a_backwards_end_token_returns_what_followed(hs):
    alice, bob, room = await room_with_messages(hs)
    back = await hs.messages(alice, room, dir="b", limit=2)
    forward = await hs.messages(alice, room, dir="f", **{"from": back["end"]})
    assert bodies(forward) == ["m3", "m4"]


async def test_the_to_token_bounds_the_page(hs):
    alice, bob, room = await room_with_messages(hs)
    newer = await hs.messages(alice, room, dir="b", limit=2)
    page = await hs.messages(alice, room, dir="b", to=newer["end"])
    assert bodies(page) == ["m4", "m3"]


async def test_from_a_sync_next_batch_forwards_shows_only_later_events(hs):
    alice, bob, room = await room_with_messages(hs, count=2)
    token = (await hs.sync(alice))["next_batch"]
    await hs.send(bob, room, "later")
    page = await hs.messages(alice, room, dir="f", **{"from": token})
    assert bodies(page) == ["later"]


async def test_the_filter_selects_types_and_senders(hs):
    alice, bob, room = await room_with_messages(hs, count=2)
    await hs.send(alice, room, "from alice")
    page = await hs.messages(alice, room, dir="b", filter={"types": ["m.room.message"], "senders": [alice.user_id]})
    assert bodies(page) == ["from alice"]
    page = await hs.messages(alice, room, dir="b", filter={"not_types": ["m.room.*"]})
    assert page["chunk"] == []


async def test_lazy_loading_returns_the_member_events_of_the_senders(hs):
    alice, bob, room = await room_with_messages(hs, count=2)
    page = await hs.messages(alice, room, dir="b", limit=2, filter={"lazy_load_members": True})
    assert [e["state_key"] for e in page["state"]] == [bob.user_id]
    assert_matches_spec(page, "message_pagination.yaml", "/rooms/{roomId}/messages", "get")


async def test_a_user_who_never_joined_is_forbidden(hs):
    alice, bob, room = await room_with_messages(hs)
    stranger = await hs.register()
    body = await hs.messages(stranger, room, dir="b", expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_a_room_that_does_not_exist_is_forbidden_too(hs):
    alice = await hs.register()
    await hs.messages(alice, "!nowhere:localhost", dir="b", expect=403)


async def test_a_user_who_left_reads_only_up_to_the_leave(hs):
    alice, bob, room = await room_with_messages(hs, count=1)
    await hs.leave(bob, room)
    await hs.send(alice, room, "after bob left")
    page = await hs.messages(bob, room, dir="b", limit=100)
    assert "after bob left" not in bodies(page)
    assert page["chunk"][0]["content"]["membership"] == "leave"


async def test_hostile_messages_parameters_get_4xx(hs):
    alice, bob, room = await room_with_messages(hs, count=1)
    path = f"{V3}/rooms/{quote(room)}/messages"
    cases = [
        {}, {"dir": "x"}, {"dir": "b", "limit": "-3"}, {"dir": "b", "limit": "many"},
        {"dir": "b", "from": "nonsense"}, {"dir": "f", "to": "s1_0"},
        {"dir": "b", "filter": "{"}, {"dir": "b", "filter": '{"types": "m.room.message"}'},
        {"dir": "b", "filter": "[" * 3000}, {"dir": "b", "filter": '{"a":' * 100 + "1" + "}" * 100},
        {"dir": "b", "filter": "[]"},
    ]
    for params in cases:
        response = await hs.http.get(path, params=params, headers=alice.headers)
        assert 400 <= response.status < 500, (params, response.status, await response.text())


# --- GET /event --------------------------------------------------------------------------------


async def test_an_event_is_returned_by_its_id(hs):
    alice, bob, room = await room_with_messages(hs, count=0)
    event_id = await hs.send(bob, room, "find me")
    body = await hs.request("GET", f"{V3}/rooms/{quote(room)}/event/{quote(event_id)}", alice)
    assert body["content"]["body"] == "find me"
    assert body["event_id"] == event_id
    assert_matches_spec(body, "rooms.yaml", "/rooms/{roomId}/event/{eventId}", "get")


async def test_an_unknown_event_is_not_found(hs):
    alice, bob, room = await room_with_messages(hs, count=0)
    body = await hs.request("GET", f"{V3}/rooms/{quote(room)}/event/{quote('$nope')}", alice, expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


async def test_an_event_the_user_may_not_see_is_not_found(hs):
    alice, bob, room = await room_with_messages(hs, count=0)
    event_id = await hs.send(bob, room, "private")
    stranger = await hs.register()
    await hs.request("GET", f"{V3}/rooms/{quote(room)}/event/{quote(event_id)}", stranger, expect=404)
    await hs.leave(bob, room)
    later = await hs.send(alice, room, "after bob left")
    await hs.request("GET", f"{V3}/rooms/{quote(room)}/event/{quote(later)}", bob, expect=404)


async def test_an_event_asked_for_through_another_room_is_not_found(hs):
    alice, bob, room = await room_with_messages(hs, count=0)
    other = await hs.create_room(alice)
    event_id = await hs.send(bob, room, "here")
    await hs.request("GET", f"{V3}/rooms/{quote(other)}/event/{quote(event_id)}", alice, expect=404)
