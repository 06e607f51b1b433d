"""User-Interactive Authentication for registration (spec: "User-Interactive Authentication API").

Registration offers one flow: ``[m.login.dummy]`` when registration is open, or
``[m.login.registration_token, m.login.dummy]`` when it is gated by tokens. The trailing dummy
stage is Synapse's, kept so that clients written against Synapse (matrix-nio's
``register_with_token``) work unchanged. A session, with the stages it has completed, lives in
memory for :data:`SESSION_LIFETIME_S`; losing sessions on restart only makes a client start again.

Sessions are bounded in time and in number: an expired one answers as an unknown one, and at
most :data:`MAX_SESSIONS` live at once (a flood of new sessions pushes out the oldest). Synapse
keeps its database-backed UIA sessions 48 hours (``AuthHandler.SESSION_EXPIRE_MS``; its
``ui_auth.session_timeout`` is another thing: how long a completed UIA may be reused). A
registration takes seconds, so half an hour of memory is plenty here.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from minihs.domain.clock import whole_ms
from minihs.domain.minting import IdSource
from minihs.spec.errors import Codes, MatrixError

DUMMY = "m.login.dummy"
REGISTRATION_TOKEN = "m.login.registration_token"
SESSION_LIFETIME_S = 30 * 60
MAX_SESSIONS = 10_000


@dataclass
class _Session:
    expires: int  # whole milliseconds on the clock
    completed: list[str] = field(default_factory=list)


class AuthRequired(MatrixError):
    """The 401 that tells a client which stages remain (and, after a failed stage, why)."""

    def __init__(
        self,
        session: str,
        stages: list[str],
        completed: list[str],
        failure: tuple[str, str] | None = None,
    ) -> None:
        errcode, message = failure or (Codes.UNKNOWN, "Authentication required")
        super().__init__(401, errcode, message)
        self.session = session
        self.stages = stages
        self.completed = completed
        self.failed = failure is not None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "session": self.session,
            "flows": [{"stages": self.stages}],
            "params": {},
            "completed": list(self.completed),
        }
        if self.failed:
            body.update(errcode=self.errcode, error=self.message)
        return body


class RegistrationAuth:
    """Registration's UIA sessions. ``clock`` is the one place time is read (seconds, only
    differences matter): the homeserver passes its server clock's monotonic reading, so a test
    steps past a session's lifetime by advancing that clock. ``ids`` mints session IDs."""

    def __init__(
        self,
        mode: str,
        tokens: list[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        ids: IdSource | None = None,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._ids = ids or IdSource()
        self._stages = [REGISTRATION_TOKEN, DUMMY] if mode == "token" else [DUMMY]
        self._tokens = tokens
        self._clock = clock
        self._max_sessions = max_sessions
        # Insertion order is creation order, and every session lives as long: the first
        # entries are always the first to expire. (An OrderedDict: a plain dict slows down
        # when entries keep being removed from its front.)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    def clear_caches(self) -> None:
        """Forget every session (a reset)."""
        self._sessions.clear()

    def is_valid_token(self, token: str) -> bool:
        return any(hmac.compare_digest(token.encode(), known.encode()) for known in self._tokens)

    def _new_session(self) -> tuple[str, _Session]:
        now = whole_ms(self._clock())
        sessions = self._sessions
        # Drop the expired ones (all at the front), then the oldest while still full.
        while sessions:
            oldest = sessions[next(iter(sessions))]
            if oldest.expires > now and len(sessions) < self._max_sessions:
                break
            sessions.popitem(last=False)
        session_id = self._ids.token_urlsafe(18)
        session = sessions[session_id] = _Session(now + SESSION_LIFETIME_S * 1000)
        return session_id, session

    def _known(self, session_id: Any) -> _Session | None:
        session = self._sessions.get(session_id) if isinstance(session_id, str) else None
        if session is not None and session.expires <= whole_ms(self._clock()):
            del self._sessions[session_id]
            return None
        return session

    def authenticate(self, auth: Any) -> str:
        """Return the session ID once ``auth`` completes the flow; otherwise raise the 401 that
        says what comes next. A completed session stays usable until :meth:`finish` (or expiry),
        so a registration that fails after authenticating (a name taken meanwhile) can retry."""
        if not isinstance(auth, dict) or "type" not in auth:
            session_id, session = self._new_session()
            raise AuthRequired(session_id, self._stages, session.completed)
        session_id = auth.get("session")
        if session_id is None:
            # Synapse accepts a stage that names no session (nio registers in one request so).
            session_id, session = self._new_session()
        else:
            session = self._known(session_id)
            if session is None:
                raise MatrixError(400, Codes.UNKNOWN, "Unknown or expired UIA session")
        if len(session.completed) == len(self._stages):
            return session_id
        stage = next(s for s in self._stages if s not in session.completed)
        if auth["type"] != stage:
            raise AuthRequired(
                session_id,
                self._stages,
                session.completed,
                (Codes.UNKNOWN, f"The next stage of this flow is {stage}"),
            )
        if stage == REGISTRATION_TOKEN:
            token = auth.get("token")
            if not isinstance(token, str) or not self.is_valid_token(token):
                raise AuthRequired(
                    session_id,
                    self._stages,
                    session.completed,
                    (Codes.FORBIDDEN, "Invalid registration token"),
                )
        session.completed.append(stage)
        if len(session.completed) < len(self._stages):
            raise AuthRequired(session_id, self._stages, session.completed)
        return session_id

    def finish(self, session_id: str) -> None:
        """The registration this session authenticated succeeded: the session is spent."""
        self._sessions.pop(session_id, None)
