"""A server under test in a subprocess: ``python -m minihs`` (or the ceiling server), and the
configuration the benchmark starts minihs with."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from .common import REPO, START_TIMEOUT_S, BenchError


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
        await stop_process(self.proc)
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


async def stop_process(proc: asyncio.subprocess.Process, grace_s: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace_s``; returns once it is gone."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace_s)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
