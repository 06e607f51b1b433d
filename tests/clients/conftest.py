"""Live minihs servers for the real-client tests, and a log of the requests each one answered.

The clients (matrix-nio, mautrix-python, matrix-js-sdk) speak real HTTP to a real socket, so
these servers listen on 127.0.0.1, port 0. Python clients use a fresh server per test
(pytest-aiohttp's ``aiohttp_server``, in the test's own event loop). The Node driver needs a
server that keeps answering while a blocking subprocess runs, so :func:`serve_in_thread` runs
one in its own thread and event loop.

Every server pages mutual rooms one room at a time, so any answer about two shared rooms makes
the client follow a pagination token.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
from aiohttp import web

from conftest import test_config
from prerequisites import prerequisite_missing
from minihs.api.app import create_app
from minihs.config import Config

MUTUAL_ROOMS_PAGE_SIZE = 1
SERVER_START_TIMEOUT_S = 10


def require_client_library(module: str, distribution: str) -> None:
    """Skip the calling test module when a client library is not installed; under CI=true,
    which installs the ``test`` extra, fail instead (tests/prerequisites.py)."""
    if importlib.util.find_spec(module) is not None:
        return
    prerequisite_missing(
        f"{distribution} is not installed: pip install -c requirements/test.lock -e '.[test]'",
        module_level=True,
    )


def client_test_config() -> Config:
    return test_config(mutual_rooms={"page_size": MUTUAL_ROOMS_PAGE_SIZE})


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server saw it, without secrets: token values are never kept."""

    method: str
    path: str
    query: dict[str, list[str]]
    body_keys: tuple[str, ...] | None  # top-level keys of a JSON object body
    bearer: bool  # an ``Authorization: Bearer`` header was sent
    status: int
    errcode: str | None  # of an error answer

    @property
    def token_in_query(self) -> bool:
        return "access_token" in self.query


def record_requests(app: web.Application) -> list[SeenRequest]:
    """Log every request ``app`` answers (errors included) into the returned list."""
    seen: list[SeenRequest] = []

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        query: dict[str, list[str]] = {}
        for name, value in request.query.items():
            query.setdefault(name, []).append("<token>" if name == "access_token" else value)
        body_keys = None
        if request.body_exists:
            with contextlib.suppress(Exception):
                body = json.loads(await request.read())
                if isinstance(body, dict):
                    body_keys = tuple(sorted(body))
        errcode = None
        if response.status >= 400 and isinstance(response, web.Response):
            with contextlib.suppress(Exception):
                errcode = json.loads(response.body).get("errcode")
        authorization = request.headers.get("Authorization", "")
        seen.append(
            SeenRequest(
                request.method,
                request.path,
                query,
                body_keys,
                authorization.lower().startswith("bearer "),
                response.status,
                errcode,
            )
        )

    app.on_response_prepare.append(record)
    return seen


@dataclass
class LiveMinihs:
    url: str
    requests: list[SeenRequest] = field(default_factory=list)

    def requests_to(self, path: str, method: str | None = None) -> list[SeenRequest]:
        return [
            r for r in self.requests if r.path == path and (method is None or r.method == method)
        ]

    def misses(self) -> list[SeenRequest]:
        """Requests answered with a server error, or for an endpoint minihs does not have."""
        return [r for r in self.requests if r.status >= 500 or r.errcode == "M_UNRECOGNIZED"]


@pytest.fixture
async def live_minihs(aiohttp_server) -> AsyncIterator[LiveMinihs]:
    """A fresh minihs listening on 127.0.0.1 for the length of one test. Afterwards, checks
    that the client never got a 5xx nor called an endpoint minihs lacks."""
    app = create_app(client_test_config())
    seen = record_requests(app)
    server = await aiohttp_server(app)
    live = LiveMinihs(str(server.make_url("")).rstrip("/"), seen)
    yield live
    assert live.misses() == [], "the client hit a server error or an unknown endpoint"


@contextlib.contextmanager
def serve_in_thread(config: Config | None = None) -> Iterator[LiveMinihs]:
    """A minihs in its own thread and event loop, for tests that block on a subprocess."""
    app = create_app(config or client_test_config())
    seen = record_requests(app)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    started = threading.Event()
    failure: list[BaseException] = []
    address: list[str] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            host, port = runner.addresses[0][:2]
            address.append(f"http://{host}:{port}")
        except BaseException as exc:  # reported to the starting thread below
            failure.append(exc)
            with contextlib.suppress(Exception):
                loop.run_until_complete(runner.cleanup())
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, name="minihs-live", daemon=True)
    thread.start()
    try:
        if not started.wait(SERVER_START_TIMEOUT_S):
            raise RuntimeError("minihs did not start listening")
        if failure:
            raise RuntimeError("minihs failed to start") from failure[0]
        yield LiveMinihs(address[0], seen)
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(SERVER_START_TIMEOUT_S)
        if not thread.is_alive():
            loop.close()


# --- the Node.js clients' prerequisites -------------------------------------------------------

JS_DIR = Path(__file__).parent / "js"
NODE_MAJOR = 20  # matrix-js-sdk 37.5.0 needs Node 20 (later releases 22); bot-sdk 0.8 runs on 20


def node_missing(who: str) -> str | None:
    """Why Node.js cannot run ``who``'s tests (missing or too old), or None."""
    node = shutil.which("node")
    if node is None:
        return f"node is not installed (the {who} tests need Node.js >= {NODE_MAJOR})"
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    major = version.lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < NODE_MAJOR:
        return (
            f"node {version or '(unknown version)'} is too old "
            f"(the {who} tests need Node.js >= {NODE_MAJOR})"
        )
    return None


def js_package_missing(package: str, pinned: str) -> str | None:
    """Why the npm ``package`` at version ``pinned`` is not usable in tests/clients/js, or None."""
    installed = JS_DIR / "node_modules" / package / "package.json"
    if not installed.is_file():
        return f"{package} is not installed: run scripts/install_js_clients.sh"
    version = json.loads(installed.read_text(encoding="utf-8"))["version"]
    if version != pinned:
        return f"{package} {version} is installed, not the pinned {pinned}: run scripts/install_js_clients.sh"
    return None
