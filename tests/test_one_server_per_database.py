"""One database, one server: a database file in use is refused, naming the file and the holder.

Two servers on one file would each trust their own in-memory index and answer wrongly (and
fork room graphs), so the second one must not start. The lock is the operating system's, so it
goes with the process, even one killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from minihs.store.database import Database
from minihs.store.exclusive import DatabaseDirectoryMissing, DatabaseInUse
from minihs.testing import MinihsServer
from minihs.testing.seeding import Seeder

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30


# --- in one process ---------------------------------------------------------------------------


async def test_a_second_open_of_a_database_file_is_refused_naming_file_and_pid(tmp_path):
    path = str(tmp_path / "hs.db")
    first = await Database.open(path)
    try:
        with pytest.raises(DatabaseInUse) as refused:
            await Database.open(path)
        assert path in str(refused.value)
        assert f"pid {os.getpid()}" in str(refused.value)
        assert "one database serves one server" in str(refused.value)
    finally:
        await first.close()


async def test_a_closed_database_can_be_opened_again(tmp_path):
    path = str(tmp_path / "hs.db")
    await (await Database.open(path)).close()
    second = await Database.open(path)
    await second.close()


async def test_in_memory_databases_are_never_locked():
    first, second = await Database.open(":memory:"), await Database.open(":memory:")
    await first.close()
    await second.close()


def test_a_second_fixture_server_on_the_same_file_refuses_to_start(tmp_path):
    config = {"database": {"path": str(tmp_path / "hs.db")}}
    with MinihsServer(config) as first:
        alice = first.register_user("alice")
        with pytest.raises(DatabaseInUse):
            MinihsServer(config).start()
        assert first.request("GET", "/_matrix/client/v3/account/whoami", alice)  # unharmed


def test_a_seeder_cannot_write_under_a_running_server(tmp_path):
    path = str(tmp_path / "hs.db")
    with MinihsServer({"database": {"path": path}}):
        with pytest.raises(DatabaseInUse):
            Seeder(path)


def test_a_server_cannot_start_on_a_file_a_seeder_is_writing(tmp_path):
    path = str(tmp_path / "hs.db")
    with Seeder(path):
        with pytest.raises(DatabaseInUse):
            MinihsServer({"database": {"path": path}}).start()
    with MinihsServer({"database": {"path": path}}):
        pass  # the seeder has finished: now it may


def test_a_database_in_a_missing_directory_names_the_directory(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(DatabaseDirectoryMissing) as refused:
        MinihsServer({"database": {"path": str(missing / "hs.db")}}).start()
    assert isinstance(refused.value, sqlite3.OperationalError)
    assert str(missing) in str(refused.value)
    assert "does not exist" in str(refused.value)


# --- across processes -------------------------------------------------------------------------


def _start(tmp_path: Path, database: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "minihs", "--testing", "--port", "0", "--database", str(database)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    assert line.startswith("minihs listening on "), (line, proc.stderr.read() if proc.poll() else "")
    return line


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=START_TIMEOUT_S)


def test_a_second_server_process_on_the_same_file_exits_1_naming_file_and_pid(
    tmp_path, processes
):
    database = tmp_path / "hs.db"
    first = _start(tmp_path, database)
    processes.append(first)
    _wait_ready(first)
    second = _start(tmp_path, database)
    processes.append(second)
    out, err = second.communicate(timeout=START_TIMEOUT_S)
    assert second.returncode == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(database) in lines[0]
    assert f"pid {first.pid}" in lines[0]
    assert first.poll() is None  # the first one keeps serving


def test_after_the_holder_is_killed_with_sigkill_a_new_server_starts(tmp_path, processes):
    database = tmp_path / "hs.db"
    first = _start(tmp_path, database)
    processes.append(first)
    _wait_ready(first)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=START_TIMEOUT_S)
    second = _start(tmp_path, database)
    processes.append(second)
    _wait_ready(second)


def test_a_database_under_a_file_says_that_is_not_a_directory(tmp_path):
    (tmp_path / "plain-file").write_text("")
    with pytest.raises(DatabaseDirectoryMissing) as refused:
        MinihsServer({"database": {"path": str(tmp_path / "plain-file" / "hs.db")}}).start()
    assert f"{tmp_path / 'plain-file'} is not a directory" in str(refused.value)
