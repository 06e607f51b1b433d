"""Scenarios that break a rule are refused with the rule's errcode and the line of the file, and
leave nothing behind.

Every test runs through the Python API and through the admin API (``scenario_loaders``).
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote

import pytest

from minihs.testing import MinihsHTTPError, MinihsServer, ScenarioError
from scenario_loaders import Loader, post


def refused(loader: Loader, scenario, syntax: str = "yaml") -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        loader.load(scenario, syntax)
    return caught.value


def assert_refused_at(error: ScenarioError, loader: Loader, errcode: str, line: int, *parts: str) -> None:
    assert error.errcode == errcode, error
    assert error.line == line, error
    assert error.error.startswith(f"{loader.source} line {line}: "), error
    for part in parts:
        assert part in error.error, error


def login_status(server: MinihsServer, localpart: str) -> int:
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
            "password": "x"}
    try:
        server.request("POST", "/_matrix/client/v3/login", json_body=body)
    except MinihsHTTPError as error:
        return error.status
    return 200


def alias_exists(server: MinihsServer, alias: str) -> bool:
    try:
        server.request("GET", "/_matrix/client/v3/directory/room/" + quote(alias))
    except MinihsHTTPError as error:
        assert error.status == 404
        return False
    return True


# --- the rules of the client API ------------------------------------------------------------


def test_joining_an_invite_only_room_without_an_invite_is_refused(loader):
    error = refused(loader, (
        "users: {alice: {}, bob: {}}\n"
        "rooms:\n"
        "  den:\n"
        "    creator: alice\n"
        "    preset: private_chat\n"
        "    members:\n"
        "      joined: [bob]\n"
    ))
    assert_refused_at(error, loader, "M_FORBIDDEN", 7, "rooms.den.members.joined[0]",
                      "bob cannot join den", "invited_by", "You are not invited to this room")


def test_a_ban_by_a_member_without_the_power_is_refused(loader):
    error = refused(loader, (
        "users: {alice: {}, bob: {}, eve: {}}\n"
        "rooms:\n"
        "  lobby:\n"
        "    creator: alice\n"
        "    preset: public_chat\n"
        "    members:\n"
        "      joined: [bob]\n"
        "      banned:\n"
        "        - {user: eve, by: bob}\n"
    ))
    assert_refused_at(error, loader, "M_FORBIDDEN", 9, "rooms.lobby.members.banned[0]",
                      "bob cannot ban eve in lobby", "permission to ban")


def test_a_message_from_a_non_member_is_refused(loader):
    error = refused(loader, (
        "users: {alice: {}, bob: {}}\n"
        "rooms:\n"
        "  lobby: {creator: alice, preset: public_chat}\n"
        "messages:\n"
        "  - {room: lobby, sender: alice, body: hi}\n"
        "  - {room: lobby, sender: bob, body: me too}\n"
    ))
    assert_refused_at(error, loader, "M_FORBIDDEN", 6, "messages[1]", "bob cannot send to lobby")


def test_an_alias_already_taken_is_refused(loader):
    owner = loader.server.register_user()
    loader.server.create_room(owner, room_alias_name="lobby")
    error = refused(loader, (
        "users: {alice: {}}\n"
        "rooms:\n"
        "  lobby:\n"
        "    creator: alice\n"
        "    alias: lobby\n"
    ))
    assert_refused_at(error, loader, "M_ROOM_IN_USE", 5, "rooms.lobby.alias")


def test_a_user_id_already_registered_is_refused(loader):
    loader.server.register_user("alice")
    error = refused(loader, "users:\n  bob: {}\n  alice: {}\n")
    assert_refused_at(error, loader, "M_USER_IN_USE", 3, "users.alice")


def test_an_unknown_preset_is_refused(loader):
    error = refused(loader, "users: {alice: {}}\nrooms:\n  r:\n    creator: alice\n    preset: public\n")
    assert_refused_at(error, loader, "M_BAD_JSON", 5, "rooms.r.preset", "'public' is not a valid preset")


def test_an_unsupported_room_version_is_refused(loader):
    error = refused(loader, "users: {alice: {}}\nrooms:\n  r:\n    creator: alice\n    version: 9\n")
    assert_refused_at(error, loader, "M_UNSUPPORTED_ROOM_VERSION", 5, "rooms.r.version", "'9'")


def test_power_levels_that_stop_the_creator_are_refused(loader):
    error = refused(loader, (
        "users: {alice: {}}\n"
        "rooms:\n"
        "  r:\n"
        "    creator: alice\n"
        "    version: '11'\n"
        "    name: Locked\n"
        "    power_levels: {users: {alice: 0}}\n"
    ))
    assert_refused_at(error, loader, "M_INVALID_ROOM_STATE", 7, "rooms.r.power_levels",
                      "would not let the creator send")


def test_an_invalid_localpart_is_refused(loader):
    error = refused(loader, "users:\n  alice: {localpart: Alice Smith}\n")
    assert_refused_at(error, loader, "M_INVALID_USERNAME", 2, "users.alice.localpart")


# --- the file itself -------------------------------------------------------------------------


def test_an_unknown_user_name_is_refused_with_the_nearest_name(loader):
    error = refused(loader, (
        "users: {alice: {}, bob: {}}\n"
        "rooms:\n"
        "  lobby:\n"
        "    creator: alice\n"
        "    members: {joined: [bobby]}\n"
    ))
    assert_refused_at(error, loader, "M_BAD_JSON", 5, "rooms.lobby.members.joined[0]",
                      "unknown user 'bobby'; did you mean 'bob'?")


def test_an_unknown_room_name_is_refused(loader):
    error = refused(loader, (
        "users: {alice: {}}\n"
        "rooms: {lobby: {creator: alice}}\n"
        "messages:\n"
        "  - {room: loby, sender: alice, body: hi}\n"
    ))
    assert_refused_at(error, loader, "M_BAD_JSON", 4, "messages[0].room", "did you mean 'lobby'?")


def test_a_key_given_twice_is_refused_with_both_lines(loader):
    error = refused(loader, "users:\n  alice: {}\n  bob: {}\n  alice: {admin: true}\n")
    assert_refused_at(error, loader, "M_BAD_JSON", 4, "duplicate key 'users.alice'", "first given at line 2")


def test_a_key_given_twice_in_json_is_refused_with_both_lines(loader):
    text = '{"users": {\n  "alice": {},\n  "alice": {"admin": true}\n}}'
    error = refused(loader, text, "json")
    assert_refused_at(error, loader, "M_BAD_JSON", 3, "duplicate key 'users.alice'", "first given at line 2")


def test_an_unknown_key_is_refused_with_the_nearest_key(loader):
    error = refused(loader, "users:\n  alice: {pasword: x}\n")
    assert_refused_at(error, loader, "M_BAD_JSON", 2, "users.alice.pasword",
                      "unknown key 'pasword'; did you mean 'password'?")


def test_an_unknown_key_in_json_is_refused_at_its_line(loader):
    text = '{\n  "users": {"alice": {}},\n  "rooms": {"r": {\n    "creator": "alice",\n    "topc": "x"}}\n}'
    error = refused(loader, text, "json")
    assert_refused_at(error, loader, "M_BAD_JSON", 5, "rooms.r.topc", "did you mean 'topic'?")


def test_a_value_of_the_wrong_type_is_refused(loader):
    error = refused(loader, "users:\n  alice:\n    admin: maybe\n")
    assert_refused_at(error, loader, "M_BAD_JSON", 3, "users.alice.admin", "must be true or false, not a string")


def test_a_missing_creator_is_refused(loader):
    error = refused(loader, "users: {alice: {}}\nrooms:\n  r: {name: x}\n")
    assert_refused_at(error, loader, "M_MISSING_PARAM", 3, "rooms.r", "missing 'creator'")


def test_a_member_listed_twice_in_one_room_is_refused(loader):
    error = refused(loader, (
        "users: {alice: {}, bob: {}}\n"
        "rooms:\n"
        "  r:\n"
        "    creator: alice\n"
        "    members: {joined: [bob],\n"
        "              left: [bob]}\n"
    ))
    assert_refused_at(error, loader, "M_BAD_JSON", 6, "rooms.r.members.left[0]", "already listed")


def test_a_float_in_content_is_refused(loader):
    error = refused(loader, (
        "users: {alice: {}}\nrooms: {r: {creator: alice}}\n"
        "messages:\n  - room: r\n    sender: alice\n    content: {score: 1.5}\n"
    ))
    assert_refused_at(error, loader, "M_BAD_JSON", 6, "messages[0].content.score", "integers")


def test_yaml_that_does_not_parse_is_refused_at_its_line(loader):
    error = refused(loader, "users:\n  alice: {}\n  bob: [\n")
    assert_refused_at(error, loader, "M_BAD_JSON", 4, "YAML syntax error")


def test_json_that_does_not_parse_is_refused_at_its_line(loader):
    error = refused(loader, '{"users": {"alice": {}},\n "rooms": }', "json")
    assert_refused_at(error, loader, "M_NOT_JSON", 2, "not JSON")


def test_yaml_aliases_that_expand_past_the_limit_are_refused(loader):
    text = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(6)
    )
    error = refused(loader, text)
    assert_refused_at(error, loader, "M_BAD_JSON", 7, "values once its aliases are expanded")


def test_a_mapping_with_a_mistake_is_refused_naming_the_key_without_a_line(server):
    with pytest.raises(ScenarioError) as caught:
        server.load_scenario({"users": {"alice": {"admin": "yes"}}})
    assert caught.value.line is None
    assert caught.value.error == "scenario: users.alice.admin: must be true or false, not a string"


# --- nothing is left ------------------------------------------------------------------------


LATE_FAILURE = (
    "users: {alice: {}, bob: {}, eve: {}}\n"
    "rooms:\n"
    "  lobby: {creator: alice, preset: public_chat, alias: lobby, members: {joined: [bob]}}\n"
    "  den:\n"
    "    creator: alice\n"
    "    preset: public_chat\n"
    "    members: {joined: [bob], banned: [{user: eve, by: bob}]}\n"
    "messages:\n"
    "  - {room: lobby, sender: bob, body: hi}\n"
)


def test_nothing_of_a_refused_scenario_is_left(loader):
    error = refused(loader, LATE_FAILURE)
    assert error.errcode == "M_FORBIDDEN"
    server = loader.server
    for localpart in ("alice", "bob", "eve"):
        assert login_status(server, localpart) == 403
        assert server.request("GET", f"/_matrix/client/v3/register/available?username={localpart}")["available"]
    assert not alias_exists(server, "#lobby:localhost")
    # The same names load once the mistake is mended.
    ids = loader.load(LATE_FAILURE.replace("by: bob", "by: alice"))
    assert set(ids.rooms) == {"lobby", "den"}


def test_a_refused_scenario_leaves_the_server_as_it_was_before(loader):
    first = loader.load("users: {zoe: {}}\nrooms:\n  porch: {creator: zoe, alias: porch}\n")
    refused(loader, LATE_FAILURE)
    server = loader.server
    zoe = first.users["zoe"]
    assert server.request("GET", "/_matrix/client/v3/joined_rooms", zoe)["joined_rooms"] == [first.rooms["porch"]]
    assert alias_exists(server, "#porch:localhost")
    assert not alias_exists(server, "#lobby:localhost")
    assert server.request("GET", "/_matrix/client/v3/register/available?username=alice")["available"]


def test_requests_during_a_load_see_all_of_the_scenario_or_none_of_it(loader):
    rooms = 120
    scenario = {
        "users": {"alice": {}},
        "rooms": {f"r{i}": {"creator": "alice", "alias": f"r{i}"} for i in range(rooms)},
    }
    done = threading.Event()
    seen = []  # (probe sent, probe answered, first room there, last room there)

    def watch() -> None:
        while not done.is_set():
            sent = time.monotonic()
            first = alias_exists(loader.server, "#r0:localhost")
            last = alias_exists(loader.server, f"#r{rooms - 1}:localhost")
            seen.append((sent, time.monotonic(), first, last))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        load_started = time.monotonic()
        loader.load(scenario, "json")
        load_ended = time.monotonic()
    finally:
        done.set()
        watcher.join()
    # A probe was in flight while the load ran (else the check below would prove nothing)...
    assert any(sent < load_ended and answered > load_started for sent, answered, _, _ in seen)
    # ...and no probe saw the first room without the last: half a scenario.
    assert not any(first and not last for _, _, first, last in seen)


# --- the admin endpoint itself -------------------------------------------------------------


def test_the_admin_endpoint_takes_yaml_by_its_content_type(server):
    server.reset()
    status, body = post(server, b"users:\n  alice: {}\n", "text/yaml")
    assert status == 200 and body["users"]["alice"]["user_id"] == "@alice:localhost"


def test_the_admin_endpoint_reads_any_other_content_type_as_json(server):
    server.reset()
    status, body = post(server, b"users:\n  alice: {}\n", "text/plain")
    assert status == 400 and body["errcode"] == "M_NOT_JSON" and body["line"] == 1


def test_the_admin_endpoint_answers_only_post(server):
    status, body = post(server, b"", "application/json", method="PUT")
    assert status == 405 and body["errcode"] == "M_UNRECOGNIZED"


def test_the_admin_endpoint_is_not_there_when_the_admin_api_is_off():
    with MinihsServer({"enable_admin_api": False}) as off:
        status, body = post(off, json.dumps({"users": {"alice": {}}}).encode(), "application/json")
        assert status == 404 and body["errcode"] == "M_UNRECOGNIZED"
        assert off.request("GET", "/_matrix/client/v3/register/available?username=alice")["available"]
