"""Schema migrations, keyed on ``PRAGMA user_version``.

Migration N moves a database from version N-1 to N. Each is applied in its own transaction
together with the version bump, so a crash leaves the database at N-1 or at N, never between.
Statements run one by one: ``executescript`` would commit first and break that atomicity.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[list[str]] = [
    # 1: accounts
    [
        # is_guest is unused: minihs creates no guest accounts. It stays, as dropping a column
        # rewrites the whole table (and needs SQLite 3.35).
        """CREATE TABLE users (
            user_id TEXT PRIMARY KEY,
            password_hash TEXT,
            is_admin INTEGER NOT NULL DEFAULT 0,
            is_guest INTEGER NOT NULL DEFAULT 0,
            created_ts INTEGER NOT NULL
        )""",
        """CREATE TABLE devices (
            user_id TEXT NOT NULL REFERENCES users(user_id),
            device_id TEXT NOT NULL,
            display_name TEXT,
            PRIMARY KEY (user_id, device_id)
        )""",
        # Only the SHA-256 digest of a token is stored: a leaked database grants no sessions.
        """CREATE TABLE access_tokens (
            token_digest BLOB PRIMARY KEY,
            user_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            FOREIGN KEY (user_id, device_id) REFERENCES devices(user_id, device_id)
                ON DELETE CASCADE
        )""",
        "CREATE INDEX access_tokens_by_device ON access_tokens(user_id, device_id)",
    ],
    # 2: rooms, events and current state
    [
        """CREATE TABLE rooms (
            room_nid INTEGER PRIMARY KEY,
            room_id TEXT NOT NULL UNIQUE,
            room_version TEXT NOT NULL,
            creator TEXT NOT NULL,
            created_ts INTEGER NOT NULL
        )""",
        # stream_ordering is the total order of events on this server.
        """CREATE TABLE events (
            stream_ordering INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            room_nid INTEGER NOT NULL REFERENCES rooms(room_nid),
            type TEXT NOT NULL,
            state_key TEXT,
            depth INTEGER NOT NULL,
            json TEXT NOT NULL
        )""",
        "CREATE INDEX events_by_room ON events(room_nid, stream_ordering)",
        """CREATE TABLE current_state (
            room_nid INTEGER NOT NULL REFERENCES rooms(room_nid),
            type TEXT NOT NULL,
            state_key TEXT NOT NULL,
            stream_ordering INTEGER NOT NULL REFERENCES events(stream_ordering),
            PRIMARY KEY (room_nid, type, state_key)
        )""",
        # The current membership of each user in each room: the source the in-memory
        # joined-rooms index is rebuilt from at start.
        """CREATE TABLE memberships (
            room_nid INTEGER NOT NULL REFERENCES rooms(room_nid),
            user_id TEXT NOT NULL,
            membership TEXT NOT NULL,
            stream_ordering INTEGER NOT NULL REFERENCES events(stream_ordering),
            PRIMARY KEY (room_nid, user_id)
        )""",
        "CREATE INDEX memberships_by_user ON memberships(user_id, membership)",
        """CREATE TABLE room_aliases (
            alias TEXT PRIMARY KEY,
            room_nid INTEGER NOT NULL REFERENCES rooms(room_nid),
            creator TEXT NOT NULL
        )""",
    ],
    # 3: a covering index that hands the start-up loader every joined membership already
    # grouped by user (SQLite then aggregates while it scans: no sort, no table lookups).
    [
        "CREATE INDEX memberships_joined ON memberships(membership, user_id, room_nid)",
    ],
    # 4: memberships_by_user answered no query: the joined-rooms index is loaded through
    # memberships_joined, and every other lookup goes by (room_nid, user_id), the primary key.
    # It only cost a write per membership change.
    [
        "DROP INDEX memberships_by_user",
    ],
    # 5: the change stream (issue 15). One counter hands out every stream position: room events
    # take theirs as events.stream_ordering, non-room changes (account data, profile...) take
    # theirs from the same counter, so there is one order. `epoch` is random per database and
    # is changed by a reset: a /sync token carries it, so a token from before a reset is known.
    # Self-contained: it only adds tables, whatever migration precedes it.
    [
        """CREATE TABLE stream_counter (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            position INTEGER NOT NULL,
            epoch TEXT NOT NULL
        )""",
        "INSERT INTO stream_counter (id, position, epoch) "
        "SELECT 1, coalesce(max(stream_ordering), 0), lower(hex(randomblob(4))) FROM events",
        # Idempotent sends: (device, room, type, txnId) -> the event it made (spec: "Transaction
        # identifiers"; the key is the request path and the device, as Synapse keys it).
        """CREATE TABLE event_txns (
            user_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            room_nid INTEGER NOT NULL REFERENCES rooms(room_nid),
            event_type TEXT NOT NULL,
            txn_id TEXT NOT NULL,
            stream_ordering INTEGER NOT NULL REFERENCES events(stream_ordering),
            PRIMARY KEY (user_id, device_id, room_nid, event_type, txn_id)
        )""",
        """CREATE TABLE filters (
            user_id TEXT NOT NULL,
            filter_id INTEGER NOT NULL,
            json TEXT NOT NULL,
            PRIMARY KEY (user_id, filter_id)
        )""",
    ],
    # 6: profiles, account data and receipts (their changes take positions in the stream of 5).
    [
        # One row per user; a user without a row has no display name and no avatar.
        """CREATE TABLE profiles (
            user_id TEXT PRIMARY KEY,
            displayname TEXT,
            avatar_url TEXT
        )""",
        # Users registered before profiles existed get what registration now gives: their
        # localpart as display name (as Synapse does).
        "INSERT INTO profiles (user_id, displayname) "
        "SELECT user_id, substr(user_id, 2, instr(user_id, ':') - 2) FROM users",
        # Global account data has room_id '' (a primary key column cannot be NULL-distinct).
        """CREATE TABLE account_data (
            user_id TEXT NOT NULL,
            room_id TEXT NOT NULL,
            type TEXT NOT NULL,
            content TEXT NOT NULL,
            stream_position INTEGER NOT NULL,
            PRIMARY KEY (user_id, room_id, type)
        )""",
        "CREATE INDEX account_data_by_position ON account_data(user_id, stream_position)",
        # One receipt per user, room, type and thread ('' is the unthreaded receipt).
        """CREATE TABLE receipts (
            room_id TEXT NOT NULL,
            receipt_type TEXT NOT NULL,
            user_id TEXT NOT NULL,
            thread_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            ts INTEGER NOT NULL,
            stream_position INTEGER NOT NULL,
            PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
        )""",
        "CREATE INDEX receipts_by_position ON receipts(room_id, stream_position)",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(sqlite3.DatabaseError):
    """The database was written by a newer minihs; this one does not know its schema."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date; return the version it started at."""
    (start,) = conn.execute("PRAGMA user_version").fetchone()
    if start > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema version {start} is newer than this minihs ({SCHEMA_VERSION})"
        )
    for version in range(start + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back by itself (a failed COMMIT, a full disk).
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return start
