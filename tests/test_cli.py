"""The real command line, run as a subprocess: ready line, HTTP, signals, config errors.

Each test starts ``python -m minihs`` in a temporary working directory and waits for the one
line it prints once listening; nothing here sleeps or polls.
"""

from __future__ import annotations

import http.client
import json
import re
import select
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import minihs
from minihs.__main__ import build_config, main, parse_args
from minihs.config import Config, apply_testing_profile, load_config
from subprocess_env import checkout_env

READY = re.compile(r"minihs listening on http://(127\.0\.0\.1):(\d+)")
# Generous: only reached when the server never starts; a healthy start takes well under a second.
START_TIMEOUT_S = 60
PASSWORD = "hunter2 hunter2"
CHEAP_HASHING = (
    "password_hashing:\n  argon2_memory_kib: 8\n  argon2_time_cost: 1\n  argon2_parallelism: 1\n"
)


class Server:
    def __init__(self, proc: subprocess.Popen, host: str, port: int) -> None:
        self.proc = proc
        self.host = host
        self.port = port

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=headers or {})
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            conn.close()

    def register(self, username: str) -> dict[str, Any]:
        status, body = self.request(
            "POST",
            "/_matrix/client/v3/register",
            {"username": username, "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
        )
        assert status == 200, body
        return body

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send ``signum`` and wait for the exit; return (exit code, rest of stdout, stderr)."""
        self.proc.send_signal(signum)
        out, err = self.proc.communicate(timeout=START_TIMEOUT_S)
        return self.proc.returncode, out, err


def _env() -> dict[str, str]:
    # No PYTHONUNBUFFERED: stdout is a pipe, so the ready line arrives only if minihs flushes it.
    return checkout_env(buffered_stdout=True)


def _spawn(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "minihs", *args],
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def start(tmp_path):
    """``start(*args)`` runs the CLI in tmp_path and returns once it printed its ready line."""
    procs: list[subprocess.Popen] = []

    def run(*args: str) -> Server:
        proc = _spawn(tmp_path, *args)
        procs.append(proc)
        readable, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        assert readable, "minihs printed nothing"
        line = proc.stdout.readline()
        match = READY.fullmatch(line.rstrip("\n"))
        assert match, f"unexpected first line {line!r}; stderr: {proc.stderr.read() if not line else ''}"
        return Server(proc, match.group(1), int(match.group(2)))

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def run_to_exit(
    cwd: Path, *args: str, python_options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *python_options, "-m", "minihs", *args],
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )


def cheap_config(tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "config.yaml"
    path.write_text(CHEAP_HASHING + extra, encoding="utf-8")
    return str(path)


# --- starting, serving, stopping ---------------------------------------------------------------


def test_serves_http_on_the_port_of_its_ready_line_and_sigterm_exits_0(start, tmp_path):
    server = start("--config", cheap_config(tmp_path), "--port", "0", "--database", "hs.db")
    assert server.port != 0  # the real port, not the 0 that was asked for
    body = server.register("alice")
    assert body["user_id"] == "@alice:localhost"
    code, rest_of_stdout, stderr = server.stop(signal.SIGTERM)
    assert code == 0
    assert rest_of_stdout == ""  # the ready line is the only line on stdout
    assert "Traceback" not in stderr


def test_it_logs_one_line_at_startup_and_one_at_shutdown(start, tmp_path):
    config_file = cheap_config(tmp_path, "server_name: example.test\n")
    server = start("--config", config_file, "--port", "0", "--database", "hs.db")
    code, _, stderr = server.stop(signal.SIGTERM)
    assert code == 0
    started = [line for line in stderr.splitlines() if "started:" in line]
    stopped = [line for line in stderr.splitlines() if "stopped" in line]
    assert len(started) == 1 and len(stopped) == 1, stderr
    assert "server name example.test" in started[0]
    assert f"database {tmp_path / 'hs.db'}" in started[0]
    assert f"config {config_file}" in started[0]
    assert f"listening on http://127.0.0.1:{server.port}" in started[0]
    assert "SIGTERM" in stopped[0]


def test_the_startup_line_says_when_no_config_file_was_given(start):
    server = start("--testing", "--port", "0")
    _, _, stderr = server.stop()
    assert "database :memory:, config testing profile," in stderr


def test_a_request_line_without_an_http_version_gets_400_at_once(start):
    server = start("--testing", "--port", "0")  # the event loop the command picks (uvloop here)
    with socket.create_connection((server.host, server.port), timeout=10) as conn:
        conn.sendall(b"GET /_matrix/client/versions\r\n")
        reply = b""
        while chunk := conn.recv(4096):  # until the server closes; a wait fails by timeout
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 ")
    code, _, stderr = server.stop()
    assert code == 0
    assert "Traceback" not in stderr


def test_sigint_exits_0(start, tmp_path):
    server = start("--config", cheap_config(tmp_path), "--port", "0", "--database", "hs.db")
    server.register("alice")
    code, _, stderr = server.stop(signal.SIGINT)
    assert code == 0
    assert "Traceback" not in stderr


def test_sigterm_closes_the_database_cleanly_with_the_data_in_it(start, tmp_path):
    server = start("--config", cheap_config(tmp_path), "--port", "0", "--database", "hs.db")
    server.register("alice")
    assert server.stop(signal.SIGTERM)[0] == 0
    # SQLite checkpoints and removes the write-ahead log when the last connection closes:
    # no -wal file left means the database was closed, not abandoned.
    assert not (tmp_path / "hs.db-wal").exists()
    with sqlite3.connect(tmp_path / "hs.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        users = conn.execute("SELECT user_id FROM users").fetchall()
    assert users == [("@alice:localhost",)]


def test_without_config_it_runs_on_the_embedded_defaults(start, tmp_path):
    server = start("--port", "0")  # the default port 8008 may be taken on this machine
    assert server.host == "127.0.0.1"
    body = server.register("alice")  # default hashing cost: one hash, about 0.15 s
    assert body["user_id"] == "@alice:localhost"
    assert server.stop()[0] == 0
    assert (tmp_path / "minihs.db").exists()


def test_access_log_never_shows_a_query_access_token(start, tmp_path):
    server = start("--config", cheap_config(tmp_path), "--port", "0", "--database", "hs.db")
    token = server.register("alice")["access_token"]
    # As sent, and with the parameter name percent-encoded, which the server decodes alike.
    for path in (
        f"/_matrix/client/v3/account/whoami?access_token={token}",
        f"/_matrix/client/v3/account/whoami?x=1&access%5Ftoken={token}",
        "/_matrix/client/v3/account/whoami?access_token=not-a-real-token-SECRET",
    ):
        server.request("GET", path)
    code, _, stderr = server.stop()
    assert code == 0
    assert "whoami?access_token=<redacted>" in stderr
    assert "access%5Ftoken=<redacted>" in stderr
    assert token not in stderr
    assert "SECRET" not in stderr


# --- flags (in-process: parsing them needs no server) ------------------------------------------


def test_flags_override_the_config_file(tmp_path):
    config_file = cheap_config(
        tmp_path, "listen: {host: 0.0.0.0, port: 9000}\ndatabase: {path: a.db}\nlog_level: info\n"
    )
    args = parse_args(
        ["--config", config_file, "--host", "127.0.0.2", "--port", "0", "--database", "b.db",
         "--log-level", "debug"]
    )
    config = build_config(args)
    assert (config.listen.host, config.listen.port) == ("127.0.0.2", 0)
    assert config.database.path == "b.db"
    assert config.log_level == "debug"
    assert config.password_hashing.argon2_memory_kib == 8  # the rest of the file still applies


def test_no_config_flag_means_the_embedded_defaults():
    assert build_config(parse_args([])) == Config()


def test_testing_flag_alone_is_the_testing_profile():
    assert build_config(parse_args(["--testing"])) == apply_testing_profile(Config())


def test_the_config_file_overrides_the_testing_profile(tmp_path):
    config_file = cheap_config(tmp_path, "database: {path: a.db}\naccess_log: true\n")
    config = build_config(parse_args(["--testing", "--config", config_file]))
    assert config.database.path == "a.db"  # the file wins over the profile's :memory:
    assert config.access_log is True
    assert config.enable_admin_api is True  # what the file leaves out stays the profile's
    assert config.rate_limits.joins_per_user.enabled is False


def test_flags_override_the_config_file_over_the_testing_profile(tmp_path):
    config_file = cheap_config(tmp_path, "database: {path: a.db}\n")
    args = parse_args(["--testing", "--config", config_file, "--database", "b.db"])
    assert build_config(args).database.path == "b.db"


def test_the_log_level_flag_is_case_insensitive():
    assert build_config(parse_args(["--log-level", "DEBUG"])).log_level == "debug"


def test_a_key_given_twice_in_the_config_file_exits_2(tmp_path, capsys):
    path = cheap_config(tmp_path, "listen:\n  port: 8448\nlisten:\n  host: 0.0.0.0\n")
    assert main(["--config", path]) == 2
    assert "duplicate key 'listen'" in _single_line(capsys.readouterr().err)


# --- help, version, sample configuration ---------------------------------------------------


def test_help_imports_neither_aiohttp_nor_the_server(tmp_path):
    result = run_to_exit(tmp_path, "--help", python_options=("-X", "importtime"))
    assert result.returncode == 0
    imported = [line.rpartition("|")[2].strip() for line in result.stderr.splitlines()]
    assert "minihs.config" in imported  # the import log is really there
    assert not [name for name in imported if name.startswith(("aiohttp", "minihs.api"))]


def test_help_shows_the_defaults_the_ready_line_and_the_exit_codes(tmp_path):
    text = run_to_exit(tmp_path, "--help").stdout
    flat = " ".join(text.split())  # argparse wraps help lines at the terminal's width
    defaults = Config()
    assert f"default: {defaults.listen.host}" in flat
    assert f"default: {defaults.listen.port}" in flat
    assert f"default: {defaults.database.path}" in flat
    assert "minihs listening on http://HOST:PORT" in text
    for code in ("0", "1", "2"):
        assert re.search(rf"^  {code}  \S", text, re.M), code
    assert "built-in defaults < the --testing profile < the --config file < the flags" in flat


def test_the_readmes_flag_table_lists_every_flag_and_no_other(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    flags = set(re.findall(r"^  (--[a-z-]+)", capsys.readouterr().out, re.M)) - {"--help"}
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Running minihs\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(--[a-z-]+)", section, re.M)
    assert sorted(listed) == sorted(flags)


def test_version_prints_the_package_version(tmp_path):
    result = run_to_exit(tmp_path, "--version")
    assert (result.returncode, result.stdout) == (0, f"minihs {minihs.__version__}\n")


def test_print_config_prints_the_sample_shipped_in_the_package(tmp_path):
    result = run_to_exit(tmp_path, "--print-config")
    assert result.returncode == 0
    shipped = Path(minihs.__file__).resolve().parent / "config.sample.yaml"
    assert result.stdout == shipped.read_text(encoding="utf-8")
    (tmp_path / "minihs.yaml").write_text(result.stdout, encoding="utf-8")
    assert load_config(tmp_path / "minihs.yaml") is not None  # a file to start from, as printed


# --- failures: one line on stderr, no traceback ------------------------------------------------


def _single_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_bad_config_file_exits_2_with_one_line_naming_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("listen:\n  prot: 8008\n", encoding="utf-8")
    result = run_to_exit(tmp_path, "--config", str(path))
    assert result.returncode == 2
    line = _single_line(result.stderr)
    assert str(path) in line
    assert "listen.prot" in line
    assert result.stdout == ""


@pytest.mark.parametrize(
    "text, key",
    [
        ("server_name: a: b\n", "line 1"),  # YAML syntax error: the line stands in for the key
        ("listen:\n  prot: 8008\n", "listen.prot"),  # unknown key
        ("listen:\n  port: eighty\n", "listen.port"),  # wrong type
        ("database:\n  synchronous: sometimes\n", "database.synchronous"),  # bad value
    ],
    ids=["yaml-syntax", "unknown-key", "wrong-type", "bad-value"],
)
def test_each_kind_of_bad_config_gives_exit_2_and_one_line(tmp_path, capsys, text, key):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["--config", str(path)]) == 2
    captured = capsys.readouterr()
    line = _single_line(captured.err)
    assert str(path) in line
    assert key in line
    assert captured.out == ""


@pytest.mark.parametrize("make", ["directory", "missing", "not-utf8"])
def test_unreadable_config_gives_exit_2_and_one_line_naming_the_file(tmp_path, capsys, make):
    path = tmp_path / "config.yaml"
    if make == "directory":
        path.mkdir()
    elif make == "not-utf8":
        path.write_bytes(b"server_name: caf\xe9\n")
    assert main(["--config", str(path)]) == 2
    assert str(path) in _single_line(capsys.readouterr().err)


def test_port_flag_out_of_range_gives_exit_2(capsys):
    assert main(["--port", "70000"]) == 2
    assert "--port" in _single_line(capsys.readouterr().err)


def test_database_in_a_missing_directory_names_the_directory_and_exits_1(tmp_path):
    database = tmp_path / "no-such-dir" / "hs.db"
    result = run_to_exit(
        tmp_path, "--config", cheap_config(tmp_path), "--port", "0", "--database", str(database)
    )
    assert result.returncode == 1
    assert _single_line(result.stderr) == (
        f"minihs: cannot open the database {database}: "
        f"directory {tmp_path / 'no-such-dir'} does not exist"
    )
    assert result.stdout == ""


def test_database_that_is_not_sqlite_names_the_setting_and_exits_1(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("not a database " * 100, encoding="utf-8")
    assert main(["--config", cheap_config(tmp_path), "--port", "0", "--database", str(path)]) == 1
    line = _single_line(capsys.readouterr().err)
    assert line.startswith(f"minihs: cannot open the database {path} (database.path): ")


def test_database_from_a_newer_minihs_is_refused_with_one_line(tmp_path, capsys):
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 9999")
    assert main(["--config", cheap_config(tmp_path), "--port", "0", "--database", str(path)]) == 1
    assert "newer" in _single_line(capsys.readouterr().err)


def test_port_in_use_prints_one_line(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            ["--config", cheap_config(tmp_path), "--port", str(port),
             "--database", str(tmp_path / "hs.db")]
        )
    assert code == 1
    assert _single_line(capsys.readouterr().err).startswith(
        f"minihs: cannot listen on 127.0.0.1:{port}: "
    )


def test_a_host_that_cannot_be_listened_on_is_named_and_exits_1(tmp_path, capsys):
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    code = main(["--config", cheap_config(tmp_path), "--host", "192.0.2.1", "--port", "0",
                 "--database", ":memory:"])
    assert code == 1
    line = _single_line(capsys.readouterr().err)
    assert line.startswith("minihs: cannot listen on 192.0.2.1:0: ")
