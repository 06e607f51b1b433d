"""The benchmark's fast path: seeded data must be what the server itself would have written.

A server started on a seeded database answers mutual_rooms, joined_rooms and joined_members
exactly as the seeding says, a seeded room is stored like a room created over HTTP, and the
benchmark script runs a small scenario end to end (it checks every count it reads).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from minihs.testing.seeding import DEFAULT_PASSWORD, Seeder, seed_mutual_rooms, seed_population
from minihs.testing import MinihsServer, MinihsUser

REPO = Path(__file__).resolve().parent.parent
PAGE_SIZE = 7


def user_of(token) -> MinihsUser:
    return MinihsUser(token.user_id, token.access_token, token.device_id, "")


def walk(server: MinihsServer, user: MinihsUser, other: str) -> tuple[list[str], set[int]]:
    rooms, counts, token = [], set(), None
    while True:
        page = server.mutual_rooms(user, other, token)
        rooms += page["joined"]
        counts.add(page["count"])
        token = page.get("next_batch")
        if token is None:
            return rooms, counts


def joined_members(server: MinihsServer, user: MinihsUser, room_id: str) -> set[str]:
    path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/joined_members"
    return set(server.request("GET", path, user)["joined"])


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A database with a mutual-rooms scenario and a small random population, and a server on it."""
    db = tmp_path_factory.mktemp("seeded") / "seeded.db"
    with Seeder(str(db)) as seeder:
        scenario = seed_mutual_rooms(seeder, 30, 12, small=(10, 4))
        seed_population(seeder, 40, 200, room_size=8)
    config = {"database": {"path": str(db)}, "mutual_rooms": {"page_size": PAGE_SIZE}}
    with MinihsServer(config) as server:
        yield server, scenario, db


def test_mutual_rooms_on_seeded_data_are_exactly_the_shared_rooms(seeded):
    server, scenario, _ = seeded
    rooms, counts = walk(server, user_of(scenario.user_a), scenario.user_b.user_id)
    assert rooms == sorted(scenario.shared_room_ids)
    assert counts == {12}


def test_mutual_rooms_with_the_small_partner_are_the_rooms_c_joined(seeded):
    server, scenario, _ = seeded
    rooms, _ = walk(server, user_of(scenario.user_c), scenario.user_a.user_id)
    assert rooms == sorted(scenario.c_shared_room_ids)


def test_joined_rooms_on_seeded_data_are_every_room_the_user_is_in(seeded):
    server, scenario, _ = seeded
    joined = server.request("GET", "/_matrix/client/v3/joined_rooms", user_of(scenario.user_b))
    # B: the 12 shared rooms plus 18 of its own.
    assert len(joined["joined_rooms"]) == 30
    assert set(scenario.shared_room_ids) <= set(joined["joined_rooms"])


def test_joined_members_of_seeded_rooms_match_the_memberships_table(seeded):
    server, scenario, db = seeded
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT r.room_id, m.user_id FROM memberships m JOIN rooms r USING (room_nid) "
            "WHERE m.membership = 'join'"
        ).fetchall()
    members: dict[str, set[str]] = {}
    for room_id, user_id in rows:
        members.setdefault(room_id, set()).add(user_id)
    a = user_of(scenario.user_a)
    for room_id in scenario.shared_room_ids[:3]:
        assert joined_members(server, a, room_id) == members[room_id] == {
            scenario.user_a.user_id, scenario.user_b.user_id,
        }
    population_rooms = [r for r, m in members.items() if len(m) == 8]
    assert len(population_rooms) == 25
    # A population member can read its room's members, and they are the seeded eight.
    room_id = population_rooms[0]
    member = sorted(members[room_id])[0]
    # Logged in over HTTP: a seeder may not write (a token) under a running server.
    login = server.request(
        "POST",
        "/_matrix/client/v3/login",
        json_body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": member},
            "password": DEFAULT_PASSWORD,
        },
    )
    reader = MinihsUser(login["user_id"], login["access_token"], login["device_id"], "")
    assert joined_members(server, reader, room_id) == members[room_id]


def test_the_server_applies_membership_changes_to_seeded_rooms(seeded):
    server, scenario, _ = seeded
    b = user_of(scenario.user_b)
    room_id = scenario.shared_room_ids[0]
    server.leave(b, room_id)
    assert server.mutual_rooms(user_of(scenario.user_a), b.user_id)["count"] == 11
    server.join(b, room_id)
    assert server.mutual_rooms(user_of(scenario.user_a), b.user_id)["count"] == 12


def _room_shape(conn: sqlite3.Connection, room_id: str) -> dict:
    """What a room's stored rows look like, without the IDs, hashes and times that differ."""
    (nid,) = conn.execute("SELECT room_nid FROM rooms WHERE room_id = ?", (room_id,)).fetchone()
    events = []
    for etype, state_key, depth, text in conn.execute(
        "SELECT type, state_key, depth, json FROM events WHERE room_nid = ? ORDER BY stream_ordering",
        (nid,),
    ):
        pdu = json.loads(text)
        if etype == "m.room.member" and pdu["content"].get("displayname") == state_key[1:].split(":")[0]:
            pdu["content"]["displayname"] = "<localpart>"  # as registration gives it; names differ
        for key in ("sender", "origin_server_ts", "hashes", "room_id", "state_key"):
            pdu.pop(key, None)
        if etype == "m.room.member":
            state_key = "creator" if depth == 2 else "joiner"
        auth, prev = len(pdu.pop("auth_events")), len(pdu.pop("prev_events"))
        events.append((etype, state_key, depth, auth, prev, json.dumps(pdu, sort_keys=True)))
    state = conn.execute(
        "SELECT COUNT(*) FROM current_state WHERE room_nid = ?", (nid,)
    ).fetchone()[0]
    members = sorted(
        m for (m,) in conn.execute("SELECT membership FROM memberships WHERE room_nid = ?", (nid,))
    )
    return {"events": events, "current_state_rows": state, "memberships": members}


def test_a_seeded_room_is_stored_like_a_room_created_and_joined_over_http(tmp_path):
    db = tmp_path / "compare.db"
    with Seeder(str(db)) as seeder:
        creator, joiner = seeder.add_users(["seed-creator", "seed-joiner"], password=None)
        (seeded_room,) = seeder.add_rooms([(creator, [joiner])])
    with MinihsServer({"database": {"path": str(db)}}) as server:
        alice = server.register_user("http-creator")
        bob = server.register_user("http-joiner")
        http_room = server.create_room(alice, preset="public_chat")
        server.join(bob, http_room)
    with sqlite3.connect(db) as conn:
        seeded_shape = _room_shape(conn, seeded_room.room_id)
        http_shape = _room_shape(conn, http_room)
    # Same events in the same order, with the same content and the same number of auth and
    # prev events; the same current state and membership rows.
    assert seeded_shape == http_shape


def run_bench(tmp_path, *args: str) -> dict:
    """Run scripts/bench.py in quick mode with ``args``; its JSON summary."""
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable, str(REPO / "scripts" / "bench.py"), "--quick", *args,
            "--cache-dir", str(tmp_path / "cache"), "--json", str(out), "--quiet-seed",
        ],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def test_the_benchmark_script_runs_a_small_scenario_end_to_end(tmp_path):
    summary = run_bench(
        tmp_path, "--figures", "6", "--scenarios", "40:10", "--trials", "4", "--rps-seconds", "0.2"
    )
    scenario = summary["results"]["6_mutual_rooms"]["R40_S10"]
    assert scenario["first_page_after_change"]["n"] == 4
    assert scenario["full_walk_after_change"]["pages"] == 1
    assert scenario["first_page_steady"]["requests"] > 0


def test_the_benchmark_compares_mutual_rooms_with_the_ceiling_on_its_own_loop(tmp_path):
    summary = run_bench(
        tmp_path, "--figures", "8", "--trials", "4", "--rps-seconds", "0.2", "--event-loop", "asyncio"
    )
    ceiling = summary["results"]["8_ceiling"]
    assert summary["event_loop"] == "asyncio"
    assert ceiling["loop"] == "asyncio"  # the ceiling that counts runs on minihs's own loop
    assert ceiling["by_loop"]["asyncio"]["requests"] > 0
    assert ceiling["paired_with_mutual_R1000_S200"]["rps_ratio_b_over_a_median"] > 0
    assert summary["headline"]["mutual_vs_ceiling_ratio"] == (
        ceiling["paired_with_mutual_R1000_S200"]["rps_ratio_b_over_a_median"]
    )


def test_the_wake_benchmark_times_commit_to_answer_inside_the_server():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_wake.py"), "--rounds", "5"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["rounds"] == 5
    assert 0 < figures["commit_to_answer_ms"]["median"] <= figures["commit_to_answer_ms"]["max"]


def test_the_stream_benchmark_script_starts(tmp_path):
    # It imports the shared benchmark parts; a moved helper must fail here, not on the next run.
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_stream.py"), "--help"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_request_log_benchmark_brackets_the_log_middleware():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_request_log.py"), "--rounds", "5"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    figures = json.loads(result.stdout)
    for setting in ("bodies kept (default)", "bodies_kept: 0"):
        for kind in ("send", "send (429 fault)", "sync"):
            assert figures[setting][kind]["requests"] == 5
            assert 0 < figures[setting][kind]["median_us"] <= figures[setting][kind]["max_us"]


def test_the_inspector_benchmark_times_every_call_of_the_page(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_inspector.py"), "--quick", "--json",
         str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())["results"]
    assert figures["world"]["rooms"] == 100 and figures["world"]["logged_requests"] == 1_000
    # Every call tests/test_inspector_scale.py checks, from the list both share.
    sys.path.insert(0, str(REPO / "scripts"))
    from benchkit.inspector_world import Targets, page_calls

    assert list(figures["calls"]) == list(page_calls(Targets.names_only()))
    for call, row in figures["calls"].items():
        assert row["n"] == 5 and 0 < row["median"] <= row["max"], call
        assert row["bytes"] > 0, call
