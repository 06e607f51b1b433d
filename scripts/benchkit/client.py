"""The aiohttp side of the load client: a few client-server calls, sessions, and ``load()``, which
keeps N workers busy for a time and records each request's latency."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import aiohttp

from .common import CLIENT, MUTUAL, PASSWORD, BenchError


@dataclass
class User:
    user_id: str
    token: str
    localpart: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    """The few client-server calls the benchmark makes, over one keep-alive session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base = base_url.rstrip("/")

    async def call(
        self, method: str, path: str, user: User | None = None, body: Any = None,
        params: dict[str, str] | None = None, expect: int | None = 200,
    ) -> tuple[int, Any]:
        headers = user.headers if user else {}
        async with self.session.request(
            method, self.base + path, json=body, params=params, headers=headers
        ) as resp:
            data = await resp.read()
            status = resp.status
        reply = json.loads(data) if data else None
        if expect is not None and status != expect:
            raise BenchError(f"{method} {path}: expected {expect}, got {status}: {reply}")
        return status, reply

    async def register(self, localpart: str, password: str = PASSWORD) -> User:
        body: dict[str, Any] = {
            "username": localpart, "password": password, "auth": {"type": "m.login.dummy"},
        }
        status, reply = await self.call("POST", CLIENT + "/register", body=body, expect=None)
        if status == 401 and isinstance(reply, dict) and "session" in reply:
            # Servers that insist on a UIA session first (as Synapse may): go round once more.
            body["auth"]["session"] = reply["session"]
            status, reply = await self.call("POST", CLIENT + "/register", body=body, expect=None)
        if status != 200:
            raise BenchError(f"register {localpart}: {status} {reply}")
        return User(reply["user_id"], reply["access_token"], localpart)

    async def create_room(self, user: User, **body: Any) -> str:
        _, reply = await self.call("POST", CLIENT + "/createRoom", user, body=body)
        return reply["room_id"]

    async def join(self, user: User, room_id: str) -> None:
        await self.call("POST", f"{CLIENT}/join/{quote(room_id)}", user, body={})

    async def leave(self, user: User, room_id: str) -> None:
        await self.call("POST", f"{CLIENT}/rooms/{quote(room_id)}/leave", user, body={})


def quote(value: str) -> str:
    from urllib.parse import quote as _quote

    return _quote(value, safe="")


def mutual_target(query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return MUTUAL + "?" + urlencode(query)


def new_session(connections: int = 1) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=max(connections, 1), force_close=False)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=300)
    )


async def load(
    request: Callable[[int], Awaitable[None]], workers: int, seconds: float, max_requests: int
) -> tuple[int, float, list[float]]:
    """``workers`` concurrent loops calling ``request(worker)`` until the time or the count is
    spent. Returns (requests done, elapsed seconds, latencies)."""
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    issued = 0

    async def worker(index: int) -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            issued += 1
            t0 = time.perf_counter()
            await request(index)
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker(i) for i in range(workers)))
    return len(latencies), time.perf_counter() - started, latencies
