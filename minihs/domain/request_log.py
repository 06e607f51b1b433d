"""The request log: the requests the server answered, newest last, for tests to assert on.

A bounded ring: the newest ``request_log.size`` requests are kept, and the newest
``bodies_kept`` of those also keep their query, headers and bodies (each cut to
``max_body_bytes``). Entries are numbered 1, 2, 3... and numbers are never reused while the
server runs (not after a clear, not after a reset), so a mark taken at any time still means
"everything after this". Consecutive numbers put entry ``id`` at a computable place in the ring:
a page starting at ``since`` or ``before`` goes straight there instead of scanning the log.

Secrets never leave it: the HTTP layer passes the path without its query string and the query
with tokens redacted; headers and bodies are kept as they came (bodies cut, which is all a
request pays) and :mod:`minihs.domain.redaction` replaces the credentials in them whenever an
entry is read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import unquote

from minihs.config import RequestLogConfig
from minihs.domain.path_patterns import PathPattern
from minihs.domain.redaction import redact_credentials, redact_headers

logger = logging.getLogger(__name__)


def _body_json(data: bytes | None, truncated: bool) -> dict[str, Any]:
    if data is None:
        return {"body": None, "truncated": truncated}
    return {"body": redact_credentials(data).decode("utf-8", "replace"), "truncated": truncated}


@dataclass(slots=True, eq=False, repr=False)  # no repr: it would show the credentials
class Bodies:
    """What the newest ``bodies_kept`` entries keep besides: the request's query (tokens
    already redacted), headers and body, and the response's body, each body cut to
    ``max_body_bytes``. Headers and bodies are as received, credentials included: read them
    only through :meth:`request_json` and :meth:`response_json`, which redact them."""

    query: str
    headers: Mapping[str, str]
    request_body: bytes | None
    request_cut: bool
    response_body: bytes | None
    response_cut: bool

    def request_json(self) -> dict[str, Any]:
        return {"query": self.query, "headers": redact_headers(self.headers),
                **_body_json(self.request_body, self.request_cut)}

    def response_json(self) -> dict[str, Any]:
        return _body_json(self.response_body, self.response_cut)


@dataclass(slots=True, eq=False)
class LoggedRequest:
    id: int
    ts: int
    method: str
    raw_path: str
    path_template: str | None
    user: str | None
    status: int | None
    errcode: str | None
    duration_ms: float
    fault: str | None
    bodies: Bodies | None

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
            "duration_ms": round(self.duration_ms, 3),
            "fault": self.fault,
        }

    def detail(self) -> dict[str, Any]:
        bodies = self.bodies
        return {
            **self.summary(),
            "request": None if bodies is None else bodies.request_json(),
            "response": None if bodies is None else bodies.response_json(),
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
        self, ts: int, method: str, raw_path: str, path_template: str | None,
        user: str | None, status: int | None, errcode: str | None, duration_ms: float,
        fault: str | None = None, query: str = "", headers: Mapping[str, str] | None = None,
        request_body: bytes | None = None, response_body: bytes | None = None,
    ) -> LoggedRequest:
        """Keep one answered request. ``query`` must already have its tokens redacted;
        headers and bodies lose their credentials when read."""
        bodies = None
        if self._bodies_kept:
            request_body, request_cut = self._kept(request_body)
            response_body, response_cut = self._kept(response_body)
            bodies = Bodies(query, headers or {}, request_body, request_cut, response_body,
                            response_cut)
        entry_id = self._last_id + 1
        entry = LoggedRequest(
            entry_id, ts, method, raw_path, path_template, user, status, errcode,
            duration_ms, fault, bodies,
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
                older.bodies = None
        for hook in self.on_record:
            try:
                hook(entry)
            except Exception:  # noqa: BLE001 - a watcher's bug must not fail the request
                logger.exception("A request log hook failed")
        return entry

    def _kept(self, body: bytes | None) -> tuple[bytes | None, bool]:
        """The body as kept, and whether it was cut."""
        if not body:
            return None, False
        if len(body) > self._max_body_bytes:
            return body[: self._max_body_bytes], True
        return body, False

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
