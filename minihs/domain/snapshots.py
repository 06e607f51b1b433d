"""Named snapshots of the whole server: a suite loads its world once, snapshots it, and restores
it before each test.

A snapshot holds a copy of the database (:mod:`minihs.store.snapshots`), the ID source's state,
the clock's state when it was frozen, and when it was taken. A restore puts all of that back
and, in the callback of the database's step, has the homeserver forget every in-memory
structure built on the old data and rebuild the joined-rooms index from the rows the step read:
no request sees the old server and the restored one. The stream gets a new epoch, so a sync
token from before the restore is refused, as after a reset.

The methods here are the primitives: their caller holds the request gate alone
(``hs.gate.exclusive()``); ``Homeserver.take_snapshot`` / ``restore_snapshot`` wrap them.
Snapshots live beside the database, not in it: a reset leaves them, so a suite can reset and
then restore. The scenario loader keeps its rollback point as an *internal* snapshot
(``internal=True``): one the admin API never lists, counts or reaches.

Memory is bounded: at most :data:`MAX_SNAPSHOTS` listed snapshots, each the size of the
database when taken (a 10,000-event database is a few MiB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from minihs.domain.clock import ServerClock
from minihs.domain.minting import IdSource
from minihs.spec.errors import Codes, MatrixError, invalid_param, not_found
from minihs.store.snapshots import DatabaseCopy, RestoredDatabase, SnapshotStore

MAX_SNAPSHOTS = 100
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class Snapshot:
    name: str
    copy: DatabaseCopy
    ids: Any  # IdSource.saved()
    clock: Any | None  # ServerClock.saved() when the clock was frozen, else None
    taken_at_ms: int

    @property
    def events(self) -> int:
        return self.copy.events

    def description(self) -> dict[str, Any]:
        """What the admin API shows of it."""
        return {"name": self.name, "taken_at_ms": self.taken_at_ms, "events": self.events}


def check_name(name: str) -> None:
    # "." and ".." would be path segments that URL-normalising clients (curl, fetch, browsers)
    # never send: a snapshot under such a name could be taken from Python but not reached
    # over HTTP.
    if not isinstance(name, str) or NAME.fullmatch(name) is None or name in (".", ".."):
        raise invalid_param(
            f"snapshot names are 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-', "
            f"not '.' or '..': {name!r:.80}"
        )


class Snapshots:
    """The server's snapshots. ``restored(RestoredDatabase)`` is the homeserver's: it forgets
    and rebuilds memory, on the event loop, right after the restore's database step."""

    def __init__(
        self,
        store: SnapshotStore,
        ids: IdSource,
        clock: ServerClock,
        restored: Callable[[RestoredDatabase], None],
    ) -> None:
        self._store = store
        self._ids = ids
        self._clock = clock
        self._restored = restored
        self._listed: dict[str, Snapshot] = {}
        self._internal: dict[str, Snapshot] = {}

    def _space(self, internal: bool) -> dict[str, Snapshot]:
        return self._internal if internal else self._listed

    # --- checks a caller makes before stopping the server for one --------------------------

    def check_can_take(self, name: str) -> None:
        """400 ``M_INVALID_PARAM`` for a bad name, 400 ``M_LIMIT_EXCEEDED`` when a new name
        would make more than :data:`MAX_SNAPSHOTS` (replacing one is always allowed)."""
        check_name(name)
        if name not in self._listed and len(self._listed) >= MAX_SNAPSHOTS:
            raise MatrixError(
                400,
                Codes.LIMIT_EXCEEDED,
                f"there are already {MAX_SNAPSHOTS} snapshots, the most a server keeps: "
                "delete one or reuse a name",
            )

    def get(self, name: str, *, internal: bool = False) -> Snapshot:
        """The snapshot of that name: 400 for a bad name, 404 ``M_NOT_FOUND`` for none."""
        if not internal:
            check_name(name)
        snapshot = self._space(internal).get(name)
        if snapshot is None:
            raise not_found(f"no snapshot named {name!r}")
        return snapshot

    # --- the primitives (the caller holds the request gate alone) --------------------------

    async def take(self, name: str, *, internal: bool = False) -> dict[str, Any]:
        """Snapshot the server as it stands under that name, replacing one of the same name."""
        if not internal:
            self.check_can_take(name)
        ids, clock, now_ms = self._ids.saved(), self._clock, self._clock.now_ms()
        copy = await self._store.copy()
        snapshot = Snapshot(name, copy, ids, clock.saved() if clock.frozen else None, now_ms)
        space = self._space(internal)
        space.pop(name, None)  # a replaced snapshot moves to the end: the list is by time taken
        space[name] = snapshot
        return snapshot.description()

    async def restore(self, name: str, *, internal: bool = False) -> None:
        """Put the server back as it was when the snapshot was taken."""
        snapshot = self.get(name, internal=internal)
        ids_before = self._ids.saved()
        self._ids.restore_saved(snapshot.ids)
        # Seeded, the epoch is the ID source's next draw: every restore of a snapshot then
        # gives the same tokens, so a test's bytes are the same however often it runs.
        epoch = self._ids.token_hex(4) if self._ids.deterministic else None

        def settled(restored: bool, database: RestoredDatabase | None) -> None:
            if not restored or database is None:
                self._ids.restore_saved(ids_before)  # nothing changed: nor does the ID source
                return
            if snapshot.clock is not None:
                self._clock.restore_saved(snapshot.clock)
            self._restored(database)

        await self._store.restore(snapshot.copy, epoch, on_settled=settled)

    def delete(self, name: str, *, internal: bool = False) -> None:
        """Forget the snapshot (404 ``M_NOT_FOUND`` when there is none). A restore of it
        already under way still completes: it holds the copy."""
        self.get(name, internal=internal)
        del self._space(internal)[name]

    def list(self) -> list[dict[str, Any]]:
        """The listed snapshots, oldest first."""
        return [snapshot.description() for snapshot in self._listed.values()]

    def clear(self) -> None:
        """Forget every snapshot, internal ones too (the server is closing)."""
        self._listed.clear()
        self._internal.clear()
