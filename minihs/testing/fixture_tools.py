"""What MinihsServer gives a test beyond a running server: scenarios, snapshots, the clock,
faults and the request log, each the Python twin of an admin endpoint (``/_minihs/admin/...``).

Every method runs the same domain code as its endpoint, on the server's event loop, through
``on_server`` (:class:`minihs.testing.server.MinihsServer` provides it).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Mapping

from minihs.spec.errors import MatrixError
from minihs.testing.scenario_ids import ScenarioError, ScenarioIds, read_scenario

if TYPE_CHECKING:
    from minihs.config import Config
    from minihs.testing.clock_control import ServerClockControl

# How long load_scenario() waits: a 1,000-room scenario takes a second or two, and a load,
# once started, runs to its end on the server whatever its caller does.
SCENARIO_TIMEOUT_S = 600.0


class FixtureTools:
    """Mixed into :class:`~minihs.testing.server.MinihsServer`, which provides ``config``,
    ``on_server`` and ``_require_running``."""

    config: "Config"
    on_server: Callable[..., Any]
    _require_running: Callable[[], None]

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

    def snapshot(self, name: str) -> dict[str, Any]:
        """Snapshot the whole server under ``name`` (1-64 of ``[A-Za-z0-9._-]``, not ``.`` or
        ``..``), replacing one of that name: ``{"name", "taken_at_ms", "events"}``. Load the suite's world once, take
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

    @property
    def clock(self) -> "ServerClockControl":
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

        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")

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
