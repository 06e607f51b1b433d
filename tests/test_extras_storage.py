"""Storage of profiles, account data and receipts: the migration that adds them, and the
positions their changes take."""

from __future__ import annotations

import sqlite3

from minihs.store import schema
from minihs.store.stream import current_position, next_position

PROFILES_MIGRATION = 6


def migrated_up_to(version: int) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for statements in schema.MIGRATIONS[:version]:
        for statement in statements:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    return conn


def test_users_registered_before_profiles_get_their_localpart_as_display_name():
    conn = migrated_up_to(PROFILES_MIGRATION - 1)
    conn.execute("INSERT INTO users (user_id, created_ts) VALUES ('@old.user:example.org', 0)")
    schema.migrate(conn)
    rows = conn.execute("SELECT user_id, displayname, avatar_url FROM profiles").fetchall()
    assert rows == [("@old.user:example.org", "old.user", None)]


def test_positions_start_at_zero_and_only_go_up():
    conn = migrated_up_to(len(schema.MIGRATIONS))
    assert current_position(conn) == 0
    taken = [next_position(conn) for _ in range(3)]
    assert taken == [1, 2, 3]
    assert current_position(conn) == 3
