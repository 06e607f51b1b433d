"""Stored filters: each user's filter definitions, numbered per user from 0 (as Synapse does)."""

from __future__ import annotations

import sqlite3

from minihs.store.database import Database


def _add_filter(conn: sqlite3.Connection, user_id: str, text: str) -> int:
    # The same definition twice gets the same ID: clients such as matrix-js-sdk upload their
    # filter on every start.
    row = conn.execute(
        "SELECT filter_id FROM filters WHERE user_id = ? AND json = ?", (user_id, text)
    ).fetchone()
    if row is not None:
        return row[0]
    (next_id,) = conn.execute(
        "SELECT coalesce(max(filter_id) + 1, 0) FROM filters WHERE user_id = ?", (user_id,)
    ).fetchone()
    conn.execute(
        "INSERT INTO filters (user_id, filter_id, json) VALUES (?, ?, ?)", (user_id, next_id, text)
    )
    return next_id


def _filter_json(conn: sqlite3.Connection, user_id: str, filter_id: int) -> str | None:
    row = conn.execute(
        "SELECT json FROM filters WHERE user_id = ? AND filter_id = ?", (user_id, filter_id)
    ).fetchone()
    return None if row is None else row[0]


class FilterStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, user_id: str, text: str) -> int:
        return await self._db.transaction(_add_filter, user_id, text)

    async def get(self, user_id: str, filter_id: int) -> str | None:
        return await self._db.read(_filter_json, user_id, filter_id)
