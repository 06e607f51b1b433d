"""pytest fixtures for testing against minihs, loaded through the ``pytest11`` entry point.

``pip install minihs`` is enough to get them (or ``-p minihs.testing.pytest_plugin`` without installing):

- ``minihs_config`` (session): the configuration override point. Redefine it in a
  ``conftest.py`` to return a dict shaped like the YAML config; it is merged over the test
  defaults (in-memory database, cheap hashing, no rate limits, no access log, admin reset on).
- ``minihs_server`` (session): the running :class:`minihs.testing.MinihsServer`, one per test
  session, which under pytest-xdist means one per worker. ``MINIHS_HOST`` / ``MINIHS_PORT``
  override the address (default ``127.0.0.1`` and a free port).
- ``minihs`` (function): the same server, reset before the test: no users, rooms or tokens.
- ``minihs_user`` (function): a factory, ``minihs_user()`` -> a newly registered
  :class:`minihs.testing.MinihsUser` with a name unique in the session (``user-1``...);
  ``minihs_user("alice")`` picks the localpart.

Nothing here imports minihs until a fixture runs, so the plugin costs nothing to load for test
suites that never use it. The fixtures are synchronous and the server has its own thread and
event loop, so they serve sync tests and pytest-asyncio / pytest-aiohttp tests alike.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from minihs.testing import MinihsServer, MinihsUser


def _port_from_env() -> int:
    raw = os.environ.get("MINIHS_PORT", "0")
    try:
        port = int(raw)
    except ValueError:
        raise pytest.UsageError(f"MINIHS_PORT must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise pytest.UsageError(f"MINIHS_PORT must be between 0 and 65535, got {port}")
    return port


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


@pytest.fixture
def minihs(minihs_server: "MinihsServer") -> "MinihsServer":
    """The session's server, reset before this test: no users, rooms or tokens."""
    minihs_server.reset()
    return minihs_server


@pytest.fixture
def minihs_user(minihs: "MinihsServer") -> Callable[..., "MinihsUser"]:
    """A factory of registered, logged-in users: ``minihs_user()`` or
    ``minihs_user("alice", password="...")``."""

    def make_user(localpart: str | None = None, password: str | None = None) -> "MinihsUser":
        return minihs.register_user(localpart, password)

    return make_user
