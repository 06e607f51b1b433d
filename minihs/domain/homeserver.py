"""The homeserver: one object owning the database and the domain services built on it.

The HTTP layer reaches everything through ``request.app[HOMESERVER]`` (``minihs.api.request``);
tests and the fixture server use the same object to reset state. Nothing here knows HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass


from minihs.domain.account_data import AccountData
from minihs.domain.accounts import Accounts
from minihs.domain.admin_registration import SharedSecretRegistration
from minihs.config import Config
from minihs.domain.joined_rooms import JoinedRoomsIndex
from minihs.domain.mutual_rooms import MutualRooms
from minihs.domain.ratelimit import Ratelimiter
from minihs.domain.rooms import Rooms
from minihs.store.accounts import AccountStore
from minihs.store.database import Database
from minihs.store.rooms import RoomStore
from minihs.domain.uia import RegistrationAuth
from minihs.domain.changes import ChangeListeners
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
        self.accounts = Accounts(config, AccountStore(db))
        self.joined_rooms = JoinedRoomsIndex()
        self.rooms = Rooms(config, RoomStore(db), self.joined_rooms)
        self.mutual_rooms = MutualRooms.with_key(
            self.joined_rooms,
            config.mutual_rooms.page_size,
            config.token_signing_key,
            config.mutual_rooms.token_lifetime_seconds,
        )
        self.ratelimits = Ratelimiters.from_config(config)
        self.registration_auth = RegistrationAuth(
            config.registration.mode, config.registration.tokens
        )
        self.shared_secret_registration = SharedSecretRegistration(
            config.registration.shared_secret, self.accounts
        )
        # Profile, account data, presence, typing and receipts: each reports its changes to
        # ``changes`` (the sync waiters listen there).
        self.changes = ChangeListeners()
        self.profiles = Profiles(ProfileStore(db), self.rooms)
        self.rooms.member_profile = self.profiles.member_profile
        self.accounts.on_registered = self.profiles.registered
        self.account_data = AccountData(AccountDataStore(db), self.changes)
        self.presence = Presence(self.joined_rooms, self.changes)
        self.typing = Typing(self.joined_rooms, self.changes)
        self.receipts = Receipts(ReceiptStore(db), self.account_data, self.joined_rooms, self.changes)
        self._empty: Database | None = None

    @classmethod
    async def open(cls, config: Config) -> "Homeserver":
        db = await Database.open(config.database.path, config.database.synchronous)
        homeserver = cls(config, db)
        try:
            await homeserver.rooms.load_index()
        except BaseException:
            await db.close()
            raise
        return homeserver

    async def reset(self) -> None:
        """Forget every user, room and token: copy a pristine, migrated database over ours.

        The pristine copy is made once, so a reset costs one page copy, not a migration run.
        """
        if self._empty is None:
            self._empty = await Database.open(":memory:")
        await self._empty.backup_to(self.db)
        self.accounts.clear_caches()
        self.rooms.clear_caches()
        self.joined_rooms.clear()
        self.ratelimits.reset()
        self.profiles.clear_caches()
        self.presence.clear()
        self.typing.clear()

    async def close(self) -> None:
        self.typing.clear()  # no typing timer may outlive the homeserver
        if self._empty is not None:
            await self._empty.close()
        await self.db.close()
