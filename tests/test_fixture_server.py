"""MinihsServer: minihs in its own thread and event loop, for other projects' tests.

Also checks that the subprocess recipes in README.md ("Using minihs in your tests") (shell and Node.js) really work.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import sqlite3
import subprocess
import threading
import urllib.request

import pytest

from minihs.testing import MinihsHTTPError, MinihsServer, MinihsUser, testing_config
from prerequisites import prerequisite_missing
from readme_recipes import recipe
from subprocess_env import checkout_env


# --- lifetime ------------------------------------------------------------------------------


def test_start_returns_with_the_socket_bound_and_answering():
    server = MinihsServer()
    server.start()
    try:
        assert server.port not in (None, 0)
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(server.url_for("/_matrix/client/versions")) as reply:
            assert reply.status == 200
    finally:
        server.stop()


def test_as_a_context_manager_it_serves_inside_and_is_stopped_after():
    with MinihsServer() as server:
        address = (server.host, server.port)
        assert server.request("GET", "/_matrix/client/versions")["versions"]
    assert not server.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()


def test_stop_leaves_no_threads_behind():
    before = set(threading.enumerate())
    with MinihsServer() as server:
        alice = server.register_user()  # password hashing runs in a worker thread
        server.create_room(alice)
        server.reset()
        assert set(threading.enumerate()) - before  # the server thread and its helpers
    assert set(threading.enumerate()) - before == set()


def test_stop_is_harmless_twice_and_before_start():
    server = MinihsServer()
    server.stop()
    server.start()
    server.stop()
    server.stop()
    assert not server.running


def test_a_stopped_server_can_be_started_again():
    with MinihsServer() as server:
        server.register_user("alice")
    with server:
        assert server.register_user("alice").user_id == "@alice:localhost"  # a fresh database


def test_start_reraises_a_port_in_use_and_leaves_nothing_running():
    before = set(threading.enumerate())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = MinihsServer(port=taken.getsockname()[1])
        with pytest.raises(OSError):
            server.start()
    assert not server.running
    assert set(threading.enumerate()) - before == set()


def test_start_reraises_a_database_that_cannot_be_opened(tmp_path):
    before = set(threading.enumerate())
    server = MinihsServer({"database": {"path": str(tmp_path / "missing-dir" / "x.db")}})
    with pytest.raises(sqlite3.OperationalError):
        server.start()
    assert set(threading.enumerate()) - before == set()


def test_starting_twice_is_an_error(server):
    with pytest.raises(RuntimeError):
        server.start()


def test_helpers_on_a_server_that_is_not_running_are_an_error():
    with pytest.raises(RuntimeError):
        MinihsServer().register_user()


# --- configuration -------------------------------------------------------------------------


def test_the_default_configuration_is_the_testing_profile():
    config = MinihsServer().config
    assert config.database.path == ":memory:"
    assert config.access_log is False
    assert config.enable_admin_api is True
    assert config.rate_limits.registration_per_address.enabled is False


def test_config_overrides_change_only_what_they_name():
    config = testing_config(
        {"server_name": "example.test", "rate_limits": {"joins_per_user": {"burst": 3}}}
    )
    assert config.server_name == "example.test"
    assert config.rate_limits.joins_per_user.burst == 3
    assert config.rate_limits.joins_per_user.enabled is False
    assert config.database.path == ":memory:"


def test_server_name_comes_from_the_config():
    with MinihsServer({"server_name": "example.test"}) as server:
        assert server.server_name == "example.test"
        assert server.register_user("alice").user_id == "@alice:example.test"


def test_url_for_needs_an_absolute_path(server):
    assert server.url_for("/x") == server.base_url + "/x"
    with pytest.raises(ValueError):
        server.url_for("x")


# --- reset ---------------------------------------------------------------------------------


def test_reset_forgets_users_and_their_tokens(fresh):
    alice = fresh.register_user("alice")
    fresh.reset()
    with pytest.raises(MinihsHTTPError) as refused:
        fresh.request("GET", "/_matrix/client/v3/account/whoami", alice)
    assert (refused.value.status, refused.value.errcode) == (401, "M_UNKNOWN_TOKEN")
    fresh.register_user("alice")


def test_reset_forgets_rooms(fresh):
    alice = fresh.register_user()
    room = fresh.create_room(alice, preset="public_chat")
    fresh.reset()
    bob = fresh.register_user()
    with pytest.raises(MinihsHTTPError) as refused:
        fresh.join(bob, room)
    assert refused.value.errcode == "M_NOT_FOUND"


def test_reset_empties_the_joined_rooms_index(fresh):
    alice = fresh.register_user("alice")
    bob = fresh.register_user("bob")
    room = fresh.create_room(alice, preset="public_chat")
    fresh.join(bob, room)
    fresh.reset()
    alice = fresh.register_user("alice")
    bob = fresh.register_user("bob")
    assert fresh.mutual_rooms(alice, bob) == {"joined": [], "count": 0}


# --- helpers -------------------------------------------------------------------------------


def test_register_user_returns_a_logged_in_user(fresh):
    alice = fresh.register_user("alice", password="pizza")
    assert isinstance(alice, MinihsUser)
    assert alice.user_id == "@alice:localhost"
    assert (alice.localpart, alice.password) == ("alice", "pizza")
    whoami = fresh.request("GET", "/_matrix/client/v3/account/whoami", alice)
    assert whoami["device_id"] == alice.device_id


def test_register_user_without_a_name_picks_one_never_used_before(fresh):
    first = fresh.register_user()
    fresh.reset()
    second = fresh.register_user()
    assert first.user_id != second.user_id


def test_membership_helpers_drive_the_server(fresh):
    alice = fresh.register_user()
    bob = fresh.register_user()
    room = fresh.create_room(alice, preset="private_chat")
    fresh.invite(alice, room, bob)
    assert fresh.join(bob, room) == room
    assert fresh.mutual_rooms(alice, bob)["joined"] == [room]
    fresh.leave(bob, room)
    assert fresh.mutual_rooms(alice, bob.user_id)["joined"] == []


def test_a_helper_raises_on_an_unexpected_status(fresh):
    bob = fresh.register_user()
    with pytest.raises(MinihsHTTPError) as refused:
        fresh.join(bob, "!unknown:localhost")
    error = refused.value
    assert (error.status, error.expected, error.errcode) == (404, 200, "M_NOT_FOUND")
    assert "POST /_matrix/client/v3/join/" in str(error) and "M_NOT_FOUND" in str(error)


def test_a_registration_refused_by_the_server_raises(fresh):
    fresh.register_user("alice")
    with pytest.raises(MinihsHTTPError) as refused:
        fresh.register_user("alice")
    assert refused.value.errcode == "M_USER_IN_USE"


def test_request_accepts_the_status_it_is_told_to_expect(fresh):
    body = fresh.request("GET", "/_matrix/client/v3/account/whoami", expect=401)
    assert body["errcode"] == "M_MISSING_TOKEN"


def test_helpers_work_from_several_threads(fresh):
    users: list[MinihsUser] = []
    threads = [
        threading.Thread(target=lambda: users.append(fresh.register_user())) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({user.user_id for user in users}) == 4


async def test_inside_an_async_test_it_never_touches_the_callers_loop(fresh):
    loop = asyncio.get_running_loop()
    ticks = asyncio.Event()
    loop.call_soon(ticks.set)
    alice = fresh.register_user()
    fresh.create_room(alice)
    fresh.reset()
    assert fresh._loop is not loop
    await asyncio.wait_for(ticks.wait(), 5)  # the caller's loop still runs its own callbacks
    assert asyncio.get_running_loop() is loop


async def test_an_async_client_on_the_callers_loop_can_use_it(fresh):
    import aiohttp

    alice = fresh.register_user()
    async with aiohttp.ClientSession() as session:
        async with session.get(
            fresh.url_for("/_matrix/client/v3/account/whoami"), headers=alice.headers
        ) as reply:
            assert (await reply.json())["user_id"] == alice.user_id


# --- the subprocess recipes in README.md ("Using minihs in your tests") ---------------


def _recipe_env() -> dict[str, str]:
    """``python`` is this interpreter, and minihs importable without being installed."""
    return checkout_env(python_first=True)


def test_the_shell_recipe_waits_for_the_ready_line_and_resets(tmp_path):
    script = tmp_path / "run-tests.sh"
    script.write_text(recipe("run-tests.sh"))
    # minihs shares the script's stderr pipe: run() returns only once minihs has exited too.
    done = subprocess.run(
        ["bash", str(script)], env=_recipe_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"minihs is at http://127\.0\.0\.1:\d+", done.stdout)
    assert done.stdout.count('"user_id":"@alice:localhost"') == 2  # registered, reset, again


def test_the_node_recipe_starts_resets_and_stops_minihs(tmp_path):
    if shutil.which("node") is None:
        prerequisite_missing("node is not installed (the README's Node.js recipe needs it)")
    (tmp_path / "minihs.js").write_text(recipe("minihs.js"))
    (tmp_path / "example.test.js").write_text(recipe("example.test.js"))
    done = subprocess.run(
        ["node", "--test", "example.test.js"],
        cwd=tmp_path,
        env=_recipe_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"# pass 2\b", done.stdout), done.stdout


def test_a_request_line_without_an_http_version_gets_400_at_once(server):
    # The fixture server serves through the same runner as the command line.
    with socket.create_connection((server.host, server.port), timeout=5) as conn:
        conn.sendall(b"GET /_matrix/client/versions\r\n")
        reply = b""
        while chunk := conn.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 ")
