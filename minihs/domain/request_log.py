"""The request log: the requests the server answered, newest last, for tests to assert on.

A bounded ring: the newest ``request_log.size`` requests are kept, and the newest
``bodies_kept`` of those also keep their query, headers and bodies (each cut to
``max_body_bytes``). Entries are numbered 1, 2, 3... and numbers are never reused while the
server runs (not after a clear, not after a reset), so a mark taken at any time still means
"everything after this". Consecutive numbers put entry ``id`` at a computable place in the ring:
a page starting at ``since`` or ``before`` goes straight there instead of scanning the log.

Secrets never enter it: the HTTP layer passes the path without its query string and the query
with tokens redacted, and :func:`redact_credentials` replaces access tokens and passwords in
every JSON body (keeping its shape) before it is stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import unquote

import orjson

from minihs.config import RequestLogConfig
from minihs.domain.path_patterns import PathPattern

logger = logging.getLogger(__name__)

REDACTED = "<redacted>"
# JSON keys whose values are credentials (login and registration passwords, access and refresh
# tokens, registration and login tokens, 3PID session secrets), wherever they appear in a body.
SECRET_KEYS = frozenset({
    "password", "new_password", "access_token", "refresh_token", "id_access_token", "token",
    "login_token", "client_secret",
})
# A body without any of these bytes holds no secret key (a key spelt with \u escapes counts as
# a hit), so most bodies are stored without being parsed.
_SECRET_HINTS = (b'token"', b'password"', b'client_secret"', b"\\u")
MAX_REDACTION_DEPTH = 64


def redact_credentials(body: bytes) -> bytes | None:
    """``body`` with the value of every :data:`SECRET_KEYS` key replaced, or None when it
    might hold one but is not JSON that can be rewritten (better nothing than a secret)."""
    if not any(hint in body for hint in _SECRET_HINTS):
        return body
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not _redact(value, 0):
        return None
    return orjson.dumps(value)


def _redact(value: Any, depth: int) -> bool:
    """Redact in place; False when the value is nested too deep to be sure."""
    if depth > MAX_REDACTION_DEPTH:
        return False
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SECRET_KEYS and item is not None:
                value[key] = REDACTED
            elif isinstance(item, (dict, list)) and not _redact(item, depth + 1):
                return False
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and not _redact(item, depth + 1):
                return False
    return True


@dataclass(frozen=True, slots=True)
class Body:
    """A body as kept: at most ``max_body_bytes`` of it, and whether it was cut."""

    data: bytes | None
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        text = None if self.data is None else self.data.decode("utf-8", "replace")
        return {"body": text, "truncated": self.truncated}


@dataclass(frozen=True, slots=True)
class RequestDetail:
    query: str
    headers: dict[str, str]
    body: Body

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "headers": self.headers, **self.body.to_json()}


class LoggedRequest:
    __slots__ = (
        "id", "ts", "method", "raw_path", "path_template", "user", "status", "errcode",
        "duration_ms", "fault", "request", "response",
    )

    def __init__(
        self, id: int, ts: int, method: str, raw_path: str, path_template: str | None,
        user: str | None, status: int | None, errcode: str | None, duration_ms: float,
        fault: str | None, request: RequestDetail | None, response: Body | None,
    ) -> None:
        self.id = id
        self.ts = ts
        self.method = method
        self.raw_path = raw_path
        self.path_template = path_template
        self.user = user
        self.status = status
        self.errcode = errcode
        self.duration_ms = duration_ms
        self.fault = fault
        self.request = request
        self.response = response

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "method": self.method,
            "path": unquote(self.raw_path),
            "path_template": self.path_template,
            "user": self.user,
            "status": self.status,
            "errcode": self.errcode,
            "duration_ms": self.duration_ms,
            "fault": self.fault,
        }

    def detail(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "request": None if self.request is None else self.request.to_json(),
            "response": None if self.response is None else self.response.to_json(),
        }


class RequestLog:
    def __init__(self, config: RequestLogConfig) -> None:
        self.enabled = config.enabled
        self._size = config.size
        self._bodies_kept = config.bodies_kept if config.enabled else 0
        self._max_body_bytes = config.max_body_bytes
        self._ring: list[LoggedRequest] = []
        self._base_id = 1  # the id of the first entry appended to the ring since it was emptied
        self._first_id = 1  # the oldest id kept
        self._last_id = 0  # the newest id given (0: none yet)
        # Called with each new entry, after it is recorded (the inspector's live view).
        self.on_record: list[Callable[[LoggedRequest], None]] = []

    # --- recording ------------------------------------------------------------------------

    @property
    def keeps_bodies(self) -> bool:
        """Whether :meth:`record` wants the query, headers and bodies (else they are ignored)."""
        return self._bodies_kept > 0

    def record(
        self, *, ts: int, method: str, raw_path: str, path_template: str | None,
        user: str | None, status: int | None, errcode: str | None, duration_ms: float,
        fault: str | None = None, query: str = "", headers: dict[str, str] | None = None,
        request_body: bytes | None = None, response_body: bytes | None = None,
    ) -> LoggedRequest:
        """Keep one answered request. ``query`` must already have its tokens redacted;
        ``headers`` lose their credentials and bodies theirs here."""
        request = response = None
        if self._bodies_kept:
            request = RequestDetail(query, headers or {}, self._kept(request_body))
            response = self._kept(response_body)
        entry_id = self._last_id + 1
        entry = LoggedRequest(
            entry_id, ts, method, raw_path, path_template, user, status, errcode,
            duration_ms, fault, request, response,
        )
        ring = self._ring
        if len(ring) < self._size:
            ring.append(entry)
        else:
            ring[(entry_id - self._base_id) % self._size] = entry
            self._first_id = entry_id - self._size + 1
        self._last_id = entry_id
        if self._bodies_kept:
            older = self.get(entry_id - self._bodies_kept)
            if older is not None:
                older.request = older.response = None
        for hook in self.on_record:
            try:
                hook(entry)
            except Exception:  # noqa: BLE001 - a watcher's bug must not fail the request
                logger.exception("A request log hook failed")
        return entry

    def _kept(self, body: bytes | None) -> Body:
        if not body:
            return Body(None, False)
        redacted = redact_credentials(body)
        if redacted is None:
            return Body(None, True)
        if len(redacted) > self._max_body_bytes:
            return Body(redacted[: self._max_body_bytes], True)
        return Body(redacted, False)

    def clear(self) -> None:
        """Forget every entry; numbering goes on where it was."""
        self._ring = []
        self._base_id = self._first_id = self._last_id + 1

    # --- reading --------------------------------------------------------------------------

    @property
    def mark(self) -> int:
        """The id of the newest entry ever recorded (0 when none): ``since=mark`` later gives
        exactly what was recorded after now."""
        return self._last_id

    def __len__(self) -> int:
        return self._last_id - self._first_id + 1

    def get(self, entry_id: int) -> LoggedRequest | None:
        if not self._first_id <= entry_id <= self._last_id:
            return None
        return self._ring[(entry_id - self._base_id) % self._size]

    def query(
        self, *, since: int | None = None, before: int | None = None, limit: int = 100,
        descending: bool = False, path: PathPattern | None = None, user: str | None = None,
        status: int | None = None, method: str | None = None,
    ) -> list[LoggedRequest]:
        """Up to ``limit`` entries with ``since < id < before`` that pass every filter given,
        the oldest first (or the newest first when ``descending``)."""
        low = self._first_id if since is None else max(self._first_id, since + 1)
        high = self._last_id if before is None else min(self._last_id, before - 1)
        if low > high or limit <= 0:
            return []
        ids = range(high, low - 1, -1) if descending else range(low, high + 1)
        entries = self._entries(ids)
        if path is None and user is None and status is None and method is None:
            return [entry for entry, _ in zip(entries, range(limit))]
        found = []
        for entry in entries:
            if (
                (method is None or entry.method == method)
                and (status is None or entry.status == status)
                and (user is None or entry.user == user)
                and (path is None or path.matches(entry.raw_path))
            ):
                found.append(entry)
                if len(found) == limit:
                    break
        return found

    def _entries(self, ids: range) -> Iterator[LoggedRequest]:
        ring, base, size = self._ring, self._base_id, self._size
        for entry_id in ids:
            yield ring[(entry_id - base) % size]
