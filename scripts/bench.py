#!/usr/bin/env python3
"""minihs benchmark suite: what users of a homeserver feel, side by side with any other server.

    python scripts/bench.py --quick                       # under 30 s, small scenarios
    python scripts/bench.py                               # every figure of BENCHMARKS.md
    python scripts/bench.py --figures 6 --plot curve.png  # mutual rooms only, and the curve
    python scripts/bench.py --base-url http://127.0.0.1:8008 [--server-pid PID]

Without ``--base-url`` the script starts minihs itself (``python -m minihs`` subprocesses on
temporary file databases, and the in-process ``minihs.testing.MinihsServer``); big scenarios
are seeded straight into the database (minihs/store/seeding.py) and cached in ``--cache-dir``.
With ``--base-url`` it drives that server over HTTP only, registering its own users with
``m.login.dummy`` (the server must allow open registration without verification and should
have rate limits off); the HTTP figures are 3 to 6 (scenarios built over HTTP, up to
``--http-max-rooms``) and 8. ``--server-pid`` lets it read that server's memory and CPU time.

Figures (median and p95 unless said otherwise):
  1. cold start of ``python -m minihs`` until /_matrix/client/versions answers: empty database,
     and a seeded one (100k users, 1M memberships; 2k/20k with --quick);
  2. in-process MinihsServer start() and reset();
  3. register + login per user, production hashing (default config) and the test profile;
  4. createRoom per second, one client;
  5. join + leave operations per second, 8 concurrent clients;
  6. mutual_rooms for users in R rooms each with S shared: first page and full walk, each
     right after a membership change of one of the two users; requests per second;
  7. resident memory (VmRSS) of the server after start and after each scenario;
  8. the ceiling: a bare aiohttp endpoint answering a similar JSON body (100 room IDs).

minihs runs with its default configuration except: rate limits off (a benchmark would only
measure 429s), access log off, log level warning. Figures measured one request at a time
(3, 4, 6's latencies, 8's one-client latency) use a minimal raw HTTP/1.1 keep-alive client, as
aiohttp's client alone adds about 0.3 ms per request; requests per second use aiohttp's client
over --connections keep-alive connections (or --load-client raw). The server CPU time per
request (from /proc, split into the event loop thread and the others) is reported beside the
wall-clock figures: on a shared 2-core machine it is the steadier one.
Prints progress and a readable table on stderr, the JSON summary on stdout (and to --json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CLIENT = "/_matrix/client/v3"
MUTUAL = "/_matrix/client/v1/mutual_rooms"
PASSWORD = "bench-password-1"
START_TIMEOUT_S = 180.0
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# Targets from issue 7 (2-core machine), and Synapse 1.163 measured there for scale.
TARGETS = {
    "cold_start_empty_s": ("<", 0.3, "~0.9 s"),
    "cold_start_seeded_s": ("<", 3.0, "n/a"),
    "cold_start_seeded_rss_mib": ("<", 300.0, "n/a"),
    "register_login_production_ms": ("<", 300.0, "~610 ms (bcrypt 12)"),
    "register_login_testing_ms": ("<", 5.0, "n/a"),
    "create_room_per_s": (">", 300.0, "~27 rooms/s"),
    "join_leave_ops_per_s": (">", 2000.0, "~76 ops/s"),
    "mutual_after_change_1000_200_ms": ("<", 0.3, "~2.3 ms"),
    "mutual_first_page_10000_5000_ms": ("<", 2.0, "not measured"),
    "mutual_vs_ceiling_ratio": (">=", 0.6, "n/a"),
    "rss_after_1000_mib": ("<", 60.0, "~200 MiB"),
}

FULL = dict(
    cold_empty=20, cold_seeded=5, seeded_users=100_000, seeded_memberships=1_000_000,
    fig2_starts=20, fig2_resets=100, reg_prod=10, reg_test=200,
    create_s=5.0, create_max=5000, joinleave_s=5.0, joinleave_max=50_000,
    scenarios=[(100, 20), (1000, 200), (10000, 5000), (100000, 10000)],
    first_page_trials=200, walk_trials=20, phase_max_s=30.0, rps_s=5.0, rps_max=100_000,
    steady_latency_n=2000,
)
QUICK = dict(
    cold_empty=3, cold_seeded=1, seeded_users=2_000, seeded_memberships=20_000,
    fig2_starts=3, fig2_resets=10, reg_prod=1, reg_test=30,
    create_s=0.75, create_max=1000, joinleave_s=0.75, joinleave_max=10_000,
    scenarios=[(100, 20), (1000, 200)],
    first_page_trials=30, walk_trials=5, phase_max_s=2.0, rps_s=0.75, rps_max=20_000,
    steady_latency_n=200,
)
# The third user of every scenario: in 100 rooms, 20 of them shared with A.
SMALL_PARTNER = (100, 20)


class BenchError(Exception):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- statistics ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(min(rank, len(ordered))) - 1]


def latency_summary(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"n": 0}
    return {
        "n": len(seconds),
        "median_ms": round(percentile(seconds, 50) * 1000, 4),
        "p95_ms": round(percentile(seconds, 95) * 1000, 4),
        "min_ms": round(min(seconds) * 1000, 4),
        "max_ms": round(max(seconds) * 1000, 4),
    }


# --- the machine and processes ------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "sqlite": sqlite3.sqlite_version,
        "loadavg_at_start": None,
    }
    with contextlib.suppress(OSError):
        info["loadavg_at_start"] = [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    with contextlib.suppress(ImportError):
        import aiosqlite

        info["aiosqlite"] = getattr(aiosqlite, "__version__", "?")
    with contextlib.suppress(ImportError):
        import uvloop

        info["uvloop"] = uvloop.__version__
    info["code"] = code_version()
    return info


def code_version() -> dict[str, Any]:
    """Which minihs was measured: the commit, and whether minihs/ had uncommitted changes."""
    import subprocess

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    digest = hashlib.sha256()
    for path in sorted((REPO / "minihs").rglob("*.py")):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return {
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "minihs_uncommitted_changes": bool(git("status", "--porcelain", "--", "minihs")),
        "minihs_sources_sha256": digest.hexdigest()[:12],
    }


def rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _stat_cpu(path: str) -> float | None:
    try:
        stat = Path(path).read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (all its threads), from /proc/PID/stat."""
    return None if pid is None else _stat_cpu(f"/proc/{pid}/stat")


def main_thread_cpu_seconds(pid: int | None) -> float | None:
    """CPU time of a process's main thread (for minihs: the event loop; the rest is mostly
    aiosqlite's database thread, password hashing threads, and the interpreter's own)."""
    return None if pid is None else _stat_cpu(f"/proc/{pid}/task/{pid}/stat")


class CpuMeter:
    """Server (whole process, and its main thread) and client CPU seconds spent inside."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid

    def __enter__(self) -> "CpuMeter":
        self._server0 = cpu_seconds(self.pid)
        self._main0 = main_thread_cpu_seconds(self.pid)
        self._client0 = time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        server1 = cpu_seconds(self.pid)
        main1 = main_thread_cpu_seconds(self.pid)
        self.server = None if self._server0 is None or server1 is None else server1 - self._server0
        self.main = None if self._main0 is None or main1 is None else main1 - self._main0
        self.client = time.process_time() - self._client0

    def per_request(self, count: int) -> dict[str, Any]:
        n = max(count, 1)
        out: dict[str, Any] = {"client_cpu_us_per_request": round(self.client / n * 1e6, 1)}
        if self.server is not None:
            out["server_cpu_us_per_request"] = round(self.server / n * 1e6, 1)
        if self.main is not None and self.server is not None:
            out["server_event_loop_cpu_us_per_request"] = round(self.main / n * 1e6, 1)
            out["server_other_threads_cpu_us_per_request"] = round((self.server - self.main) / n * 1e6, 1)
        return out


class Profiler:
    """Optional py-spy sampling of a server process for one phase (``--py-spy DIR``).

    Samples only the thread holding the GIL (``--gil``): the Python work of the event loop and
    of the database thread. SQLite's own work runs without the GIL and shows in the CPU split
    instead (``server_other_threads_cpu_us_per_request``: mostly aiosqlite's thread)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.results: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def phase(self, name: str, pid: int | None):
        if self.directory is None or pid is None or shutil.which("py-spy") is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        out = self.directory / f"{name}.txt"
        proc = await asyncio.create_subprocess_exec(
            "py-spy", "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
            "--output", str(out), "--threads", "--gil",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.3)  # let py-spy attach
        try:
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
            if out.exists():
                top = summarise_collapsed(out)
                self.results[name] = top
                (self.directory / f"{name}.top.txt").write_text(format_profile(name, top))


_LINE_NUMBER = re.compile(r":\d+\)$")


def summarise_collapsed(path: Path, limit: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function (line numbers merged) from py-spy's raw
    (collapsed) output; the raw file keeps the line-level detail."""
    self_counts: dict[str, int] = {}
    total_counts: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = []
        for frame in stack.split(";"):
            if frame.startswith("thread ("):
                # Keep which thread it was (the event loop or the database thread), not its id.
                frames.append("[" + frame.split(": ", 1)[-1].strip() + "]")
            else:
                frames.append(_LINE_NUMBER.sub(")", frame))
        if not frames:
            continue
        total += count
        leaf = frames[-1]
        self_counts[leaf] = self_counts.get(leaf, 0) + count
        for frame in set(frames):
            total_counts[frame] = total_counts.get(frame, 0) + count

    def top(counts: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
        return [(name, round(100.0 * n / max(total, 1), 1)) for name, n in ranked]

    return {"samples": total, "self_pct": top(self_counts), "inclusive_pct": top(total_counts)}


def format_profile(name: str, top: dict[str, Any]) -> str:
    lines = [f"== {name}: {top['samples']} samples", "-- self time"]
    lines += [f"{pct:5.1f}%  {fn}" for fn, pct in top["self_pct"]]
    lines.append("-- inclusive time")
    lines += [f"{pct:5.1f}%  {fn}" for fn, pct in top["inclusive_pct"]]
    return "\n".join(lines) + "\n"


# --- a server in a subprocess ------------------------------------------------------------


class ServerProcess:
    """``python -m minihs`` (or the ceiling server) as a child; knows its URL and PID."""

    def __init__(self, args: list[str], workdir: Path, name: str) -> None:
        self.args = args
        self.workdir = workdir
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self.base_url = ""
        self.listening_s = 0.0
        self.ready_s = 0.0

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    async def start(self, session: aiohttp.ClientSession) -> float:
        """Launch and wait until GET /_matrix/client/versions (or /ceiling) answers 200.
        Returns the seconds from launch to that answer."""
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        self._stderr = open(self.workdir / f"{self.name}.stderr.log", "ab")
        began = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *self.args,
            stdout=asyncio.subprocess.PIPE, stderr=self._stderr, cwd=str(self.workdir), env=env,
        )
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), START_TIMEOUT_S)
        except asyncio.TimeoutError:
            await self.stop()
            raise BenchError(f"{self.name} did not start within {START_TIMEOUT_S} s")
        text = line.decode(errors="replace").strip()
        if " listening on " not in text:
            await self.stop()
            log_text = (self.workdir / f"{self.name}.stderr.log").read_text(errors="replace")
            raise BenchError(f"{self.name} failed to start: {text!r}\n{log_text[-2000:]}")
        self.listening_s = time.perf_counter() - began
        self.base_url = text.rsplit(" ", 1)[1]
        probe = "/ceiling" if self.name.startswith("ceiling") else "/_matrix/client/versions"
        while True:
            try:
                async with session.get(self.base_url + probe) as resp:
                    await resp.read()
                    if resp.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                pass
            if time.perf_counter() - began > START_TIMEOUT_S:
                raise BenchError(f"{self.name}: {probe} never answered")
            await asyncio.sleep(0.005)
        self.ready_s = time.perf_counter() - began
        return self.ready_s

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._stderr.close()
        self.proc = None


def write_bench_config(path: Path, event_loop: str) -> Path:
    """minihs defaults, except: rate limits off, no access log, log level warning (and the
    event loop, when --event-loop asks for one)."""
    from minihs.config import RateLimitsConfig
    import dataclasses

    import yaml

    limits = {f.name: {"enabled": False} for f in dataclasses.fields(RateLimitsConfig)}
    config = {"rate_limits": limits, "access_log": False, "log_level": "warning",
              "event_loop": event_loop}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


# --- HTTP client helpers ----------------------------------------------------------------


@dataclass
class User:
    user_id: str
    token: str
    localpart: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    """The few client-server calls the benchmark makes, over one keep-alive session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base = base_url.rstrip("/")

    async def call(
        self, method: str, path: str, user: User | None = None, body: Any = None,
        params: dict[str, str] | None = None, expect: int | None = 200,
    ) -> tuple[int, Any]:
        headers = user.headers if user else {}
        async with self.session.request(
            method, self.base + path, json=body, params=params, headers=headers
        ) as resp:
            data = await resp.read()
            status = resp.status
        reply = json.loads(data) if data else None
        if expect is not None and status != expect:
            raise BenchError(f"{method} {path}: expected {expect}, got {status}: {reply}")
        return status, reply

    async def register(self, localpart: str, password: str = PASSWORD) -> User:
        body: dict[str, Any] = {
            "username": localpart, "password": password, "auth": {"type": "m.login.dummy"},
        }
        status, reply = await self.call("POST", CLIENT + "/register", body=body, expect=None)
        if status == 401 and isinstance(reply, dict) and "session" in reply:
            # Servers that insist on a UIA session first (as Synapse may): go round once more.
            body["auth"]["session"] = reply["session"]
            status, reply = await self.call("POST", CLIENT + "/register", body=body, expect=None)
        if status != 200:
            raise BenchError(f"register {localpart}: {status} {reply}")
        return User(reply["user_id"], reply["access_token"], localpart)

    async def create_room(self, user: User, **body: Any) -> str:
        _, reply = await self.call("POST", CLIENT + "/createRoom", user, body=body)
        return reply["room_id"]

    async def join(self, user: User, room_id: str) -> None:
        await self.call("POST", f"{CLIENT}/join/{quote(room_id)}", user, body={})

    async def leave(self, user: User, room_id: str) -> None:
        await self.call("POST", f"{CLIENT}/rooms/{quote(room_id)}/leave", user, body={})


def quote(value: str) -> str:
    from urllib.parse import quote as _quote

    return _quote(value, safe="")


def mutual_target(query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return MUTUAL + "?" + urlencode(query)


class RawHttp:
    """A minimal blocking HTTP/1.1 keep-alive client, one request at a time.

    For the single-client latency figures only: a full aiohttp client adds about 0.3 ms of its
    own to every request here, more than some of the targets being measured. It sends one
    prepared request and reads the status line, the headers and a Content-Length (or chunked)
    body. Blocking is fine where it is used: nothing else runs on the bench's loop then.
    """

    def __init__(self, base_url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(base_url)
        if parts.scheme != "http":
            raise BenchError("the raw latency client speaks plain http only")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.host_header = parts.netloc.encode()
        self.sock = None
        self.buffer = b""

    def _connect(self) -> None:
        import socket

        self.close()
        self.sock = socket.create_connection((self.host, self.port), timeout=300)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def prepare(self, method: str, target: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> bytes:
        lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: " + self.host_header]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}".encode())
        if body is not None:
            lines.append(b"Content-Type: application/json")
        lines.append(b"Content-Length: " + str(len(body or b"")).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")

    def _read_until(self, marker: bytes) -> bytes:
        while True:
            at = self.buffer.find(marker)
            if at >= 0:
                out, self.buffer = self.buffer[:at], self.buffer[at + len(marker):]
                return out
            self._fill()

    def _read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionResetError("server closed the connection")
        self.buffer += chunk

    def send(self, request: bytes) -> tuple[int, bytes]:
        """Send a prepared request; (status, body). Reconnects once on a closed connection."""
        for attempt in (1, 2):
            if self.sock is None:
                self._connect()
            try:
                assert self.sock is not None
                self.sock.sendall(request)
                head = self._read_until(b"\r\n\r\n")
                break
            except (ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        status_line, *header_lines = head.split(b"\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    break
                parts.append(self._read_exactly(size))
                self._read_exactly(2)
            data = b"".join(parts)
        else:
            data = self._read_exactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, data

    def request(self, method: str, target: str, user: "User | None" = None,
                body: Any = None) -> tuple[int, Any]:
        raw = None if body is None else json.dumps(body).encode()
        status, data = self.send(self.prepare(method, target, user.headers if user else None, raw))
        return status, (json.loads(data) if data else None)

    def call(self, method: str, target: str, user: "User | None" = None, body: Any = None,
             expect: int = 200) -> Any:
        status, reply = self.request(method, target, user, body)
        if status != expect:
            raise BenchError(f"{method} {target}: expected {expect}, got {status}: {reply}")
        return reply

    def register(self, localpart: str, password: str = PASSWORD) -> "User":
        body: dict[str, Any] = {
            "username": localpart, "password": password, "auth": {"type": "m.login.dummy"},
        }
        status, reply = self.request("POST", CLIENT + "/register", body=body)
        if status == 401 and isinstance(reply, dict) and "session" in reply:
            # Servers that insist on a UIA session first (as Synapse may): go round once more.
            body["auth"]["session"] = reply["session"]
            status, reply = self.request("POST", CLIENT + "/register", body=body)
        if status != 200:
            raise BenchError(f"register {localpart}: {status} {reply}")
        return User(reply["user_id"], reply["access_token"], localpart)

    def login(self, localpart: str, password: str = PASSWORD) -> "User":
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        }
        reply = self.call("POST", CLIENT + "/login", body=body)
        return User(reply["user_id"], reply["access_token"], localpart)


class RawAsyncConnection:
    """One keep-alive connection for the ``--load-client raw`` load generator: prepared
    request bytes out, a Content-Length body in. Much cheaper per request than aiohttp's
    client, so on a 2-core machine less of the CPU goes to the load generator."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.writer = None


def new_session(connections: int = 1) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=max(connections, 1), force_close=False)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=300)
    )


async def load(
    request: Callable[[int], Awaitable[None]], workers: int, seconds: float, max_requests: int
) -> tuple[int, float, list[float]]:
    """``workers`` concurrent loops calling ``request(worker)`` until the time or the count is
    spent. Returns (requests done, elapsed seconds, latencies)."""
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    issued = 0

    async def worker(index: int) -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            issued += 1
            t0 = time.perf_counter()
            await request(index)
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker(i) for i in range(workers)))
    return len(latencies), time.perf_counter() - started, latencies


# --- the benchmark ----------------------------------------------------------------------


@dataclass
class Bench:
    opts: argparse.Namespace
    params: dict[str, Any]
    workdir: Path
    cache_dir: Path
    profiler: Profiler
    results: dict[str, Any] = field(default_factory=dict)
    servers: list[ServerProcess] = field(default_factory=list)

    @property
    def remote(self) -> bool:
        return self.opts.base_url is not None

    def wants(self, figure: int) -> bool:
        return figure in self.opts.figure_set

    async def start_minihs(self, name: str, *args: str, session: aiohttp.ClientSession) -> ServerProcess:
        launch = ["-m", "minihs"]
        if self.opts.server_prelude:
            # An experiment without touching the server: run this code first, then minihs.
            launch = ["-c", f"{self.opts.server_prelude}\nimport runpy, sys\nsys.argv[0] = 'minihs'\n"
                      "runpy.run_module('minihs', run_name='__main__', alter_sys=True)"]
        server = ServerProcess([*launch, "--host", "127.0.0.1", "--port", "0", *args], self.workdir, name)
        self.servers.append(server)
        await server.start(session)
        return server

    async def stop(self, server: ServerProcess) -> None:
        await server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def prod_args(self, database: Path) -> list[str]:
        return ["--config", str(self.config_path), "--database", str(database)]

    # -- seeding (cached) --

    def _code_key(self) -> str:
        """Seeded databases are rebuilt when the code that shapes their rows changes: the
        schema, event building, room creation, or the seeding format."""
        from minihs.testing.seeding import SEED_FORMAT

        digest = hashlib.sha256(f"seed-format-{SEED_FORMAT}".encode())
        for rel in ("minihs/spec/events.py", "minihs/domain/room_creation.py", "minihs/store/schema.py"):
            digest.update((REPO / rel).read_bytes())
        return digest.hexdigest()[:10]

    def seeded(self, name: str, build: Callable[[str], dict[str, Any]]) -> tuple[Path, dict[str, Any]]:
        """A cached seeded database (built once by ``build(path) -> meta``), copied into the
        work directory; returns the copy and the meta."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        cached = self.cache_dir / f"{name}-{self._code_key()}.db"
        meta_path = cached.with_suffix(".json")
        if self.opts.reseed or not cached.exists() or not meta_path.exists():
            log(f"seeding {name} (cached in {self.cache_dir}; later runs reuse it)")
            partial = cached.with_suffix(".partial")
            for leftover in (partial, Path(str(partial) + "-wal"), Path(str(partial) + "-shm")):
                leftover.unlink(missing_ok=True)
            began = time.perf_counter()
            meta = build(str(partial))
            meta["seed_seconds"] = round(time.perf_counter() - began, 1)
            partial.rename(cached)
            meta_path.write_text(json.dumps(meta), encoding="utf-8")
            for stale in self.cache_dir.glob(f"{name}-*"):  # the same scenario, older code
                if stale not in (cached, meta_path):
                    stale.unlink(missing_ok=True)
            log(f"seeded {name} in {meta['seed_seconds']} s")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        copy = self.workdir / f"{name}.db"
        shutil.copyfile(cached, copy)
        return copy, meta

    def seeder(self, path: str):
        from minihs.testing.seeding import Seeder

        scripts = str(REPO / "scripts")
        if scripts not in sys.path:
            sys.path.insert(0, scripts)
        from seed import ProgressPrinter  # scripts/seed.py

        return Seeder(path, progress=ProgressPrinter(quiet=self.opts.quiet_seed))

    def seed_population(self, users: int, memberships: int) -> tuple[Path, dict[str, Any]]:
        from minihs.testing.seeding import seed_population

        def build(path: str) -> dict[str, Any]:
            with self.seeder(path) as seeder:
                rooms = seed_population(seeder, users, memberships)
            return {"users": users, "rooms": rooms, "memberships": rooms * min(100, users)}

        return self.seeded(f"population-U{users}-M{memberships}", build)

    def seed_mutual(self, rooms: int, shared: int) -> tuple[Path, dict[str, Any]]:
        from minihs.testing.seeding import seed_mutual_rooms

        small = SMALL_PARTNER if rooms - shared >= SMALL_PARTNER[1] else None

        def build(path: str) -> dict[str, Any]:
            with self.seeder(path) as seeder:
                sc = seed_mutual_rooms(seeder, rooms, shared, small=small)
            meta = {
                "rooms_each": rooms, "shared": shared,
                "a": vars(sc.user_a), "b": vars(sc.user_b),
                "shared_room_ids": sc.shared_room_ids,
            }
            if sc.user_c is not None:
                meta.update(c=vars(sc.user_c), c_shared_room_ids=sc.c_shared_room_ids,
                            small_rooms=sc.small_rooms, small_shared=sc.small_shared)
            return meta

        return self.seeded(f"mutual-R{rooms}-S{shared}", build)

    def seed_workload_users(self, path: Path, count: int) -> list[User]:
        """Users with tokens for the load figures, written straight into a fresh database."""
        from minihs.testing.seeding import Seeder

        with Seeder(str(path)) as seeder:
            ids = seeder.add_users([f"load{i}" for i in range(count)], password=None)
            return [User(uid, seeder.issue_token(uid).access_token) for uid in ids]

    # -- figure 1 --

    async def figure1(self) -> None:
        p = self.params
        out: dict[str, Any] = {}
        async with new_session() as session:
            times, rss = [], []
            for i in range(p["cold_empty"]):
                db = self.workdir / f"cold-empty-{i}.db"  # does not exist yet: created and migrated
                server = await self.start_minihs("cold-empty", *self.prod_args(db), session=session)
                times.append(server.ready_s)
                rss.append(rss_mib(server.pid))
                await self.stop(server)
            out["empty"] = {**latency_summary(times), "rss_mib_median": percentile(rss, 50)}
            log(f"fig1 cold start, empty database: median {out['empty']['median_ms']:.0f} ms")

            db, meta = self.seed_population(p["seeded_users"], p["seeded_memberships"])
            times, rss, listening = [], [], []
            for _ in range(p["cold_seeded"]):
                server = await self.start_minihs("cold-seeded", *self.prod_args(db), session=session)
                times.append(server.ready_s)
                listening.append(server.listening_s)
                rss.append(rss_mib(server.pid))
                await self.stop(server)
            out["seeded"] = {
                **latency_summary(times), "rss_mib_median": percentile(rss, 50),
                "rss_mib_max": max(rss), "users": meta["users"], "memberships": meta["memberships"],
                "rooms": meta["rooms"], "database_mib": round(db.stat().st_size / 2**20, 1),
            }
            log(f"fig1 cold start, {meta['memberships']:,} memberships: median "
                f"{out['seeded']['median_ms']:.0f} ms, RSS {out['seeded']['rss_mib_median']} MiB")
        self.results["1_cold_start"] = out

    # -- figure 2 --

    async def figure2(self) -> None:
        p = self.params
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), "--internal-fig2",
            str(p["fig2_starts"]), str(p["fig2_resets"]),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(REPO),
        )
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 300)
        if proc.returncode != 0:
            text = stderr.decode(errors="replace")
            if "No module named 'minihs.testing'" in text:
                self.results["2_in_process"] = {"skipped": "minihs.testing does not exist yet"}
                log("fig2 skipped: minihs.testing does not exist yet")
                return
            raise BenchError(f"figure 2 child failed:\n{text[-3000:]}")
        out = json.loads(stdout.decode().strip().splitlines()[-1])
        self.results["2_in_process"] = out
        log(f"fig2 MinihsServer start median {out['start']['median_ms']:.1f} ms, "
            f"reset median {out['reset']['median_ms']:.2f} ms")

    # -- figure 3 --

    async def register_login(self, api: Api, count: int, prefix: str, pid: int | None) -> dict[str, Any]:
        """Register then log in ``count`` users one after the other (raw client)."""
        pairs, regs, logins = [], [], []
        raw = RawHttp(api.base)
        try:
            with CpuMeter(pid) as cpu:
                for i in range(count):
                    localpart = f"{prefix}{i}-{os.getpid()}-{int(time.time() * 1000) % 10**7}"
                    t0 = time.perf_counter()
                    raw.register(localpart)
                    t1 = time.perf_counter()
                    raw.login(localpart)
                    t2 = time.perf_counter()
                    regs.append(t1 - t0)
                    logins.append(t2 - t1)
                    pairs.append(t2 - t0)
                    await asyncio.sleep(0)
        finally:
            raw.close()
        return {
            **latency_summary(pairs), "register": latency_summary(regs),
            "login": latency_summary(logins), **cpu.per_request(count),
        }

    async def create_rooms(self, api: Api, owner: User, pid: int | None, tag: str) -> dict[str, Any]:
        """createRoom (public_chat preset) back to back from one raw client."""
        p = self.params
        raw = RawHttp(api.base)
        request = raw.prepare("POST", CLIENT + "/createRoom", owner.headers,
                              json.dumps({"preset": "public_chat"}).encode())
        lat: list[float] = []
        try:
            with CpuMeter(pid) as cpu:
                async with self.profiler.phase(f"fig4_create_room_{tag}", pid):
                    began = time.perf_counter()
                    deadline = began + p["create_s"]
                    while len(lat) < p["create_max"] and time.perf_counter() < deadline:
                        t0 = time.perf_counter()
                        status, data = raw.send(request)
                        lat.append(time.perf_counter() - t0)
                        if status != 200:
                            raise BenchError(f"createRoom: {status} {data[:200]!r}")
                    elapsed = time.perf_counter() - began
        finally:
            raw.close()
        count = len(lat)
        return {"rooms_per_s": round(count / elapsed, 1), "rooms": count,
                **latency_summary(lat), **cpu.per_request(count)}

    async def join_leave(
        self, api: Api, host: User, clients: list[User], pid: int | None, same_room: bool, tag: str
    ) -> dict[str, Any]:
        """Each client joins and leaves its room (or all the same room) in a loop; every join
        and every leave is one operation. Over --load-client connections."""
        p = self.params
        n_rooms = 1 if same_room else len(clients)
        rooms = [await api.create_room(host, preset="public_chat") for _ in range(n_rooms)]
        joined = [False] * len(clients)
        conns: list[RawAsyncConnection] = []

        if self.opts.load_client == "raw":
            raw = RawHttp(api.base)
            conns = [RawAsyncConnection(raw.host, raw.port) for _ in clients]
            requests = []
            for i, user in enumerate(clients):
                room = quote(rooms[0 if same_room else i])
                requests.append((
                    raw.prepare("POST", f"{CLIENT}/join/{room}", user.headers, b"{}"),
                    raw.prepare("POST", f"{CLIENT}/rooms/{room}/leave", user.headers, b"{}"),
                ))

            async def one(i: int) -> None:
                status = await conns[i].send(requests[i][1 if joined[i] else 0])
                if status != 200:
                    raise BenchError(f"join/leave: HTTP {status}")
                joined[i] = not joined[i]
        else:

            async def one(i: int) -> None:
                room = rooms[0 if same_room else i]
                if joined[i]:
                    await api.leave(clients[i], room)
                else:
                    await api.join(clients[i], room)
                joined[i] = not joined[i]

        try:
            with CpuMeter(pid) as cpu:
                async with self.profiler.phase(f"fig5_join_leave_{tag}", pid):
                    count, elapsed, lat = await load(one, len(clients), p["joinleave_s"], p["joinleave_max"])
        finally:
            for conn in conns:
                await conn.close()
        for i, user in enumerate(clients):  # leave the rooms as found
            if joined[i]:
                await api.leave(user, rooms[0 if same_room else i])
        return {"ops_per_s": round(count / elapsed, 1), "ops": count, "clients": len(clients),
                "rooms": n_rooms, "load_client": self.opts.load_client,
                **latency_summary(lat), **cpu.per_request(count)}

    async def figures_3_4_5(self) -> None:
        p = self.params
        async with new_session(8) as session:
            if self.remote:
                api = Api(session, self.opts.base_url)
                pid = self.opts.server_pid
                if self.wants(3):
                    self.results["3_register_login"] = {
                        "remote": await self.register_login(api, p["reg_prod"], "bench-reg", pid)
                    }
                if self.wants(4) or self.wants(5):
                    stamp = f"{os.getpid()}-{int(time.time()) % 10**6}"
                    users = [await api.register(f"bench-load{i}-{stamp}") for i in range(9)]
                    if self.wants(4):
                        self.results["4_create_room"] = {"remote": await self.create_rooms(api, users[0], pid, "remote")}
                    if self.wants(5):
                        self.results["5_join_leave"] = {
                            "remote": await self.join_leave(api, users[0], users[1:], pid, False, "remote")
                        }
                return

            prod_db = self.workdir / "prod.db"
            users = self.seed_workload_users(prod_db, 9)
            prod = await self.start_minihs("prod", *self.prod_args(prod_db), session=session)
            self.results.setdefault("7_memory", {})["after_start_empty_mib"] = rss_mib(prod.pid)
            api = Api(session, prod.base_url)
            fig3: dict[str, Any] = {}
            if self.wants(3):
                fig3["production"] = await self.register_login(api, p["reg_prod"], "prodreg", prod.pid)
                log(f"fig3 register+login, production hashing: median {fig3['production']['median_ms']:.0f} ms")
            if self.wants(4):
                self.results["4_create_room"] = {"production": await self.create_rooms(api, users[0], prod.pid, "production")}
                log(f"fig4 createRoom: {self.results['4_create_room']['production']['rooms_per_s']} rooms/s")
            if self.wants(5):
                fig5 = {"production": await self.join_leave(api, users[0], users[1:], prod.pid, False, "production")}
                if not self.opts.quick:
                    fig5["production_same_room"] = await self.join_leave(
                        api, users[0], users[1:], prod.pid, True, "production_same_room")
                self.results["5_join_leave"] = fig5
                log(f"fig5 join+leave, 8 clients: {fig5['production']['ops_per_s']} ops/s")
            await self.stop(prod)

            if self.wants(3) or (not self.opts.quick and (self.wants(4) or self.wants(5))):
                test = await self.start_minihs("testing", "--testing", "--log-level", "warning", session=session)
                api = Api(session, test.base_url)
                if self.wants(3):
                    fig3["testing"] = await self.register_login(api, p["reg_test"], "testreg", test.pid)
                    log(f"fig3 register+login, test profile: median {fig3['testing']['median_ms']:.2f} ms")
                if not self.opts.quick:
                    tusers = [await api.register(f"tload{i}") for i in range(9)]
                    if self.wants(4):
                        self.results["4_create_room"]["testing"] = await self.create_rooms(api, tusers[0], test.pid, "testing")
                    if self.wants(5):
                        self.results["5_join_leave"]["testing"] = await self.join_leave(
                            api, tusers[0], tusers[1:], test.pid, False, "testing")
                await self.stop(test)
            if fig3:
                self.results["3_register_login"] = fig3

    # -- figure 6 --

    async def build_mutual_over_http(self, api: Api, rooms: int, shared: int) -> dict[str, Any]:
        stamp = f"{os.getpid()}-{int(time.time()) % 10**6}"
        a = await api.register(f"bench-a-{rooms}-{stamp}")
        b = await api.register(f"bench-b-{rooms}-{stamp}")
        began = time.perf_counter()
        shared_ids = []
        for _ in range(shared):
            room = await api.create_room(a, preset="public_chat")
            await api.join(b, room)
            shared_ids.append(room)
        for _ in range(rooms - shared):
            await api.create_room(a, preset="public_chat")
            await api.create_room(b, preset="public_chat")
        return {"a": {"user_id": a.user_id, "access_token": a.token},
                "b": {"user_id": b.user_id, "access_token": b.token},
                "shared_room_ids": shared_ids, "rooms_each": rooms, "shared": shared,
                "build_seconds": round(time.perf_counter() - began, 1)}

    def walk(self, raw: RawHttp, a: User, other: str) -> tuple[list[str], int, int]:
        rooms: list[str] = []
        token = None
        pages = 0
        count = -1
        while True:
            query = {"user_id": other}
            if token is not None:
                query["from"] = token
            page = raw.call("GET", mutual_target(query), a)
            pages += 1
            rooms.extend(page["joined"])
            count = page["count"]
            token = page.get("next_batch")
            if token is None:
                return rooms, count, pages
            if pages > 10_000:
                raise BenchError("mutual_rooms walk did not end")

    async def measure_pair(
        self, api: Api, a: User, b: User, toggle_room: str, expected: int, pid: int | None,
        tag: str, walks: bool = True,
    ) -> dict[str, Any]:
        """First page and full walk right after B leaves or rejoins ``toggle_room``, one
        request at a time on the raw keep-alive client."""
        p = self.params
        raw = RawHttp(api.base)
        state = {"joined": True}
        room = quote(toggle_room)
        leave = raw.prepare("POST", f"{CLIENT}/rooms/{room}/leave", b.headers, b"{}")
        join = raw.prepare("POST", f"{CLIENT}/join/{room}", b.headers, b"{}")

        def change() -> int:
            status, data = raw.send(leave if state["joined"] else join)
            if status != 200:
                raise BenchError(f"membership change: {status} {data[:200]!r}")
            state["joined"] = not state["joined"]
            return expected if state["joined"] else expected - 1

        out: dict[str, Any] = {}
        first, change_lat = [], []
        first_page = raw.prepare("GET", mutual_target({"user_id": b.user_id}), a.headers)
        try:
            began = time.perf_counter()
            async with self.profiler.phase(f"fig6_{tag}_first_page_after_change", pid):
                for _ in range(p["first_page_trials"]):
                    t0 = time.perf_counter()
                    want = change()
                    t1 = time.perf_counter()
                    status, data = raw.send(first_page)
                    t2 = time.perf_counter()
                    body = json.loads(data)
                    if status != 200 or body["count"] != want:
                        raise BenchError(f"mutual_rooms after a change: {status} {str(body)[:200]} (want {want})")
                    change_lat.append(t1 - t0)
                    first.append(t2 - t1)
                    if time.perf_counter() - began > p["phase_max_s"]:
                        break
                    await asyncio.sleep(0)
            out["first_page_after_change"] = latency_summary(first)
            out["membership_change"] = latency_summary(change_lat)

            if walks:
                walk_lat, pages = [], 0
                began = time.perf_counter()
                async with self.profiler.phase(f"fig6_{tag}_walk_after_change", pid):
                    for _ in range(p["walk_trials"]):
                        want = change()
                        t0 = time.perf_counter()
                        rooms, count, pages = self.walk(raw, a, b.user_id)
                        walk_lat.append(time.perf_counter() - t0)
                        if count != want or len(rooms) != want or rooms != sorted(set(rooms)):
                            raise BenchError(f"walk: count {count}, {len(rooms)} rooms, want {want}")
                        if time.perf_counter() - began > p["phase_max_s"]:
                            break
                        await asyncio.sleep(0)
                out["full_walk_after_change"] = {**latency_summary(walk_lat), "pages": pages}

            if not state["joined"]:
                change()
        finally:
            raw.close()
        return out

    def _get_loader(self, session: aiohttp.ClientSession, base_url: str, target: str,
                    headers: dict[str, str]):
        """``(one(i), close())`` for repeating one GET over --connections connections."""
        url = base_url + target
        raw = RawHttp(base_url)
        request = raw.prepare("GET", target, headers)
        if self.opts.load_client == "raw":
            conns = [RawAsyncConnection(raw.host, raw.port) for _ in range(self.opts.connections)]

            async def one(i: int) -> None:
                if await conns[i].send(request) != 200:
                    raise BenchError(f"GET {url}: not 200")

            async def close() -> None:
                for conn in conns:
                    await conn.close()
        else:

            async def one(i: int) -> None:
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise BenchError(f"GET {url}: {resp.status}")

            async def close() -> None:
                pass

        return one, close

    def _one_client_latency(self, base_url: str, target: str, headers: dict[str, str],
                            pid: int | None, n: int) -> dict[str, Any]:
        raw = RawHttp(base_url)
        request = raw.prepare("GET", target, headers)
        single: list[float] = []
        try:
            for _ in range(20):
                raw.send(request)
            with CpuMeter(pid) as cpu:
                for _ in range(n):
                    t0 = time.perf_counter()
                    status, _ = raw.send(request)
                    single.append(time.perf_counter() - t0)
                    if status != 200:
                        raise BenchError(f"GET {target}: {status}")
        finally:
            raw.close()
        return {**latency_summary(single), **cpu.per_request(len(single))}

    async def steady_rps(self, session: aiohttp.ClientSession, base_url: str, target: str,
                         headers: dict[str, str], pid: int | None, tag: str) -> dict[str, Any]:
        """Requests per second over --connections keep-alive connections (the --load-client),
        and the latency of one raw client alone, for one GET (no changes in between)."""
        p = self.params
        one, close = self._get_loader(session, base_url, target, headers)
        try:
            await asyncio.gather(*(one(i) for i in range(self.opts.connections)))  # warm up
            with CpuMeter(pid) as cpu:
                async with self.profiler.phase(f"{tag}_rps", pid):
                    count, elapsed, lat = await load(one, self.opts.connections, p["rps_s"], p["rps_max"])
        finally:
            await close()
        return {
            "rps": round(count / elapsed, 1), "requests": count,
            "connections": self.opts.connections, "load_client": self.opts.load_client,
            "latency_under_load": latency_summary(lat), **cpu.per_request(count),
            "one_client": self._one_client_latency(base_url, target, headers, pid, p["steady_latency_n"]),
        }

    async def paired_rounds(self, session: aiohttp.ClientSession, a: dict[str, Any],
                            b: dict[str, Any], rounds: int, seconds: float) -> dict[str, Any]:
        """Alternate short req/s rounds of two endpoints (``a``, ``b``: base_url, target,
        headers, pid), so both see the same machine load; the median of the per-round ratios
        b/a is steadier on a shared machine than a ratio of two separate runs."""
        loaders = [self._get_loader(session, x["base_url"], x["target"], x["headers"]) for x in (a, b)]
        per: list[list[dict[str, float]]] = [[], []]
        try:
            for one, _ in loaders:
                await asyncio.gather(*(one(i) for i in range(self.opts.connections)))
            for _ in range(rounds):
                for side, (one, _) in enumerate(loaders):
                    pid = (a, b)[side]["pid"]
                    with CpuMeter(pid) as cpu:
                        count, elapsed, _lat = await load(one, self.opts.connections, seconds, 10**9)
                    row = {"rps": count / elapsed}
                    if cpu.server is not None:
                        row["server_cpu_us"] = cpu.server / max(count, 1) * 1e6
                    per[side].append(row)
        finally:
            for _, close in loaders:
                await close()
        lat = [self._one_client_latency(x["base_url"], x["target"], x["headers"], x["pid"],
                                        self.params["steady_latency_n"]) for x in (a, b)]
        ratios = [rb["rps"] / ra["rps"] for ra, rb in zip(*per)]
        out: dict[str, Any] = {
            "rounds": rounds, "seconds_per_round": seconds,
            "rps_a": [round(r["rps"], 1) for r in per[0]], "rps_b": [round(r["rps"], 1) for r in per[1]],
            "rps_ratio_b_over_a_median": round(percentile(ratios, 50), 3),
            "one_client_median_ms_a": lat[0]["median_ms"], "one_client_median_ms_b": lat[1]["median_ms"],
        }
        if all("server_cpu_us" in r for r in per[0] + per[1]):
            cpu_ratios = [ra["server_cpu_us"] / rb["server_cpu_us"] for ra, rb in zip(*per)]
            out["server_cpu_ratio_a_over_b_median"] = round(percentile(cpu_ratios, 50), 3)
            out["server_cpu_us_a_median"] = round(percentile([r["server_cpu_us"] for r in per[0]], 50), 1)
            out["server_cpu_us_b_median"] = round(percentile([r["server_cpu_us"] for r in per[1]], 50), 1)
        return out

    async def figure6(self) -> None:
        p = self.params
        scenarios = self.opts.scenario_list or p["scenarios"]
        out: dict[str, Any] = {}
        for rooms, shared in scenarios:
            key = f"R{rooms}_S{shared}"
            async with new_session(self.opts.connections) as session:
                server = None
                if self.remote:
                    if 2 * rooms - shared > self.opts.http_max_rooms:
                        out[key] = {"skipped": f"more than --http-max-rooms={self.opts.http_max_rooms} rooms to build over HTTP"}
                        continue
                    api = Api(session, self.opts.base_url)
                    log(f"fig6 {key}: building over HTTP ({2 * rooms - shared} rooms)")
                    meta = await self.build_mutual_over_http(api, rooms, shared)
                    pid = self.opts.server_pid
                else:
                    db, meta = self.seed_mutual(rooms, shared)
                    server = await self.start_minihs(f"mutual-{key}", *self.prod_args(db), session=session)
                    api = Api(session, server.base_url)
                    pid = server.pid
                res: dict[str, Any] = {"rooms_each": rooms, "shared": shared}
                if server is not None:
                    res["server_start_s"] = round(server.ready_s, 3)
                    res["rss_after_start_mib"] = rss_mib(pid)
                    res["database_mib"] = round(db.stat().st_size / 2**20, 1)
                a = User(meta["a"]["user_id"], meta["a"]["access_token"])
                b = User(meta["b"]["user_id"], meta["b"]["access_token"])
                log(f"fig6 {key}: first page and full walk after a change")
                res.update(await self.measure_pair(api, a, b, meta["shared_room_ids"][0], shared, pid, key))
                if "c" in meta:
                    c = User(meta["c"]["user_id"], meta["c"]["access_token"])
                    res["small_partner"] = {
                        "rooms": meta["small_rooms"], "shared": meta["small_shared"],
                        **await self.measure_pair(api, a, c, meta["c_shared_room_ids"][0],
                                                  meta["small_shared"], pid, key + "_small", walks=False),
                    }
                log(f"fig6 {key}: requests per second")
                res["first_page_steady"] = await self.steady_rps(
                    session, api.base, mutual_target({"user_id": b.user_id}), a.headers, pid, f"fig6_{key}")
                res["rss_after_benchmark_mib"] = rss_mib(pid)
                if server is not None:
                    await self.stop(server)
                f = res["first_page_after_change"]
                log(f"fig6 {key}: first page after change median {f['median_ms']:.3f} ms, "
                    f"walk median {res.get('full_walk_after_change', {}).get('median_ms', 0):.2f} ms, "
                    f"{res['first_page_steady']['rps']} req/s")
                out[key] = res
        self.results["6_mutual_rooms"] = out
        if out:
            biggest = max((v for v in out.values() if "rooms_each" in v), key=lambda v: v["rooms_each"], default=None)
            mem = self.results.setdefault("7_memory", {})
            if biggest is not None and biggest.get("rss_after_benchmark_mib") is not None:
                mem["after_biggest_scenario_mib"] = biggest["rss_after_benchmark_mib"]
                mem["biggest_scenario"] = f"R{biggest['rooms_each']}_S{biggest['shared']}"
            if "R1000_S200" in out and "rss_after_benchmark_mib" in out["R1000_S200"]:
                mem["after_R1000_S200_mib"] = out["R1000_S200"]["rss_after_benchmark_mib"]

    # -- figure 8 --

    def minihs_event_loop(self) -> str:
        """The loop the minihs servers of this run use: what ``--event-loop auto`` resolves to
        in this interpreter, as minihs resolves it."""
        if self.opts.event_loop != "auto":
            return self.opts.event_loop
        return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"

    async def figure8(self) -> None:
        """The bare aiohttp endpoint on each loop available. The figure that counts compares
        mutual_rooms with the ceiling of its own stack: the bare endpoint on the same loop."""
        p = self.params
        loops = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") else [])
        same = "asyncio" if self.remote else self.minihs_event_loop()
        ceiling_target = "/ceiling?user_id=%40b%3Alocalhost"
        ceiling_headers = {"Authorization": "Bearer x"}
        by_loop: dict[str, dict[str, Any]] = {}
        ceilings: dict[str, ServerProcess] = {}
        async with new_session(self.opts.connections) as session:
            try:
                for loop in loops:
                    server = ServerProcess([str(Path(__file__).resolve()), "--internal-ceiling-server", loop],
                                           self.workdir, f"ceiling-{loop}")
                    self.servers.append(server)
                    await server.start(session)
                    ceilings[loop] = server
                    by_loop[loop] = await self.steady_rps(session, server.base_url, ceiling_target,
                                                          ceiling_headers, server.pid, f"fig8_ceiling_{loop}")
                    by_loop[loop]["rss_mib"] = rss_mib(server.pid)
                    log(f"fig8 bare aiohttp ceiling on {loop}: {by_loop[loop]['rps']} req/s, one client "
                        f"median {by_loop[loop]['one_client']['median_ms']:.3f} ms")
                res: dict[str, Any] = {**by_loop[same], "loop": same, "by_loop": by_loop}
                if not self.remote:
                    # mutual_rooms (R=1000, S=200, first page) against each ceiling, round by round.
                    db, meta = self.seed_mutual(1000, 200)
                    mutual = await self.start_minihs("fig8-mutual", *self.prod_args(db), session=session)
                    a_token = meta["a"]["access_token"]
                    for loop in [same] + [x for x in loops if x != same]:
                        log(f"fig8 ceiling on {loop} and mutual_rooms R=1000 S=200 (minihs on {same}), "
                            "alternating rounds")
                        key = ("paired_with_mutual_R1000_S200" if loop == same
                               else f"paired_with_mutual_R1000_S200_vs_{loop}_ceiling")
                        res[key] = await self.paired_rounds(
                            session,
                            {"base_url": ceilings[loop].base_url, "target": ceiling_target,
                             "headers": ceiling_headers, "pid": ceilings[loop].pid},
                            {"base_url": mutual.base_url,
                             "target": mutual_target({"user_id": meta["b"]["user_id"]}),
                             "headers": {"Authorization": f"Bearer {a_token}"}, "pid": mutual.pid},
                            rounds=3 if self.opts.quick else 6,
                            seconds=max(0.25, p["rps_s"] / 3),
                        )
                    await self.stop(mutual)
            finally:
                for server in ceilings.values():
                    await self.stop(server)
        self.results["8_ceiling"] = res

    # -- run everything --

    async def run(self) -> None:
        self.config_path = (write_bench_config(self.workdir / "bench.yaml", self.opts.event_loop)
                            if not self.remote else None)
        try:
            if not self.remote and self.wants(1):
                await self.figure1()
            if not self.remote and self.wants(2):
                await self.figure2()
            if self.wants(3) or self.wants(4) or self.wants(5) or (self.wants(7) and not self.remote):
                await self.figures_3_4_5()
            if self.wants(6):
                await self.figure6()
            if self.wants(8):
                await self.figure8()
        finally:
            for server in list(self.servers):
                await server.stop()


# --- summary ---------------------------------------------------------------------------------


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The figures the targets talk about, pulled out of the detailed results."""
    h: dict[str, Any] = {}

    def get(*path):
        node: Any = results
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def ms_to_s(v):
        return None if v is None else v / 1000

    h["cold_start_empty_s"] = ms_to_s(get("1_cold_start", "empty", "median_ms"))
    h["cold_start_seeded_s"] = ms_to_s(get("1_cold_start", "seeded", "median_ms"))
    h["cold_start_seeded_rss_mib"] = get("1_cold_start", "seeded", "rss_mib_max")
    h["register_login_production_ms"] = get("3_register_login", "production", "median_ms") or get(
        "3_register_login", "remote", "median_ms")
    h["register_login_testing_ms"] = get("3_register_login", "testing", "median_ms")
    h["create_room_per_s"] = get("4_create_room", "production", "rooms_per_s") or get(
        "4_create_room", "remote", "rooms_per_s")
    h["join_leave_ops_per_s"] = get("5_join_leave", "production", "ops_per_s") or get(
        "5_join_leave", "remote", "ops_per_s")
    h["mutual_after_change_1000_200_ms"] = get("6_mutual_rooms", "R1000_S200", "first_page_after_change", "median_ms")
    h["mutual_first_page_10000_5000_ms"] = get("6_mutual_rooms", "R10000_S5000", "first_page_after_change", "median_ms")
    paired = get("8_ceiling", "paired_with_mutual_R1000_S200")
    if paired:
        h["mutual_vs_ceiling_ratio"] = paired["rps_ratio_b_over_a_median"]
        h["mutual_vs_ceiling_cpu_ratio"] = paired.get("server_cpu_ratio_a_over_b_median")
    else:
        mutual_rps = get("6_mutual_rooms", "R1000_S200", "first_page_steady", "rps")
        ceiling_rps = get("8_ceiling", "rps")
        h["mutual_vs_ceiling_ratio"] = (
            round(mutual_rps / ceiling_rps, 3) if mutual_rps and ceiling_rps else None
        )
        mutual_cpu = get("6_mutual_rooms", "R1000_S200", "first_page_steady", "server_cpu_us_per_request")
        ceiling_cpu = get("8_ceiling", "server_cpu_us_per_request")
        h["mutual_vs_ceiling_cpu_ratio"] = (
            round(ceiling_cpu / mutual_cpu, 3) if mutual_cpu and ceiling_cpu else None
        )
    other = get("8_ceiling", "paired_with_mutual_R1000_S200_vs_asyncio_ceiling")
    if other:  # minihs on uvloop against the bare endpoint on asyncio's loop: for scale only
        h["mutual_vs_asyncio_ceiling_ratio"] = other["rps_ratio_b_over_a_median"]
    h["ceiling_loop"] = get("8_ceiling", "loop")
    h["rss_after_1000_mib"] = get("7_memory", "after_R1000_S200_mib")
    return h


def verdicts(h: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, (op, target, synapse) in TARGETS.items():
        value = h.get(key)
        ok = None
        if value is not None:
            ok = {"<": value < target, ">": value > target, ">=": value >= target}[op]
        rows.append({"figure": key, "measured": value, "target": f"{op} {target:g}",
                     "synapse": synapse, "meets": ok})
    return rows


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(summary: dict[str, Any]) -> str:
    lines = []
    m = summary["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
                 f"aiohttp {m['aiohttp']}, SQLite {m['sqlite']}, load at start {m['loadavg_at_start']}")
    lines.append("")
    lines.append(f"{'figure':38} {'measured':>12} {'target':>10} {'meets':>6}  synapse")
    for row in summary["targets"]:
        meets = {True: "yes", False: "NO", None: "-"}[row["meets"]]
        lines.append(f"{row['figure']:38} {fmt(row['measured']):>12} {row['target']:>10} {meets:>6}  {row['synapse']}")
    r = summary["results"]
    if "2_in_process" in r and "start" in r["2_in_process"]:
        f2 = r["2_in_process"]
        lines.append("")
        lines.append(f"MinihsServer: start median {fmt(f2['start']['median_ms'])} ms p95 {fmt(f2['start']['p95_ms'])} ms; "
                     f"reset median {fmt(f2['reset']['median_ms'])} ms p95 {fmt(f2['reset']['p95_ms'])} ms; "
                     f"first start incl. import {fmt(f2.get('first_start_with_import_ms'))} ms")
    if "6_mutual_rooms" in r:
        lines.append("")
        lines.append(f"{'mutual_rooms':14} {'1st page ms':>16} {'walk ms':>18} {'pages':>5} {'req/s':>8} "
                     f"{'srv us/req':>10} {'small ms':>9} {'RSS MiB':>13}")
        for key, s in r["6_mutual_rooms"].items():
            if "first_page_after_change" not in s:
                lines.append(f"{key:14} {s.get('skipped', '')}")
                continue
            f = s["first_page_after_change"]
            w = s.get("full_walk_after_change", {})
            st = s["first_page_steady"]
            small = s.get("small_partner", {}).get("first_page_after_change", {}).get("median_ms")
            lines.append(
                f"{key:14} {fmt(f['median_ms']):>7} p95 {fmt(f['p95_ms']):>6} "
                f"{fmt(w.get('median_ms')):>8} p95 {fmt(w.get('p95_ms')):>6} {fmt(w.get('pages')):>5} "
                f"{fmt(st['rps']):>8} {fmt(st.get('server_cpu_us_per_request')):>10} {fmt(small):>9} "
                f"{fmt(s.get('rss_after_start_mib')):>6}/{fmt(s.get('rss_after_benchmark_mib')):>6}")
    if "8_ceiling" in r:
        c = r["8_ceiling"]
        lines.append("")
        for loop, lc in c.get("by_loop", {c.get("loop", "asyncio"): c}).items():
            lines.append(f"ceiling (bare aiohttp on {loop}): {fmt(lc['rps'])} req/s over {lc['connections']} "
                         f"connections, server {fmt(lc.get('server_cpu_us_per_request'))} us/req; one client "
                         f"median {fmt(lc['one_client']['median_ms'])} ms")
        for key, pr in c.items():
            if not key.startswith("paired_with_mutual_R1000_S200"):
                continue
            versus = key.rpartition("_vs_")[2].replace("_ceiling", "") if "_vs_" in key else c.get("loop", "asyncio")
            lines.append(f"  alternating rounds, mutual_rooms R1000 S200 / ceiling on {versus}: req/s ratio "
                         f"{fmt(pr['rps_ratio_b_over_a_median'])} (median of {pr['rounds']}), server CPU "
                         f"{fmt(pr.get('server_cpu_us_b_median'))} vs {fmt(pr.get('server_cpu_us_a_median'))} us/req "
                         f"(ratio {fmt(pr.get('server_cpu_ratio_a_over_b_median'))}); one client "
                         f"{fmt(pr['one_client_median_ms_b'])} vs {fmt(pr['one_client_median_ms_a'])} ms")
    if "7_memory" in r:
        lines.append(f"memory: {json.dumps(r['7_memory'])}")
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: str) -> None:
    """mutual_rooms latency against R (log-log). matplotlib is imported only here."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [v for v in summary["results"].get("6_mutual_rooms", {}).values()
            if "first_page_after_change" in v]
    if not rows:
        log("nothing to plot: no mutual_rooms scenario ran")
        return
    rows.sort(key=lambda v: v["rooms_each"])
    xs = [v["rooms_each"] for v in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    series = [
        ("first page after a change (A,B)", [v["first_page_after_change"]["median_ms"] for v in rows], "o-"),
        ("full walk after a change (A,B)", [v.get("full_walk_after_change", {}).get("median_ms") for v in rows], "s-"),
        ("first page, steady, one client", [v["first_page_steady"]["one_client"]["median_ms"] for v in rows], "^--"),
        ("first page after a change (A,C: C in 100 rooms)",
         [v.get("small_partner", {}).get("first_page_after_change", {}).get("median_ms") for v in rows], "d:"),
    ]
    for label, ys, style in series:
        pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], style, label=label)
    for v in rows:
        ax.annotate(f"S={v['shared']}", (v["rooms_each"], v["first_page_after_change"]["median_ms"]),
                    textcoords="offset points", xytext=(4, -12), fontsize=7)
    ceiling = summary["results"].get("8_ceiling", {}).get("one_client", {}).get("median_ms")
    if ceiling:
        ax.axhline(ceiling, color="grey", linewidth=0.8, linestyle="-.", label="bare aiohttp ceiling")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("R: rooms each user is in")
    ax.set_ylabel("median latency (ms)")
    m = summary["machine"]
    ax.set_title(f"minihs mutual_rooms latency vs R ({m['cores']} cores, Python {m['python']})", fontsize=9)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    log(f"plot written to {path}")


# --- internal child modes -------------------------------------------------------------------


def internal_fig2(starts: int, resets: int) -> None:
    """Figure 2 in a fresh interpreter: import, first start, later starts, reset()."""
    t0 = time.perf_counter()
    from minihs.testing import MinihsServer

    import_s = time.perf_counter() - t0
    server = MinihsServer()
    t1 = time.perf_counter()
    server.start()
    first_start = time.perf_counter() - t1
    reset_times = []
    for i in range(resets):
        user = server.register_user(f"r{i}")
        server.create_room(user, preset="public_chat")
        t = time.perf_counter()
        server.reset()
        reset_times.append(time.perf_counter() - t)
    # The reset really forgot the user: its token no longer works.
    status = server.request("GET", "/_matrix/client/v3/account/whoami", user, expect=None)
    if not (isinstance(status, dict) and status.get("errcode") == "M_UNKNOWN_TOKEN"):
        raise SystemExit(f"reset() left the user behind: {status}")
    server.stop()
    start_times, stop_times = [], []
    for _ in range(starts):
        s = MinihsServer()
        t = time.perf_counter()
        s.start()
        start_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        s.stop()
        stop_times.append(time.perf_counter() - t)
    print(json.dumps({
        "import_ms": round(import_s * 1000, 1),
        "first_start_with_import_ms": round((import_s + first_start) * 1000, 1),
        "first_start_ms": round(first_start * 1000, 1),
        "start": latency_summary(start_times),
        "stop": latency_summary(stop_times),
        "reset": latency_summary(reset_times),
        "reset_after": "one user registered and one room created before each reset",
    }))


def internal_ceiling_server(loop: str) -> None:
    """A bare aiohttp endpoint answering a mutual_rooms-shaped body of 100 room IDs, on
    asyncio's event loop or uvloop."""
    import base64

    from aiohttp import web

    def room_id(i: int) -> str:
        digest = hashlib.sha256(str(i).encode()).digest()
        return "!" + base64.urlsafe_b64encode(digest).decode().rstrip("=")

    rooms = sorted(room_id(i) for i in range(200))[:100]
    token = "1a2b3c4d." + base64.urlsafe_b64encode(rooms[-1].encode()).decode().rstrip("=") + ".abcdefghijklmnopqrstuv"

    async def ceiling(request: web.Request) -> web.Response:
        body = {"joined": rooms, "count": 200, "next_batch": token}
        return web.Response(text=json.dumps(body, separators=(",", ":")), content_type="application/json")

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/ceiling", ceiling)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(f"ceiling listening on http://127.0.0.1:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await runner.cleanup()

    if loop == "uvloop":
        import uvloop

        uvloop.run(serve())
    else:
        asyncio.run(serve())


# --- command line ------------------------------------------------------------------------


def parse_scenarios(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        rooms, _, shared = part.partition(":")
        out.append((int(rooms), int(shared)))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts and scenarios: under 30 s")
    parser.add_argument("--figures", default="1,2,3,4,5,6,7,8", help="which figures (default: all)")
    parser.add_argument("--scenarios", help="mutual_rooms scenarios as R:S,R:S (default: the issue's four)")
    parser.add_argument("--base-url", help="benchmark this running homeserver instead of starting minihs")
    parser.add_argument("--server-pid", type=int, help="with --base-url: PID of that server, for memory and CPU")
    parser.add_argument("--http-max-rooms", type=int, default=2000,
                        help="with --base-url: skip scenarios that need more rooms built over HTTP")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections for req/s")
    parser.add_argument("--load-client", choices=("aiohttp", "raw"), default="aiohttp",
                        help="client for the req/s figures: aiohttp (default) or a minimal raw "
                        "HTTP/1.1 client that leaves more of the 2 cores to the server")
    parser.add_argument("--rps-seconds", type=float, help="override: seconds of each req/s and load run")
    parser.add_argument("--trials", type=int, help="override: first-page trials (walks: a quarter, at least 2)")
    parser.add_argument("--cache-dir", default=os.environ.get("MINIHS_BENCH_CACHE",
                        str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "minihs-bench")),
                        help="where seeded databases are kept between runs")
    parser.add_argument("--reseed", action="store_true", help="rebuild cached seeded databases")
    parser.add_argument("--quiet-seed", action="store_true", help="no seeding progress")
    parser.add_argument("--json", help="also write the JSON summary to this file")
    parser.add_argument("--plot", help="draw mutual_rooms latency against R into this PNG (needs matplotlib)")
    parser.add_argument("--py-spy", dest="py_spy", help="sample the server with py-spy during load phases; "
                        "raw stacks and top functions go to this directory")
    parser.add_argument("--server-prelude", help="Python code the minihs subprocess runs before "
                        "minihs itself, for experiments (e.g. 'import sys; sys.setswitchinterval(0.0005)')")
    parser.add_argument("--internal-fig2", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--event-loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                        help="minihs's event_loop setting for the servers the script starts "
                        "(default auto: uvloop when installed, as minihs itself does)")
    parser.add_argument("--internal-ceiling-server", choices=("asyncio", "uvloop"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.figure_set = {int(x) for x in args.figures.split(",") if x.strip()}
    args.scenario_list = parse_scenarios(args.scenarios) if args.scenarios else None
    return args


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    params = dict(QUICK if args.quick else FULL)
    if args.rps_seconds is not None:
        params.update(rps_s=args.rps_seconds, create_s=args.rps_seconds, joinleave_s=args.rps_seconds)
    if args.trials is not None:
        params.update(first_page_trials=args.trials, walk_trials=max(2, args.trials // 4),
                      steady_latency_n=args.trials * 4)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="minihs-bench-") as tmp:
        bench = Bench(args, params, Path(tmp), Path(args.cache_dir),
                      Profiler(Path(args.py_spy) if args.py_spy else None))
        await bench.run()
    h = headline(bench.results)
    summary = {
        "machine": machine_info(),
        "mode": "quick" if args.quick else "full",
        "server": args.base_url or "minihs (started by the benchmark)",
        "event_loop": None if args.base_url else bench.minihs_event_loop(),
        "seconds": round(time.perf_counter() - began, 1),
        "headline": h,
        "targets": verdicts(h),
        "results": bench.results,
    }
    if bench.profiler.results:
        summary["profiles"] = bench.profiler.results
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.internal_fig2:
        internal_fig2(*args.internal_fig2)
        return 0
    if args.internal_ceiling_server:
        internal_ceiling_server(args.internal_ceiling_server)
        return 0
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("--plot needs matplotlib: pip install matplotlib", file=sys.stderr)
            return 2
    summary = asyncio.run(amain(args))
    print(table(summary), file=sys.stderr)
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    if args.plot:
        plot(summary, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
