"""Shared test fixtures: a fresh in-memory homeserver per test, driven over HTTP.

Tests read like the spec: ``await hs.create_room(alice, preset="public_chat")``,
``await hs.join(bob, room_id, expect=403)``. Every helper checks the status it expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import pytest

from minihs.api.app import create_app
from minihs.config import Config, config_from_dict
from minihs.config import apply_testing_profile
from minihs.testing import MinihsServer
from scenario_loaders import WAYS, Loader

PASSWORD = "correct horse battery staple"
_names = itertools.count()


@dataclass
class User:
    user_id: str
    access_token: str
    device_id: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class MatrixTestClient:
    """Thin helpers over aiohttp's test client; each asserts the expected status."""

    def __init__(self, http, config: Config) -> None:
        self.http = http
        self.config = config
        self.server_name = config.server_name

    @property
    def homeserver(self):
        from minihs.api.request import HOMESERVER

        return self.http.server.app[HOMESERVER]

    async def request(
        self,
        method: str,
        path: str,
        user: User | None = None,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        expect: int | None = 200,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        all_headers = dict(user.headers) if user else {}
        all_headers.update(headers or {})
        response = await self.http.request(
            method, path, json=json, params=params, data=data, headers=all_headers
        )
        body = await response.json(content_type=None) if await response.read() else None
        if expect is not None:
            assert response.status == expect, f"{method} {path}: {response.status} {body}"
        self.last_response = response
        return body

    async def register(self, localpart: str | None = None, password: str = PASSWORD) -> User:
        if localpart is None:
            localpart = f"user{next(_names)}"
        body = await self.request(
            "POST",
            "/_matrix/client/v3/register",
            json={"username": localpart, "password": password, "auth": {"type": "m.login.dummy"}},
        )
        return User(body["user_id"], body["access_token"], body["device_id"], password)

    async def create_room(self, user: User, expect: int = 200, **body: Any) -> Any:
        reply = await self.request(
            "POST", "/_matrix/client/v3/createRoom", user, json=body, expect=expect
        )
        return reply["room_id"] if expect == 200 else reply

    async def join(self, user: User, room: str, expect: int = 200, **body: Any) -> Any:
        return await self.request(
            "POST", f"/_matrix/client/v3/join/{quote(room)}", user, json=body, expect=expect
        )

    async def _member_action(self, action, user, room, target, expect, **body) -> Any:
        if target is not None:
            body["user_id"] = target.user_id if isinstance(target, User) else target
        return await self.request(
            "POST", f"/_matrix/client/v3/rooms/{quote(room)}/{action}", user, json=body, expect=expect
        )

    async def invite(self, user, room, target, expect=200, **body):
        return await self._member_action("invite", user, room, target, expect, **body)

    async def leave(self, user, room, expect=200, **body):
        return await self._member_action("leave", user, room, None, expect, **body)

    async def kick(self, user, room, target, expect=200, **body):
        return await self._member_action("kick", user, room, target, expect, **body)

    async def ban(self, user, room, target, expect=200, **body):
        return await self._member_action("ban", user, room, target, expect, **body)

    async def unban(self, user, room, target, expect=200, **body):
        return await self._member_action("unban", user, room, target, expect, **body)

    async def joined_rooms(self, user: User) -> list[str]:
        return (await self.request("GET", "/_matrix/client/v3/joined_rooms", user))["joined_rooms"]

    async def state(self, user: User, room: str, event_type: str, state_key: str = "", expect=200):
        return await self.request(
            "GET",
            f"/_matrix/client/v3/rooms/{quote(room)}/state/{event_type}/{quote(state_key)}",
            user,
            expect=expect,
        )

    async def send(
        self, user: User, room: str, body: str = "hello", *, event_type: str = "m.room.message",
        txn_id: str | None = None, content: Any = None, expect: int = 200,
    ) -> Any:
        """PUT /rooms/{roomId}/send/{eventType}/{txnId}; the event ID (or the error body)."""
        if content is None:
            content = {"msgtype": "m.text", "body": body}
        txn_id = txn_id if txn_id is not None else f"txn{next(_names)}"
        reply = await self.request(
            "PUT",
            f"/_matrix/client/v3/rooms/{quote(room)}/send/{quote(event_type)}/{quote(txn_id)}",
            user, json=content, expect=expect,
        )
        return reply["event_id"] if expect == 200 else reply

    async def set_state(
        self, user: User, room: str, event_type: str, content: Any, state_key: str = "",
        expect: int = 200,
    ) -> Any:
        reply = await self.request(
            "PUT",
            f"/_matrix/client/v3/rooms/{quote(room)}/state/{quote(event_type)}/{quote(state_key)}",
            user, json=content, expect=expect,
        )
        return reply["event_id"] if expect == 200 else reply

    async def sync(self, user: User, expect: int = 200, **params: Any) -> Any:
        """GET /sync; ``params`` as query parameters (a dict ``filter`` is sent as JSON)."""
        import json as _json

        query = {}
        for name, value in params.items():
            if isinstance(value, (dict, list)):
                value = _json.dumps(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            query[name] = str(value)
        return await self.request("GET", "/_matrix/client/v3/sync", user, params=query, expect=expect)

    async def messages(self, user: User, room: str, expect: int = 200, **params: Any) -> Any:
        import json as _json

        query = {k: _json.dumps(v) if isinstance(v, dict) else str(v) for k, v in params.items()}
        return await self.request(
            "GET", f"/_matrix/client/v3/rooms/{quote(room)}/messages", user, params=query,
            expect=expect,
        )

    async def mutual_rooms(
        self, user: User, other: User | str, from_token: str | None = None, expect: int = 200
    ) -> Any:
        params = {"user_id": other.user_id if isinstance(other, User) else other}
        if from_token is not None:
            params["from"] = from_token
        return await self.request(
            "GET", "/_matrix/client/v1/mutual_rooms", user, params=params, expect=expect
        )


@contextlib.asynccontextmanager
async def database_thread_held(db):
    """Keep the database's thread busy until the block ends, so that every transaction queued
    inside the block is committed afterwards, as one group."""
    started, release = threading.Event(), threading.Event()

    def hold(conn):
        started.set()
        release.wait()

    holder = asyncio.ensure_future(db.transaction(hold))
    await asyncio.to_thread(started.wait)
    try:
        yield
    finally:
        release.set()
        await holder


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait, giving the event loop its turns, until ``condition()`` holds (an assertion error
    after ``timeout`` seconds): a test waits for what it needs, not for a guessed time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"still not true after {timeout} s"
        await asyncio.sleep(0.001)


def quote(text: str) -> str:
    from urllib.parse import quote as _quote

    return _quote(text, safe="")


def test_config(**overrides: Any) -> Config:
    """The testing profile (in-memory, cheap hashing, no rate limits) plus YAML-shaped overrides."""
    return apply_testing_profile(config_from_dict(overrides))


test_config.__test__ = False  # not a test, despite the name


@pytest.fixture
def make_homeserver(aiohttp_client) -> Callable[..., Awaitable[MatrixTestClient]]:
    """Start a fresh homeserver with config overrides: ``await make_homeserver(rooms={...})``."""

    async def make(config: Config | None = None, **overrides: Any) -> MatrixTestClient:
        config = config or test_config(**overrides)
        http = await aiohttp_client(create_app(config))
        return MatrixTestClient(http, config)

    return make


@pytest.fixture
async def hs(make_homeserver) -> MatrixTestClient:
    return await make_homeserver()


@pytest.fixture
async def hs_admin_off(make_homeserver) -> MatrixTestClient:
    """A fresh homeserver as ``hs``, but with the admin API off (the testing profile's on)."""
    config = test_config()
    config.enable_admin_api = False
    return await make_homeserver(config)


# --- the Python API: minihs in its own thread, as other projects' tests run it --------------


@pytest.fixture(scope="module")
def server():
    """A MinihsServer (testing profile) shared by the tests of a module."""
    with MinihsServer() as running:
        yield running


@pytest.fixture
def fresh(server):
    """The module's MinihsServer, reset."""
    server.reset()
    return server


@pytest.fixture(params=WAYS)
def loader(request, fresh, tmp_path) -> Loader:
    """Loads scenarios into the module's MinihsServer, reset; each test runs once through the
    Python API and once through the admin API."""
    return Loader(request.param, fresh, tmp_path)
