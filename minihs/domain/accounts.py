"""Accounts: registration, login, access tokens, logout.

Spec: Client-Server API, "Account registration and management", "Login", "Client
Authentication". Access tokens are random; only their SHA-256 digest is stored or cached.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from typing import Callable

from minihs.domain import passwords
from minihs.config import Config
from minihs.domain.clock import ServerClock
from minihs.domain.minting import IdSource
from minihs.spec.errors import Codes, MatrixError, forbidden
from minihs.spec.ids import MAX_ID_BYTES, is_valid_localpart, user_id_for
from minihs.store.accounts import AccountStore, TokenOwner, UserExists

MAX_PASSWORD_LENGTH = 512
_DEVICE_ID_ALPHABET = string.ascii_uppercase

# One message for every failed login, so a response never tells whether the user exists.
INVALID_LOGIN = "Invalid username or password"

Requester = TokenOwner


@dataclass(frozen=True)
class Session:
    """What a successful registration or login hands to the client."""

    user_id: str
    device_id: str | None
    access_token: str | None


_TOKEN_BYTES = 32
# Exactly what new_access_token makes: the prefix and 32 random bytes in unpadded URL-safe
# base64 (43 characters, the last of which carries 4 zero bits, so it is one of 16).
_ACCESS_TOKEN = re.compile(r"mhs_[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_access_token(ids: IdSource) -> str:
    return "mhs_" + ids.token_urlsafe(_TOKEN_BYTES)


def is_canonical_access_token(token: str) -> bool:
    """Whether ``token`` has the one form minihs issues. Anything else is unknown without a
    lookup: no second spelling of a token, and no database query for garbage."""
    return _ACCESS_TOKEN.fullmatch(token) is not None


def new_device_id(ids: IdSource) -> str:
    return "".join(ids.choices(_DEVICE_ID_ALPHABET, 10))


# Live access tokens whose owners are kept in memory; beyond that a token costs one indexed read.
TOKEN_CACHE_SIZE = 10_000


class Accounts:
    """``clock`` dates new accounts; ``ids`` mints their tokens, device IDs and generated user
    IDs (the homeserver's own, so that a test controls both)."""

    def __init__(
        self,
        config: Config,
        store: AccountStore,
        *,
        clock: ServerClock | None = None,
        ids: IdSource | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._clock = clock or ServerClock()
        self._ids = ids or IdSource()
        # digest -> owner. Tokens are looked up on every request; this keeps SQL off that path.
        # At most TOKEN_CACHE_SIZE entries, the oldest cached first out (dicts keep insertion
        # order), so a server that sees millions of tokens does not keep them all.
        self._token_cache: dict[bytes, TokenOwner] = {}
        # Bumped on every revocation: a lookup that raced a logout must not re-cache its token.
        self._revocations = 0
        # A hash of a random password, verified against when the user does not exist so that
        # "no such user" costs the same time as "wrong password". Made on first need, not at
        # start, so that start-up stays fast.
        self._decoy_hash: str | None = None
        # Told the user ID of each new account (the Homeserver points it at Profiles).
        self.on_registered: Callable[[str], None] | None = None

    @property
    def server_name(self) -> str:
        return self._config.server_name

    # --- usernames -------------------------------------------------------------------------

    def user_id_from_username(self, username: str) -> str:
        """Lowercase the requested localpart and check it against the registration grammar."""
        localpart = username.lower()
        if not localpart:
            raise MatrixError(400, Codes.INVALID_USERNAME, "User ID cannot be empty")
        if not is_valid_localpart(localpart):
            raise MatrixError(
                400,
                Codes.INVALID_USERNAME,
                "User ID can only contain characters a-z, 0-9, or '=_-./+'",
            )
        user_id = user_id_for(localpart, self.server_name)
        if len(user_id.encode("utf-8")) > MAX_ID_BYTES:
            raise MatrixError(
                400, Codes.INVALID_USERNAME, f"User ID may not be longer than {MAX_ID_BYTES} bytes"
            )
        return user_id

    async def check_username_available(self, username: str) -> str:
        user_id = self.user_id_from_username(username)
        if await self._store.user_exists(user_id):
            raise MatrixError(400, Codes.USER_IN_USE, "User ID already taken.")
        return user_id

    async def user_exists(self, user_id: str) -> bool:
        return await self._store.user_exists(user_id)

    # --- registration and login ------------------------------------------------------------

    async def register(
        self,
        username: str | None,
        password: str,
        *,
        device_id: str | None = None,
        device_display_name: str | None = None,
        inhibit_login: bool = False,
        is_admin: bool = False,
    ) -> Session:
        if len(password) > MAX_PASSWORD_LENGTH:
            raise MatrixError(400, Codes.INVALID_PARAM, "Password too long")
        # Drawn before the hash, which runs in a thread: registrations started in some order
        # draw their device IDs and tokens in that order, whichever hash finishes first, so a
        # seeded server's concurrent registrations (a scenario's users) get the same each run.
        login = None
        if not inhibit_login:
            login = (device_id or new_device_id(self._ids), new_access_token(self._ids))
        password_hash = await passwords.hash_password(password, self._config.password_hashing)
        if username is None:
            return await self._register_generated(password_hash, login, device_display_name)
        user_id = self.user_id_from_username(username)
        return await self._create(user_id, password_hash, login, device_display_name, is_admin)

    async def _register_generated(
        self, password_hash: str, login: tuple[str, str] | None, device_display_name: str | None
    ) -> Session:
        while True:
            user_id = user_id_for("u" + self._ids.token_hex(6), self.server_name)
            try:
                return await self._create(user_id, password_hash, login, device_display_name, False)
            except MatrixError as error:
                if error.errcode != Codes.USER_IN_USE:
                    raise

    async def _create(
        self,
        user_id: str,
        password_hash: str,
        login: tuple[str, str] | None,
        device_display_name: str | None,
        is_admin: bool,
    ) -> Session:
        """The account, and with ``login`` (device ID, access token) its first device."""
        device = None
        if login is not None:
            device = (login[0], device_display_name, token_digest(login[1]))
        try:
            await self._store.create_account(
                user_id, password_hash, self._clock.now_ms(), is_admin=is_admin, device=device
            )
        except UserExists:
            raise MatrixError(400, Codes.USER_IN_USE, "User ID already taken.") from None
        if self.on_registered is not None:
            self.on_registered(user_id)
        if login is None:
            return Session(user_id, None, None)
        return Session(user_id, *login)

    def user_id_from_login_identifier(self, user: str) -> str | None:
        """Localpart or full user ID, any case; None when it cannot be a user of this server."""
        if user.startswith("@"):
            localpart, colon, server = user[1:].partition(":")
            if not colon or server.lower() != self.server_name.lower():
                return None
        else:
            localpart = user
        if not localpart:
            return None
        return user_id_for(localpart.lower(), self.server_name)

    async def login_with_password(
        self,
        user: str,
        password: str,
        device_id: str | None,
        device_display_name: str | None,
    ) -> Session:
        user_id = self.user_id_from_login_identifier(user)
        stored = await self._store.password_hash_of(user_id) if user_id else None
        if stored is None:
            # Same work, same status, same message as a wrong password.
            await passwords.verify_password(password, await self._decoy())
            raise forbidden(INVALID_LOGIN)
        if not await passwords.verify_password(password, stored):
            raise forbidden(INVALID_LOGIN)
        assert user_id is not None
        cost = self._config.password_hashing
        if passwords.needs_rehash(stored, cost):
            # The one moment the password is at hand: a hash weaker than the configured cost
            # (scrypt from before argon2id, or less memory or fewer passes) is made anew.
            renewed = await passwords.hash_password(password, cost)
            await self._store.replace_password_hash(user_id, stored, renewed)
        device_id = device_id or new_device_id(self._ids)
        token = new_access_token(self._ids)
        replaced = await self._store.login_device(
            user_id, device_id, device_display_name, token_digest(token)
        )
        self._forget_tokens(replaced)
        return Session(user_id, device_id, token)

    async def _decoy(self) -> str:
        if self._decoy_hash is None:
            self._decoy_hash = await passwords.hash_password(
                secrets.token_urlsafe(16), self._config.password_hashing
            )
        return self._decoy_hash

    # --- tokens ----------------------------------------------------------------------------

    async def requester_for_token(self, token: str) -> TokenOwner | None:
        if not is_canonical_access_token(token):
            return None
        digest = token_digest(token)
        owner = self._token_cache.get(digest)
        if owner is None:
            revocations = self._revocations
            owner = await self._store.token_owner(digest)
            if owner is not None and revocations == self._revocations:
                if len(self._token_cache) >= TOKEN_CACHE_SIZE:
                    del self._token_cache[next(iter(self._token_cache))]
                self._token_cache[digest] = owner
        return owner

    async def logout(self, requester: TokenOwner) -> None:
        self._forget_tokens(await self._store.delete_device(requester.user_id, requester.device_id))

    async def logout_all(self, requester: TokenOwner) -> None:
        self._forget_tokens(await self._store.delete_all_devices(requester.user_id))

    def _forget_tokens(self, digests: list[bytes]) -> None:
        self._revocations += 1
        for digest in digests:
            self._token_cache.pop(digest, None)

    def clear_caches(self) -> None:
        self._revocations += 1
        self._token_cache.clear()
