"""The homeserver: one object owning the database and the domain services built on it.

The HTTP layer reaches everything through ``request.app[HOMESERVER]`` (``minihs.api.request``);
tests and the fixture server use the same object to reset state. Nothing here knows HTTP.

A reset is one step: the request gate (:mod:`minihs.domain.request_gate`) lets the requests in
flight finish and holds new ones; the database becomes empty in one step of its own writer
thread; and in the callback of that step, on the event loop before anything else can run,
every in-memory structure is forgotten with it. No request sees the old server and the new one.

A snapshot's restore (:mod:`minihs.domain.snapshots`) is the same kind of step: the gate held
alone, the database replaced in one step, and in its callback the same structures forgotten
(:meth:`Homeserver._forget_derived_state`, shared with the reset), then rebuilt from the rows
the step read.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any, Mapping

from minihs.domain.account_data import AccountData
from minihs.domain.accounts import Accounts
from minihs.domain.admin_registration import SharedSecretRegistration
from minihs.config import Config
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.domain.mutual_rooms import MutualRooms
from minihs.domain.ratelimit import Ratelimiter
from minihs.domain.request_gate import RequestGate
from minihs.domain.room_reads import RoomReads
from minihs.domain.rooms import Rooms
from minihs.domain.filters import Filters
from minihs.domain.messages import Messages
from minihs.domain.stream import Stream
from minihs.domain.sync import Sync
from minihs.store.accounts import AccountStore
from minihs.store.database import Database
from minihs.store.filters import FilterStore
from minihs.store.rooms import RoomStore
from minihs.store.stream import StreamStore, new_epoch
from minihs.store.sync import SyncStore
from minihs.domain.uia import RegistrationAuth
from minihs.domain import sync_extras
from minihs.domain.changes import MemoryChanges
from minihs.domain.clock import ServerClock
from minihs.domain.faults import FaultRules
from minihs.domain.request_log import RequestLog
from minihs.domain.minting import IdSource
from minihs.domain.presence import Presence
from minihs.domain.profiles import Profiles
from minihs.domain.receipts import Receipts
from minihs.domain.snapshots import Snapshots
from minihs.domain.typing import Typing
from minihs.store.account_data import AccountDataStore
from minihs.store.profiles import ProfileStore
from minihs.store.receipts import ReceiptStore
from minihs.store.snapshots import RestoredDatabase, SnapshotStore


@dataclass
class Ratelimiters:
    login_per_address: Ratelimiter
    login_per_user: Ratelimiter
    registration_per_address: Ratelimiter
    joins_per_user: Ratelimiter
    mutual_rooms_per_user: Ratelimiter

    @classmethod
    def from_config(cls, config: Config, clock: ServerClock) -> "Ratelimiters":
        limits = config.rate_limits
        windows = clock.monotonic  # a test refills a bucket by advancing the server clock
        return cls(
            Ratelimiter(limits.login_per_address, windows),
            Ratelimiter(limits.login_per_user, windows),
            Ratelimiter(limits.registration_per_address, windows),
            Ratelimiter(limits.joins_per_user, windows),
            Ratelimiter(limits.mutual_rooms_per_user, windows),
        )

    def reset(self) -> None:
        for limiter in vars(self).values():
            limiter.reset()


class Homeserver:
    def __init__(self, config: Config, db: Database) -> None:
        self.config = config
        self.db = db
        self.gate = RequestGate()
        deterministic = config.deterministic
        # The clock and the ID source every service reads (tests control both: admin API).
        self.clock = ServerClock(deterministic.start_time_ms if deterministic.seed else None)
        self.ids = IdSource(deterministic.seed)
        # What tests inject and observe (admin API): neither is data, so a snapshot's restore
        # leaves both alone; a reset forgets both.
        self.faults = FaultRules()
        self.request_log = RequestLog(config.request_log)
        self.accounts = Accounts(config, AccountStore(db), clock=self.clock, ids=self.ids)
        self.joined_rooms = JoinedRoomsIndex()
        self.stream = Stream()
        self._stream_store = StreamStore(db)
        self.rooms = Rooms(
            config, RoomStore(db), self.joined_rooms, self.stream, clock=self.clock, ids=self.ids
        )
        self.room_reads = RoomReads(self.rooms, self.joined_rooms)
        self.filters = Filters(FilterStore(db))
        self.sync = Sync(SyncStore(db), self.stream, self.filters, self.gate)
        self.messages = Messages(
            config, self.rooms, RoomStore(db), SyncStore(db), self.stream, clock=self.clock
        )
        self.ratelimits = Ratelimiters.from_config(config, self.clock)
        self.profiles = Profiles(ProfileStore(db), self.rooms)
        self.rooms.member_profile = self.profiles.member_profile
        self.accounts.on_registered = self.profiles.registered
        # Account data, presence, typing and receipts: each change takes a stream position and
        # wakes the syncs it concerns; their sync sections are in ``sync_extras``.
        memory_changes = MemoryChanges(db, self.stream)
        self.account_data = AccountData(AccountDataStore(db), self.stream)
        self.presence = Presence(self.joined_rooms, memory_changes, clock=self.clock)
        self.typing = Typing(self.joined_rooms, memory_changes)
        self.receipts = Receipts(
            ReceiptStore(db), self.account_data, self.joined_rooms, self.stream, clock=self.clock
        )
        sync_extras.install(self.sync, self.presence, self.typing)
        # Kept apart from the database they copy: a reset leaves them (a suite resets, then
        # restores).
        self.snapshots = Snapshots(SnapshotStore(db), self.ids, self.clock, self._after_restore)
        self._forget_memory(pagination_salt="")

    def _forget_memory(self, pagination_salt: str) -> None:
        """(Re)build the in-memory structures a reset replaces whole: sessions, nonces, keys."""
        config = self.config
        self.mutual_rooms = MutualRooms.with_key(
            self.joined_rooms,
            config.mutual_rooms.page_size,
            self._pagination_key(pagination_salt),
            config.mutual_rooms.token_lifetime_seconds,
            clock=self.clock.time,
        )
        self.registration_auth = RegistrationAuth(  # and with it, every UIA session
            config.registration.mode,
            config.registration.tokens,
            clock=self.clock.monotonic,
            ids=self.ids,
        )
        self.shared_secret_registration = SharedSecretRegistration(  # and its nonces
            config.registration.shared_secret,
            self.accounts,
            clock=self.clock.monotonic,
            ids=self.ids,
        )

    def _pagination_key(self, salt: str) -> bytes:
        """The key of mutual-rooms pagination tokens."""
        configured = self.config.token_signing_key
        if self.ids.deterministic:
            # From the seed, never salted: a reset is the fresh server a new run would be, and
            # a new run's next_batch tokens are the same bytes.
            return configured.encode("utf-8") or self.ids.derived_key("mutual-rooms pagination")
        if not configured:
            return secrets.token_bytes(32)  # tokens do not outlive the process
        # A reset rotates the key (the salt): a token issued before it names rooms that are
        # gone, and must not page the new server. A configured key alone still survives a
        # restart, as it is meant to.
        return (configured + salt).encode("utf-8")

    @classmethod
    async def open(cls, config: Config) -> "Homeserver":
        db = await Database.open(config.database.path, config.database.synchronous)
        homeserver = cls(config, db)
        try:
            streams = homeserver._stream_store
            if homeserver.ids.deterministic:
                # A seeded server's first draw is the stream epoch of a new database, as after
                # every reset (one with changes keeps its own: its sync tokens stay valid).
                position, epoch = await streams.adopt_epoch(homeserver.ids.token_hex(4))
            else:
                position, epoch = await streams.position_and_epoch()
            homeserver.stream.load(position, epoch)
            await homeserver.rooms.load_index()
        except BaseException:
            await db.close()
            raise
        return homeserver

    async def reset(self) -> None:
        """Forget every user, room, token and session, as a freshly started server would.

        Requests in flight finish first; requests that arrive meanwhile wait, then run against
        the empty server. Once started, a reset runs to its end even if its caller is cancelled
        (a client hanging up on the reset endpoint): no half-reset server, no gate left shut.
        """
        await asyncio.shield(asyncio.ensure_future(self._reset()))

    async def _reset(self) -> None:
        async with self.gate.exclusive():
            # The ID source starts over (a seeded one at its seed: the IDs a new run mints) and
            # its first draw is the stream epoch, as at start. Every copy of the pristine
            # database carries the same epoch: the step gives this one its own, so that sync
            # tokens issued before the reset are refused (unless seeded: a new run of a seeded
            # server has the same epoch, and so the same sync tokens, by design).
            ids_before = self.ids.saved()
            self.ids.restart()
            epoch, write_epoch = new_epoch(self.ids.token_hex(4))
            await self.db.replace_with_empty(
                then=write_epoch,
                on_settled=lambda replaced, _: self._forget_after_reset(
                    replaced, epoch, ids_before
                ),
            )

    def _forget_after_reset(self, replaced: bool, epoch: str, ids_before: object) -> None:
        # On the event loop, right after the database step and before any later one settles.
        if not replaced:
            # The database is unchanged (the error reaches reset()'s caller): keep all.
            self.ids.restore_saved(ids_before)
            return
        if self.ids.deterministic:
            # A new run's clock: frozen at start_time_ms (else a reset leaves the clock be).
            self.clock.freeze()
            self.clock.set_ms(self.config.deterministic.start_time_ms)
        self.stream.load(0, epoch)
        self._forget_derived_state()
        # What tests inject and observe goes with a reset (not with a snapshot's restore).
        self.faults.clear()
        self.request_log.clear()

    def _forget_derived_state(self) -> None:
        """Forget what a reset and a snapshot's restore both replace: every cache and index
        built on the old database, and what lives only in memory (presence, typing, UIA
        sessions, nonces, rate limits, the mutual-rooms pagination key)."""
        self.accounts.clear_caches()
        self.rooms.clear_caches()
        self.filters.clear_caches()
        self.messages.clear_caches()
        self.joined_rooms.clear()
        self.ratelimits.reset()
        self.profiles.clear_caches()
        self.presence.clear()
        self.typing.clear()
        self._forget_memory(pagination_salt=secrets.token_hex(16))

    # --- snapshots ----------------------------------------------------------------------

    async def take_snapshot(self, name: str) -> dict:
        """Snapshot the server under ``name`` (replacing one of that name); its description.

        Like a reset it holds the request gate alone, so the copy, the ID source and the clock
        are of one still moment; and it completes even if its caller is cancelled.
        """
        self.snapshots.check_can_take(name)  # a bad name must not stop the server first
        return await asyncio.shield(
            asyncio.ensure_future(self._exclusively(self.snapshots.take, name))
        )

    async def restore_snapshot(self, name: str) -> None:
        """Put the server back as it was at snapshot ``name``: requests in flight finish first,
        requests arriving meanwhile wait and then see the restored server. Runs to its end even
        if its caller is cancelled. 404 ``M_NOT_FOUND`` for an unknown name."""
        self.snapshots.get(name)
        await asyncio.shield(
            asyncio.ensure_future(self._exclusively(self.snapshots.restore, name))
        )

    def delete_snapshot(self, name: str) -> None:
        self.snapshots.delete(name)

    def list_snapshots(self) -> list[dict]:
        """``[{"name", "taken_at_ms", "events"}]``, oldest first."""
        return self.snapshots.list()

    async def _exclusively(self, step, *args):
        async with self.gate.exclusive():
            return await step(*args)

    def _after_restore(self, restored: RestoredDatabase) -> None:
        # On the event loop, in the callback of the restore's database step (as a reset's).
        self._forget_derived_state()
        self.stream.load(restored.position, restored.epoch)
        for chunk in restored.joined:
            self.joined_rooms.add_users(chunk)

    # --- scenarios ----------------------------------------------------------------------

    async def load_scenario(
        self,
        data: str | bytes | Mapping[str, Any],
        *,
        source: str = "scenario",
        syntax: str | None = None,
    ) -> dict[str, Any]:
        """Load a scenario (text or values) and answer its ID map: see
        :mod:`minihs.domain.scenarios`. All or nothing: a rule it breaks is a 400 MatrixError
        with the line, and the server is left as it was."""
        from minihs.domain import scenarios  # the scenario code loads only when used

        return await scenarios.load(self, data, source=source, syntax=syntax)

    async def close(self) -> None:
        self.typing.clear()  # no typing timer may outlive the homeserver
        self.snapshots.clear()
        await self.db.close()
