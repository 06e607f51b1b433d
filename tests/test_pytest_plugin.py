"""The pytest plugin, exercised the way a consumer uses it: a throwaway project run by pytester.

The consumer runs load plugins by entry-point name (``-p minihs``) with autoloading off: the
same ``pytest11`` entry point ``pip install minihs`` registers, without importing every other
plugin installed here (if the entry point were missing, ``-p minihs`` would import the bare
package and no fixture would exist). The serial run is in-process; the xdist run has to be a
subprocess. minihs is not installed in this checkout, so its entry point is
published from a generated ``dist-info`` that carries exactly what setup.py declares.
"""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from readme_recipes import recipe

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent

CONSUMER_TESTS = """
import os

import pytest


def test_a_user_creates_a_room_another_joins(minihs, minihs_user):
    alice, bob = minihs_user(), minihs_user()
    room = minihs.create_room(alice, preset="public_chat")
    minihs.join(bob, room)
    assert minihs.mutual_rooms(alice, bob)["joined"] == [room]


@pytest.mark.parametrize("n", range(6))
def test_every_test_starts_from_an_empty_server(minihs, minihs_user, n):
    alice = minihs_user("alice")  # M_USER_IN_USE if another test's users leaked in
    assert alice.user_id == "@alice:" + minihs.server_name
    with open(os.environ["MINIHS_SERVERS_LOG"], "a") as log:
        log.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {minihs.port}\\n")


@pytest.mark.asyncio
async def test_an_async_test_talks_to_it_from_its_own_loop(minihs, minihs_user):
    import aiohttp

    alice = minihs_user()
    async with aiohttp.ClientSession() as session:
        url = minihs.url_for("/_matrix/client/v3/account/whoami")
        async with session.get(url, headers=alice.headers) as reply:
            assert (await reply.json())["user_id"] == alice.user_id
    minihs.reset()
"""
CONSUMER_TEST_COUNT = 8


def _declared_pytest11() -> list[str]:
    """The ``pytest11`` entry points setup.py passes to setup(), read without running it."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "pytest11":
                    return ast.literal_eval(value)
    return []


@pytest.fixture
def consumer(pytester, monkeypatch, tmp_path):
    """A throwaway project using the fixtures, with minihs's entry point published."""
    site = tmp_path / "site"
    dist_info = site / "minihs-0.0.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: minihs\nVersion: 0.0.0\n")
    entry_points = "[pytest11]\n" + "\n".join(_declared_pytest11()) + "\n"
    (dist_info / "entry_points.txt").write_text(entry_points)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), str(site)]))  # subprocesses
    monkeypatch.syspath_prepend(str(site))  # runs in this process
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("MINIHS_SERVERS_LOG", str(tmp_path / "servers.log"))
    monkeypatch.delenv("MINIHS_HOST", raising=False)
    monkeypatch.delenv("MINIHS_PORT", raising=False)
    # Under xdist this suite's own worker name would leak into the in-process runs.
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_consumer=CONSUMER_TESTS)
    return pytester


def _servers_seen(tmp_path: Path) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = {}
    for line in (tmp_path / "servers.log").read_text().splitlines():
        worker, port = line.split()
        seen.setdefault(worker, set()).add(int(port))
    return seen


def _run_in_process(pytester, monkeypatch):
    """Quick runs of small sync projects, in this process. Autoloading is off, so the plugin
    is loaded once, by module name, whether or not minihs is installed."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest("-p", "minihs.testing.pytest_plugin")


def test_setup_py_registers_the_plugin_as_a_pytest11_entry_point():
    assert _declared_pytest11() == ["minihs = minihs.testing.pytest_plugin"]


def test_importing_the_plugin_imports_nothing_else_of_minihs():
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, minihs.testing.pytest_plugin; print(sorted(m for m in sys.modules"
            " if m.startswith(('minihs.', 'aiohttp', 'aiosqlite'))))",
        ],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        check=True,
    )
    # The package's __init__ is loaded too, but it defers every import to first use.
    assert loaded.stdout.strip() == "['minihs.testing', 'minihs.testing.pytest_plugin']"


def test_a_project_using_the_fixtures_passes_serially(consumer, tmp_path):
    result = consumer.runpytest_inprocess("-p", "minihs", "-p", "asyncio")
    result.assert_outcomes(passed=CONSUMER_TEST_COUNT)
    assert len(_servers_seen(tmp_path)["main"]) == 1  # one server for the whole session


def test_a_project_using_the_fixtures_passes_under_xdist_with_a_server_per_worker(
    consumer, tmp_path
):
    result = consumer.runpytest_subprocess(
        "-p", "minihs", "-p", "asyncio", "-p", "xdist", "-n", "2", timeout=60
    )
    result.assert_outcomes(passed=CONSUMER_TEST_COUNT)
    seen = _servers_seen(tmp_path)
    assert sorted(seen) == ["gw0", "gw1"]
    assert all(len(ports) == 1 for ports in seen.values())
    assert seen["gw0"] != seen["gw1"]


def test_the_pytest_example_in_the_docs_passes(consumer):
    consumer.makepyfile(test_chat=recipe("test_chat.py"))
    result = consumer.runpytest_inprocess("-p", "minihs", "-p", "asyncio", "test_chat.py")
    result.assert_outcomes(passed=3)


def test_minihs_config_overrides_the_servers_configuration(pytester, monkeypatch):
    monkeypatch.delenv("MINIHS_PORT", raising=False)
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def minihs_config():
            return {"server_name": "example.test"}
        """
    )
    pytester.makepyfile(
        """
        def test_users_belong_to_the_configured_server(minihs, minihs_user):
            assert minihs.server_name == "example.test"
            assert minihs_user("alice").user_id == "@alice:example.test"
        """
    )
    _run_in_process(pytester, monkeypatch).assert_outcomes(passed=1)


def test_minihs_host_and_port_come_from_the_environment(pytester, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    monkeypatch.setenv("MINIHS_HOST", "127.0.0.1")
    monkeypatch.setenv("MINIHS_PORT", str(free_port))
    pytester.makepyfile(
        f"""
        def test_the_server_listens_where_the_environment_says(minihs_server):
            assert (minihs_server.host, minihs_server.port) == ("127.0.0.1", {free_port})
            assert minihs_server.base_url == "http://127.0.0.1:{free_port}"
        """
    )
    _run_in_process(pytester, monkeypatch).assert_outcomes(passed=1)


def test_a_minihs_port_that_is_not_a_number_is_reported(pytester, monkeypatch):
    monkeypatch.setenv("MINIHS_PORT", "eighty")
    pytester.makepyfile("def test_needs_the_server(minihs_server):\n    pass\n")
    result = _run_in_process(pytester, monkeypatch)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*MINIHS_PORT must be a port number, got 'eighty'*"])
