"""The request gate: requests and resets never overlap.

A reset replaces the whole database and forgets every in-memory structure built on it. A request
that authenticated before a reset and wrote after it would write rows that point at users and
rooms that no longer exist (a foreign-key error, a 500), and one that read half before and half
after would answer from two different servers. So the gate orders them, readers/writer style:
every request holds the gate, shared, for its whole duration; a reset holds it alone. A reset
waits for the requests in flight to finish and holds new ones at the door until it is done;
they then run against the empty server and get the answers an empty server gives.

The cost on the hot path is a counter and one attribute test per request; only a request that
arrives during a reset awaits anything.

Long-polling requests (a future ``/sync`` with ``timeout``) must not hold a reset up for their
whole timeout: they should wait on :meth:`RequestGate.reset_starting` alongside their change
notification, and answer at once (with nothing new) when it fires. That releases the gate, the
reset runs, and the client's next poll sees the empty server.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator


class RequestGate:
    __slots__ = ("in_flight", "_reopened", "_drained", "_starting", "_resets")

    def __init__(self) -> None:
        # Requests between enter() and leave().
        self.in_flight = 0
        # While a reset runs (or waits for requests to drain): resolves when it is over.
        self._reopened: asyncio.Future | None = None
        # While a reset waits: resolves when the last request in flight has left.
        self._drained: asyncio.Future | None = None
        # Created on demand for long-polling requests: resolves when the next reset starts.
        self._starting: asyncio.Future | None = None
        self._resets: asyncio.Lock | None = None

    @property
    def closed(self) -> bool:
        """True while a reset is waiting or running: new requests must :meth:`wait_open`."""
        return self._reopened is not None

    async def wait_open(self) -> None:
        """Wait until no reset is waiting or running (called only when :attr:`closed`)."""
        while self._reopened is not None:
            # Shielded: a waiting request that is cancelled must not cancel the shared future.
            await asyncio.shield(self._reopened)

    def try_enter(self) -> bool:
        """Count the request as in flight at once when no reset is waiting or running (the
        common case, with no coroutine to await); False when it must :meth:`enter` instead."""
        if self._reopened is not None:
            return False
        self.in_flight += 1
        return True

    async def enter(self) -> None:
        """Start a request: wait out a reset, then count the request as in flight."""
        if self._reopened is not None:
            await self.wait_open()
        self.in_flight += 1

    def leave(self) -> None:
        """The request is finished (answered, failed or cancelled)."""
        self.in_flight -= 1
        if not self.in_flight and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def reset_starting(self) -> "asyncio.Future[None]":
        """For long-polling requests: a future that resolves when the next reset starts.

        A request waiting for news must answer when it fires rather than keep the gate, or
        the reset would wait for the end of its timeout. Await it shielded, or through
        ``asyncio.wait``, which never cancels it: the future is shared.
        """
        if self._starting is None or self._starting.done():
            self._starting = asyncio.get_running_loop().create_future()
        return self._starting

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the gate alone: close it to new requests, wait for those in flight, run the
        block, reopen. Resets queue behind one another."""
        if self._resets is None:
            self._resets = asyncio.Lock()
        async with self._resets:
            loop = asyncio.get_running_loop()
            self._reopened = loop.create_future()
            try:
                starting, self._starting = self._starting, None
                if starting is not None and not starting.done():
                    starting.set_result(None)  # long polls answer now and leave
                if self.in_flight:
                    self._drained = loop.create_future()
                    await self._drained
                yield
            finally:
                self._drained = None
                reopened, self._reopened = self._reopened, None
                reopened.set_result(None)
