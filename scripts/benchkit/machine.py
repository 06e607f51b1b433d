"""The machine and the processes measured: CPU and memory from /proc, the code version."""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp

from .common import CLK_TCK, REPO


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
    minihs's database thread, password hashing threads, and the interpreter's own)."""
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
