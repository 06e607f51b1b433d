"""POST /_matrix/client/v3/createRoom (spec v1.19, Client-Server API "Rooms" > "Creation").

Each test checks one sentence of the endpoint's description or one error it lists; defaults the
spec leaves open follow Synapse (the power levels content).
"""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from joined_pairs import index_pairs, stored_joined_pairs

CREATE = "/_matrix/client/v3/createRoom"


async def room_events(hs, room_id: str) -> list[dict]:
    """The room's events as stored, in order."""
    rows = await hs.homeserver.db.read(
        lambda conn: conn.execute(
            "SELECT e.json FROM events e JOIN rooms r ON r.room_nid = e.room_nid "
            "WHERE r.room_id = ? ORDER BY e.stream_ordering",
            (room_id,),
        ).fetchall()
    )
    return [json.loads(text) for (text,) in rows]


async def room_count(hs) -> int:
    return await hs.homeserver.db.read(
        lambda conn: conn.execute("SELECT count(*) FROM rooms").fetchone()[0]
    )


async def create_error(hs, user, status: int, errcode: str, **body) -> dict:
    error = await hs.create_room(user, expect=status, **body)
    assert error["errcode"] == errcode, error
    return error


# --- presets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "preset, join_rule, guest_access, invite_level",
    [
        ("private_chat", "invite", "can_join", 0),
        ("trusted_private_chat", "invite", "can_join", 0),
        ("public_chat", "public", "forbidden", 50),
    ],
)
async def test_preset_sets_join_rules_history_visibility_and_guest_access(
    hs, preset, join_rule, guest_access, invite_level
):
    alice = await hs.register()
    room = await hs.create_room(alice, preset=preset)
    assert await hs.state(alice, room, "m.room.join_rules") == {"join_rule": join_rule}
    assert await hs.state(alice, room, "m.room.history_visibility") == {
        "history_visibility": "shared"
    }
    assert await hs.state(alice, room, "m.room.guest_access") == {"guest_access": guest_access}
    assert (await hs.state(alice, room, "m.room.power_levels"))["invite"] == invite_level


async def test_trusted_private_chat_gives_invitees_the_creators_power_before_v12(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(
        alice, preset="trusted_private_chat", invite=[bob.user_id], room_version="11"
    )
    users = (await hs.state(alice, room, "m.room.power_levels"))["users"]
    assert users == {alice.user_id: 100, bob.user_id: 100}


async def test_trusted_private_chat_makes_invitees_additional_creators_in_v12(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="trusted_private_chat", invite=[bob.user_id])
    create = await hs.state(alice, room, "m.room.create")
    assert create["additional_creators"] == [bob.user_id]
    assert (await hs.state(alice, room, "m.room.power_levels"))["users"] == {}


async def test_trusted_private_chat_merges_invitees_into_requested_additional_creators(hs):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(
        alice,
        preset="trusted_private_chat",
        invite=[bob.user_id, carol.user_id],
        creation_content={"additional_creators": [carol.user_id]},
    )
    create = await hs.state(alice, room, "m.room.create")
    assert sorted(create["additional_creators"]) == sorted([bob.user_id, carol.user_id])


async def test_private_chat_does_not_make_invitees_creators(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="private_chat", invite=[bob.user_id])
    assert "additional_creators" not in await hs.state(alice, room, "m.room.create")


async def test_visibility_public_defaults_to_the_public_chat_preset(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, visibility="public")
    assert await hs.state(alice, room, "m.room.join_rules") == {"join_rule": "public"}


async def test_visibility_private_defaults_to_the_private_chat_preset(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, visibility="private")
    assert await hs.state(alice, room, "m.room.join_rules") == {"join_rule": "invite"}


async def test_no_visibility_means_private(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    assert await hs.state(alice, room, "m.room.join_rules") == {"join_rule": "invite"}


async def test_an_explicit_preset_wins_over_visibility(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, visibility="public", preset="private_chat")
    assert await hs.state(alice, room, "m.room.join_rules") == {"join_rule": "invite"}


async def test_unknown_preset_is_400_bad_json(hs):
    alice = await hs.register()
    await create_error(hs, alice, 400, "M_BAD_JSON", preset="secret_chat")


async def test_unknown_visibility_is_400_bad_json(hs):
    alice = await hs.register()
    await create_error(hs, alice, 400, "M_BAD_JSON", visibility="hidden")


# --- the initial events ----------------------------------------------------------------------


async def test_initial_events_come_in_the_order_the_spec_lists(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(
        alice,
        preset="private_chat",
        room_alias_name="ordered",
        name="Name",
        topic="Topic",
        invite=[bob.user_id],
        initial_state=[{"type": "org.example.custom", "state_key": "k", "content": {"a": 1}}],
    )
    order = [(e["type"], e.get("state_key")) for e in await room_events(hs, room)]
    assert order == [
        ("m.room.create", ""),
        ("m.room.member", alice.user_id),
        ("m.room.power_levels", ""),
        ("m.room.canonical_alias", ""),
        ("m.room.join_rules", ""),
        ("m.room.history_visibility", ""),
        ("m.room.guest_access", ""),
        ("org.example.custom", "k"),
        ("m.room.name", ""),
        ("m.room.topic", ""),
        ("m.room.member", bob.user_id),
    ]


async def test_every_initial_event_is_sent_by_the_creator(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, invite=[bob.user_id], name="n")
    assert {e["sender"] for e in await room_events(hs, room)} == {alice.user_id}


async def test_creator_is_joined(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    # The join carries the creator's profile: registration gave them their localpart as name.
    assert await hs.state(alice, room, "m.room.member", alice.user_id) == {
        "membership": "join", "displayname": alice.user_id[1:].split(":")[0],
    }
    assert await hs.joined_rooms(alice) == [room]


async def test_response_is_only_the_room_id(hs):
    alice = await hs.register()
    body = await hs.request("POST", CREATE, alice, json={})
    assert list(body) == ["room_id"]


async def test_default_power_levels_follow_synapse_before_v12(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, room_version="11", preset="public_chat")
    assert await hs.state(alice, room, "m.room.power_levels") == {
        "users": {alice.user_id: 100},
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 50,
        "historical": 100,
    }


async def test_v12_creator_is_not_listed_in_power_levels_users(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, room_version="12")
    levels = await hs.state(alice, room, "m.room.power_levels")
    assert levels["users"] == {}


async def test_v12_tombstone_level_is_above_state_default(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, room_version="12")
    levels = await hs.state(alice, room, "m.room.power_levels")
    assert levels["events"]["m.room.tombstone"] == 150 > levels["state_default"]


async def test_v12_override_listing_a_creator_leaves_the_creator_out_of_users(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(
        alice,
        room_version="12",
        power_level_content_override={"users": {alice.user_id: 100, bob.user_id: 50}},
    )
    assert (await hs.state(alice, room, "m.room.power_levels"))["users"] == {bob.user_id: 50}


async def test_name_sets_m_room_name(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, name="The room")
    assert await hs.state(alice, room, "m.room.name") == {"name": "The room"}


async def test_topic_sets_m_room_topic_with_m_topic(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, topic="About")
    content = await hs.state(alice, room, "m.room.topic")
    assert content["topic"] == "About"
    assert content["m.topic"]["m.text"][0]["body"] == "About"


async def test_room_alias_name_sets_canonical_alias_and_the_directory_entry(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, room_alias_name="lobby")
    alias = f"#lobby:{hs.server_name}"
    assert await hs.state(alice, room, "m.room.canonical_alias") == {"alias": alias}
    body = await hs.request("GET", f"/_matrix/client/v3/directory/room/%23lobby:{hs.server_name}")
    assert body == {"room_id": room, "servers": [hs.server_name]}


async def test_invite_invites_each_user(hs):
    alice, bob, carol = await hs.register(), await hs.register(), await hs.register()
    room = await hs.create_room(alice, invite=[bob.user_id, carol.user_id])
    for user in (bob, carol):
        assert await hs.state(alice, room, "m.room.member", user.user_id) == {
            "membership": "invite"
        }


async def test_is_direct_marks_the_invites(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, invite=[bob.user_id], is_direct=True)
    assert await hs.state(alice, room, "m.room.member", bob.user_id) == {
        "membership": "invite",
        "is_direct": True,
    }


async def test_invitees_can_join_a_private_room(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, invite=[bob.user_id])
    await hs.join(bob, room)
    assert await hs.joined_rooms(bob) == [room]


async def test_initial_state_is_sent(hs):
    alice = await hs.register()
    room = await hs.create_room(
        alice,
        initial_state=[
            {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
            {"type": "org.example.k", "state_key": "x", "content": {"v": [1, "two", None]}},
        ],
    )
    assert await hs.state(alice, room, "m.room.encryption") == {
        "algorithm": "m.megolm.v1.aes-sha2"
    }
    assert await hs.state(alice, room, "org.example.k", "x") == {"v": [1, "two", None]}


async def test_initial_state_takes_precedence_over_the_preset(hs):
    alice = await hs.register()
    room = await hs.create_room(
        alice,
        preset="private_chat",
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "public"}}],
    )
    assert await hs.state(alice, room, "m.room.join_rules") == {"join_rule": "public"}
    types = [e["type"] for e in await room_events(hs, room)]
    assert types.count("m.room.join_rules") == 1


async def test_name_and_topic_override_initial_state(hs):
    alice = await hs.register()
    room = await hs.create_room(
        alice,
        name="from name",
        topic="from topic",
        initial_state=[
            {"type": "m.room.name", "content": {"name": "from initial_state"}},
            {"type": "m.room.topic", "content": {"topic": "from initial_state"}},
        ],
    )
    assert await hs.state(alice, room, "m.room.name") == {"name": "from name"}
    assert (await hs.state(alice, room, "m.room.topic"))["topic"] == "from topic"


async def test_initial_state_power_levels_replace_the_defaults(hs):
    alice = await hs.register()
    levels = {"users": {alice.user_id: 100}, "state_default": 10, "invite": 7}
    room = await hs.create_room(
        alice,
        room_version="11",
        initial_state=[{"type": "m.room.power_levels", "content": levels}],
        power_level_content_override={"invite": 99},
    )
    assert await hs.state(alice, room, "m.room.power_levels") == levels


async def test_creation_content_goes_into_the_create_event(hs):
    alice = await hs.register()
    room = await hs.create_room(
        alice, creation_content={"m.federate": False, "type": "m.space", "org.example": [1]}
    )
    content = await hs.state(alice, room, "m.room.create")
    assert content["m.federate"] is False
    assert content["type"] == "m.space"
    assert content["org.example"] == [1]


async def test_room_version_inside_creation_content_is_ignored(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, room_version="11", creation_content={"room_version": "10"})
    assert (await hs.state(alice, room, "m.room.create"))["room_version"] == "11"


async def test_creator_inside_creation_content_is_overwritten(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, room_version="10", creation_content={"creator": bob.user_id})
    assert (await hs.state(alice, room, "m.room.create"))["creator"] == alice.user_id


async def test_power_level_content_override_is_applied_on_top_of_the_defaults(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(
        alice,
        room_version="11",
        power_level_content_override={
            "users": {alice.user_id: 100, bob.user_id: 50},
            "kick": 75,
        },
    )
    levels = await hs.state(alice, room, "m.room.power_levels")
    assert levels["users"] == {alice.user_id: 100, bob.user_id: 50}
    assert levels["kick"] == 75
    assert levels["ban"] == 50 and levels["events"]["m.room.power_levels"] == 100


# --- room versions ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["10", "11", "12"])
async def test_each_supported_room_version_can_be_created(hs, version):
    alice = await hs.register()
    room = await hs.create_room(alice, room_version=version)
    assert (await hs.state(alice, room, "m.room.create"))["room_version"] == version


async def test_default_room_version_is_12(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    assert (await hs.state(alice, room, "m.room.create"))["room_version"] == "12"


async def test_default_room_version_is_configurable(make_homeserver):
    hs = await make_homeserver(rooms={"default_room_version": "11"})
    alice = await hs.register()
    room = await hs.create_room(alice)
    assert (await hs.state(alice, room, "m.room.create"))["room_version"] == "11"
    assert room.endswith(":" + hs.server_name)


@pytest.mark.parametrize("value", [12, 12.0, ["12"], {"v": "12"}, True])
async def test_room_version_that_is_not_a_string_is_400_bad_json(hs, value):
    alice = await hs.register()
    await create_error(hs, alice, 400, "M_BAD_JSON", room_version=value)


@pytest.mark.parametrize("value", ["9", "13", "", "org.example.v1", " 12"])
async def test_unknown_room_version_is_400_unsupported_room_version(hs, value):
    alice = await hs.register()
    await create_error(hs, alice, 400, "M_UNSUPPORTED_ROOM_VERSION", room_version=value)


# --- aliases ---------------------------------------------------------------------------------


async def test_alias_taken_is_400_room_in_use(hs):
    alice, bob = await hs.register(), await hs.register()
    first = await hs.create_room(alice, room_alias_name="taken")
    await create_error(hs, bob, 400, "M_ROOM_IN_USE", room_alias_name="taken")
    body = await hs.request("GET", f"/_matrix/client/v3/directory/room/%23taken:{hs.server_name}")
    assert body["room_id"] == first


async def test_alias_taken_leaves_no_room_behind(hs):
    alice = await hs.register()
    await hs.create_room(alice, room_alias_name="once")
    await create_error(hs, alice, 400, "M_ROOM_IN_USE", room_alias_name="once")
    assert await room_count(hs) == 1
    assert len(await hs.joined_rooms(alice)) == 1


async def test_concurrent_creations_with_one_alias_give_it_to_exactly_one(hs):
    users = [await hs.register() for _ in range(5)]
    responses = await asyncio.gather(
        *(hs.http.post(CREATE, json={"room_alias_name": "race"}, headers=u.headers) for u in users)
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200, 400, 400, 400, 400]
    assert await room_count(hs) == 1


@pytest.mark.parametrize(
    "name",
    ["has space", "tab\there", "new\nline", "colon:inside", "", "x" * 250],
    ids=["space", "tab", "newline", "colon", "empty", "too-long"],
)
async def test_invalid_alias_is_400_invalid_param(hs, name):
    alice = await hs.register()
    await create_error(hs, alice, 400, "M_INVALID_PARAM", room_alias_name=name)
    assert await room_count(hs) == 0


# --- malformed requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"visibility": 1},
        {"preset": ["public_chat"]},
        {"name": 5},
        {"topic": {"text": "t"}},
        {"room_alias_name": 7},
        {"invite": "@bob:localhost"},
        {"invite": [1]},
        {"is_direct": "yes"},
        {"initial_state": {"type": "x"}},
        {"initial_state": ["x"]},
        {"initial_state": [{"type": 1, "content": {}}]},
        {"initial_state": [{"type": "x", "state_key": 1, "content": {}}]},
        {"initial_state": [{"type": "x", "content": "not an object"}]},
        {"initial_state": [{"type": "x", "content": [1]}]},
        {"creation_content": []},
        {"power_level_content_override": "x"},
    ],
    ids=lambda body: json.dumps(body),
)
async def test_wrong_types_are_400_bad_json(hs, body):
    alice = await hs.register()
    error = await hs.request("POST", CREATE, alice, json=body, expect=400)
    assert error["errcode"] == "M_BAD_JSON"
    assert await room_count(hs) == 0


async def test_body_that_is_not_an_object_is_400(hs):
    alice = await hs.register()
    error = await hs.request("POST", CREATE, alice, json=["not", "an", "object"], expect=400)
    assert error["errcode"] == "M_BAD_JSON"


async def test_initial_state_entry_without_type_is_400(hs):
    alice = await hs.register()
    error = await hs.create_room(alice, expect=400, initial_state=[{"content": {}}])
    assert error["errcode"] == "M_MISSING_PARAM"


async def test_malformed_invitee_is_400(hs):
    alice = await hs.register()
    error = await hs.create_room(alice, expect=400, invite=["not-a-user-id"])
    assert error["errcode"] == "M_INVALID_PARAM"
    assert await room_count(hs) == 0


async def test_content_over_65536_bytes_is_413_too_large(hs):
    alice = await hs.register()
    error = await hs.create_room(alice, expect=413, topic="x" * 70000)
    assert error["errcode"] == "M_TOO_LARGE"
    assert await room_count(hs) == 0


async def test_initial_state_content_over_65536_bytes_is_413_too_large(hs):
    alice = await hs.register()
    big = {"type": "org.example", "content": {"blob": "y" * 66000}}
    error = await hs.create_room(alice, expect=413, initial_state=[big])
    assert error["errcode"] == "M_TOO_LARGE"


async def test_creation_content_over_65536_bytes_is_413_too_large(hs):
    alice = await hs.register()
    error = await hs.create_room(alice, expect=413, creation_content={"x": "z" * 66000})
    assert error["errcode"] == "M_TOO_LARGE"


# --- hostile input: never a 5xx --------------------------------------------------------------


async def test_floats_in_initial_state_content_are_400_bad_json(hs):
    alice = await hs.register()
    state = [{"type": "org.example", "content": {"n": 1.5}}]
    await create_error(hs, alice, 400, "M_BAD_JSON", initial_state=state)


async def test_floats_in_power_level_content_override_are_400_bad_json(hs):
    alice = await hs.register()
    await create_error(
        hs, alice, 400, "M_BAD_JSON", power_level_content_override={"users_default": 0.5}
    )


async def test_integers_beyond_canonical_json_range_are_400(hs):
    alice = await hs.register()
    raw = (
        b'{"initial_state": [{"type": "org.example", "content": {"n": 9007199254740993}}]}'
    )
    error = await hs.request(
        "POST", CREATE, alice, data=raw, headers={"Content-Type": "application/json"}, expect=400
    )
    # The body parser refuses it before room creation sees it (spec: canonical JSON).
    assert error["errcode"] == "M_BAD_JSON"
    assert await room_count(hs) == 0


@pytest.mark.parametrize(
    "override",
    [
        {"ban": "50"},
        {"kick": True},
        {"users_default": None},
        {"events": {"m.room.name": "50"}},
        {"events": ["m.room.name"]},
        {"notifications": {"room": "x"}},
        {"users": "everyone"},
        {"users": {"not a user id": 50}},
        {"users": {"@bob:localhost": 50.0}},
    ],
    ids=lambda override: json.dumps(override),
)
async def test_power_levels_that_break_the_auth_rules_are_400_bad_json(hs, override):
    alice = await hs.register()
    await create_error(hs, alice, 400, "M_BAD_JSON", power_level_content_override=override)
    assert await room_count(hs) == 0


async def test_initial_state_power_levels_are_checked_too(hs):
    alice = await hs.register()
    state = [{"type": "m.room.power_levels", "content": {"users": [alice.user_id]}}]
    await create_error(hs, alice, 400, "M_BAD_JSON", initial_state=state)


async def test_power_levels_the_creator_could_not_send_under_are_400_invalid_room_state(hs):
    alice = await hs.register()
    # v11: the override's users map drops the creator to users_default 0.
    await create_error(
        hs,
        alice,
        400,
        "M_INVALID_ROOM_STATE",
        room_version="11",
        power_level_content_override={"users": {}},
    )
    assert await room_count(hs) == 0


async def test_v12_creators_may_send_whatever_the_power_levels_say(hs):
    alice = await hs.register()
    room = await hs.create_room(
        alice,
        room_version="12",
        name="n",
        power_level_content_override={"state_default": 9000, "users_default": 0},
    )
    assert await hs.state(alice, room, "m.room.name") == {"name": "n"}


async def test_invites_the_creator_could_not_send_are_400_invalid_room_state(hs):
    alice, bob = await hs.register(), await hs.register()
    await create_error(
        hs,
        alice,
        400,
        "M_INVALID_ROOM_STATE",
        room_version="10",
        invite=[bob.user_id],
        power_level_content_override={"invite": 101},
    )


@pytest.mark.parametrize("event_type", ["m.room.create", "m.room.member"])
async def test_initial_state_may_not_set_create_or_member_events(hs, event_type):
    alice = await hs.register()
    state = [{"type": event_type, "state_key": alice.user_id, "content": {"membership": "join"}}]
    await create_error(hs, alice, 400, "M_INVALID_ROOM_STATE", initial_state=state)


async def test_initial_state_with_another_users_state_key_is_400_invalid_room_state(hs):
    alice = await hs.register()
    state = [{"type": "org.example", "state_key": "@mallory:localhost", "content": {}}]
    await create_error(hs, alice, 400, "M_INVALID_ROOM_STATE", initial_state=state)


async def test_initial_state_with_the_creators_own_state_key_is_allowed(hs):
    alice = await hs.register()
    state = [{"type": "org.example", "state_key": alice.user_id, "content": {"mine": True}}]
    room = await hs.create_room(alice, initial_state=state)
    assert await hs.state(alice, room, "org.example", alice.user_id) == {"mine": True}


@pytest.mark.parametrize(
    "value", ["@bob:localhost", ["not a user"], [1], [["@bob:localhost"]]], ids=json.dumps
)
async def test_v12_malformed_additional_creators_are_400_bad_json(hs, value):
    alice = await hs.register()
    await create_error(
        hs, alice, 400, "M_BAD_JSON", room_version="12", creation_content={"additional_creators": value}
    )


async def test_deeply_nested_content_is_refused_not_crashed(hs):
    alice = await hs.register()
    nested: dict = {}
    for _ in range(200):
        nested = {"n": nested}
    raw = json.dumps({"initial_state": [{"type": "x", "content": nested}]}).encode()
    response = await hs.http.post(
        CREATE, data=raw, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert response.status == 400


async def test_failed_creation_changes_nothing(hs):
    alice = await hs.register()
    await hs.create_room(alice, expect=400, room_version="99")
    await hs.create_room(alice, expect=413, name="n" * 70000)
    assert await room_count(hs) == 0
    assert await hs.joined_rooms(alice) == []
    assert index_pairs(hs.homeserver.joined_rooms) == set()


async def test_identical_concurrent_creations_get_distinct_room_ids(hs):
    alice = await hs.register()
    rooms = await asyncio.gather(*(hs.create_room(alice, name="same") for _ in range(8)))
    assert len(set(rooms)) == 8
    assert sorted(await hs.joined_rooms(alice)) == sorted(rooms)


async def test_create_room_needs_an_access_token(hs):
    error = await hs.request("POST", CREATE, json={}, expect=401)
    assert error["errcode"] == "M_MISSING_TOKEN"


HOSTILE_VALUES = [
    None, True, 0, -1, 2**53 - 1, 1.5, "", "x", "\u0000", "a" * 300, "@a:localhost",
    "#a:localhost", [], [1], ["@a:localhost"], [{}], {}, {"a": 1.5}, {"users": {"nobody": 1}},
    {"additional_creators": "x"}, {"additional_creators": ["@a:localhost"]},
    [{"type": "m.room.power_levels", "content": {"users": {"@x:y": 1}}}],
    [{"type": "m.room.join_rules", "content": {"join_rule": None}}],
    [{"type": "m.room.power_levels", "content": {}}],
    [{"type": "org.example", "state_key": "@x:y", "content": {}}],
]
CREATE_KEYS = [
    "visibility", "preset", "name", "topic", "room_alias_name", "invite", "is_direct",
    "initial_state", "creation_content", "power_level_content_override", "room_version",
]


async def test_hostile_create_room_bodies_never_get_a_server_error(hs):
    rng = random.Random(3)
    alice = await hs.register()
    failures = []
    for _ in range(250):
        keys = rng.sample(CREATE_KEYS, rng.randint(1, 5))
        body = {key: rng.choice(HOSTILE_VALUES) for key in keys}
        response = await hs.http.post(CREATE, json=body, headers=alice.headers)
        if response.status >= 500 or response.status not in (200, 400, 413):
            failures.append((body, response.status, await response.text()))
    assert failures == []
    # Whatever was refused left nothing behind in the index.
    assert index_pairs(hs.homeserver.joined_rooms) == await stored_joined_pairs(hs.homeserver.db)
