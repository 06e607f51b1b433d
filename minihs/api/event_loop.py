"""The event loop minihs serves on: uvloop where it is installed, asyncio's own otherwise.

uvloop runs the same asyncio programs with its transport and scheduling work done in C (libuv):
measured here it takes about 40 µs of server CPU off every request, which for the Mutual Rooms
API is the difference between 0.4 and 0.25 ms per request (BENCHMARKS.md). Nothing in minihs
depends on which loop runs it; ``event_loop: asyncio`` in the config picks asyncio's own.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Callable, Coroutine, TypeVar

from minihs.config import ConfigError

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(choice: str) -> LoopFactory:
    """The factory for ``event_loop`` (auto, uvloop or asyncio); auto falls back quietly."""
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("event_loop: 'uvloop' is not installed (pip install uvloop)") from None
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], factory: LoopFactory) -> T:
    """``asyncio.run(main)`` on a loop from ``factory``, without touching the global event
    loop policy (the fixture server runs this in a thread of someone else's process)."""
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main)
    return run_by_hand(main, factory)


def run_by_hand(main: Coroutine[Any, Any, T], factory: LoopFactory) -> T:
    """What ``asyncio.Runner`` does, for Python 3.10, which has none."""
    loop = factory()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_remaining_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_remaining_tasks(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
