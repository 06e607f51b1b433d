"""MinihsServer: minihs as a fixture server for other projects' tests.

:class:`MinihsServer` runs a homeserver in its own thread with its own event loop, so it never
shares (or breaks) the caller's loop: it serves sync tests and asyncio tests alike. ::

    with MinihsServer() as server:
        alice = server.register_user("alice")
        room_id = server.create_room(alice, preset="public_chat")
        ...            # point the client under test at server.base_url
        server.reset()  # every user, room and token gone, in well under a millisecond

The defaults suit tests (the testing profile: in-memory database, cheap password hashing, no
rate limits, no access log, the admin API and request log on); a dict of config overrides, shaped like the YAML
file, changes any of them. The helpers are thin HTTP calls made with the standard library only
(one keep-alive connection per calling thread), and raise :class:`MinihsHTTPError` on any
status other than the one the call expects.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from minihs.config import Config, apply_testing_profile, config_from_dict
from minihs.testing.client import BlockingClient, MinihsHTTPError, MinihsUser
from minihs.testing.fixture_tools import FixtureTools
from minihs.testing.scenario_ids import ScenarioError, ScenarioIds

T = TypeVar("T")

__all__ = [
    "MinihsHTTPError", "MinihsServer", "MinihsUser", "ScenarioError", "ScenarioIds", "testing_config",
]

# How long start() waits for the server thread to report, and stop() for it to finish. Both
# normally take milliseconds; the limits only turn a wedged server into an error, not a hang.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
# Seconds open requests get to finish once stop() is called.
SHUTDOWN_GRACE_S = 2.0


def testing_config(overrides: Config | Mapping[str, Any] | None = None) -> Config:
    """The configuration a :class:`MinihsServer` runs with.

    ``None``: the testing profile. A mapping shaped like the YAML config file: merged over the
    testing profile, so ``{"registration": {"shared_secret": "s"}}`` keeps every other test
    default, and ``{"database": {"path": "x.db"}}`` really uses a file. A :class:`Config`: used
    exactly as given. Bad keys or values raise :class:`minihs.config.ConfigError`.
    """
    if isinstance(overrides, Config):
        return overrides
    return config_from_dict(dict(overrides or {}), base=apply_testing_profile(Config()))


testing_config.__test__ = False  # type: ignore[attr-defined]  # not a test, despite the name


# Servers still running when the interpreter exits are stopped properly, so that a file
# database is closed (and its lock released) rather than abandoned mid-write when the daemon
# threads die. A plain atexit hook is early enough: the server thread and the database thread
# are daemons, so the interpreter waits for neither before it runs atexit hooks, and both still
# run while the hooks do.
_running: "weakref.WeakSet[MinihsServer]" = weakref.WeakSet()


def _stop_forgotten_servers() -> None:
    for server in list(_running):
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_stop_forgotten_servers)


class MinihsServer(FixtureTools, BlockingClient):
    """A minihs homeserver in a background thread. Start with :meth:`start` (or ``with``).

    The blocking HTTP helpers (``request``, ``register_user``, ``create_room``...) come from
    :class:`~minihs.testing.client.BlockingClient`."""

    def __init__(
        self,
        config: Config | Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        scenario: Any = None,
    ) -> None:
        self.config = testing_config(config)
        # Loaded by start(): a file's path or a mapping (see load_scenario). Its IDs: .scenario
        self._scenario = scenario
        self.scenario: ScenarioIds | None = None
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._homeserver: Any = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        BlockingClient.__init__(self)

    # --- lifetime ------------------------------------------------------------------------

    def start(self) -> "MinihsServer":
        """Start serving; return once the socket is bound. A startup failure (a port in use,
        an unusable database path) is raised here, with nothing left running."""
        if self._thread is not None:
            raise RuntimeError("this MinihsServer is already running")
        self._ready.clear()
        self._error = None
        thread = threading.Thread(target=self._run, name="minihs-server", daemon=True)
        thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"minihs did not start within {START_TIMEOUT_S} s")
        if self._error is not None:
            thread.join(STOP_TIMEOUT_S)
            error, self._error = self._error, None
            raise error
        self._thread = thread
        _running.add(self)
        if self._scenario is not None:
            try:
                self.scenario = self.load_scenario(self._scenario)
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        """Stop serving and close everything (connections, database), then join the thread.
        Calling it again, or on a server never started, does nothing."""
        thread = self._thread
        if thread is None:
            return
        self._close_client_connections()
        assert self._loop is not None and self._stop_event is not None
        try:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        except RuntimeError:
            pass  # the loop is already closed: the thread is on its way out
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError(f"minihs did not stop within {STOP_TIMEOUT_S} s")
        self._thread = None
        self._loop = self._stop_event = self._homeserver = None
        self.port = None
        _running.discard(self)
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> "MinihsServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _run(self) -> None:
        try:
            from minihs.api import event_loop

            new_loop = event_loop.loop_factory(self.config.event_loop)
            event_loop.run(self._serve(), new_loop)
        except BaseException as error:  # noqa: BLE001 - reported to start() or stop()
            self._error = error
        finally:
            self._ready.set()  # never leave start() waiting

    async def _serve(self) -> None:
        from aiohttp import web

        from minihs.api.app import create_app, make_runner
        from minihs.domain.homeserver import Homeserver

        homeserver = await Homeserver.open(self.config)
        runner = None
        try:
            runner = make_runner(
                create_app(self.config, homeserver),
                self.config,
                handle_signals=False,
                shutdown_timeout=SHUTDOWN_GRACE_S,
            )
            await runner.setup()
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._homeserver = homeserver
            self._stop_event = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            await self._stop_event.wait()
        finally:
            try:
                if runner is not None:
                    await runner.cleanup()
            finally:
                await homeserver.close()

    def _require_running(self) -> None:
        if self._thread is None:
            raise RuntimeError("this MinihsServer is not running: call start() first")

    # --- where it is ---------------------------------------------------------------------

    @property
    def server_name(self) -> str:
        return self.config.server_name

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server (IPv6 hosts in brackets)."""
        self._require_running()
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url_for(self, path: str) -> str:
        """The full URL of ``path`` (which starts with ``/``) on this server."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return self.base_url + path

    # --- state ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every user, room and access token (and the in-memory index, sessions, rate
        limits), as a freshly started server would. Blocks until done; safe from sync code and
        from inside a running asyncio loop, which it does not touch, and safe while other
        threads or processes send requests: those in flight finish first, those that arrive
        meanwhile wait and then see the empty server (a token from before is then 401)."""
        self.on_server(lambda homeserver: homeserver.reset())

    def on_server(self, call: Callable[[Any], Awaitable[T]], timeout: float = STOP_TIMEOUT_S) -> T:
        """Run ``call(homeserver)`` on the server's event loop and return its result: how the
        Python API (:mod:`minihs.testing.fixture_tools`) reaches the same domain code the admin
        HTTP API calls. Blocks; not from the server's own thread."""
        self._require_running()
        if threading.current_thread() is self._thread:
            raise RuntimeError("this cannot be called from the server's own thread")
        assert self._loop is not None
        homeserver = self._homeserver

        async def run() -> T:
            return await call(homeserver)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<MinihsServer {self.server_name} {where}>"

