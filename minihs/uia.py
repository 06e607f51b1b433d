"""User-Interactive Authentication for registration (spec: "User-Interactive Authentication API").

Registration offers one flow: ``m.login.dummy`` when registration is open, or
``m.login.registration_token`` when it is gated by tokens. A session lives in memory for
:data:`SESSION_LIFETIME_S`; losing sessions on restart only makes a client start the flow again.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from minihs.errors import Codes, MatrixError

DUMMY = "m.login.dummy"
REGISTRATION_TOKEN = "m.login.registration_token"
SESSION_LIFETIME_S = 30 * 60
_MAX_SESSIONS = 10_000


class AuthRequired(MatrixError):
    """The 401 that tells a client which stages remain (and, after a failed stage, why)."""

    def __init__(self, session: str, stage: str, failure: tuple[str, str] | None = None) -> None:
        errcode, message = failure or (Codes.UNKNOWN, "Authentication required")
        super().__init__(401, errcode, message)
        self.session = session
        self.stage = stage
        self.failed = failure is not None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "session": self.session,
            "flows": [{"stages": [self.stage]}],
            "params": {},
            "completed": [],
        }
        if self.failed:
            body.update(errcode=self.errcode, error=self.message)
        return body


class RegistrationAuth:
    def __init__(self, mode: str, tokens: list[str]) -> None:
        self._stage = REGISTRATION_TOKEN if mode == "token" else DUMMY
        self._tokens = tokens
        self._sessions: dict[str, float] = {}  # session ID -> expiry (monotonic)

    def is_valid_token(self, token: str) -> bool:
        return any(hmac.compare_digest(token.encode(), known.encode()) for known in self._tokens)

    def _new_session(self) -> str:
        now = time.monotonic()
        if len(self._sessions) >= _MAX_SESSIONS:
            self._sessions = {s: exp for s, exp in self._sessions.items() if exp > now}
        session = secrets.token_urlsafe(18)
        self._sessions[session] = now + SESSION_LIFETIME_S
        return session

    def _known(self, session: Any) -> bool:
        expiry = self._sessions.get(session) if isinstance(session, str) else None
        return expiry is not None and expiry > time.monotonic()

    def authenticate(self, auth: Any) -> None:
        """Return when ``auth`` completes the flow; otherwise raise the 401 that says what next."""
        if not isinstance(auth, dict) or "type" not in auth:
            raise AuthRequired(self._new_session(), self._stage)
        session = auth.get("session")
        if session is not None and not self._known(session):
            raise MatrixError(400, Codes.UNKNOWN, "Unknown or expired UIA session")
        session = session or self._new_session()
        if auth["type"] != self._stage:
            raise AuthRequired(
                session, self._stage, (Codes.UNKNOWN, f"This server requires {self._stage}")
            )
        if self._stage == REGISTRATION_TOKEN:
            token = auth.get("token")
            if not isinstance(token, str) or not self.is_valid_token(token):
                raise AuthRequired(
                    session, self._stage, (Codes.FORBIDDEN, "Invalid registration token")
                )
        # Synapse also accepts a dummy stage that names no session; so does minihs.
        self._sessions.pop(session, None)
