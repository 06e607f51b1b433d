"""Sending events (spec v1.19, Client-Server API "Sending events to a room"): PUT .../send and
PUT .../state, their idempotency, size limit and power levels."""

from __future__ import annotations

import dataclasses

from conftest import MatrixTestClient, quote, test_config
from spec_schemas import assert_matches_spec

V3 = "/_matrix/client/v3"


async def two_in_a_room(hs, **create):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat", **create)
    await hs.join(bob, room)
    return alice, bob, room


async def messages_in(hs, user, room):
    page = await hs.messages(user, room, dir="b", limit=100)
    return [e for e in page["chunk"] if e["type"] == "m.room.message"]


# --- PUT /send ---------------------------------------------------------------------------------


async def test_a_sent_message_answers_its_event_id_as_the_spec_describes(hs):
    alice, bob, room = await two_in_a_room(hs)
    path = f"{V3}/rooms/{quote(room)}/send/m.room.message/t1"
    body = await hs.request("PUT", path, bob, json={"msgtype": "m.text", "body": "hi"})
    assert body["event_id"].startswith("$")
    assert_matches_spec(body, "room_send.yaml", "/rooms/{roomId}/send/{eventType}/{txnId}", "put")


async def test_a_retried_send_with_the_same_txn_id_gets_the_same_event_id(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.send(bob, room, "once", txn_id="abc")
    again = await hs.send(bob, room, "once", txn_id="abc")
    assert again == first
    assert len(await messages_in(hs, alice, room)) == 1


async def test_a_txn_id_reused_with_another_body_still_gets_the_first_event_id(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.send(bob, room, "first body", txn_id="same")
    again = await hs.send(bob, room, "another body", txn_id="same")
    assert again == first
    assert [e["content"]["body"] for e in await messages_in(hs, alice, room)] == ["first body"]


async def test_the_same_txn_id_from_another_device_is_another_event(hs):
    alice, bob, room = await two_in_a_room(hs)
    login = await hs.request(
        "POST", f"{V3}/login",
        json={"type": "m.login.password", "identifier": {"type": "m.id.user", "user": bob.user_id},
              "password": bob.password},
    )
    other_device = dataclasses.replace(bob, access_token=login["access_token"], device_id=login["device_id"])
    first = await hs.send(bob, room, "from one", txn_id="t")
    second = await hs.send(other_device, room, "from two", txn_id="t")
    assert first != second


async def test_the_same_txn_id_in_another_room_is_another_event(hs):
    alice, bob, room = await two_in_a_room(hs)
    other = await hs.create_room(bob)
    assert await hs.send(bob, room, txn_id="t") != await hs.send(bob, other, txn_id="t")


async def test_a_retried_send_after_a_restart_gets_the_same_event_id(make_homeserver, tmp_path):
    config = test_config()
    config.database = dataclasses.replace(config.database, path=str(tmp_path / "hs.db"))
    hs = await make_homeserver(config)
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.send(bob, room, "before the restart", txn_id="durable")
    await hs.http.close()
    restarted: MatrixTestClient = await make_homeserver(config)
    again = await restarted.send(bob, room, "before the restart", txn_id="durable")
    assert again == first


async def test_an_event_over_64_kib_is_refused_as_too_large(hs):
    alice, bob, room = await two_in_a_room(hs)
    body = await hs.send(bob, room, "x" * 70_000, expect=413)
    assert body["errcode"] == "M_TOO_LARGE"


async def test_an_event_whose_whole_json_passes_64_kib_is_too_large_even_if_its_content_fits(hs):
    alice, bob, room = await two_in_a_room(hs)
    body = await hs.send(bob, room, "x" * 65_400, expect=413)
    assert body["errcode"] == "M_TOO_LARGE"


async def test_a_sender_not_in_the_room_is_forbidden(hs):
    alice, bob, room = await two_in_a_room(hs)
    stranger = await hs.register()
    body = await hs.send(stranger, room, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_a_sender_who_left_is_forbidden(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.leave(bob, room)
    await hs.send(bob, room, expect=403)


async def test_events_default_above_the_sender_level_forbids_messages(hs):
    alice, bob, room = await two_in_a_room(hs, power_level_content_override={"events_default": 10})
    body = await hs.send(bob, room, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"
    await hs.send(alice, room)


async def test_an_events_entry_for_the_type_overrides_events_default(hs):
    override = {"events": {"org.example.restricted": 60}}
    alice, bob, room = await two_in_a_room(hs, power_level_content_override=override)
    await hs.send(bob, room, event_type="org.example.restricted", content={}, expect=403)
    await hs.send(bob, room, event_type="org.example.open", content={})


async def test_an_unknown_event_type_is_sent_like_any_other(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.send(bob, room, event_type="com.example.anything", content={"a": [1, 2]})


async def test_hostile_send_bodies_get_4xx(hs):
    alice, bob, room = await two_in_a_room(hs)
    path = f"{V3}/rooms/{quote(room)}/send/m.room.message/"
    cases = [
        b"[1, 2]", b"not json", b'{"a": 1.5}', b'{"a": ' * 200 + b"1" + b"}" * 200,
        b'{"a": 99999999999999999999}', b'"a string"',
    ]
    for n, data in enumerate(cases):
        response = await hs.http.put(path + f"h{n}", data=data, headers=bob.headers)
        assert 400 <= response.status < 500, (data[:40], response.status)
    long_type = f"{V3}/rooms/{quote(room)}/send/{'t' * 300}/x"
    response = await hs.http.put(long_type, json={}, headers=bob.headers)
    assert response.status == 400


# --- PUT /state --------------------------------------------------------------------------------


async def test_a_state_event_is_set_and_answers_its_event_id(hs):
    alice, bob, room = await two_in_a_room(hs)
    path = f"{V3}/rooms/{quote(room)}/state/m.room.topic/"
    body = await hs.request("PUT", path, alice, json={"topic": "hello"})
    assert_matches_spec(body, "room_state.yaml", "/rooms/{roomId}/state/{eventType}/{stateKey}", "put")
    assert await hs.state(alice, room, "m.room.topic") == {"topic": "hello"}


async def test_the_form_without_a_state_key_means_the_empty_state_key(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.request("PUT", f"{V3}/rooms/{quote(room)}/state/m.room.topic", alice, json={"topic": "t"})
    assert await hs.state(alice, room, "m.room.topic", "") == {"topic": "t"}


async def test_setting_the_same_state_again_returns_the_existing_event_id(hs):
    alice, bob, room = await two_in_a_room(hs)
    first = await hs.set_state(alice, room, "m.room.topic", {"topic": "same"})
    again = await hs.set_state(alice, room, "m.room.topic", {"topic": "same"})
    assert again == first


async def test_state_default_forbids_a_user_below_it(hs):
    alice, bob, room = await two_in_a_room(hs)
    body = await hs.set_state(bob, room, "m.room.topic", {"topic": "mine"}, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_the_create_event_cannot_be_sent_again(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.set_state(alice, room, "m.room.create", {"room_version": "11"}, expect=403)


async def test_a_state_key_naming_another_user_is_forbidden(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.set_state(alice, room, "org.example.per_user", {}, state_key=bob.user_id, expect=403)
    await hs.set_state(alice, room, "org.example.per_user", {}, state_key=alice.user_id)


async def test_a_member_event_through_the_state_endpoint_follows_the_membership_rules(hs):
    alice, bob, room = await two_in_a_room(hs)
    await hs.set_state(bob, room, "m.room.member", {"membership": "join", "displayname": "Bobby"},
                       state_key=bob.user_id)
    member = await hs.state(alice, room, "m.room.member", bob.user_id)
    assert member["displayname"] == "Bobby"
    await hs.set_state(bob, room, "m.room.member", {"membership": "leave"}, state_key=alice.user_id,
                       expect=403)
    await hs.set_state(alice, room, "m.room.member", {"membership": "leave"}, state_key=bob.user_id)
    assert (await hs.state(alice, room, "m.room.member", bob.user_id))["membership"] == "leave"


async def test_a_user_cannot_give_anyone_a_level_above_its_own(hs):
    alice, bob, room = await two_in_a_room(hs, room_version="11")
    carol = await hs.register()
    levels = await hs.state(alice, room, "m.room.power_levels")
    levels["users"][bob.user_id] = 50
    levels["events"]["m.room.power_levels"] = 50  # bob may send power levels at all
    await hs.set_state(alice, room, "m.room.power_levels", levels)
    at_own_level = {**levels, "users": {**levels["users"], carol.user_id: 50}}
    await hs.set_state(bob, room, "m.room.power_levels", at_own_level)
    above = {**at_own_level, "users": {**at_own_level["users"], carol.user_id: 60}}
    body = await hs.set_state(bob, room, "m.room.power_levels", above, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_a_user_cannot_change_a_level_above_its_own(hs):
    alice, bob, room = await two_in_a_room(hs, room_version="11")
    levels = await hs.state(alice, room, "m.room.power_levels")
    levels["users"][bob.user_id] = 50
    levels["events"]["m.room.power_levels"] = 50
    await hs.set_state(alice, room, "m.room.power_levels", levels)
    demoted = {**levels, "users": {**levels["users"], alice.user_id: 0}}
    await hs.set_state(bob, room, "m.room.power_levels", demoted, expect=403)
    lowered_ban = {**levels, "ban": 40}  # ban is 50: not above bob, so bob may change it
    await hs.set_state(bob, room, "m.room.power_levels", lowered_ban)
    raised_kick = {**lowered_ban, "kick": 75}
    await hs.set_state(bob, room, "m.room.power_levels", raised_kick, expect=403)


async def test_power_levels_with_values_that_are_not_integers_are_refused(hs):
    alice, bob, room = await two_in_a_room(hs, room_version="11")
    levels = await hs.state(alice, room, "m.room.power_levels")
    for bad in ({"ban": "50"}, {"users": {"not a user": 1}}, {"events": {"x": True}}):
        body = await hs.set_state(alice, room, "m.room.power_levels", {**levels, **bad}, expect=400)
        assert body["errcode"] == "M_BAD_JSON"


async def test_in_room_version_12_creators_may_not_be_listed_in_users(hs):
    alice, bob, room = await two_in_a_room(hs, room_version="12")
    levels = await hs.state(alice, room, "m.room.power_levels")
    listed = {**levels, "users": {alice.user_id: 100}}
    await hs.set_state(alice, room, "m.room.power_levels", listed, expect=400)


async def test_hostile_state_requests_get_4xx(hs):
    alice, bob, room = await two_in_a_room(hs)
    base = f"{V3}/rooms/{quote(room)}/state"
    cases = [
        (f"{base}/m.room.topic/", b"[]"), (f"{base}/m.room.topic/", b"{"),
        (f"{base}/{'t' * 300}/", b"{}"), (f"{base}/m.room.topic/{'k' * 300}", b"{}"),
        (f"{base}/m.room.member/{quote(bob.user_id)}", b'{"membership": 5}'),
        (f"{base}/m.room.power_levels/", b'{"users": []}'),
        (f"{V3}/rooms/{quote('!nowhere:localhost')}/state/m.room.topic/", b"{}"),
    ]
    for path, data in cases:
        response = await hs.http.put(path, data=data, headers=alice.headers)
        assert 400 <= response.status < 500, (path, data, response.status, await response.text())


async def test_sending_to_a_room_that_does_not_exist_is_forbidden(hs):
    alice = await hs.register()
    body = await hs.send(alice, "!nowhere:localhost", expect=403)
    assert body["errcode"] == "M_FORBIDDEN"
    await hs.set_state(alice, "!nowhere:localhost", "m.room.topic", {"topic": "x"}, expect=403)
