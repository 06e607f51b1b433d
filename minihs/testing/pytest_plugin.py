"""pytest fixtures for testing against minihs, loaded through the ``pytest11`` entry point.

Installing minihs is enough to get them (or ``-p minihs.testing.pytest_plugin`` without installing):

- ``minihs_config`` (session): the configuration override point. Redefine it in a
  ``conftest.py`` to return a dict shaped like the YAML config; it is merged over the test
  defaults (in-memory database, cheap hashing, no rate limits, no access log, admin API and
  request log on).
- ``minihs_server`` (session): the running :class:`minihs.testing.MinihsServer`, one per test
  session, which under pytest-xdist means one per worker. ``MINIHS_HOST`` / ``MINIHS_PORT``
  override the address (default ``127.0.0.1`` and a free port).
- ``minihs`` (function): the same server, reset before the test: no users, rooms, tokens, fault
  rules or logged requests (and in deterministic mode, the clock and IDs back at their start).
  A test marked ``@pytest.mark.minihs_scenario("world.yaml")`` starts from that scenario instead.
- ``minihs_user`` (function): a factory, ``minihs_user()`` -> a newly registered
  :class:`minihs.testing.MinihsUser` with a name unique in the session (``user-1``...);
  ``minihs_user("alice")`` picks the localpart.
- ``minihs_scenario`` (function): the IDs of the test's scenario (a
  :class:`~minihs.testing.ScenarioIds`: ``.users["alice"]``, ``.rooms["lobby"]``,
  ``.messages["hello"]``). The mark names the file, relative to the test file. Each file is
  loaded once per session and snapshotted; every later test that uses it restores that
  snapshot, which takes milliseconds whatever the scenario's size.
- ``minihs_requests`` (function): the request log from the start of the test:
  ``.all()`` and ``.matching(path=..., user=..., status=..., method=...)`` list what the server
  answered since then, oldest first; ``.mark()`` moves the start to now.
- ``minihs_faults`` (function): ``.add(method, path, status=..., times=...)`` makes matching
  requests fail; every rule is cleared when the test ends.
- ``minihs_clock`` (function): the server's clock (``now_ms()``, ``freeze()``, ``set()``,
  ``advance()``, ``unfreeze()``), put back as it was when the test ends if the test moved it
  (a reset alone would leave a set clock set, outside deterministic mode).

Nothing here imports minihs until a fixture runs, so the plugin costs nothing to load for test
suites that never use it. The fixtures are synchronous and the server has its own thread and
event loop, so they serve sync tests and pytest-asyncio / pytest-aiohttp tests alike.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from minihs.testing import MinihsServer, MinihsUser, ScenarioIds

SCENARIO_MARK = "minihs_scenario"
# The snapshot a scenario file is kept in between tests: a name no test is likely to choose.
SCENARIO_SNAPSHOT_PREFIX = "pytest-minihs-scenario-"

# Entries asked of the request log at a time (its largest page).
PAGE = 1000

_scenario_ids_key = pytest.StashKey["ScenarioIds"]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{SCENARIO_MARK}(path): start the test's minihs server from this scenario file (YAML "
        "or JSON, relative to the test file); the minihs_scenario fixture gives its IDs",
    )


def _port_from_env() -> int:
    raw = os.environ.get("MINIHS_PORT", "0")
    try:
        port = int(raw)
    except ValueError:
        raise pytest.UsageError(f"MINIHS_PORT must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise pytest.UsageError(f"MINIHS_PORT must be between 0 and 65535, got {port}")
    return port


def _user_id(user: "MinihsUser | str | None") -> str | None:
    return getattr(user, "user_id", user)


@pytest.fixture(scope="session")
def minihs_config() -> Any:
    """Config overrides for the session's server: a dict shaped like the YAML config file
    (merged over the test defaults) or a complete ``minihs.config.Config``. Redefine this
    fixture in a conftest.py to change them; the default changes nothing."""
    return {}


@pytest.fixture(scope="session")
def minihs_server(minihs_config: Any) -> Iterator["MinihsServer"]:
    """One running minihs for the whole session (per xdist worker). Not reset between tests:
    use ``minihs`` for that."""
    from minihs.testing import MinihsServer

    host = os.environ.get("MINIHS_HOST") or "127.0.0.1"
    server = MinihsServer(minihs_config, host=host, port=_port_from_env())
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- scenarios -----------------------------------------------------------------------------


class _ScenarioSnapshots:
    """Each scenario file of the session, loaded once and kept as a snapshot."""

    def __init__(self, server: "MinihsServer") -> None:
        self.server = server
        self.loaded: dict[Path, tuple[str, "ScenarioIds"]] = {}
        self._numbers = itertools.count(1)

    def start_from(self, path: Path) -> "ScenarioIds":
        """Put the (freshly reset) server in the state ``path`` describes; its IDs."""
        known = self.loaded.get(path)
        if known is not None:
            name, ids = known
            if name in self._snapshot_names():
                self.server.restore(name)
                return ids
            # A test deleted the plugin's snapshot: build the scenario again.
        from minihs.testing import ScenarioError

        try:
            ids = self.server.load_scenario(path)
        except ScenarioError as refused:
            # Its message names the file, the line and the broken rule: a traceback adds nothing.
            pytest.fail(f"scenario refused: {refused}", pytrace=False)
        name = f"{SCENARIO_SNAPSHOT_PREFIX}{next(self._numbers)}"
        self.server.snapshot(name)
        self.loaded[path] = (name, ids)
        return ids

    def _snapshot_names(self) -> set[str]:
        return {snapshot["name"] for snapshot in self.server.snapshots()}


@pytest.fixture(scope="session")
def _minihs_scenarios(minihs_server: "MinihsServer") -> _ScenarioSnapshots:
    return _ScenarioSnapshots(minihs_server)


def _scenario_path(request: pytest.FixtureRequest) -> Path | None:
    mark = request.node.get_closest_marker(SCENARIO_MARK)
    if mark is None:
        return None
    if len(mark.args) != 1 or mark.kwargs or not isinstance(mark.args[0], (str, os.PathLike)):
        pytest.fail(
            f"@pytest.mark.{SCENARIO_MARK} takes one argument, the scenario file's path, "
            f"got args={mark.args!r} kwargs={mark.kwargs!r}",
            pytrace=False,
        )
    path = (request.path.parent / mark.args[0]).resolve()
    if not path.is_file():
        pytest.fail(f"@pytest.mark.{SCENARIO_MARK}: no scenario file {path}", pytrace=False)
    return path


@pytest.fixture
def minihs(
    minihs_server: "MinihsServer",
    _minihs_scenarios: _ScenarioSnapshots,
    request: pytest.FixtureRequest,
) -> "MinihsServer":
    """The session's server, reset before this test: no users, rooms or tokens. With a
    ``minihs_scenario`` mark, the scenario's users, rooms and messages instead."""
    minihs_server.reset()
    path = _scenario_path(request)
    if path is not None:
        request.node.stash[_scenario_ids_key] = _minihs_scenarios.start_from(path)
    return minihs_server


@pytest.fixture
def minihs_user(minihs: "MinihsServer") -> Callable[..., "MinihsUser"]:
    """A factory of registered, logged-in users: ``minihs_user()`` or
    ``minihs_user("alice", password="...")``."""

    def make_user(localpart: str | None = None, password: str | None = None) -> "MinihsUser":
        return minihs.register_user(localpart, password)

    return make_user


@pytest.fixture
def minihs_scenario(minihs: "MinihsServer", request: pytest.FixtureRequest) -> "ScenarioIds":
    """The IDs of the scenario named by the test's ``minihs_scenario`` mark, on a server that
    holds exactly that scenario."""
    ids = request.node.stash.get(_scenario_ids_key, None)
    if ids is None:
        pytest.fail(
            f"the minihs_scenario fixture needs a @pytest.mark.{SCENARIO_MARK}(\"file.yaml\") "
            "mark on the test, its class or its module",
            pytrace=False,
        )
    return ids


# --- the request log -----------------------------------------------------------------------


class RecordedRequests:
    """The server's request log from a mark on: what :func:`minihs_requests` gives a test.

    Entries are dicts as the admin API shows them (``method``, ``path``, ``path_template``,
    ``user``, ``status``, ``errcode``, ``fault``...), oldest first. The test's own helper calls
    (``minihs.register_user()``...) are real requests and are logged like any other.
    """

    def __init__(self, server: "MinihsServer") -> None:
        self.server = server
        self.since = server.request_log_mark()

    def mark(self) -> int:
        """From now on, list only requests answered after this call; the new mark."""
        self.since = self.server.request_log_mark()
        return self.since

    def all(self) -> list[dict[str, Any]]:
        """Every request logged since the mark."""
        return self.matching()

    def matching(
        self,
        *,
        path: str | None = None,
        user: "MinihsUser | str | None" = None,
        status: int | None = None,
        method: str | None = None,
    ) -> list[dict[str, Any]]:
        """The requests since the mark that match every filter given: ``path`` a pattern as
        fault rules take (``/rooms/{roomId}/send/*``), ``user`` a user or user ID."""
        entries: list[dict[str, Any]] = []
        since = self.since
        while True:
            page = self.server.requests(
                since, path=path, user=_user_id(user), status=status, method=method, limit=PAGE
            )
            entries.extend(page)
            if len(page) < PAGE:
                return entries
            since = page[-1]["id"]


@pytest.fixture
def minihs_requests(minihs: "MinihsServer") -> RecordedRequests:
    """The request log since this test started (after any scenario was loaded)."""
    return RecordedRequests(minihs)


# --- faults --------------------------------------------------------------------------------


class FaultControl:
    """Fault rules for one test: what :func:`minihs_faults` gives it. All of them (and any
    added otherwise) are cleared when the test ends."""

    def __init__(self, server: "MinihsServer") -> None:
        self.server = server

    def add(
        self, method: str, path: str, *, user: "MinihsUser | str | None" = None, **rule: Any
    ) -> dict[str, Any]:
        """A new rule (see :meth:`MinihsServer.add_fault`: ``status``, ``errcode``, ``error``,
        ``retry_after_ms``, ``delay_ms``, ``drop``, ``times``); the rule with its ``id``."""
        return self.server.add_fault(method, path, user=_user_id(user), **rule)

    def list(self) -> list[dict[str, Any]]:
        """The rules in force, with their ``matched`` and ``remaining`` counts."""
        return self.server.faults()

    def remove(self, rule: dict[str, Any] | str) -> None:
        """Remove one rule (the dict :meth:`add` returned, or its ID)."""
        self.server.remove_fault(rule["id"] if isinstance(rule, dict) else rule)

    def clear(self) -> None:
        self.server.clear_faults()


@pytest.fixture
def minihs_faults(minihs: "MinihsServer") -> Iterator[FaultControl]:
    """Fault rules, all cleared after the test."""
    yield FaultControl(minihs)
    if minihs.running:
        minihs.clear_faults()


# --- the clock -----------------------------------------------------------------------------


@pytest.fixture
def minihs_clock(minihs: "MinihsServer") -> Iterator[Any]:
    """The server's clock; as it was before the test once the test ends."""
    before = minihs.on_server(_saved_clock)
    yield minihs.clock
    if minihs.running and minihs.on_server(_saved_clock) != before:
        minihs.on_server(lambda homeserver: _restore_clock(homeserver, before))


async def _saved_clock(homeserver: Any) -> Any:
    return homeserver.clock.saved()


async def _restore_clock(homeserver: Any, saved: Any) -> None:
    homeserver.clock.restore_saved(saved)
