"""The two ways a test suite loads a scenario into a running server, behind one call, so that
each scenario test runs through both: the Python API (``MinihsServer.load_scenario``, from a
file or a mapping) and the admin API (``POST /_minihs/admin/scenario``, JSON or YAML text).

Both answer :class:`ScenarioIds` or raise :class:`ScenarioError`; ``source`` is what the
error message starts with (the file's path, or "request body").
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import yaml

from minihs.testing import MinihsServer, ScenarioError, ScenarioIds

WAYS = ("python_api", "admin_api")


def as_text(scenario: Any, syntax: str) -> str:
    if isinstance(scenario, str):
        return scenario
    return json.dumps(scenario, indent=1) if syntax == "json" else yaml.safe_dump(scenario, sort_keys=False)


class Loader:
    """``load(scenario, syntax="yaml")``: ``scenario`` is text in that syntax, or a mapping
    (written out in it; ``syntax="mapping"`` hands the mapping itself to the Python API)."""

    def __init__(self, way: str, server: MinihsServer, directory: Path) -> None:
        self.way = way
        self.server = server
        self._directory = directory
        self._files = 0
        self.source = ""

    def load(self, scenario: Any, syntax: str = "yaml") -> ScenarioIds:
        if self.way == "python_api":
            if syntax == "mapping":
                self.source = "scenario"
                return self.server.load_scenario(scenario)
            self._files += 1
            path = self._directory / f"scenario{self._files}.{syntax}"
            path.write_text(as_text(scenario, syntax), encoding="utf-8")
            self.source = str(path)
            return self.server.load_scenario(path)
        self.source = "request body"
        if syntax == "mapping":
            syntax = "json"
        content_type = "application/json" if syntax == "json" else "application/yaml"
        status, body = post(self.server, as_text(scenario, syntax).encode("utf-8"), content_type)
        if status == 200:
            return ScenarioIds.from_raw(body)
        assert status == 400, (status, body)
        assert set(body) == {"errcode", "error", "line"}, body
        raise ScenarioError(body["errcode"], body["error"], body["line"])


def post(
    server: MinihsServer, body: bytes, content_type: str, method: str = "POST"
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        conn.request(method, "/_minihs/admin/scenario", body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()
