"""minihs served from the benchmark's own event loop, for figures read inside the server (the
domain called directly, or probes patched in) next to a real HTTP client on the same loop."""

from __future__ import annotations

import contextlib
import statistics
from typing import AsyncIterator

from aiohttp import web


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port until the block ends; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def spread_ms(samples_ms: list[float]) -> dict[str, float]:
    """Median, p95 and max of a non-empty list of milliseconds, to the microsecond."""
    ordered = sorted(samples_ms)
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max": round(ordered[-1], 3),
    }
