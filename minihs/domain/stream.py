"""The change stream in memory: stream tokens, and the notifier that wakes waiting ``/sync``s.

Every change a user can observe takes a position in one ordered stream (``minihs.store.stream``)
in the transaction that writes it. Once that transaction is committed, the code that made the
change calls :meth:`Stream.notify` from its ``on_settled`` callback with the users it concerns:
the stream's position moves on, each of those users' "last change" becomes that position, and
their waiting ``/sync`` requests are woken. A ``/sync`` therefore wakes only after the database
holds the change (it then reads it), and never for a change that does not concern its user.

Changes that are not room events (account data, receipts, presence, typing) do the same: they
take a position with ``minihs.store.stream.next_position`` inside their write unit (state kept
only in memory, presence and typing, with a unit that does nothing else:
``minihs.domain.changes``) and call ``notify(users, position)`` from ``on_settled``; their sync
sections are filled by ``minihs.domain.sync_extras``.

Tokens: ``s<position>_<epoch>``. The epoch is random per database and replaced by a reset, so a
token from before a reset (or from another database) is told apart from a valid one.
"""

from __future__ import annotations

import asyncio
import re
from typing import Iterable

from minihs.spec.errors import Codes, MatrixError

_TOKEN = re.compile(r"s([0-9]{1,18})_([0-9a-f]{8})")


def _wake(future: asyncio.Future, changed: bool) -> None:
    if not future.done():
        future.set_result(changed)


class Stream:
    def __init__(self) -> None:
        self.epoch = ""
        # The highest position whose change is committed and settled.
        self.position = 0
        # Positions at or below this one were made before this process loaded the stream: for
        # them the notifier knows nothing, so a sync from there must read the database.
        self._loaded_at = 0
        self._last_change: dict[str, int] = {}
        self._waiters: dict[str, set[asyncio.Future]] = {}

    def load(self, position: int, epoch: str) -> None:
        """Start from the database's counter (at start and after a reset)."""
        self.epoch = epoch
        self.position = position
        self._loaded_at = position
        self._last_change.clear()
        for futures in self._waiters.values():
            for future in futures:
                _wake(future, True)  # their tokens are void now: let them find out
        self._waiters.clear()

    # --- tokens ----------------------------------------------------------------------------

    def token(self, position: int) -> str:
        return f"s{position}_{self.epoch}"

    def parse_token(self, token: str, name: str = "since") -> int:
        """The position a token stands for.

        400 M_INVALID_PARAM for a token minihs never issued: malformed, from a database that was
        reset since (or another database), or ahead of the stream. Synapse answers 400 M_UNKNOWN
        "Invalid stream token" for a malformed one; M_INVALID_PARAM is the spec's code for "a
        parameter was invalid", which says more to a client author.
        """
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise MatrixError(400, Codes.INVALID_PARAM, f"'{name}' is not a token minihs issued")
        if match.group(2) != self.epoch:
            raise MatrixError(
                400,
                Codes.INVALID_PARAM,
                f"'{name}' was issued before this server's data was reset; start again without it",
            )
        position = int(match.group(1))
        if position > self.position:
            raise MatrixError(400, Codes.INVALID_PARAM, f"'{name}' is ahead of the stream")
        return position

    # --- the notifier ----------------------------------------------------------------------

    def notify(self, users: Iterable[str], position: int) -> None:
        """A change at ``position`` concerning ``users`` is committed: wake their waiters."""
        if position > self.position:
            self.position = position
        last_change = self._last_change
        waiters = self._waiters
        for user in users:
            if last_change.get(user, 0) < position:
                last_change[user] = position
            futures = waiters.pop(user, None)
            if futures:
                for future in futures:
                    _wake(future, True)

    def advance(self, position: int) -> None:
        """A committed change that concerns nobody's sync (kept for the order only)."""
        if position > self.position:
            self.position = position

    def changed_since(self, user_id: str, position: int) -> bool:
        """Whether something concerning the user may have happened after ``position``."""
        if position < self._loaded_at:
            return True  # from before this process started: only the database knows
        return self._last_change.get(user_id, 0) > position

    async def wait_for_change(
        self,
        user_id: str,
        position: int,
        timeout_s: float,
        interrupt: "asyncio.Future | None" = None,
    ) -> bool:
        """Wait until something concerning the user happens after ``position``, the timeout, or
        ``interrupt`` resolving (a shared future: never cancelled here); True when woken by a
        change."""
        if self.changed_since(user_id, position):
            return True
        if timeout_s <= 0:
            return False
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        futures = self._waiters.setdefault(user_id, set())
        futures.add(future)
        timer = loop.call_later(timeout_s, _wake, future, False)
        interrupted = lambda _: _wake(future, False)  # noqa: E731
        if interrupt is not None:
            interrupt.add_done_callback(interrupted)
        try:
            return await future
        finally:
            timer.cancel()
            if interrupt is not None:
                interrupt.remove_done_callback(interrupted)
            futures.discard(future)
            if not futures and self._waiters.get(user_id) is futures:
                del self._waiters[user_id]

    def waiting(self) -> int:
        """How many requests are waiting (for tests and benchmarks)."""
        return sum(len(futures) for futures in self._waiters.values())
