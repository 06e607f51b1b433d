"""The tools on top of the server, for other projects' test suites.

- :mod:`minihs.testing.server`: :class:`MinihsServer`, a homeserver in its own thread and event
  loop, with helpers to register users and create rooms (re-exported here);
- :mod:`minihs.testing.pytest_plugin`: the ``minihs_*`` pytest fixtures (a ``pytest11`` entry point);
- :mod:`minihs.testing.seeding`: bulk loading of users and rooms through the domain's own rules,
  for benchmarks and large fixtures.

Nothing below this package imports it: it is a client of the server, like any test suite.

The names are loaded on first use (PEP 562), so that pytest loading the plugin through its
entry point in every test session imports nothing else of minihs.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MinihsHTTPError", "MinihsServer", "MinihsUser", "ScenarioError", "ScenarioIds", "testing_config",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from minihs.testing import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
