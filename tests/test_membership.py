"""Membership endpoints: join, invite, leave, kick, ban, unban (spec v1.19, Client-Server API
"Room membership"), and the m.room.member authorization rules they apply (room versions 10-12,
"Authorization rules" > m.room.member).
"""

from __future__ import annotations

import random

import pytest

from conftest import quote
from joined_pairs import index_pairs, stored_joined_pairs

V3 = "/_matrix/client/v3"


async def event_count(hs) -> int:
    return await hs.homeserver.db.read(
        lambda conn: conn.execute("SELECT count(*) FROM events").fetchone()[0]
    )


async def member(hs, viewer, room, user) -> dict:
    return await hs.state(viewer, room, "m.room.member", user.user_id)


async def membership(hs, viewer, room, user) -> str:
    return (await member(hs, viewer, room, user))["membership"]


def assert_error(body, errcode="M_FORBIDDEN"):
    assert body["errcode"] == errcode, body
    assert isinstance(body["error"], str)


async def moderated_room(hs, preset="public_chat", version="12", **levels):
    """A room made by `owner`, with `mod` at power 50 and `user` a plain member, all joined."""
    owner, mod, user = await hs.register(), await hs.register(), await hs.register()
    users = {mod.user_id: 50}
    if version != "12":
        users[owner.user_id] = 100
    room = await hs.create_room(
        owner,
        preset=preset,
        room_version=version,
        invite=[] if preset == "public_chat" else [mod.user_id, user.user_id],
        power_level_content_override={"users": users, **levels},
    )
    await hs.join(mod, room)
    await hs.join(user, room)
    return room, owner, mod, user


# --- joining -----------------------------------------------------------------------------------


async def test_anyone_can_join_a_public_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    assert await hs.join(bob, room) == {"room_id": room}
    assert await membership(hs, alice, room, bob) == "join"
    assert await hs.joined_rooms(bob) == [room]


async def test_rooms_room_id_join_endpoint_joins_too(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    body = await hs.request("POST", f"{V3}/rooms/{quote(room)}/join", bob, json={})
    assert body == {"room_id": room}
    assert await membership(hs, alice, room, bob) == "join"


async def test_join_accepts_an_empty_body(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    body = await hs.request("POST", f"{V3}/join/{quote(room)}", bob, data=b"")
    assert body == {"room_id": room}


async def test_join_by_alias_answers_with_the_room_id(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat", room_alias_name="hall")
    assert await hs.join(bob, f"#hall:{hs.server_name}") == {"room_id": room}
    assert await hs.joined_rooms(bob) == [room]


async def test_join_invite_only_room_without_invite_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="private_chat")
    assert_error(await hs.join(bob, room, expect=403))
    assert await hs.joined_rooms(bob) == []


async def test_join_invite_only_room_with_invite_succeeds(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="private_chat")
    await hs.invite(alice, room, bob)
    await hs.join(bob, room)
    assert await membership(hs, alice, room, bob) == "join"


async def test_banned_user_cannot_join_a_public_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ban(alice, room, bob)
    assert_error(await hs.join(bob, room, expect=403))
    assert await membership(hs, alice, room, bob) == "ban"


async def test_join_when_already_joined_is_200_and_records_nothing(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    before = await event_count(hs)
    assert await hs.join(bob, room) == {"room_id": room}
    assert await event_count(hs) == before
    assert await membership(hs, alice, room, bob) == "join"


async def test_creator_joining_again_is_harmless(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, preset="private_chat")
    await hs.join(alice, room)
    assert await hs.joined_rooms(alice) == [room]


async def test_join_unknown_room_is_404_not_found(hs):
    alice = await hs.register()
    assert_error(await hs.join(alice, "!nosuchroom:localhost", expect=404), "M_NOT_FOUND")
    assert_error(await hs.join(alice, "!" + "A" * 43, expect=404), "M_NOT_FOUND")


async def test_rooms_room_id_join_of_unknown_room_is_404_not_found(hs):
    alice = await hs.register()
    body = await hs.request(
        "POST", f"{V3}/rooms/{quote('!nope:localhost')}/join", alice, json={}, expect=404
    )
    assert_error(body, "M_NOT_FOUND")


async def test_join_unknown_alias_is_404_not_found(hs):
    alice = await hs.register()
    assert_error(await hs.join(alice, f"#nowhere:{hs.server_name}", expect=404), "M_NOT_FOUND")


async def test_join_something_that_is_neither_room_id_nor_alias_is_400(hs):
    alice = await hs.register()
    await hs.join(alice, "lobby", expect=400)


async def test_join_body_keys_go_into_the_member_event_content(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room, reason="hi", displayname="Bob", **{"org.example.tag": {"x": [1]}})
    assert await member(hs, alice, room, bob) == {
        "membership": "join",
        "reason": "hi",
        "displayname": "Bob",
        "org.example.tag": {"x": [1]},
    }


async def test_rooms_room_id_join_puts_body_keys_into_the_content_too(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.request(
        "POST", f"{V3}/rooms/{quote(room)}/join", bob, json={"reason": "r", "custom": 1}
    )
    assert await member(hs, alice, room, bob) == {
        "membership": "join", "reason": "r", "custom": 1,
        "displayname": bob.user_id[1:].split(":")[0],  # the join carries bob's profile
    }


async def test_join_body_cannot_change_the_membership(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room, membership="ban")
    assert await membership(hs, alice, room, bob) == "join"


async def test_joining_again_with_new_content_records_it(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.join(bob, room, displayname="Robert")
    assert (await member(hs, alice, room, bob))["displayname"] == "Robert"


async def test_join_reason_that_is_not_a_string_is_400_bad_json(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    assert_error(await hs.join(bob, room, expect=400, reason=5), "M_BAD_JSON")
    assert await hs.joined_rooms(bob) == []


async def test_join_body_with_floats_is_400_bad_json(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    assert_error(await hs.join(bob, room, expect=400, weight=0.5), "M_BAD_JSON")


async def test_join_body_over_65536_bytes_of_content_is_413(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    assert_error(await hs.join(bob, room, expect=413, blob="x" * 66000), "M_TOO_LARGE")
    assert await hs.joined_rooms(bob) == []


async def test_join_body_that_is_not_an_object_is_400(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    body = await hs.request("POST", f"{V3}/join/{quote(room)}", bob, json=[1], expect=400)
    assert_error(body, "M_BAD_JSON")


@pytest.mark.parametrize("rule", ["knock", "restricted", "knock_restricted"])
async def test_invite_like_join_rules_admit_invited_users_only(hs, rule):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(
        alice, initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": rule}}]
    )
    assert_error(await hs.join(carol, room, expect=403))
    await hs.invite(alice, room, bob)
    await hs.join(bob, room)


async def test_unknown_join_rule_admits_nobody_not_even_the_invited(hs):
    # Auth rules, join: after public / invite / knock / restricted: "Otherwise, reject."
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(
        alice, initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "private"}}]
    )
    await hs.invite(alice, room, bob)
    assert_error(await hs.join(bob, room, expect=403))


async def test_join_rule_that_is_not_a_string_admits_nobody(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(
        alice, initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": 5}}]
    )
    await hs.invite(alice, room, bob)
    assert_error(await hs.join(bob, room, expect=403))


async def test_join_rules_event_without_join_rule_means_invite(hs):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(alice, initial_state=[{"type": "m.room.join_rules", "content": {}}])
    assert_error(await hs.join(carol, room, expect=403))
    await hs.invite(alice, room, bob)
    await hs.join(bob, room)


# --- inviting ----------------------------------------------------------------------------------


async def test_invite_sets_the_targets_membership_to_invite(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice)
    assert await hs.invite(alice, room, bob, reason="come") == {}
    assert await member(hs, alice, room, bob) == {"membership": "invite", "reason": "come"}


async def test_inviter_must_be_joined(hs):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    body = await hs.invite(bob, room, carol, expect=403)
    assert body["error"] == f"{bob.user_id} not in room {room}."


async def test_invited_but_not_joined_user_cannot_invite(hs):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(alice, invite=[bob.user_id])
    assert_error(await hs.invite(bob, room, carol, expect=403))


async def test_inviter_needs_the_invite_power_level(hs):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")  # invite level 50
    await hs.join(bob, room)
    assert_error(await hs.invite(bob, room, carol, expect=403))
    await hs.state(alice, room, "m.room.member", carol.user_id, expect=404)


async def test_member_at_the_invite_level_can_invite(hs):
    room, owner, mod, user = await moderated_room(hs)
    carol = await hs.register()
    await hs.invite(mod, room, carol)
    assert await membership(hs, owner, room, carol) == "invite"


async def test_any_member_can_invite_in_a_private_chat(hs):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="private_chat", invite=[bob.user_id])
    await hs.join(bob, room)
    await hs.invite(bob, room, carol)


async def test_inviting_yourself_is_403(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    assert_error(await hs.invite(alice, room, alice, expect=403))


async def test_inviting_a_joined_user_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    assert_error(await hs.invite(alice, room, bob, expect=403))
    assert await membership(hs, alice, room, bob) == "join"


async def test_inviting_a_banned_user_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice)
    await hs.ban(alice, room, bob)
    assert_error(await hs.invite(alice, room, bob, expect=403))
    assert await membership(hs, alice, room, bob) == "ban"


async def test_inviting_an_invited_user_again_is_200_and_records_nothing(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice)
    await hs.invite(alice, room, bob)
    before = await event_count(hs)
    await hs.invite(alice, room, bob)
    assert await event_count(hs) == before


@pytest.mark.parametrize(
    "target", ["bob", "@bob", "@:localhost", "@bob:", "@b b:localhost", "@bob:bad host"]
)
async def test_malformed_invitee_is_400(hs, target):
    alice = await hs.register()
    room = await hs.create_room(alice)
    assert_error(await hs.invite(alice, room, target, expect=400), "M_INVALID_PARAM")


async def test_invite_without_user_id_is_400_missing_param(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    assert_error(await hs.invite(alice, room, None, expect=400), "M_MISSING_PARAM")


async def test_invite_with_non_string_user_id_is_400_bad_json(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    assert_error(await hs.invite(alice, room, None, expect=400, user_id=5), "M_BAD_JSON")


async def test_invite_into_unknown_room_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    assert_error(await hs.invite(alice, "!unknown:localhost", bob, expect=403), "M_FORBIDDEN")


# --- leaving -----------------------------------------------------------------------------------


async def test_leave_leaves_the_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    assert await hs.leave(bob, room, reason="bye") == {}
    assert await member(hs, alice, room, bob) == {"membership": "leave", "reason": "bye"}
    assert await hs.joined_rooms(bob) == []


async def test_leave_rejects_a_pending_invite(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, invite=[bob.user_id])
    await hs.leave(bob, room)
    event = await hs.request(
        "GET",
        f"{V3}/rooms/{quote(room)}/state/m.room.member/{quote(bob.user_id)}",
        alice,
        params={"format": "event"},
    )
    assert event["content"] == {"membership": "leave"} and event["sender"] == bob.user_id
    assert_error(await hs.join(bob, room, expect=403))


async def test_reinvite_after_leave_lets_the_user_back_in(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, invite=[bob.user_id])
    await hs.join(bob, room)
    await hs.leave(bob, room)
    assert_error(await hs.join(bob, room, expect=403))
    await hs.invite(alice, room, bob)
    await hs.join(bob, room)
    assert await hs.joined_rooms(bob) == [room]


async def test_reinvite_after_rejected_invite_works(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, invite=[bob.user_id])
    await hs.leave(bob, room)
    await hs.invite(alice, room, bob)
    assert await membership(hs, alice, room, bob) == "invite"


async def test_leave_when_not_in_room_is_403_naming_user_and_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    body = await hs.leave(bob, room, expect=403)
    assert body == {"errcode": "M_FORBIDDEN", "error": f"{bob.user_id} not in room {room}."}


async def test_leave_twice_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.leave(bob, room)
    assert_error(await hs.leave(bob, room, expect=403))


async def test_banned_user_cannot_leave_to_lift_the_ban(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.ban(alice, room, bob)
    assert_error(await hs.leave(bob, room, expect=403))
    assert await membership(hs, alice, room, bob) == "ban"


async def test_leave_unknown_room_is_403_forbidden(hs):
    alice = await hs.register()
    assert_error(await hs.leave(alice, "!missing:localhost", expect=403), "M_FORBIDDEN")
    assert_error(await hs.leave(alice, "!" + "B" * 43, expect=403), "M_FORBIDDEN")


async def test_creator_can_leave_and_the_room_goes_on(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.leave(alice, room)
    assert await membership(hs, bob, room, alice) == "leave"


# --- kicking -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["10", "11", "12"])
async def test_creator_can_kick_a_member(hs, version):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat", room_version=version)
    await hs.join(bob, room)
    assert await hs.kick(alice, room, bob, reason="out") == {}
    event = await hs.request(
        "GET",
        f"{V3}/rooms/{quote(room)}/state/m.room.member/{quote(bob.user_id)}",
        alice,
        params={"format": "event"},
    )
    assert event["content"] == {"membership": "leave", "reason": "out"}
    assert event["sender"] == alice.user_id
    assert await hs.joined_rooms(bob) == []


async def test_kicked_user_can_rejoin_a_public_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.kick(alice, room, bob)
    await hs.join(bob, room)


async def test_kick_needs_the_kick_level(hs):
    room, owner, mod, user = await moderated_room(hs)
    assert_error(await hs.kick(user, room, mod, expect=403))
    assert await membership(hs, owner, room, mod) == "join"


async def three_level_room(hs, version="11"):
    """A public room where owner has 100 and both mods 50, all joined."""
    owner, mod, peer = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(
        owner,
        preset="public_chat",
        room_version=version,
        power_level_content_override={
            "users": {owner.user_id: 100, mod.user_id: 50, peer.user_id: 50}
        },
    )
    await hs.join(mod, room)
    await hs.join(peer, room)
    return room, owner, mod, peer


async def test_kick_needs_more_power_than_the_target(hs):
    room, owner, mod, peer = await three_level_room(hs)
    assert_error(await hs.kick(mod, room, peer, expect=403))  # equal power
    assert_error(await hs.kick(mod, room, owner, expect=403))  # higher power
    await hs.kick(owner, room, mod)


async def test_moderator_can_kick_a_lower_member(hs):
    room, owner, mod, user = await moderated_room(hs)
    await hs.kick(mod, room, user)
    assert await membership(hs, owner, room, user) == "leave"


async def test_kick_by_a_non_member_is_403(hs):
    room, owner, mod, user = await moderated_room(hs)
    await hs.leave(mod, room)
    assert_error(await hs.kick(mod, room, user, expect=403))


async def test_kicking_a_user_not_in_the_room_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    assert_error(await hs.kick(alice, room, bob, expect=403))


async def test_kick_withdraws_an_invite(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, invite=[bob.user_id])
    await hs.kick(alice, room, bob)
    assert await membership(hs, alice, room, bob) == "leave"
    assert_error(await hs.join(bob, room, expect=403))


async def test_kick_level_from_power_levels_applies(hs):
    room, owner, mod, user = await moderated_room(hs, kick=60)
    assert_error(await hs.kick(mod, room, user, expect=403))


async def test_v12_creator_cannot_be_kicked_even_by_a_power_100_user(hs):
    alice, admin = await hs.register(), await hs.register()
    room = await hs.create_room(
        alice,
        preset="public_chat",
        room_version="12",
        power_level_content_override={"users": {admin.user_id: 100}},
    )
    await hs.join(admin, room)
    assert_error(await hs.kick(admin, room, alice, expect=403))
    assert_error(await hs.ban(admin, room, alice, expect=403))
    assert await membership(hs, admin, room, alice) == "join"


async def test_v12_creator_can_kick_a_power_100_user(hs):
    alice, admin = await hs.register(), await hs.register()
    room = await hs.create_room(
        alice,
        preset="public_chat",
        room_version="12",
        power_level_content_override={"users": {admin.user_id: 100}},
    )
    await hs.join(admin, room)
    await hs.kick(alice, room, admin)


async def test_v12_additional_creators_cannot_kick_or_ban_each_other(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="trusted_private_chat", invite=[bob.user_id])
    await hs.join(bob, room)
    assert_error(await hs.kick(alice, room, bob, expect=403))
    assert_error(await hs.kick(bob, room, alice, expect=403))
    assert_error(await hs.ban(alice, room, bob, expect=403))
    assert await membership(hs, alice, room, bob) == "join"


async def test_v11_power_100_users_cannot_kick_each_other(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(
        alice, preset="trusted_private_chat", invite=[bob.user_id], room_version="11"
    )
    await hs.join(bob, room)
    assert_error(await hs.kick(bob, room, alice, expect=403))
    assert_error(await hs.kick(alice, room, bob, expect=403))


async def test_kick_with_malformed_user_id_is_400(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    assert_error(await hs.kick(alice, room, "nobody", expect=400), "M_INVALID_PARAM")


# --- banning -----------------------------------------------------------------------------------


async def test_ban_sets_membership_ban_and_removes_from_joined_rooms(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    assert await hs.ban(alice, room, bob, reason="spam") == {}
    assert await member(hs, alice, room, bob) == {"membership": "ban", "reason": "spam"}
    assert await hs.joined_rooms(bob) == []


async def test_ban_then_join_is_refused(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.ban(alice, room, bob)
    body = await hs.join(bob, room, expect=403)
    assert_error(body)
    assert await hs.joined_rooms(bob) == []


async def test_a_user_never_in_the_room_can_be_banned(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ban(alice, room, bob)
    assert_error(await hs.join(bob, room, expect=403))


async def test_ban_needs_the_ban_level(hs):
    room, owner, mod, user = await moderated_room(hs)
    outsider = await hs.register()
    assert_error(await hs.ban(user, room, outsider, expect=403))
    await hs.ban(mod, room, outsider)


async def test_ban_needs_more_power_than_the_target(hs):
    room, owner, mod, user = await moderated_room(hs, version="10")
    assert_error(await hs.ban(mod, room, owner, expect=403))


async def test_ban_by_a_non_member_is_403(hs):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    assert_error(await hs.ban(bob, room, carol, expect=403))


async def test_banning_yourself_is_403(hs):
    room, owner, mod, user = await moderated_room(hs)
    assert_error(await hs.ban(mod, room, mod, expect=403))


async def test_ban_in_unknown_room_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    assert_error(await hs.ban(alice, "!none:localhost", bob, expect=403), "M_FORBIDDEN")


# --- unbanning ---------------------------------------------------------------------------------


async def test_unban_sets_membership_leave(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ban(alice, room, bob)
    assert await hs.unban(alice, room, bob) == {}
    assert await membership(hs, alice, room, bob) == "leave"


async def test_unban_then_join_is_allowed_in_a_public_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.ban(alice, room, bob)
    await hs.unban(alice, room, bob)
    await hs.join(bob, room)
    assert await hs.joined_rooms(bob) == [room]


async def test_unbanned_user_still_needs_an_invite_to_a_private_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="private_chat")
    await hs.ban(alice, room, bob)
    await hs.unban(alice, room, bob)
    assert_error(await hs.join(bob, room, expect=403))


async def test_unban_needs_the_ban_level(hs):
    room, owner, mod, user = await moderated_room(hs)
    outsider = await hs.register()
    await hs.ban(owner, room, outsider)
    assert_error(await hs.unban(user, room, outsider, expect=403))
    assert await membership(hs, owner, room, outsider) == "ban"


async def test_unban_also_needs_the_kick_level(hs):
    # An unban is a leave over a ban: the leave rule needs the kick level as well.
    room, owner, mod, user = await moderated_room(hs, kick=75)
    outsider = await hs.register()
    await hs.ban(mod, room, outsider)
    assert_error(await hs.unban(mod, room, outsider, expect=403))
    await hs.unban(owner, room, outsider)


async def test_unban_needs_more_power_than_the_target(hs):
    # A banned user who keeps power 50 cannot be unbanned by a power 50 moderator.
    room, owner, mod, peer = await three_level_room(hs)
    await hs.ban(owner, room, peer)
    assert_error(await hs.unban(mod, room, peer, expect=403))
    await hs.unban(owner, room, peer)


async def test_unban_of_a_user_who_is_not_banned_is_403(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    assert_error(await hs.unban(alice, room, bob, expect=403))
    assert await membership(hs, alice, room, bob) == "join"


async def test_moderation_without_user_id_is_400_missing_param(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    for action in (hs.kick, hs.ban, hs.unban):
        assert_error(await action(alice, room, None, expect=400), "M_MISSING_PARAM")


async def test_membership_endpoints_need_an_access_token(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    for path in (f"join/{quote(room)}", f"rooms/{quote(room)}/leave", f"rooms/{quote(room)}/invite"):
        body = await hs.request("POST", f"{V3}/{path}", json={}, expect=401)
        assert_error(body, "M_MISSING_TOKEN")


HOSTILE_VALUES = [
    None, True, 0, 1.5, "", "x", "\u0000", "@a:localhost", "@a", [], ["@a:localhost"], {},
    {"a": [1, {"b": None}]}, "a" * 300,
]


async def test_hostile_membership_requests_never_get_a_server_error(hs):
    rng = random.Random(5)
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    targets = [room, "!x", "!" + "A" * 43, "#a:localhost", "#a", "nonsense", "!\u00e9:x", "%"]
    actions = ["join", "leave", "invite", "kick", "ban", "unban"]
    failures = []
    for _ in range(150):
        user = rng.choice([alice, bob])
        keys = rng.sample(["user_id", "reason", "membership", "third_party_signed", "custom"], 3)
        body = {key: rng.choice(HOSTILE_VALUES) for key in keys[: rng.randint(0, 3)]}
        target = quote(rng.choice(targets))
        for path in (f"rooms/{target}/{rng.choice(actions)}", f"join/{target}"):
            response = await hs.http.post(f"{V3}/{path}", json=body, headers=user.headers)
            if response.status >= 500:
                failures.append((path, body, response.status, await response.text()))
    assert failures == []
    assert index_pairs(hs.homeserver.joined_rooms) == await stored_joined_pairs(hs.homeserver.db)


# --- issue 13: answers the official OpenAPI documents ----------------------------------------------


@pytest.mark.parametrize("action", ["invite", "kick", "ban", "unban", "leave"])
async def test_membership_change_in_an_unknown_room_answers_as_for_a_room_you_are_not_in(hs, action):
    """Spec: these endpoints document 403 (leave none); one answer for both does not leak
    whether a room exists."""
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(bob, preset="private_chat")
    unknown = "!unknownroomabcdefg:" + hs.server_name
    body = {} if action == "leave" else {"user_id": bob.user_id}

    async def change(room_id):
        path = f"{V3}/rooms/{quote(room_id)}/{action}"
        return await hs.request("POST", path, alice, json=body, expect=403)

    not_in, missing = await change(room), await change(unknown)
    assert not_in == {"errcode": "M_FORBIDDEN", "error": f"{alice.user_id} not in room {room}."}
    assert missing == {"errcode": "M_FORBIDDEN", "error": f"{alice.user_id} not in room {unknown}."}


GOOD_THIRD_PARTY_SIGNED = {
    "sender": "@alice:example.org",
    "mxid": "@bob:example.org",
    "token": "random8nonce",
    "signatures": {"example.org": {"ed25519:0": "some9signature"}},
}


@pytest.mark.parametrize(
    "signed",
    [
        "a string",
        [],
        {},
        {**GOOD_THIRD_PARTY_SIGNED, "token": 5},
        {**GOOD_THIRD_PARTY_SIGNED, "mxid": "bob"},
        {k: v for k, v in GOOD_THIRD_PARTY_SIGNED.items() if k != "signatures"},
        {**GOOD_THIRD_PARTY_SIGNED, "signatures": {"example.org": "sig"}},
        {**GOOD_THIRD_PARTY_SIGNED, "signatures": {"example.org": {"ed25519:0": 1}}},
    ],
)
async def test_join_with_a_malformed_third_party_signed_is_400_bad_json(hs, signed):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    assert_error(await hs.join(bob, room, expect=400, third_party_signed=signed), "M_BAD_JSON")
    assert await hs.joined_rooms(bob) == []


async def test_join_with_a_well_formed_third_party_signed_joins_without_it_in_the_event(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room, third_party_signed=GOOD_THIRD_PARTY_SIGNED)
    assert "third_party_signed" not in await member(hs, alice, room, bob)
