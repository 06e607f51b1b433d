"""``MinihsServer.clock``: the server clock, from the test's own thread.

Each call runs the domain's :class:`~minihs.domain.clock.ServerClock` on the server's event
loop (through :meth:`MinihsServer.on_server`), exactly what ``/_minihs/admin/clock`` calls::

    server.clock.freeze()
    server.clock.set(1_767_225_600_000)
    ...                                   # an event sent now has origin_server_ts 1767225600000
    server.clock.advance(30 * 60 * 1000)  # past a 30-minute lifetime, without sleeping
"""

from __future__ import annotations

from typing import Any, Callable

from minihs.spec.errors import MatrixError


class ServerClockControl:
    """Freeze, set and advance a running :class:`MinihsServer`'s clock. Milliseconds since
    1970 throughout. A bad value raises ``ValueError`` and leaves the clock as it was."""

    def __init__(self, on_server: Callable[..., Any]) -> None:
        self._on_server = on_server

    def _adjust(self, **change: Any) -> dict[str, Any]:
        async def adjust(homeserver: Any) -> dict[str, Any]:
            return homeserver.clock.adjust(**change)

        try:
            return self._on_server(adjust)
        except MatrixError as error:
            raise ValueError(error.message) from None

    def state(self) -> dict[str, Any]:
        """``{"now_ms": int, "frozen": bool}``, as ``GET /_minihs/admin/clock`` answers."""
        return self._adjust()

    def now_ms(self) -> int:
        return self.state()["now_ms"]

    @property
    def frozen(self) -> bool:
        return self.state()["frozen"]

    def freeze(self) -> dict[str, Any]:
        """Stop the clock where it is; it then moves only when set or advanced. The new state."""
        return self._adjust(frozen=True)

    def unfreeze(self) -> dict[str, Any]:
        """Let the clock run again, on from where it stands. The new state."""
        return self._adjust(frozen=False)

    def set(self, now_ms: int) -> dict[str, Any]:
        """Set the clock (back or forward; frozen or not, it stays so). The new state."""
        return self._adjust(now_ms=now_ms)

    def advance(self, ms: int) -> dict[str, Any]:
        """Step the clock ``ms`` milliseconds forward. The new state."""
        return self._adjust(advance_ms=ms)

    def __repr__(self) -> str:
        return f"<ServerClockControl {self.state()}>"
