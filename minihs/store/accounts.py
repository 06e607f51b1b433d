"""Accounts storage: users, devices, access tokens (stored as SHA-256 digests only)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from minihs.store.database import Database
from minihs.store.profiles import insert_profile


class UserExists(Exception):
    """The UNIQUE constraint on user_id refused a new account."""


@dataclass(frozen=True)
class TokenOwner:
    user_id: str
    device_id: str


def _create_account(
    conn: sqlite3.Connection,
    user_id: str,
    password_hash: str | None,
    now_ms: int,
    is_admin: bool,
    device: tuple[str, str | None, bytes] | None,
) -> None:
    try:
        conn.execute(
            "INSERT INTO users (user_id, password_hash, is_admin, created_ts) VALUES (?, ?, ?, ?)",
            (user_id, password_hash, int(is_admin), now_ms),
        )
    except sqlite3.IntegrityError:
        # The constraint decides, so two racing registrations cannot both win.
        raise UserExists(user_id) from None
    # A new user's display name is their localpart, as Synapse gives it.
    insert_profile(conn, user_id, user_id[1:].partition(":")[0])
    if device is not None:
        _login_device(conn, user_id, *device)


def _login_device(
    conn: sqlite3.Connection,
    user_id: str,
    device_id: str,
    display_name: str | None,
    token_digest: bytes,
) -> None:
    existing = conn.execute(
        "SELECT display_name FROM devices WHERE user_id = ? AND device_id = ?",
        (user_id, device_id),
    ).fetchone()
    if existing is None:
        conn.execute(
            "INSERT INTO devices (user_id, device_id, display_name) VALUES (?, ?, ?)",
            (user_id, device_id, display_name),
        )
    elif display_name is not None:
        conn.execute(
            "UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?",
            (display_name, user_id, device_id),
        )
    # A device has one live token: logging in again on it replaces the old one.
    conn.execute(
        "DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?", (user_id, device_id)
    )
    conn.execute(
        "INSERT INTO access_tokens (token_digest, user_id, device_id) VALUES (?, ?, ?)",
        (token_digest, user_id, device_id),
    )


def _token_digests_of_device(conn: sqlite3.Connection, user_id: str, device_id: str) -> list[bytes]:
    rows = conn.execute(
        "SELECT token_digest FROM access_tokens WHERE user_id = ? AND device_id = ?",
        (user_id, device_id),
    ).fetchall()
    return [row[0] for row in rows]


def _replace_device_token(
    conn: sqlite3.Connection,
    user_id: str,
    device_id: str,
    display_name: str | None,
    token_digest: bytes,
) -> list[bytes]:
    old = _token_digests_of_device(conn, user_id, device_id)
    _login_device(conn, user_id, device_id, display_name, token_digest)
    return old


def _delete_device(conn: sqlite3.Connection, user_id: str, device_id: str) -> list[bytes]:
    old = _token_digests_of_device(conn, user_id, device_id)
    conn.execute("DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?", (user_id, device_id))
    conn.execute("DELETE FROM devices WHERE user_id = ? AND device_id = ?", (user_id, device_id))
    return old


def _delete_all_devices(conn: sqlite3.Connection, user_id: str) -> list[bytes]:
    old = [
        row[0]
        for row in conn.execute(
            "SELECT token_digest FROM access_tokens WHERE user_id = ?", (user_id,)
        ).fetchall()
    ]
    conn.execute("DELETE FROM access_tokens WHERE user_id = ?", (user_id,))
    conn.execute("DELETE FROM devices WHERE user_id = ?", (user_id,))
    return old


def _token_owner(conn: sqlite3.Connection, token_digest: bytes) -> TokenOwner | None:
    row = conn.execute(
        "SELECT user_id, device_id FROM access_tokens WHERE token_digest = ?",
        (token_digest,),
    ).fetchone()
    return None if row is None else TokenOwner(row[0], row[1])


def _password_hash_of(conn: sqlite3.Connection, user_id: str) -> str | None:
    row = conn.execute("SELECT password_hash FROM users WHERE user_id = ?", (user_id,)).fetchone()
    return None if row is None else row[0]


def _replace_password_hash(conn: sqlite3.Connection, user_id: str, old: str, new: str) -> None:
    # Only over the hash that was verified: a password changed meanwhile is left alone.
    conn.execute(
        "UPDATE users SET password_hash = ? WHERE user_id = ? AND password_hash = ?",
        (new, user_id, old),
    )


def _user_exists(conn: sqlite3.Connection, user_id: str) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone() is not None


class AccountStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_account(
        self,
        user_id: str,
        password_hash: str | None,
        now_ms: int,
        *,
        is_admin: bool = False,
        device: tuple[str, str | None, bytes] | None = None,
    ) -> None:
        """Insert a user (and, unless login is inhibited, its first device and token) atomically.

        Raises UserExists when the user ID is taken.
        """
        await self._db.transaction(_create_account, user_id, password_hash, now_ms, is_admin, device)

    async def login_device(
        self, user_id: str, device_id: str, display_name: str | None, token_digest: bytes
    ) -> list[bytes]:
        """Create or reuse a device and give it this token; return the digests it replaced."""
        return await self._db.transaction(
            _replace_device_token, user_id, device_id, display_name, token_digest
        )

    async def delete_device(self, user_id: str, device_id: str) -> list[bytes]:
        return await self._db.transaction(_delete_device, user_id, device_id)

    async def delete_all_devices(self, user_id: str) -> list[bytes]:
        return await self._db.transaction(_delete_all_devices, user_id)

    async def token_owner(self, token_digest: bytes) -> TokenOwner | None:
        return await self._db.read(_token_owner, token_digest)

    async def password_hash_of(self, user_id: str) -> str | None:
        return await self._db.read(_password_hash_of, user_id)

    async def replace_password_hash(self, user_id: str, old: str, new: str) -> None:
        await self._db.transaction(_replace_password_hash, user_id, old, new)

    async def user_exists(self, user_id: str) -> bool:
        return await self._db.read(_user_exists, user_id)
