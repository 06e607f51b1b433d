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

from minihs.spec.errors import bad_json, invalid_param

# The range of times the clock may be set to: 1970 up to the last millisecond of year 9999 (as
# config's deterministic.start_time_ms): any four-digit-year date code can show it.
MAX_TIME_MS = 253_402_300_799_999


class ServerClock:
    """Real time, unless a test froze, set or advanced it. ``start_ms``: begin frozen there.

    Kept in integer nanoseconds (``time.time_ns()``), not float seconds: most milliseconds are
    not exact as a float of seconds since 1970, and a clock set to ``now_ms`` then read back
    one millisecond early about one time in ten.
    """

    def __init__(self, start_ms: int | None = None) -> None:
        self._wall_offset = 0  # nanoseconds added to time.time_ns()
        self._monotonic_offset = 0  # nanoseconds added to time.monotonic_ns()
        self._frozen: tuple[int, int] | None = None  # (wall, monotonic) ns while frozen
        if start_ms is not None:
            self.freeze()
            self.set_ms(start_ms)

    # --- readings -------------------------------------------------------------------------

    def _wall_ns(self) -> int:
        if self._frozen is not None:
            return self._frozen[0]
        return time.time_ns() + self._wall_offset

    def _monotonic_ns(self) -> int:
        if self._frozen is not None:
            return self._frozen[1]
        return time.monotonic_ns() + self._monotonic_offset

    def time(self) -> float:
        """Seconds since 1970, as ``time.time()``."""
        return self._wall_ns() / 1e9

    def now_ms(self) -> int:
        """Milliseconds since 1970: ``origin_server_ts`` and every other ``*_ts``."""
        return self._wall_ns() // 1_000_000

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, as ``time.monotonic()``."""
        return self._monotonic_ns() / 1e9

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
            self._frozen = (self._wall_ns(), self._monotonic_ns())

    def unfreeze(self) -> None:
        """Let the clock run again, on from where it stood."""
        if self._frozen is not None:
            wall, monotonic = self._frozen
            self._frozen = None
            self._wall_offset = wall - time.time_ns()
            self._monotonic_offset = monotonic - time.monotonic_ns()

    def set_ms(self, now_ms: int) -> None:
        """Set the wall clock to ``now_ms``. Forward, the monotonic clock moves by as much."""
        delta = now_ms * 1_000_000 - self._wall_ns()
        self._shift(delta, max(delta, 0))

    def advance_ms(self, milliseconds: int) -> None:
        """Move both clocks ``milliseconds`` forward (never back: that is what ``set_ms`` is for)."""
        if milliseconds < 0:
            raise ValueError("the clock only advances forward; set it to go back")
        self._shift(milliseconds * 1_000_000, milliseconds * 1_000_000)

    def _shift(self, wall: int, monotonic: int) -> None:
        if self._frozen is not None:
            frozen_wall, frozen_monotonic = self._frozen
            self._frozen = (frozen_wall + wall, frozen_monotonic + monotonic)
        else:
            self._wall_offset += wall
            self._monotonic_offset += monotonic

    def adjust(
        self, *, now_ms: Any = None, advance_ms: Any = None, frozen: Any = None
    ) -> dict[str, Any]:
        """Set, then advance, then freeze or unfreeze (each only when given); the new state.

        What ``POST /_minihs/admin/clock`` and ``MinihsServer.clock`` both call. Every value is
        checked before anything moves: a bad one (400 ``M_BAD_JSON`` for a wrong type,
        ``M_INVALID_PARAM`` for a value out of range) leaves the clock as it was.
        """
        for name, value in (("now_ms", now_ms), ("advance_ms", advance_ms)):
            # bool is an int in Python; in JSON true is not a number.
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise bad_json(f"'{name}' must be an integer (milliseconds)")
        if frozen is not None and not isinstance(frozen, bool):
            raise bad_json("'frozen' must be a boolean")
        if now_ms is not None and not 0 <= now_ms <= MAX_TIME_MS:
            raise invalid_param(f"'now_ms' must be between 0 and {MAX_TIME_MS}")
        if advance_ms is not None:
            if advance_ms < 0:
                raise invalid_param("'advance_ms' must not be negative: set 'now_ms' to go back")
            start = self.now_ms() if now_ms is None else now_ms
            if start + advance_ms > MAX_TIME_MS:
                raise invalid_param(f"'advance_ms' would take the clock past {MAX_TIME_MS}")
        if now_ms is not None:
            self.set_ms(now_ms)
        if advance_ms is not None:
            self.advance_ms(advance_ms)
        if frozen is True:
            self.freeze()
        elif frozen is False:
            self.unfreeze()
        return self.state()

    # --- snapshots ------------------------------------------------------------------------

    def saved(self) -> tuple[int, int, tuple[int, int] | None]:
        """The clock's whole state, for :meth:`restore_saved`."""
        return (self._wall_offset, self._monotonic_offset, self._frozen)

    def restore_saved(self, saved: tuple[int, int, tuple[int, int] | None]) -> None:
        self._wall_offset, self._monotonic_offset, self._frozen = saved


def whole_ms(seconds: float) -> int:
    """A clock reading in whole milliseconds, for lifetimes. In floating point, a reading plus a
    lifetime can land one unit below the reading taken after the clock advanced by exactly that
    lifetime, so a session would sometimes outlive its lifetime by a hair: in integers, it
    expires exactly when its lifetime has passed."""
    return round(seconds * 1000)
