"""The server's clock, which tests can freeze, set and advance.

Everything minihs dates or times reads this clock, never ``time`` directly: ``origin_server_ts``,
the request log, and every lifetime and window (pagination tokens, UIA sessions, shared-secret
nonces, rate limits). So a test steps past a 30-minute expiry by advancing the clock, not by
sleeping. Waits that only pace the connection (a long poll's ``timeout``, typing's own timer)
keep the event loop's real time: a frozen clock must not hang a client.

Two readings: :meth:`time` is the wall clock (seconds since 1970), :meth:`monotonic` the clock
that lifetimes and windows are measured on. Setting the wall clock back moves :meth:`monotonic`
not at all, as a real monotonic clock would not move; every step forward moves both.
"""

from __future__ import annotations

import time
from typing import Any


class ServerClock:
    """Real time, unless a test froze, set or advanced it. ``start_ms``: begin frozen there."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._wall_offset = 0.0  # seconds added to time.time()
        self._monotonic_offset = 0.0  # seconds added to time.monotonic()
        self._frozen: tuple[float, float] | None = None  # (wall, monotonic) while frozen
        if start_ms is not None:
            self.freeze()
            self.set_ms(start_ms)

    # --- readings -------------------------------------------------------------------------

    def time(self) -> float:
        """Seconds since 1970, as ``time.time()``."""
        if self._frozen is not None:
            return self._frozen[0]
        return time.time() + self._wall_offset

    def now_ms(self) -> int:
        """Milliseconds since 1970: ``origin_server_ts`` and every other ``*_ts``."""
        return int(self.time() * 1000)

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, as ``time.monotonic()``."""
        if self._frozen is not None:
            return self._frozen[1]
        return time.monotonic() + self._monotonic_offset

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def state(self) -> dict[str, Any]:
        """What the admin API answers: ``{"now_ms": ..., "frozen": ...}``."""
        return {"now_ms": self.now_ms(), "frozen": self.frozen}

    # --- control --------------------------------------------------------------------------

    def freeze(self) -> None:
        """Stop the clock where it is now; it moves again only when set, advanced or unfrozen."""
        if self._frozen is None:
            self._frozen = (self.time(), self.monotonic())

    def unfreeze(self) -> None:
        """Let the clock run again, on from where it stood."""
        if self._frozen is not None:
            wall, monotonic = self._frozen
            self._frozen = None
            self._wall_offset = wall - time.time()
            self._monotonic_offset = monotonic - time.monotonic()

    def set_ms(self, now_ms: int) -> None:
        """Set the wall clock to ``now_ms``. Forward, the monotonic clock moves by as much."""
        delta = now_ms / 1000 - self.time()
        self._shift(delta, max(delta, 0.0))

    def advance_ms(self, milliseconds: int) -> None:
        """Move both clocks ``milliseconds`` forward (never back: that is what ``set_ms`` is for)."""
        if milliseconds < 0:
            raise ValueError("the clock only advances forward; set it to go back")
        self._shift(milliseconds / 1000, milliseconds / 1000)

    def _shift(self, wall: float, monotonic: float) -> None:
        if self._frozen is not None:
            frozen_wall, frozen_monotonic = self._frozen
            self._frozen = (frozen_wall + wall, frozen_monotonic + monotonic)
        else:
            self._wall_offset += wall
            self._monotonic_offset += monotonic

    # --- snapshots ------------------------------------------------------------------------

    def saved(self) -> tuple[float, float, tuple[float, float] | None]:
        """The clock's whole state, for :meth:`restore_saved`."""
        return (self._wall_offset, self._monotonic_offset, self._frozen)

    def restore_saved(self, saved: tuple[float, float, tuple[float, float] | None]) -> None:
        self._wall_offset, self._monotonic_offset, self._frozen = saved
