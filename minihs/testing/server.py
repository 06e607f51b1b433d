"""MinihsServer: minihs as a fixture server for other projects' tests.

:class:`MinihsServer` runs a homeserver in its own thread with its own event loop, so it never
shares (or breaks) the caller's loop: it serves sync tests and asyncio tests alike. ::

    with MinihsServer() as server:
        alice = server.register_user("alice")
        room_id = server.create_room(alice, preset="public_chat")
        ...            # point the client under test at server.base_url
        server.reset()  # every user, room and token gone, in well under a millisecond

The defaults suit tests (the testing profile: in-memory database, cheap password hashing, no
rate limits, no access log, admin reset on); a dict of config overrides, shaped like the YAML
file, changes any of them. The helpers are thin HTTP calls made with the standard library only
(one keep-alive connection per calling thread), and raise :class:`MinihsHTTPError` on any
status other than the one the call expects.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from minihs.config import Config, apply_testing_profile, config_from_dict
from minihs.spec.errors import MatrixError
from minihs.testing.client import BlockingClient, MinihsHTTPError, MinihsUser
from minihs.testing.scenario_ids import ScenarioError, ScenarioIds, read_scenario

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
# How long load_scenario() waits: a 1,000-room scenario takes a second or two, and a load,
# once started, runs to its end on the server whatever its caller does.
SCENARIO_TIMEOUT_S = 600.0


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


class MinihsServer(BlockingClient):
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
        Python API below reaches the same domain code the admin HTTP API calls. Blocks; not
        from the server's own thread."""
        self._require_running()
        if threading.current_thread() is self._thread:
            raise RuntimeError("this cannot be called from the server's own thread")
        assert self._loop is not None
        homeserver = self._homeserver

        async def run() -> T:
            return await call(homeserver)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    # --- scenarios -----------------------------------------------------------------------

    def load_scenario(self, scenario: "str | os.PathLike[str] | Mapping[str, Any]") -> ScenarioIds:
        """Load a scenario: a YAML or JSON file's path, or its values as a mapping shaped like
        the file (the README's "Scenarios" section is the format's reference). Returns its
        names mapped to the real IDs and logged-in users::

            ids = server.load_scenario("tests/world.yaml")
            server.request("GET", "/_matrix/client/v3/joined_rooms", ids.users["bob"])

        Everything passes the rules the client API applies. A scenario that breaks one raises
        :class:`ScenarioError` (the rule's errcode, the message with the file's line, the
        line) and leaves nothing on the server. Runs the domain code the admin endpoint
        ``POST /_minihs/admin/scenario`` runs; requests from other threads wait meanwhile."""
        data, source, syntax = read_scenario(scenario)

        async def load(homeserver: Any) -> dict[str, Any]:
            return await homeserver.load_scenario(data, source=source, syntax=syntax)

        try:
            raw = self.on_server(load, timeout=SCENARIO_TIMEOUT_S)
        except MatrixError as error:
            raise ScenarioError(error.errcode, error.message, error.extra.get("line")) from None
        return ScenarioIds.from_raw(raw)

    # --- snapshots -----------------------------------------------------------------------

    # (snapshot methods go here)

    def snapshot(self, name: str) -> dict[str, Any]:
        """Snapshot the whole server under ``name`` (1-64 of ``[A-Za-z0-9._-]``), replacing one
        of that name: ``{"name", "taken_at_ms", "events"}``. Load the suite's world once, take
        a snapshot, and :meth:`restore` it before each test. Errors raise
        :class:`minihs.spec.errors.MatrixError` (``.status``, ``.errcode``), as the admin API
        answers them: 400 ``M_INVALID_PARAM`` for a bad name, 400 ``M_LIMIT_EXCEEDED`` past
        100 snapshots."""
        return self.on_server(lambda homeserver: homeserver.take_snapshot(name))

    def restore(self, name: str) -> None:
        """Put the server back as it was at snapshot ``name``: its users, rooms, tokens and
        events; the IDs it mints next; the clock if it was frozen then. Safe while other
        threads send requests (as :meth:`reset`). Sync tokens from before are refused: clients
        sync again from scratch. 404 ``M_NOT_FOUND`` (a ``MatrixError``) for an unknown name.
        A reset does not delete snapshots."""
        self.on_server(lambda homeserver: homeserver.restore_snapshot(name))

    def delete_snapshot(self, name: str) -> None:
        """Forget snapshot ``name`` (404 ``M_NOT_FOUND`` when there is none)."""

        async def delete(homeserver: Any) -> None:
            homeserver.delete_snapshot(name)

        self.on_server(delete)

    def snapshots(self) -> list[dict[str, Any]]:
        """The snapshots kept, oldest first: ``[{"name", "taken_at_ms", "events"}]``."""

        async def listed(homeserver: Any) -> list[dict[str, Any]]:
            return homeserver.list_snapshots()

        return self.on_server(listed)

    # --- the clock -----------------------------------------------------------------------

    # (clock methods go here)

    @property
    def clock(self) -> "ServerClockControl":  # noqa: F821 - imported where used
        """The server clock: ``freeze()``, ``unfreeze()``, ``set(now_ms)``, ``advance(ms)``,
        ``now_ms()``, ``state()`` (:class:`~minihs.testing.clock_control.ServerClockControl`),
        the same as ``/_minihs/admin/clock``. In deterministic mode it starts frozen."""
        from minihs.testing.clock_control import ServerClockControl

        self._require_running()
        return ServerClockControl(self.on_server)

    # --- faults --------------------------------------------------------------------------

    def add_fault(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        status: int | None = None,
        errcode: str | None = None,
        error: str | None = None,
        retry_after_ms: int | None = None,
        delay_ms: int | None = None,
        drop: bool = False,
        times: int | None = None,
    ) -> dict[str, Any]:
        """Make requests matching ``method`` (or ``"*"``) and ``path`` (a pattern such as
        ``"/rooms/{roomId}/send/*"``), and ``user`` when given, fail: answer ``status`` (with
        ``errcode``, ``error``, ``retry_after_ms``) without running the endpoint, and/or wait
        ``delay_ms`` first, or ``drop`` the connection; for the next ``times`` matches, or until
        cleared. Returns the rule (its ``id`` removes it). A rule that cannot work raises
        :class:`minihs.spec.errors.MatrixError` (400 ``M_INVALID_PARAM``) naming the field;
        the same as ``POST /_minihs/admin/faults``."""
        if not self.config.admin_api_enabled:
            raise RuntimeError("faults apply only with the admin API on (enable_admin_api)")
        spec = {
            "method": method, "path": path, "user": user, "status": status, "errcode": errcode,
            "error": error, "retry_after_ms": retry_after_ms, "delay_ms": delay_ms,
            "drop": drop, "times": times,
        }

        async def add(homeserver: Any) -> dict[str, Any]:
            return homeserver.faults.add(spec).to_json()

        return self.on_server(add)

    def faults(self) -> list[dict[str, Any]]:
        """The live fault rules, in the order they apply (``matched``/``remaining`` current)."""

        async def rules(homeserver: Any) -> list[dict[str, Any]]:
            return [rule.to_json() for rule in homeserver.faults.list()]

        return self.on_server(rules)

    def remove_fault(self, rule_id: str) -> None:
        """Remove one rule; :class:`minihs.spec.errors.MatrixError` (404) if none has that id."""

        async def remove(homeserver: Any) -> None:
            homeserver.faults.remove(rule_id)

        self.on_server(remove)

    def clear_faults(self) -> None:
        """Remove every fault rule (a :meth:`reset` does too)."""

        async def clear(homeserver: Any) -> None:
            homeserver.faults.clear()

        self.on_server(clear)

    # --- the request log -----------------------------------------------------------------

    def request_log_mark(self) -> int:
        """The id of the newest request recorded so far (0 if none): pass it as ``since`` to
        :meth:`requests` to get only what happens after now."""

        async def mark(homeserver: Any) -> int:
            return homeserver.request_log.mark

        return self.on_server(mark)

    def requests(
        self,
        since: int | None = None,
        *,
        path: str | None = None,
        user: str | None = None,
        status: int | None = None,
        method: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """The requests the server answered after ``since`` (a mark), oldest first, as
        ``GET /_minihs/admin/requests`` lists them: ``path`` is a fault-rule pattern, the
        other filters are exact. Empty when ``request_log.enabled`` is off."""

        async def query(homeserver: Any) -> list[dict[str, Any]]:
            from minihs.domain.path_patterns import compile_pattern

            pattern = None if path is None else compile_pattern(path, "path")
            entries = homeserver.request_log.query(
                since=since, limit=limit, path=pattern, user=user, status=status,
                method=None if method is None else method.upper(),
            )
            return [entry.summary() for entry in entries]

        return self.on_server(query)

    def clear_request_log(self) -> None:
        """Forget every recorded request (a :meth:`reset` does too); marks stay valid."""

        async def clear(homeserver: Any) -> None:
            homeserver.request_log.clear()

        self.on_server(clear)

    # -------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<MinihsServer {self.server_name} {where}>"

