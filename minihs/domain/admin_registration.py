"""Shared-secret registration, compatible with Synapse's ``/_synapse/admin/v1/register``.

Whoever knows the configured ``registration.shared_secret`` may create accounts (admins too)
without the client registration flow: fetch a one-time nonce, then send the nonce, username,
password, admin flag and a MAC. The MAC is the hex HMAC-SHA1, keyed by the shared secret, of::

    nonce NUL username NUL password NUL ("admin" | "notadmin") [NUL user_type]

(Synapse ``docs/admin_api/register_api.md``). As in Synapse, a nonce is single use, even when
the attempt that spends it fails, and expires :data:`NONCE_LIFETIME_S` seconds after issue.
Statuses and messages follow Synapse's ``UserRegisterServlet``, so existing tooling
(``register_new_matrix_user``, test harnesses) reads the answers it expects.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, Callable

from minihs.domain.accounts import Accounts, Session
from minihs.domain.clock import whole_ms
from minihs.domain.minting import IdSource
from minihs.spec.errors import Codes, MatrixError, bad_json

NONCE_LIFETIME_S = 60
MAX_FIELD_LENGTH = 512
# Synapse's user types. minihs keeps no user types: one is accepted (it is part of the MAC)
# and the account is created as an ordinary one.
USER_TYPES = ("support", "bot")
_MAX_NONCES = 10_000


def registration_mac(
    secret: str, nonce: str, username: str, password: str, admin: bool, user_type: str | None = None
) -> str:
    """The MAC a caller must send: what Synapse's docs and ``register_new_matrix_user`` compute."""
    parts = [nonce, username, password, "admin" if admin else "notadmin"]
    if user_type:
        parts.append(user_type)
    message = b"\x00".join(part.encode("utf-8") for part in parts)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha1).hexdigest()


def _unknown(message: str) -> MatrixError:
    return MatrixError(400, Codes.UNKNOWN, message)


def _text_field(body: dict[str, Any], name: str) -> str:
    """A required string of at most 512 characters without NUL (it is NUL-joined into the MAC)."""
    if name not in body:
        raise bad_json(f"{name} must be specified")
    value = body[name]
    if not isinstance(value, str) or len(value) > MAX_FIELD_LENGTH or "\x00" in value:
        raise _unknown(f"Invalid {name}")
    return value


@dataclass(frozen=True)
class SharedSecretRequest:
    """The body of ``POST /_synapse/admin/v1/register``, checked field by field."""

    nonce: str
    username: str
    password: str
    admin: bool
    user_type: str | None
    mac: str
    device_id: str | None
    device_display_name: str | None
    inhibit_login: bool


class SharedSecretRegistration:
    """``clock``: seconds (only differences matter; the homeserver passes its server clock's
    monotonic reading, so nonce expiry follows that clock); ``ids`` mints the nonces."""

    def __init__(
        self,
        secret: str,
        accounts: Accounts,
        clock: Callable[[], float] = time.monotonic,
        ids: IdSource | None = None,
    ) -> None:
        self._secret = secret
        self._accounts = accounts
        self._clock = clock
        self._ids = ids or IdSource()
        # nonce -> expiry in whole milliseconds (see clock.whole_ms); insertion order = issue order
        self._nonces: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._secret)

    def _forget_expired(self) -> None:
        now = whole_ms(self._clock())
        for nonce, expiry in list(self._nonces.items()):
            if expiry <= now:
                del self._nonces[nonce]

    def new_nonce(self) -> str:
        """``GET``: a fresh nonce. Synapse hands one out even when the API is disabled (the
        ``POST`` then says so), and so does minihs."""
        self._forget_expired()
        while len(self._nonces) >= _MAX_NONCES:
            del self._nonces[next(iter(self._nonces))]  # the oldest goes first
        nonce = self._ids.token_hex(32)
        self._nonces[nonce] = whole_ms(self._clock()) + NONCE_LIFETIME_S * 1000
        return nonce

    def _spend_nonce(self, nonce: Any) -> None:
        self._forget_expired()
        if not isinstance(nonce, str) or self._nonces.pop(nonce, None) is None:
            raise _unknown("unrecognised nonce")

    def parse(self, body: dict[str, Any]) -> SharedSecretRequest:
        """Check the request in Synapse's order. The nonce is spent as soon as it is recognised,
        so a request that fails any later check cannot be retried with it."""
        if not self.enabled:
            raise _unknown("Shared secret registration is not enabled")
        if "nonce" not in body:
            raise bad_json("nonce must be specified")
        nonce = body["nonce"]
        self._spend_nonce(nonce)
        username = _text_field(body, "username")
        password = _text_field(body, "password")
        admin = body.get("admin")
        if admin is not None and not isinstance(admin, bool):
            raise bad_json("'admin' must be a boolean")
        user_type = body.get("user_type")
        if user_type is not None and user_type not in USER_TYPES:
            raise _unknown("Invalid user type")
        if "mac" not in body:
            raise bad_json("mac must be specified")
        mac = body["mac"]
        if not isinstance(mac, str):
            raise MatrixError(403, Codes.FORBIDDEN, "HMAC incorrect")
        for name in ("refresh_token", "inhibit_login"):
            if not isinstance(body.get(name, False), bool):
                raise _unknown(f"{name} must be a boolean")
        device_id = body.get("device_id")
        display_name = body.get("initial_device_display_name")
        for name, value in (
            ("device_id", device_id),
            ("initial_device_display_name", display_name),
        ):
            if value is not None and not isinstance(value, str):
                raise bad_json(f"'{name}' must be a string")
        return SharedSecretRequest(
            nonce=nonce,
            username=username,
            password=password,
            admin=bool(admin),
            user_type=user_type,
            mac=mac,
            device_id=device_id,
            device_display_name=display_name,
            inhibit_login=body.get("inhibit_login", False),
        )

    def _check_mac(self, request: SharedSecretRequest) -> None:
        expected = registration_mac(
            self._secret,
            request.nonce,
            request.username,
            request.password,
            request.admin,
            request.user_type,
        )
        if not hmac.compare_digest(expected.encode("ascii"), request.mac.encode("utf-8")):
            raise MatrixError(403, Codes.FORBIDDEN, "HMAC incorrect")

    async def register(self, body: dict[str, Any]) -> Session:
        """Create the account a valid request describes, logged in unless ``inhibit_login``.

        Registration settings do not apply (closed registration, tokens, rate limits): knowing
        the secret is the authorisation. The username follows the registration grammar, after
        lowercasing, as in Synapse.
        """
        request = self.parse(body)
        self._check_mac(request)
        return await self._accounts.register(
            request.username,
            request.password,
            device_id=request.device_id,
            device_display_name=request.device_display_name,
            inhibit_login=request.inhibit_login,
            is_admin=request.admin,
        )
