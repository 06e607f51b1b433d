"""Scenarios: the world a loaded scenario makes is exactly the one it declares.

Every test runs twice, through the Python API (``MinihsServer.load_scenario``) and through the
admin API (``POST /_minihs/admin/scenario``); the command line is tested in
``test_scenarios_cli.py``, refusals in ``test_scenarios_rejected.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import yaml

from minihs.testing import MinihsServer, MinihsUser, ScenarioError
from scenario_loaders import WAYS, Loader

WORLD = """\
users:
  alice: {password: secret, display_name: Alice Liddell, admin: true}
  bob: {}
  carol: {localpart: carol.c}
  dave: {}
  eve: {}
  frank: {}
rooms:
  lobby:
    creator: alice
    preset: public_chat
    version: "11"
    name: Lobby
    topic: Say hi
    alias: lobby
    power_levels: {users: {bob: 50}}
    members:
      joined: [bob, frank]
      invited: [carol]
      left: [dave]
      banned: [eve]
  den:
    creator: bob
    power_levels: {users: {alice: 50}}
    members:
      joined: [{user: alice, invited_by: bob}]
      invited: [{user: dave, by: alice}]
      left: [{user: frank, invited_by: bob, by: bob}]
      banned: [{user: eve, by: alice}]
messages:
  - {name: hello, room: lobby, sender: bob, body: Hi}
  - {room: lobby, sender: alice, body: Welcome}
  - {name: notice, room: lobby, sender: frank, content: {msgtype: m.notice, body: brb}}
  - {room: den, sender: alice, body: psst}
"""


def room_path(room_id: str, rest: str) -> str:
    return f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/{rest}"


def memberships(server: MinihsServer, viewer: MinihsUser, room_id: str) -> dict[str, tuple[str, str]]:
    """user ID -> (membership, sender of that member event), as a member of the room sees it."""
    chunk = server.request("GET", room_path(room_id, "members"), viewer)["chunk"]
    return {e["state_key"]: (e["content"]["membership"], e["sender"]) for e in chunk}


def state(server: MinihsServer, viewer: MinihsUser, room_id: str, event_type: str) -> dict[str, Any]:
    return server.request("GET", room_path(room_id, f"state/{event_type}/"), viewer)


# --- users -----------------------------------------------------------------------------------


def test_every_user_in_the_map_is_logged_in_with_a_working_token(loader):
    ids = loader.load(WORLD)
    assert set(ids.users) == {"alice", "bob", "carol", "dave", "eve", "frank"}
    for user in ids.users.values():
        whoami = loader.server.request("GET", "/_matrix/client/v3/account/whoami", user)
        assert (whoami["user_id"], whoami["device_id"]) == (user.user_id, user.device_id)


def test_users_log_in_with_their_given_or_generated_password(loader):
    ids = loader.load(WORLD)
    assert ids.users["alice"].password == "secret"
    for name in ("alice", "bob"):
        user = ids.users[name]
        body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user.user_id},
                "password": user.password}
        assert loader.server.request("POST", "/_matrix/client/v3/login", json_body=body)["user_id"] == user.user_id


def test_a_user_id_comes_from_the_localpart_or_else_the_name(loader):
    ids = loader.load(WORLD)
    assert ids.users["carol"].user_id == "@carol.c:localhost"
    assert ids.users["bob"].user_id == "@bob:localhost"


def test_display_names_are_set_and_default_to_the_localpart(loader):
    ids = loader.load(WORLD)
    profile = "/_matrix/client/v3/profile/{}/displayname"
    alice, bob = ids.users["alice"], ids.users["bob"]
    assert loader.server.request("GET", profile.format(alice.user_id))["displayname"] == "Alice Liddell"
    assert loader.server.request("GET", profile.format(bob.user_id))["displayname"] == "bob"


def test_admin_users_are_admins(loader):
    ids = loader.load(WORLD)

    async def admins(homeserver: Any) -> set[str]:
        rows = await homeserver.db.read(
            lambda conn: conn.execute("SELECT user_id FROM users WHERE is_admin").fetchall()
        )
        return {row[0] for row in rows}

    assert loader.server.on_server(admins) == {ids.users["alice"].user_id}


# --- rooms and memberships -------------------------------------------------------------------


def test_members_are_in_exactly_the_declared_states(loader):
    ids = loader.load(WORLD)
    u = {name: user.user_id for name, user in ids.users.items()}
    lobby = memberships(loader.server, ids.users["alice"], ids.rooms["lobby"])
    assert {user: m for user, (m, _) in lobby.items()} == {
        u["alice"]: "join", u["bob"]: "join", u["frank"]: "join",
        u["carol"]: "invite", u["dave"]: "leave", u["eve"]: "ban",
    }
    den = memberships(loader.server, ids.users["bob"], ids.rooms["den"])
    assert {user: m for user, (m, _) in den.items()} == {
        u["bob"]: "join", u["alice"]: "join", u["dave"]: "invite", u["frank"]: "leave", u["eve"]: "ban",
    }


def test_each_membership_is_sent_by_the_member_named_or_else_the_creator(loader):
    ids = loader.load(WORLD)
    u = {name: user.user_id for name, user in ids.users.items()}
    lobby = memberships(loader.server, ids.users["alice"], ids.rooms["lobby"])
    assert lobby[u["carol"]] == ("invite", u["alice"])  # invited by the creator
    assert lobby[u["dave"]] == ("leave", u["dave"])  # joined, then left by themselves
    assert lobby[u["eve"]] == ("ban", u["alice"])  # banned by the creator
    den = memberships(loader.server, ids.users["bob"], ids.rooms["den"])
    assert den[u["dave"]] == ("invite", u["alice"])  # `by`: the inviter
    assert den[u["frank"]] == ("leave", u["bob"])  # `by` on a leave: kicked
    assert den[u["eve"]] == ("ban", u["alice"])  # `by`: the one who bans


def test_a_member_of_an_invite_only_room_was_invited_before_joining(loader):
    ids = loader.load(WORLD)
    alice, bob = ids.users["alice"], ids.users["bob"]
    chunk = loader.server.request(
        "GET", room_path(ids.rooms["den"], "messages"), bob, params={"dir": "f", "limit": "100"}
    )["chunk"]
    alices = [(e["content"]["membership"], e["sender"]) for e in chunk
              if e["type"] == "m.room.member" and e["state_key"] == alice.user_id]
    assert alices == [("invite", bob.user_id), ("join", alice.user_id)]


def test_joined_rooms_and_mutual_rooms_follow_the_scenario(loader):
    ids = loader.load(WORLD)
    server, users, rooms = loader.server, ids.users, ids.rooms

    def joined(name: str) -> set[str]:
        return set(server.request("GET", "/_matrix/client/v3/joined_rooms", users[name])["joined_rooms"])

    assert joined("bob") == {rooms["lobby"], rooms["den"]}
    assert joined("frank") == {rooms["lobby"]}
    assert joined("carol") == joined("dave") == joined("eve") == set()
    assert set(server.mutual_rooms(users["alice"], users["bob"])["joined"]) == {rooms["lobby"], rooms["den"]}
    assert server.mutual_rooms(users["bob"], users["frank"])["joined"] == [rooms["lobby"]]


def test_power_levels_are_laid_over_the_defaults_with_names_as_user_ids(loader):
    ids = loader.load(WORLD)
    u = {name: user.user_id for name, user in ids.users.items()}
    lobby = state(loader.server, ids.users["alice"], ids.rooms["lobby"], "m.room.power_levels")
    assert lobby["users"] == {u["alice"]: 100, u["bob"]: 50}  # the creator keeps 100 (v11)
    assert lobby["ban"] == 50  # the rest is the preset's
    den = state(loader.server, ids.users["bob"], ids.rooms["den"], "m.room.power_levels")
    assert den["users"] == {u["alice"]: 50}  # v12: the creator is above power levels


def test_rooms_have_their_name_topic_alias_and_version(loader):
    ids = loader.load(WORLD)
    server, alice, lobby = loader.server, ids.users["alice"], ids.rooms["lobby"]
    assert state(server, alice, lobby, "m.room.name") == {"name": "Lobby"}
    assert state(server, alice, lobby, "m.room.topic")["topic"] == "Say hi"
    assert state(server, alice, lobby, "m.room.create")["room_version"] == "11"
    assert state(server, alice, lobby, "m.room.join_rules") == {"join_rule": "public"}
    assert ids.aliases == {"lobby": "#lobby:localhost", "den": None}
    directory = server.request("GET", "/_matrix/client/v3/directory/room/" + quote("#lobby:localhost"))
    assert directory["room_id"] == lobby


def test_a_room_without_a_preset_is_private(loader):
    ids = loader.load(WORLD)
    den = state(loader.server, ids.users["bob"], ids.rooms["den"], "m.room.join_rules")
    assert den == {"join_rule": "invite"}


# --- messages --------------------------------------------------------------------------------


def test_messages_appear_in_messages_in_the_files_order(loader):
    ids = loader.load(WORLD)
    chunk = loader.server.request(
        "GET", room_path(ids.rooms["lobby"], "messages"), ids.users["bob"],
        params={"dir": "f", "limit": "100"},
    )["chunk"]
    sent = [(e["sender"], e["content"]) for e in chunk if e["type"] == "m.room.message"]
    u = {name: user.user_id for name, user in ids.users.items()}
    assert sent == [
        (u["bob"], {"msgtype": "m.text", "body": "Hi"}),
        (u["alice"], {"msgtype": "m.text", "body": "Welcome"}),
        (u["frank"], {"msgtype": "m.notice", "body": "brb"}),
    ]


def test_messages_appear_in_sync_in_the_files_order(loader):
    ids = loader.load(WORLD)
    sync = loader.server.request(
        "GET", "/_matrix/client/v3/sync", ids.users["frank"],
        params={"filter": '{"room": {"timeline": {"limit": 50}}}'},
    )
    timeline = sync["rooms"]["join"][ids.rooms["lobby"]]["timeline"]["events"]
    bodies = [e["content"]["body"] for e in timeline if e["type"] == "m.room.message"]
    assert bodies == ["Hi", "Welcome", "brb"]


def test_named_messages_map_to_their_event_ids(loader):
    ids = loader.load(WORLD)
    assert set(ids.messages) == {"hello", "notice"}
    event = loader.server.request(
        "GET", room_path(ids.rooms["lobby"], "event/" + quote(ids.messages["hello"])), ids.users["alice"]
    )
    assert event["content"]["body"] == "Hi"
    assert ids.raw["messages"]["hello"]["room_id"] == ids.rooms["lobby"]


# --- formats and sequences -------------------------------------------------------------------


def shape(loader: Loader, ids) -> dict[str, Any]:
    """The world in the file's names: every room's memberships and messages."""
    names = {user.user_id: name for name, user in ids.users.items()}
    viewer = {"lobby": ids.users["alice"], "den": ids.users["bob"]}
    world = {}
    for room, room_id in ids.rooms.items():
        members = memberships(loader.server, viewer[room], room_id)
        chunk = loader.server.request(
            "GET", room_path(room_id, "messages"), viewer[room], params={"dir": "f", "limit": "100"}
        )["chunk"]
        world[room] = (
            {names[user]: (m, names[sender]) for user, (m, sender) in members.items()},
            [(names[e["sender"]], e["content"].get("body")) for e in chunk if e["type"] == "m.room.message"],
        )
    return world


def test_json_yaml_and_a_mapping_make_the_same_world(loader):
    from_yaml = shape(loader, loader.load(WORLD, "yaml"))
    loader.server.reset()
    from_json = shape(loader, loader.load(yaml.safe_load(WORLD), "json"))
    loader.server.reset()
    from_mapping = shape(loader, loader.load(yaml.safe_load(WORLD), "mapping"))
    assert from_yaml == from_json == from_mapping
    assert from_yaml["den"][0]["frank"] == ("leave", "bob")


def test_a_second_scenario_adds_to_the_first(loader):
    first = loader.load(WORLD)
    second = loader.load(
        "users: {gus: {}}\n"
        "rooms:\n  porch: {creator: gus, preset: public_chat, alias: porch}\n"
        "messages:\n  - {name: hello, room: porch, sender: gus, body: Howdy}\n"
    )
    server = loader.server
    for user in [*first.users.values(), *second.users.values()]:
        assert server.request("GET", "/_matrix/client/v3/account/whoami", user)["user_id"] == user.user_id
    assert server.request("GET", "/_matrix/client/v3/joined_rooms", second.users["gus"])["joined_rooms"] == [
        second.rooms["porch"]
    ]
    assert len(server.request("GET", "/_matrix/client/v3/joined_rooms", first.users["bob"])["joined_rooms"]) == 2
    assert second.messages["hello"] != first.messages["hello"]


def test_an_empty_scenario_loads_nothing(loader):
    ids = loader.load("{}", "json")
    assert ids.raw == {"users": {}, "rooms": {}, "messages": {}}


# --- MinihsServer(scenario=...) --------------------------------------------------------------


def test_a_server_started_with_a_scenario_has_it_loaded(tmp_path):
    path = tmp_path / "world.yaml"
    path.write_text(WORLD, encoding="utf-8")
    with MinihsServer(scenario=path) as server:
        bob = server.scenario.users["bob"]
        rooms = server.request("GET", "/_matrix/client/v3/joined_rooms", bob)["joined_rooms"]
        assert set(rooms) == {server.scenario.rooms["lobby"], server.scenario.rooms["den"]}


def test_a_server_whose_scenario_is_refused_does_not_start():
    server = MinihsServer(scenario={"users": {"alice": {}}, "rooms": {"r": {"creator": "alicia"}}})
    with pytest.raises(ScenarioError) as refused:
        server.start()
    assert refused.value.errcode == "M_BAD_JSON"
    assert "rooms.r.creator: unknown user 'alicia'; did you mean 'alice'?" in refused.value.error
    assert not server.running


def test_a_room_with_hundreds_of_members_has_them_all(loader):
    # More member events than the store writes in one statement (a hundred rows each).
    names = [f"user{i}" for i in range(250)]
    ids = loader.load({
        "users": {name: {} for name in names},
        "rooms": {"hall": {"creator": names[0], "preset": "public_chat",
                           "members": {"joined": names[1:200], "left": names[200:]}}},
    }, "json")
    hall = memberships(loader.server, ids.users[names[0]], ids.rooms["hall"])
    assert sorted(m for m, _ in hall.values()) == ["join"] * 200 + ["leave"] * 50
    joined = loader.server.request(
        "GET", room_path(ids.rooms["hall"], "joined_members"), ids.users[names[0]]
    )["joined"]
    assert set(joined) == {ids.users[name].user_id for name in names[:200]}


@pytest.mark.parametrize("way", WAYS)
def test_a_seeded_server_answers_the_same_map_every_time(way, tmp_path):
    # Users register, and rooms are made, many at once: the IDs must not depend on which
    # finishes first.
    world = yaml.safe_load(WORLD)
    world["users"].update({f"extra{i}": {} for i in range(100)})
    maps = []
    for run in range(2):
        with MinihsServer({"deterministic": {"seed": "scenario"}}) as seeded:
            maps.append(Loader(way, seeded, tmp_path).load(world, "json").raw)
    assert maps[0] == maps[1]
