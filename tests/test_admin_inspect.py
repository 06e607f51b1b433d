"""The inspector's read-only admin endpoints (issue 17) and the page they serve.

minihs only, not in the Matrix spec: users with devices, rooms, a room's members, state and
events, one event, mutual rooms (the client API's own answer), a status to poll, and the page
at ``/_minihs/``. Every list is a page; everything exists only under the admin API's rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import PASSWORD, quote

ADMIN = "/_minihs/admin"
ROOT = Path(__file__).resolve().parent.parent


async def users_page(hs, **params):
    return await hs.request("GET", f"{ADMIN}/users", params={k: str(v) for k, v in params.items()})


async def rooms_page(hs, **params):
    return await hs.request("GET", f"{ADMIN}/rooms", params={k: str(v) for k, v in params.items()})


async def room_part(hs, room_id, part="", expect=200, **params):
    path = f"{ADMIN}/rooms/{quote(room_id)}{part}"
    query = {k: str(v) for k, v in params.items()}
    return await hs.request("GET", path, params=query, expect=expect)


async def all_pages(fetch, key, **params):
    """Every item of a paged list, following next_batch; also the number of pages."""
    items, token, pages = [], None, 0
    while True:
        page = await fetch(**params, **({"from": token} if token else {}))
        items += page[key]
        pages += 1
        token = page["next_batch"]
        if token is None:
            return items, pages


# --- users ---------------------------------------------------------------------------------


async def test_users_are_listed_newest_first_with_their_devices_and_live_tokens(hs):
    alice = await hs.register("alice")
    bob = await hs.register("bob")
    page = await users_page(hs)
    assert [user["user_id"] for user in page["users"]] == [bob.user_id, alice.user_id]
    listed_alice = page["users"][1]
    assert listed_alice["displayname"] == "alice"
    assert listed_alice["admin"] is False
    assert listed_alice["devices"] == [
        {"device_id": alice.device_id, "display_name": None, "live_token": True}
    ]
    assert listed_alice["device_count"] == 1
    assert page["next_batch"] is None


async def test_a_device_whose_token_is_gone_shows_no_live_token(hs):
    alice = await hs.register("alice")

    def drop_tokens(conn):
        conn.execute("DELETE FROM access_tokens WHERE user_id = ?", (alice.user_id,))

    await hs.homeserver.db.transaction(drop_tokens)
    (listed,) = (await users_page(hs))["users"]
    assert listed["devices"] == [
        {"device_id": alice.device_id, "display_name": None, "live_token": False}
    ]


async def test_a_logged_out_device_leaves_the_user_list(hs):
    alice = await hs.register("alice")
    await hs.request("POST", "/_matrix/client/v3/logout", alice)
    (listed,) = (await users_page(hs))["users"]
    assert listed["devices"] == [] and listed["device_count"] == 0


async def test_users_come_in_pages_that_together_list_each_user_once(hs):
    registered = [(await hs.register()).user_id for _ in range(5)]
    users, pages = await all_pages(lambda **p: users_page(hs, **p), "users", limit=2)
    assert [user["user_id"] for user in users] == registered[::-1]
    assert pages == 3


async def test_the_user_search_matches_ids_and_display_names_in_any_case(hs):
    await hs.register("alice")
    bob = await hs.register("bob")
    await hs.request(
        "PUT", f"/_matrix/client/v3/profile/{quote(bob.user_id)}/displayname", bob,
        json={"displayname": "Robert"},
    )
    by_name = await users_page(hs, search="ROBE")
    assert [user["user_id"] for user in by_name["users"]] == [bob.user_id]
    by_id = await users_page(hs, search="@ali")
    assert [user["user_id"] for user in by_id["users"]] == ["@alice:localhost"]


async def test_like_wildcards_in_a_search_match_only_themselves(hs):
    await hs.register("alice")
    assert (await users_page(hs, search="%"))["users"] == []
    assert (await users_page(hs, search="_"))["users"] == []


# --- rooms ---------------------------------------------------------------------------------


async def test_a_room_is_listed_with_name_alias_version_join_rule_and_member_counts(hs):
    alice, bob, carol, dan = [await hs.register(name) for name in ("alice", "bob", "carol", "dan")]
    room = await hs.create_room(alice, preset="public_chat", name="Lobby", room_alias_name="lobby")
    await hs.join(bob, room)
    await hs.invite(alice, room, carol)
    await hs.join(dan, room)
    await hs.leave(dan, room)
    (listed,) = (await rooms_page(hs))["rooms"]
    assert listed == {
        "room_id": room,
        "name": "Lobby",
        "alias": "#lobby:localhost",
        "version": "12",
        "join_rule": "public",
        "creator": alice.user_id,
        "created_ts": listed["created_ts"],
        "members": {"join": 2, "invite": 1, "knock": 0, "leave": 1, "ban": 0},
    }


async def test_rooms_come_newest_first_in_pages(hs):
    alice = await hs.register("alice")
    created = [await hs.create_room(alice) for _ in range(5)]
    rooms, pages = await all_pages(lambda **p: rooms_page(hs, **p), "rooms", limit=2)
    assert [room["room_id"] for room in rooms] == created[::-1]
    assert pages == 3


@pytest.mark.parametrize("search", ["LOBBY", "#lob", "lobby:local"])
async def test_the_room_search_matches_names_and_aliases_in_any_case(hs, search):
    alice = await hs.register("alice")
    lobby = await hs.create_room(alice, name="The Lobby", room_alias_name="lobby")
    await hs.create_room(alice, name="Kitchen")
    found = await rooms_page(hs, search=search)
    assert [room["room_id"] for room in found["rooms"]] == [lobby]


async def test_the_room_search_matches_part_of_a_room_id(hs):
    alice = await hs.register("alice")
    room = await hs.create_room(alice)
    await hs.create_room(alice)
    found = await rooms_page(hs, search=room[5:15])
    assert [listed["room_id"] for listed in found["rooms"]] == [room]


async def test_the_room_search_matches_a_local_alias_that_is_not_canonical(hs):
    alice = await hs.register("alice")
    room = await hs.create_room(alice, room_alias_name="lobby")
    await hs.set_state(alice, room, "m.room.canonical_alias", {})
    (listed,) = (await rooms_page(hs, search="lobby"))["rooms"]
    assert listed["alias"] == "#lobby:localhost"


async def test_one_room_shows_its_power_levels_topic_aliases_and_sizes(hs):
    alice = await hs.register("alice")
    room = await hs.create_room(alice, name="Lobby", topic="Say hi", room_alias_name="lobby")
    await hs.send(alice, room, "hello")
    detail = await room_part(hs, room)
    assert detail["room_id"] == room and detail["name"] == "Lobby"
    assert detail["topic"] == "Say hi"
    assert detail["aliases"] == ["#lobby:localhost"]
    assert detail["power_levels"] == (await hs.state(alice, room, "m.room.power_levels"))
    assert detail["event_count"] == len((await room_part(hs, room, "/events"))["events"])
    assert detail["state_count"] == len((await room_part(hs, room, "/state"))["state"])


async def test_an_unknown_room_is_not_found(hs):
    for part in ("", "/members", "/state", "/events"):
        body = await room_part(hs, "!nowhere:localhost", part, expect=404)
        assert body["errcode"] == "M_NOT_FOUND"


async def test_members_come_by_user_id_and_can_be_filtered_by_membership(hs):
    alice, bob, carol = [await hs.register(name) for name in ("alice", "bob", "carol")]
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.invite(alice, room, carol)
    everyone, pages = await all_pages(lambda **p: room_part(hs, room, "/members", **p),
                                      "members", limit=2)
    assert everyone == [
        {"user_id": alice.user_id, "membership": "join"},
        {"user_id": bob.user_id, "membership": "join"},
        {"user_id": carol.user_id, "membership": "invite"},
    ]
    assert pages == 2
    invited = await room_part(hs, room, "/members", membership="invite")
    assert invited["members"] == [{"user_id": carol.user_id, "membership": "invite"}]


async def test_an_unknown_membership_filter_is_refused(hs):
    alice = await hs.register("alice")
    room = await hs.create_room(alice)
    body = await room_part(hs, room, "/members", expect=400, membership="lurking")
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_state_is_whole_events_by_type_and_state_key_in_pages(hs):
    alice = await hs.register("alice")
    room = await hs.create_room(alice, name="Lobby")
    state, _ = await all_pages(lambda **p: room_part(hs, room, "/state", **p), "state", limit=3)
    keys = [(event["type"], event["state_key"]) for event in state]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    (name,) = [event for event in state if event["type"] == "m.room.name"]
    assert name["content"] == {"name": "Lobby"} and name["event_id"].startswith("$")


async def test_events_come_newest_first_and_each_one_whole_on_demand(hs):
    alice = await hs.register("alice")
    room = await hs.create_room(alice)
    first = await hs.send(alice, room, "first")
    second = await hs.send(alice, room, "second")
    events, _ = await all_pages(lambda **p: room_part(hs, room, "/events", **p), "events", limit=2)
    assert [event["event_id"] for event in events[:2]] == [second, first]
    assert events[0]["preview"] == "second" and events[0]["sender"] == alice.user_id
    assert events[-1]["type"] == "m.room.create"
    positions = [event["position"] for event in events]
    assert positions == sorted(positions, reverse=True)
    whole = await hs.request("GET", f"{ADMIN}/events/{quote(second)}")
    assert whole["room_id"] == room and whole["position"] == positions[0]
    assert whole["event"]["event_id"] == second
    assert whole["event"]["content"] == {"msgtype": "m.text", "body": "second"}


async def test_an_unknown_event_is_not_found(hs):
    body = await hs.request("GET", f"{ADMIN}/events/{quote('$nothing')}", expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


# --- mutual rooms ----------------------------------------------------------------------------


async def test_mutual_rooms_are_the_client_apis_answer_page_for_page(make_homeserver):
    hs = await make_homeserver(mutual_rooms={"page_size": 2})
    alice, bob = await hs.register("alice"), await hs.register("bob")
    for _ in range(5):
        room = await hs.create_room(alice, preset="public_chat")
        await hs.join(bob, room)
    await hs.create_room(alice)  # alice's alone
    token = None
    for _ in range(3):
        params = {"user_a": alice.user_id, "user_b": bob.user_id}
        if token:
            params["from"] = token
        admin = await hs.request("GET", f"{ADMIN}/mutual_rooms", params=params)
        client = await hs.mutual_rooms(alice, bob, from_token=token)
        assert admin["joined"] == client["joined"] and admin["count"] == client["count"] == 5
        # The admin API's token pages on in the client API: one code path, one token.
        assert admin["next_batch"] == client.get("next_batch")
        token = admin["next_batch"]
    assert token is None


@pytest.mark.parametrize("params, errcode", [
    ({"user_a": "@alice:localhost", "user_b": "@alice:localhost"}, "M_INVALID_PARAM"),
    ({"user_a": "@alice:localhost", "user_b": "not a user"}, "M_INVALID_PARAM"),
    ({"user_a": "@alice:localhost"}, "M_MISSING_PARAM"),
    ({"user_a": "@alice:localhost", "user_b": "@bob:localhost", "from": "forged"},
     "M_INVALID_PARAM"),
])
async def test_a_bad_mutual_rooms_question_is_refused(hs, params, errcode):
    body = await hs.request("GET", f"{ADMIN}/mutual_rooms", params=params, expect=400)
    assert body["errcode"] == errcode


# --- paging errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten", "1.5", "٣"])
async def test_a_limit_outside_one_to_two_hundred_is_refused(hs, limit):
    body = await hs.request("GET", f"{ADMIN}/users", params={"limit": limit}, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


@pytest.mark.parametrize("token", ["x", "WyJhIl0", "W10", "bm90IGpzb24", "W3RydWVd"])
async def test_a_page_token_the_server_did_not_make_is_refused(hs, token):
    body = await hs.request("GET", f"{ADMIN}/rooms", params={"from": token}, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_a_search_longer_than_256_characters_is_refused(hs):
    body = await hs.request("GET", f"{ADMIN}/rooms", params={"search": "a" * 257}, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


# --- status ----------------------------------------------------------------------------------


async def test_the_status_moves_when_users_rooms_and_events_are_added(hs):
    before = await hs.request("GET", f"{ADMIN}/status")
    alice = await hs.register("alice")
    room = await hs.create_room(alice)
    await hs.send(alice, room)
    after = await hs.request("GET", f"{ADMIN}/status")
    assert (before["users"], before["rooms"], before["live_tokens"]) == (0, 0, 0)
    assert (after["users"], after["rooms"], after["live_tokens"]) == (1, 1, 1)
    assert after["stream_position"] > before["stream_position"]
    assert after["server_name"] == "localhost"
    assert set(after["clock"]) == {"now_ms", "frozen"}


async def test_the_status_shows_the_request_logs_mark_and_how_many_faults_are_on(hs):
    await hs.register("alice")
    await hs.request("POST", f"{ADMIN}/faults", json={"method": "GET", "path": "/sync",
                                                     "status": 500})
    status = await hs.request("GET", f"{ADMIN}/status")
    # One request recorded (the registration): admin requests are never logged.
    assert status["requests"] == {"mark": 1, "total": 1}
    assert status["faults"] == 1


# --- the page --------------------------------------------------------------------------------


async def test_the_page_is_html_that_runs_only_its_own_script(hs):
    response = await hs.http.get("/_minihs/")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    page = await response.text()
    assert '<script type="module" src="/_minihs/inspector/inspector.js"' in page
    assert "<script>" not in page  # nothing inline: the policy would refuse it


# The page's files as they are in the checkout: each one must be served, so a script added
# to the folder and forgotten in the allow-list (admin_inspect.ASSET_TYPES) fails here.
PAGE_FILES = sorted(path.name for path in (ROOT / "minihs" / "api" / "inspector").iterdir())
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
IMPORT = re.compile(r'^import\b[^;]*?\bfrom "\./([\w.-]+)";', re.MULTILINE)


@pytest.mark.parametrize("name", PAGE_FILES)
async def test_the_pages_files_are_served_with_their_types(hs, name):
    response = await hs.http.get(f"/_minihs/inspector/{name}")
    assert response.status == 200
    assert response.content_type == TYPES[Path(name).suffix]


async def test_every_module_the_pages_script_imports_is_served_as_javascript(hs):
    """The browser loads inspector.js as an ES module and then what it imports, relative to
    /_minihs/inspector/: the whole graph must resolve on the server."""
    seen, waiting = set(), ["inspector.js"]
    while waiting:
        name = waiting.pop()
        seen.add(name)
        response = await hs.http.get(f"/_minihs/inspector/{name}")
        assert response.status == 200, f"{name} is imported but not served"
        assert response.content_type == "text/javascript"
        waiting += [found for found in IMPORT.findall(await response.text()) if found not in seen]
    # Every script in the folder is part of the page: none is shipped and never loaded.
    assert seen == {name for name in PAGE_FILES if name.endswith(".js")}


@pytest.mark.parametrize("name", ["nothing.js", "..%2Fadmin.py", "__init__.py"])
async def test_only_the_pages_own_files_are_served(hs, name):
    response = await hs.http.get(f"/_minihs/inspector/{name}")
    assert response.status == 404
    assert (await response.json())["errcode"] == "M_NOT_FOUND"


# --- the admin API's rule --------------------------------------------------------------------

EVERY_PATH = [
    "/_minihs/", "/_minihs/inspector/inspector.js", f"{ADMIN}/status", f"{ADMIN}/users",
    f"{ADMIN}/rooms", f"{ADMIN}/rooms/!r:localhost", f"{ADMIN}/rooms/!r:localhost/members",
    f"{ADMIN}/rooms/!r:localhost/state", f"{ADMIN}/rooms/!r:localhost/events",
    f"{ADMIN}/events/$e", f"{ADMIN}/mutual_rooms?user_a=@a:localhost&user_b=@b:localhost",
]


@pytest.mark.parametrize("path", EVERY_PATH)
async def test_nothing_of_the_inspector_exists_when_the_admin_api_is_off(hs_admin_off, path):
    hs = hs_admin_off
    response = await hs.http.get(path)
    assert response.status == 404
    assert (await response.json())["errcode"] == "M_UNRECOGNIZED"


@pytest.mark.parametrize("path", EVERY_PATH)
async def test_nothing_of_the_inspector_answers_a_request_relayed_by_a_proxy(hs, path):
    response = await hs.http.get(path, headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status == 404
    assert (await response.json())["errcode"] == "M_UNRECOGNIZED"


async def test_the_passwords_of_users_are_nowhere_in_the_user_list(hs):
    await hs.register("alice")
    page = await hs.http.get(f"{ADMIN}/users")
    assert PASSWORD not in await page.text() and "argon2" not in await page.text()
