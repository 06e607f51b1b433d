"""Figures 1 and 2: the cold start of ``python -m minihs`` (empty and seeded database), and the
in-process MinihsServer's start() and reset() (measured in a fresh interpreter)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from .client import new_session
from .common import ENTRY, REPO, BenchError, log
from .context import Bench
from .machine import rss_mib
from .stats import latency_summary, percentile


async def figure1(bench: Bench) -> None:
    """Start to first answer, a fresh process each time: empty database, then a seeded one."""
    p = bench.params
    out: dict[str, Any] = {}
    async with new_session() as session:
        times, rss = [], []
        for i in range(p["cold_empty"]):
            db = bench.workdir / f"cold-empty-{i}.db"  # does not exist yet: created and migrated
            server = await bench.start_minihs("cold-empty", *bench.prod_args(db), session=session)
            times.append(server.ready_s)
            rss.append(rss_mib(server.pid))
            await bench.stop(server)
        out["empty"] = {**latency_summary(times), "rss_mib_median": percentile(rss, 50)}
        log(f"fig1 cold start, empty database: median {out['empty']['median_ms']:.0f} ms")

        db, meta = bench.seed_population(p["seeded_users"], p["seeded_memberships"])
        times, rss, listening = [], [], []
        for _ in range(p["cold_seeded"]):
            server = await bench.start_minihs("cold-seeded", *bench.prod_args(db), session=session)
            times.append(server.ready_s)
            listening.append(server.listening_s)
            rss.append(rss_mib(server.pid))
            await bench.stop(server)
        out["seeded"] = {
            **latency_summary(times), "rss_mib_median": percentile(rss, 50),
            "rss_mib_max": max(rss), "users": meta["users"], "memberships": meta["memberships"],
            "rooms": meta["rooms"], "database_mib": round(db.stat().st_size / 2**20, 1),
        }
        log(f"fig1 cold start, {meta['memberships']:,} memberships: median "
            f"{out['seeded']['median_ms']:.0f} ms, RSS {out['seeded']['rss_mib_median']} MiB")
    bench.results["1_cold_start"] = out

# -- figure 2 --

async def figure2(bench: Bench) -> None:
    """Runs internal_fig2 in a child (``--internal-fig2``) so the import is measured cold."""
    p = bench.params
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ENTRY), "--internal-fig2",
        str(p["fig2_starts"]), str(p["fig2_resets"]),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(REPO),
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 300)
    if proc.returncode != 0:
        text = stderr.decode(errors="replace")
        if "No module named 'minihs.testing'" in text:
            bench.results["2_in_process"] = {"skipped": "minihs.testing does not exist yet"}
            log("fig2 skipped: minihs.testing does not exist yet")
            return
        raise BenchError(f"figure 2 child failed:\n{text[-3000:]}")
    out = json.loads(stdout.decode().strip().splitlines()[-1])
    bench.results["2_in_process"] = out
    log(f"fig2 MinihsServer start median {out['start']['median_ms']:.1f} ms, "
        f"reset median {out['reset']['median_ms']:.2f} ms")


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
