"""Crash safety, quick mode: kill -9 the real server under load; nothing acknowledged is lost.

The full run is ``python scripts/crash_test.py`` (20 cycles, 16 clients by default).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sqlite3
import sys
from pathlib import Path

import pytest
from conftest import test_config

from minihs.domain.homeserver import Homeserver
from minihs.domain.room_creation import CreateRoomRequest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import crash_test  # noqa: E402


async def test_acknowledged_changes_survive_kill_9_and_no_half_change_is_visible(tmp_path):
    seed = random.randrange(2**32)
    report = await crash_test.crash_cycles(
        cycles=2, clients=8, seed=seed, workdir=tmp_path, min_run=0.3, max_run=0.8
    )
    assert report["cycles"] == 2
    assert report["acknowledged"] > 50, report
    assert report["messages"] > 0, report
    assert report["problems"] == [], f"seed {seed}: {report['problems'][:5]}"
    assert report["lost"] == 0, f"seed {seed}"


@pytest.fixture
def room_database(tmp_path):
    """A file database holding one room that alice created and bob joined."""
    path = tmp_path / "hs.db"

    async def build() -> None:
        config = test_config()  # in memory by profile: point it at the file instead
        config.database = dataclasses.replace(config.database, path=str(path))
        hs = await Homeserver.open(config)
        try:
            await hs.rooms.create_room("@alice:localhost", CreateRoomRequest(preset="public_chat"))
            (room_id,) = hs.joined_rooms.joined_rooms_of("@alice:localhost")
            await hs.rooms.join("@bob:localhost", room_id, {})
        finally:
            await hs.close()

    asyncio.run(build())
    return path


def test_the_half_change_checker_passes_a_whole_database(room_database):
    assert crash_test.check_database_file(room_database) == []


@pytest.mark.parametrize(
    "damage, problem",
    [
        ("UPDATE memberships SET membership = 'leave' WHERE user_id = '@bob:localhost'",
         "!= its event"),
        ("UPDATE memberships SET stream_ordering = stream_ordering - 1 "
         "WHERE user_id = '@bob:localhost'", "disagrees with state"),
        ("DELETE FROM memberships WHERE user_id = '@bob:localhost'",
         "member events have no membership row"),
        ("UPDATE current_state SET stream_ordering = 999999 WHERE type = 'm.room.join_rules'",
         "current state rows point at no matching event"),
        ("DELETE FROM current_state WHERE type = 'm.room.create'",
         "rooms have no create event in state"),
    ],
    ids=["membership-vs-event", "membership-vs-state", "event-without-row", "dangling-state",
         "no-create-event"],
)
def test_the_half_change_checker_reports_each_kind_of_damage(room_database, damage, problem):
    with sqlite3.connect(room_database) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(damage)
    problems = crash_test.check_database_file(room_database)
    assert any(problem in line for line in problems), problems
