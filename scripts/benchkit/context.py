"""One benchmark run: its options and sizes, the servers it started, cached seeded databases, and
the measurements several figures share (requests per second, one-client latency, paired rounds)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp

from .client import User, load
from .common import REPO, SMALL_PARTNER, BenchError, log
from .machine import CpuMeter
from .profiling import Profiler
from .rawhttp import RawAsyncConnection, RawHttp
from .server import ServerProcess
from .stats import latency_summary, percentile


@dataclass
class Bench:
    """A run: the flags (``opts``), the sizes (``params``: QUICK or FULL with overrides), where
    its files go, and ``results`` keyed by figure. The figure modules take it as their argument."""

    opts: argparse.Namespace
    params: dict[str, Any]
    workdir: Path
    cache_dir: Path
    profiler: Profiler
    results: dict[str, Any] = field(default_factory=dict)
    servers: list[ServerProcess] = field(default_factory=list)
    # The configuration file minihs servers start with (None against --base-url).
    config_path: Path | None = None

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

    # -- measurements shared by figures 6 and 8 --

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

    def minihs_event_loop(self) -> str:
        """The loop the minihs servers of this run use: what ``--event-loop auto`` resolves to
        in this interpreter, as minihs resolves it."""
        if self.opts.event_loop != "auto":
            return self.opts.event_loop
        return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
