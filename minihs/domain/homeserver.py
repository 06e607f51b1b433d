"""The homeserver: one object owning the database and the domain services built on it.

The HTTP layer reaches everything through ``request.app[HOMESERVER]`` (``minihs.api.request``);
tests and the fixture server use the same object to reset state. Nothing here knows HTTP.

A reset is one step: the request gate (:mod:`minihs.domain.request_gate`) lets the requests in
flight finish and holds new ones; the database becomes empty in one step of its own writer
thread; and in the callback of that step, on the event loop before anything else can run,
every in-memory structure is forgotten with it. No request sees the old server and the new one.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from minihs.domain.account_data import AccountData
from minihs.domain.accounts import Accounts
from minihs.domain.admin_registration import SharedSecretRegistration
from minihs.config import Config
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.domain.mutual_rooms import MutualRooms
from minihs.domain.ratelimit import Ratelimiter
from minihs.domain.request_gate import RequestGate
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
from minihs.domain.typing import Typing
from minihs.store.account_data import AccountDataStore
from minihs.store.profiles import ProfileStore
from minihs.store.receipts import ReceiptStore


@dataclass
class Ratelimiters:
    login_per_address: Ratelimiter
    login_per_user: Ratelimiter
    registration_per_address: Ratelimiter
    joins_per_user: Ratelimiter
    mutual_rooms_per_user: Ratelimiter

    @classmethod
    def from_config(cls, config: Config) -> "Ratelimiters":
        limits = config.rate_limits
        return cls(
            Ratelimiter(limits.login_per_address),
            Ratelimiter(limits.login_per_user),
            Ratelimiter(limits.registration_per_address),
            Ratelimiter(limits.joins_per_user),
            Ratelimiter(limits.mutual_rooms_per_user),
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
        self.accounts = Accounts(config, AccountStore(db))
        self.joined_rooms = JoinedRoomsIndex()
        self.stream = Stream()
        self._stream_store = StreamStore(db)
        self.rooms = Rooms(config, RoomStore(db), self.joined_rooms, self.stream)
        self.filters = Filters(FilterStore(db))
        self.sync = Sync(SyncStore(db), self.stream, self.filters, self.gate)
        self.messages = Messages(config, self.rooms, RoomStore(db), SyncStore(db), self.stream)
        self.ratelimits = Ratelimiters.from_config(config)
        self.profiles = Profiles(ProfileStore(db), self.rooms)
        self.rooms.member_profile = self.profiles.member_profile
        self.accounts.on_registered = self.profiles.registered
        # Account data, presence, typing and receipts: each change takes a stream position and
        # wakes the syncs it concerns; their sync sections are in ``sync_extras``.
        memory_changes = MemoryChanges(db, self.stream)
        self.account_data = AccountData(AccountDataStore(db), self.stream)
        self.presence = Presence(self.joined_rooms, memory_changes)
        self.typing = Typing(self.joined_rooms, memory_changes)
        self.receipts = Receipts(ReceiptStore(db), self.account_data, self.joined_rooms, self.stream)
        sync_extras.install(self.sync, self.presence, self.typing)
        self._forget_memory(pagination_salt="")

    def _forget_memory(self, pagination_salt: str) -> None:
        """(Re)build the in-memory structures a reset replaces whole: sessions, nonces, keys."""
        config = self.config
        # A reset rotates the key of mutual-rooms pagination tokens (the salt): a token issued
        # before it names rooms that are gone, and must not page the new server. A configured
        # key alone still survives a restart, as it is meant to.
        key = config.token_signing_key and config.token_signing_key + pagination_salt
        self.mutual_rooms = MutualRooms.with_key(
            self.joined_rooms,
            config.mutual_rooms.page_size,
            key,
            config.mutual_rooms.token_lifetime_seconds,
        )
        self.registration_auth = RegistrationAuth(  # and with it, every UIA session
            config.registration.mode, config.registration.tokens
        )
        self.shared_secret_registration = SharedSecretRegistration(  # and its nonces
            config.registration.shared_secret, self.accounts
        )

    @classmethod
    async def open(cls, config: Config) -> "Homeserver":
        db = await Database.open(config.database.path, config.database.synchronous)
        homeserver = cls(config, db)
        try:
            homeserver.stream.load(*await homeserver._stream_store.position_and_epoch())
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
            # Every copy of the pristine database carries the same stream epoch: the step gives
            # this one its own, so that sync tokens issued before the reset are refused.
            epoch, write_epoch = new_epoch()
            await self.db.replace_with_empty(
                then=write_epoch,
                on_settled=lambda replaced, _: self._forget_after_reset(replaced, epoch),
            )

    def _forget_after_reset(self, replaced: bool, epoch: str) -> None:
        # On the event loop, right after the database step and before any later one settles.
        if not replaced:
            return  # the database is unchanged (the error reaches reset()'s caller): keep all
        self.stream.load(0, epoch)
        self.accounts.clear_caches()
        self.rooms.clear_caches()
        self.filters.clear_caches()
        self.messages.clear_caches()
        self.joined_rooms.clear()
        self.ratelimits.reset()
        self.profiles.clear_caches()
        self.presence.clear()
        self.typing.clear()
        self.faults.clear()
        self.request_log.clear()
        self._forget_memory(pagination_salt=secrets.token_hex(16))

    async def close(self) -> None:
        self.typing.clear()  # no typing timer may outlive the homeserver
        await self.db.close()
