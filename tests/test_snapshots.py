"""Snapshots: take one, change the server, restore it, and the server is as it was.

Through the admin HTTP API (``/_minihs/admin/snapshots``) and the Python API
(``MinihsServer.snapshot`` / ``restore`` / ``delete_snapshot`` / ``snapshots``). What a restore
brings back: the database (users, tokens, rooms, events), the ID source's state, the clock if it
was frozen; what it forgets: every cache, presence, typing, UIA sessions, and sync tokens (a new
stream epoch). Requests in flight: tests/test_snapshots_in_flight.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import database_thread_held, until
from joined_pairs import index_pairs, stored_joined_pairs

from minihs.api.admin import RESET_PATH
from minihs.domain import snapshots as snapshots_module
from minihs.spec.errors import MatrixError
from minihs.testing import MinihsServer

SNAPSHOTS = "/_minihs/admin/snapshots"
WHOAMI = "/_matrix/client/v3/account/whoami"


def snapshot_path(name: str) -> str:
    return f"{SNAPSHOTS}/{name}"


async def take(hs, name: str, expect: int = 200):
    return await hs.request("PUT", snapshot_path(name), expect=expect)


async def restore(hs, name: str, expect: int = 200):
    return await hs.request("POST", snapshot_path(name) + "/restore", expect=expect)


async def stored_events(hs) -> int:
    return await hs.homeserver.db.read(
        lambda conn: conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    )


async def index_equals_database(hs) -> bool:
    homeserver = hs.homeserver
    return index_pairs(homeserver.joined_rooms) == await stored_joined_pairs(homeserver.db)


async def a_room_with_a_message(hs):
    alice, bob = await hs.register("alice"), await hs.register("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    event_id = await hs.send(alice, room, "before the snapshot")
    return alice, bob, room, event_id


def timeline_bodies(sync_body, room: str) -> list[str]:
    events = sync_body["rooms"]["join"][room]["timeline"]["events"]
    return [e["content"].get("body") for e in events if e["type"] == "m.room.message"]


# --- taking, listing, deleting ----------------------------------------------------------------


async def test_taking_a_snapshot_answers_its_name_time_and_event_count(hs):
    await a_room_with_a_message(hs)
    body = await take(hs, "after-setup")
    assert body == {
        "name": "after-setup",
        "taken_at_ms": body["taken_at_ms"],
        "events": await stored_events(hs),
    }
    assert body["events"] > 0
    assert abs(body["taken_at_ms"] - hs.homeserver.clock.now_ms()) < 60_000


async def test_the_snapshot_time_is_the_server_clocks(hs):
    hs.homeserver.clock.freeze()
    hs.homeserver.clock.set_ms(1_000_000)
    assert (await take(hs, "s"))["taken_at_ms"] == 1_000_000


async def test_the_list_shows_every_snapshot_oldest_first(hs):
    first = await take(hs, "first")
    await hs.register()
    second = await take(hs, "second")
    assert await hs.request("GET", SNAPSHOTS) == {"snapshots": [first, second]}


async def test_the_list_is_empty_on_a_new_server(hs):
    assert await hs.request("GET", SNAPSHOTS) == {"snapshots": []}


async def test_taking_a_snapshot_again_under_its_name_replaces_it(hs):
    await take(hs, "s")
    alice = await hs.register("alice")
    await take(hs, "s")
    await hs.register("bob")
    await restore(hs, "s")
    assert [s["name"] for s in (await hs.request("GET", SNAPSHOTS))["snapshots"]] == ["s"]
    await hs.request("GET", WHOAMI, alice)  # in the newer copy


async def test_deleting_a_snapshot_removes_it(hs):
    await take(hs, "s")
    assert await hs.request("DELETE", snapshot_path("s")) == {}
    assert await hs.request("GET", SNAPSHOTS) == {"snapshots": []}
    body = await restore(hs, "s", expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


@pytest.mark.parametrize("method, suffix", [("POST", "/restore"), ("DELETE", "")])
async def test_an_unknown_snapshot_is_404_not_found(hs, method, suffix):
    body = await hs.request(method, snapshot_path("nothing-here") + suffix, expect=404)
    assert body["errcode"] == "M_NOT_FOUND"
    assert "nothing-here" in body["error"]


@pytest.mark.parametrize(
    "name", ["a" * 65, "with%20space", "caf%C3%A9", "a%2Fb", "semi;colon", "%00"]
)
@pytest.mark.parametrize("method, suffix", [("PUT", ""), ("POST", "/restore"), ("DELETE", "")])
async def test_a_name_outside_the_grammar_is_400_invalid_param(hs, name, method, suffix):
    body = await hs.request(method, snapshot_path(name) + suffix, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_the_longest_name_and_every_allowed_character_are_accepted(hs):
    for name in ("a" * 64, "Az09._-"):
        assert (await take(hs, name))["name"] == name


async def test_more_snapshots_than_the_limit_are_refused_but_a_name_can_be_reused(
    hs, monkeypatch
):
    monkeypatch.setattr(snapshots_module, "MAX_SNAPSHOTS", 3)
    for name in ("a", "b", "c"):
        await take(hs, name)
    body = await take(hs, "d", expect=400)
    assert body["errcode"] == "M_LIMIT_EXCEEDED"
    assert "3" in body["error"]
    await take(hs, "a")  # replacing one is not a new one
    await hs.request("DELETE", snapshot_path("b"))
    await take(hs, "d")


def test_the_limit_on_snapshots_is_one_hundred():
    assert snapshots_module.MAX_SNAPSHOTS == 100


async def test_the_snapshot_endpoints_do_not_exist_when_the_admin_api_is_off(hs_admin_off):
    hs = hs_admin_off
    for method, path in (
        ("GET", SNAPSHOTS),
        ("PUT", snapshot_path("s")),
        ("POST", snapshot_path("s") + "/restore"),
        ("DELETE", snapshot_path("s")),
    ):
        body = await hs.request(method, path, expect=404)
        assert body["errcode"] == "M_UNRECOGNIZED"
    assert hs.homeserver.list_snapshots() == []


async def test_the_snapshot_endpoints_do_not_exist_for_a_request_relayed_by_a_proxy(hs):
    body = await hs.request(
        "PUT", snapshot_path("s"), headers={"X-Forwarded-For": "203.0.113.7"}, expect=404
    )
    assert body["errcode"] == "M_UNRECOGNIZED"
    assert hs.homeserver.list_snapshots() == []


async def test_an_internal_snapshot_is_unlisted_and_out_of_the_admin_apis_reach(hs):
    # The scenario loader's rollback point: taken and restored with the primitives, under the
    # gate it already holds.
    homeserver = hs.homeserver
    alice = await hs.register("alice")
    async with homeserver.gate.exclusive():
        await homeserver.snapshots.take("rollback", internal=True)
    await hs.register("bob")
    assert await hs.request("GET", SNAPSHOTS) == {"snapshots": []}
    assert (await restore(hs, "rollback", expect=404))["errcode"] == "M_NOT_FOUND"
    async with homeserver.gate.exclusive():
        await homeserver.snapshots.restore("rollback", internal=True)
        homeserver.snapshots.delete("rollback", internal=True)
    await hs.request("GET", WHOAMI, alice)
    await hs.register("bob")  # gone with the rollback


async def test_internal_snapshots_do_not_count_against_the_limit(hs, monkeypatch):
    monkeypatch.setattr(snapshots_module, "MAX_SNAPSHOTS", 1)
    async with hs.homeserver.gate.exclusive():
        await hs.homeserver.snapshots.take("rollback", internal=True)
    await take(hs, "listed")


# --- what a restore brings back ---------------------------------------------------------------


async def test_users_rooms_and_messages_made_after_the_snapshot_are_gone_after_restoring(hs):
    alice, bob, room, _ = await a_room_with_a_message(hs)
    events = await stored_events(hs)
    await take(hs, "s")
    carol = await hs.register("carol")
    later_room = await hs.create_room(carol, preset="public_chat")
    await hs.send(alice, room, "after the snapshot")
    assert await restore(hs, "s") == {}
    assert await stored_events(hs) == events
    await hs.register("carol")  # the name is free again
    body = await hs.join(bob, later_room, expect=404)
    assert body["errcode"] == "M_NOT_FOUND"
    synced = await hs.sync(alice)
    assert timeline_bodies(synced, room) == ["before the snapshot"]


async def test_changes_undone_by_a_restore_include_leaves_and_state(hs):
    alice, bob, room, _ = await a_room_with_a_message(hs)
    await take(hs, "s")
    await hs.set_state(alice, room, "m.room.topic", {"topic": "later"})
    await hs.leave(bob, room)
    await restore(hs, "s")
    assert await hs.joined_rooms(bob) == [room]
    await hs.state(alice, room, "m.room.topic", expect=404)


async def test_a_token_from_before_the_snapshot_still_works_after_restoring(hs):
    alice = await hs.register("alice")
    await take(hs, "s")
    await hs.request("POST", "/_matrix/client/v3/logout", alice)  # gone after the snapshot
    await restore(hs, "s")
    assert (await hs.request("GET", WHOAMI, alice))["user_id"] == alice.user_id


async def test_a_token_minted_after_the_snapshot_is_401_after_restoring(hs):
    alice = await hs.register("alice")
    await take(hs, "s")
    login = await hs.request(
        "POST",
        "/_matrix/client/v3/login",
        json={"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
              "password": alice.password},
    )
    later = type(alice)(alice.user_id, login["access_token"], login["device_id"], alice.password)
    await hs.request("GET", WHOAMI, later)  # known, and cached
    await restore(hs, "s")
    body = await hs.request("GET", WHOAMI, later, expect=401)
    assert body["errcode"] == "M_UNKNOWN_TOKEN"


async def test_mutual_rooms_and_sync_agree_with_the_restored_memberships(hs):
    alice, bob, room, _ = await a_room_with_a_message(hs)
    await take(hs, "s")
    other = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, other)
    await hs.leave(bob, room)
    await restore(hs, "s")
    assert (await hs.mutual_rooms(alice, bob))["joined"] == [room]
    assert list((await hs.sync(bob))["rooms"]["join"]) == [room]
    assert await index_equals_database(hs)


async def test_a_sync_token_from_before_a_restore_is_refused_and_a_fresh_sync_works(hs):
    alice, _, room, _ = await a_room_with_a_message(hs)
    await take(hs, "s")
    since = (await hs.sync(alice))["next_batch"]
    await restore(hs, "s")
    body = await hs.sync(alice, since=since, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"
    fresh = await hs.sync(alice)
    assert timeline_bodies(fresh, room) == ["before the snapshot"]
    await hs.send(alice, room, "after the restore")
    following = await hs.sync(alice, since=fresh["next_batch"])
    assert timeline_bodies(following, room) == ["after the restore"]


async def test_the_stream_continues_from_the_snapshots_position(hs):
    alice, _, room, _ = await a_room_with_a_message(hs)
    await take(hs, "s")
    position = hs.homeserver.stream.position
    for _ in range(3):
        await hs.send(alice, room)
    await restore(hs, "s")
    assert hs.homeserver.stream.position == position


async def test_restoring_twice_in_a_row_gives_the_same_server(hs):
    alice, bob, room, _ = await a_room_with_a_message(hs)
    await take(hs, "s")
    await hs.send(alice, room, "gone")
    await restore(hs, "s")
    await restore(hs, "s")
    assert timeline_bodies(await hs.sync(bob), room) == ["before the snapshot"]
    await hs.send(bob, room, "after two restores")
    assert timeline_bodies(await hs.sync(alice), room) == [
        "before the snapshot", "after two restores"
    ]
    assert await index_equals_database(hs)


async def test_each_test_of_a_suite_starts_from_the_same_snapshot(hs):
    alice, _, room, _ = await a_room_with_a_message(hs)
    await take(hs, "suite")
    for test in range(3):
        await restore(hs, "suite")
        await hs.send(alice, room, f"test {test}")
        assert timeline_bodies(await hs.sync(alice), room) == [
            "before the snapshot", f"test {test}"
        ]


async def test_a_snapshot_survives_a_reset_and_restores_over_the_empty_server(hs):
    alice, bob, room, _ = await a_room_with_a_message(hs)
    await take(hs, "s")
    await hs.request("POST", RESET_PATH)
    await hs.request("GET", WHOAMI, alice, expect=401)
    assert [s["name"] for s in (await hs.request("GET", SNAPSHOTS))["snapshots"]] == ["s"]
    await restore(hs, "s")
    await hs.request("GET", WHOAMI, alice)
    assert (await hs.mutual_rooms(alice, bob))["joined"] == [room]
    assert await index_equals_database(hs)


async def test_a_reset_after_a_restore_empties_the_server(hs):
    alice, _, _, _ = await a_room_with_a_message(hs)
    await take(hs, "s")
    await restore(hs, "s")
    await hs.request("POST", RESET_PATH)
    await hs.request("GET", WHOAMI, alice, expect=401)
    assert await stored_events(hs) == 0
    await hs.register("alice")


async def test_a_snapshot_taken_after_a_restore_restores_what_it_holds(hs):
    alice, bob, room, _ = await a_room_with_a_message(hs)
    await take(hs, "first")
    await restore(hs, "first")
    await hs.send(bob, room, "in the second")
    await take(hs, "second")
    await hs.send(bob, room, "in neither")
    await restore(hs, "second")
    assert timeline_bodies(await hs.sync(alice), room) == [
        "before the snapshot", "in the second"
    ]
    await restore(hs, "first")
    assert timeline_bodies(await hs.sync(alice), room) == ["before the snapshot"]


async def test_a_snapshot_of_the_empty_server_works_like_a_reset(hs):
    await take(hs, "empty")
    alice, _, _, _ = await a_room_with_a_message(hs)
    await restore(hs, "empty")
    await hs.request("GET", WHOAMI, alice, expect=401)
    assert await stored_events(hs) == 0
    assert index_pairs(hs.homeserver.joined_rooms) == set()


async def test_a_restore_forgets_presence_typing_and_registration_sessions(hs):
    alice, bob, room, _ = await a_room_with_a_message(hs)
    await take(hs, "s")
    await hs.request("PUT", f"/_matrix/client/v3/presence/{alice.user_id}/status", alice,
                     json={"presence": "unavailable"})
    await hs.request("PUT", f"/_matrix/client/v3/rooms/{room}/typing/{bob.user_id}", bob,
                     json={"typing": True, "timeout": 30000})
    started = await hs.request(
        "POST", "/_matrix/client/v3/register", json={"username": "dave", "password": "p"},
        expect=401,
    )
    await restore(hs, "s")
    presence = await hs.request("GET", f"/_matrix/client/v3/presence/{alice.user_id}/status", bob)
    assert presence["presence"] == "offline"
    homeserver = hs.homeserver
    assert homeserver.typing.typing_event(room, None, homeserver.stream.position) is None
    body = await hs.request(
        "POST", "/_matrix/client/v3/register",
        json={"username": "dave", "password": "p",
              "auth": {"type": "m.login.dummy", "session": started["session"]}},
        expect=400,
    )
    assert "session" in body["error"]


async def test_a_mutual_rooms_page_token_from_before_a_restore_is_refused(make_homeserver):
    hs = await make_homeserver(mutual_rooms={"page_size": 1})
    alice, bob = await hs.register("alice"), await hs.register("bob")
    for _ in range(2):
        await hs.join(bob, await hs.create_room(alice, preset="public_chat"))
    await take(hs, "s")
    token = (await hs.mutual_rooms(alice, bob))["next_batch"]
    await restore(hs, "s")
    body = await hs.mutual_rooms(alice, bob, from_token=token, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_a_restore_whose_caller_is_cancelled_still_completes_and_reopens(hs):
    await take(hs, "s")
    alice = await hs.register("alice")
    homeserver = hs.homeserver
    async with database_thread_held(homeserver.db):
        restoring = asyncio.ensure_future(homeserver.restore_snapshot("s"))
        await until(lambda: homeserver.gate.closed)  # under way, stuck behind the held thread
        restoring.cancel()
    with pytest.raises(asyncio.CancelledError):
        await restoring
    await hs.request("GET", WHOAMI, alice, expect=401)  # restored without its caller
    assert not homeserver.gate.closed


async def test_an_unknown_name_is_refused_before_the_server_is_stopped(hs):
    homeserver = hs.homeserver
    async with database_thread_held(homeserver.db):
        with pytest.raises(MatrixError) as refused:
            await asyncio.wait_for(homeserver.restore_snapshot("nope"), 1)
        assert not homeserver.gate.closed
    assert refused.value.status == 404


# --- the ID source and the clock --------------------------------------------------------------


async def test_seeded_the_ids_drawn_after_each_restore_are_the_same(make_homeserver):
    hs = await make_homeserver(deterministic={"seed": "snapshots"})
    ids = hs.homeserver.ids
    ids.token_hex(8)
    await take(hs, "s")
    after_snapshot = [ids.token_hex(8) for _ in range(3)]
    await restore(hs, "s")
    # The restore draws the new stream epoch first, from the state the snapshot saved.
    after_first = [ids.token_hex(8) for _ in range(3)]
    await restore(hs, "s")
    assert [ids.token_hex(8) for _ in range(3)] == after_first
    assert after_first != after_snapshot  # the epoch's draw sits in between


async def test_seeded_a_restore_takes_its_epoch_from_the_restored_id_source(make_homeserver):
    hs = await make_homeserver(deterministic={"seed": "snapshots"})
    homeserver = hs.homeserver
    await take(hs, "s")
    saved = homeserver.ids.saved()
    homeserver.ids.token_hex(100)  # drawn after the snapshot: forgotten by the restore
    await restore(hs, "s")
    homeserver.ids.restore_saved(saved)
    assert homeserver.stream.epoch == homeserver.ids.token_hex(4)


async def test_seeded_each_restore_of_a_snapshot_gives_the_same_sync_token(make_homeserver):
    hs = await make_homeserver(deterministic={"seed": "snapshots"})
    alice, _, _, _ = await a_room_with_a_message(hs)
    await take(hs, "s")
    await restore(hs, "s")
    first = (await hs.sync(alice))["next_batch"]
    await restore(hs, "s")
    assert (await hs.sync(alice))["next_batch"] == first


async def test_unseeded_each_restore_gives_a_new_stream_epoch(hs):
    await take(hs, "s")
    epochs = set()
    for _ in range(3):
        await restore(hs, "s")
        epochs.add(hs.homeserver.stream.epoch)
    assert len(epochs) == 3


async def test_a_clock_frozen_at_the_snapshot_is_restored(hs):
    clock = hs.homeserver.clock
    clock.freeze()
    clock.set_ms(5_000_000)
    await take(hs, "s")
    clock.advance_ms(60_000)
    await restore(hs, "s")
    assert clock.state() == {"now_ms": 5_000_000, "frozen": True}
    clock.unfreeze()
    await restore(hs, "s")
    assert clock.state() == {"now_ms": 5_000_000, "frozen": True}


async def test_a_clock_running_at_the_snapshot_is_left_alone_by_a_restore(hs):
    clock = hs.homeserver.clock
    await take(hs, "s")
    clock.freeze()
    clock.set_ms(5_000_000)
    await restore(hs, "s")
    assert clock.state() == {"now_ms": 5_000_000, "frozen": True}


# --- the Python API ---------------------------------------------------------------------------


def test_the_python_api_restores_a_snapshot(server):
    server.reset()
    alice = server.register_user("alice")
    room = server.create_room(alice, preset="public_chat")
    taken = server.snapshot("py")
    assert taken["name"] == "py" and taken["events"] > 0
    bob = server.register_user("bob")
    server.join(bob, room)
    server.restore("py")
    assert server.request("GET", WHOAMI, alice)["user_id"] == alice.user_id
    assert server.request("GET", WHOAMI, bob, expect=401)["errcode"] == "M_UNKNOWN_TOKEN"
    members = server.request("GET", f"/_matrix/client/v3/rooms/{room}/joined_members", alice)
    assert list(members["joined"]) == [alice.user_id]


def test_the_python_api_lists_and_deletes_snapshots(server):
    server.reset()
    for name in list(s["name"] for s in server.snapshots()):
        server.delete_snapshot(name)
    first = server.snapshot("one")
    second = server.snapshot("two")
    assert server.snapshots() == [first, second]
    server.delete_snapshot("one")
    assert server.snapshots() == [second]


def test_the_python_api_and_the_admin_api_share_the_snapshots(server):
    taken = server.snapshot("shared")
    listed = server.request("GET", SNAPSHOTS)["snapshots"]
    assert taken in listed
    server.request("DELETE", snapshot_path("shared"))
    assert taken not in server.snapshots()


@pytest.mark.parametrize(
    "call, status, errcode",
    [
        (lambda s: s.restore("missing"), 404, "M_NOT_FOUND"),
        (lambda s: s.delete_snapshot("missing"), 404, "M_NOT_FOUND"),
        (lambda s: s.snapshot("no spaces"), 400, "M_INVALID_PARAM"),
        (lambda s: s.restore(""), 400, "M_INVALID_PARAM"),
    ],
)
def test_the_python_api_raises_the_admin_apis_errors(server, call, status, errcode):
    with pytest.raises(MatrixError) as raised:
        call(server)
    assert (raised.value.status, raised.value.errcode) == (status, errcode)


def test_a_file_database_is_restored_on_disk(tmp_path):
    path = tmp_path / "snap.db"
    with MinihsServer({"database": {"path": str(path)}}) as server:
        alice = server.register_user("alice")
        room = server.create_room(alice, preset="public_chat")
        server.snapshot("s")
        bob = server.register_user("bob")
        server.join(bob, room)
        server.restore("s")
        assert server.request("GET", WHOAMI, bob, expect=401)["errcode"] == "M_UNKNOWN_TOKEN"
        server.request("GET", WHOAMI, alice)
        carol = server.register_user("carol")  # writes go on after the restore
    with sqlite3.connect(path) as conn:
        users = {u for (u,) in conn.execute("SELECT user_id FROM users")}
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    assert users == {alice.user_id, carol.user_id}
    assert mode == "wal"
    with MinihsServer({"database": {"path": str(path)}}) as server:  # and it opens again
        server.request("GET", WHOAMI, carol)
        assert server.snapshots() == []  # snapshots live in memory, not in the file


# --- the benchmark ----------------------------------------------------------------------------


def test_the_snapshot_benchmark_runs_a_small_world_end_to_end(tmp_path):
    script = Path(__file__).resolve().parent.parent / "scripts" / "bench_snapshots.py"
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(script), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "in-process" in result.stdout and "admin HTTP" in result.stdout
    figures = json.loads(out.read_text())["results"]
    for database in ("memory", "file"):
        assert figures[database]["events"] >= 300
        for path in ("in_process_ms", "admin_http_ms"):
            row = figures[database][path]
            assert row["n"] == 10 and 0 < row["median"] <= row["max"]


# --- what tests inject and observe: kept by a restore, forgotten by a reset --------------------

FAULTS = "/_minihs/admin/faults"
REQUESTS = "/_minihs/admin/requests"


async def test_a_restore_keeps_the_fault_rules_and_the_request_log(hs):
    await take(hs, "start")
    await hs.request("POST", FAULTS, json={"method": "GET", "path": "/capabilities", "status": 503})
    await hs.request("GET", "/_matrix/client/versions")
    await restore(hs, "start")
    assert len((await hs.request("GET", FAULTS))["faults"]) == 1
    logged = (await hs.request("GET", REQUESTS))["requests"]
    assert [entry["path"] for entry in logged] == ["/_matrix/client/versions"]


async def test_a_reset_forgets_the_fault_rules_and_the_request_log(hs):
    await hs.request("POST", FAULTS, json={"method": "GET", "path": "/capabilities", "status": 503})
    await hs.request("GET", "/_matrix/client/versions")
    await hs.request("POST", RESET_PATH)
    assert (await hs.request("GET", FAULTS))["faults"] == []
    assert (await hs.request("GET", REQUESTS))["requests"] == []


@pytest.mark.parametrize("name", [".", ".."])
def test_a_name_that_is_a_dot_segment_is_refused_as_http_could_not_reach_it(fresh, name):
    with pytest.raises(MatrixError) as refused:
        fresh.snapshot(name)
    assert refused.value.status == 400 and refused.value.errcode == "M_INVALID_PARAM"
