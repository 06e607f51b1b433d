"""Profiles storage: each user's display name and avatar URL."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from minihs.store.database import Database

PROFILE_FIELDS = ("displayname", "avatar_url")


@dataclass(frozen=True)
class StoredProfile:
    displayname: str | None
    avatar_url: str | None


def insert_profile(conn: sqlite3.Connection, user_id: str, displayname: str | None) -> None:
    """A new account's profile row, written in the registration's transaction."""
    conn.execute(
        "INSERT OR REPLACE INTO profiles (user_id, displayname) VALUES (?, ?)",
        (user_id, displayname),
    )


def _profile_of(conn: sqlite3.Connection, user_id: str) -> StoredProfile | None:
    row = conn.execute(
        "SELECT p.displayname, p.avatar_url FROM users u "
        "LEFT JOIN profiles p ON p.user_id = u.user_id WHERE u.user_id = ?",
        (user_id,),
    ).fetchone()
    return None if row is None else StoredProfile(row[0], row[1])


def _set_field(conn: sqlite3.Connection, user_id: str, field: str, value: str | None) -> None:
    if field not in PROFILE_FIELDS:  # the column name is spliced in: only known ones
        raise ValueError(field)
    conn.execute(
        f"INSERT INTO profiles (user_id, {field}) VALUES (?, ?) "
        f"ON CONFLICT (user_id) DO UPDATE SET {field} = excluded.{field}",
        (user_id, value),
    )


class ProfileStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def profile_of(self, user_id: str) -> StoredProfile | None:
        """The user's profile; None when no such user exists."""
        return await self._db.read(_profile_of, user_id)

    async def set_field(self, user_id: str, field: str, value: str | None) -> None:
        """Set ``displayname`` or ``avatar_url``; None clears it."""
        await self._db.transaction(_set_field, user_id, field, value)
