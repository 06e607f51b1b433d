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

The parts are in ``scripts/benchkit/``: this file parses the flags and runs the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The parts live in scripts/benchkit/ (this file's directory is on sys.path when it runs as a script).
from benchkit import ceiling, cold_start, mutual_rooms, workload
from benchkit.common import FULL, QUICK
from benchkit.context import Bench
from benchkit.machine import machine_info
from benchkit.profiling import Profiler
from benchkit.report import headline, plot, table, verdicts
from benchkit.server import write_bench_config


async def run_figures(bench: Bench) -> None:
    """The figures asked for, in order; every server started is stopped, whatever happens."""
    bench.config_path = (write_bench_config(bench.workdir / "bench.yaml", bench.opts.event_loop)
                         if not bench.remote else None)
    try:
        if not bench.remote and bench.wants(1):
            await cold_start.figure1(bench)
        if not bench.remote and bench.wants(2):
            await cold_start.figure2(bench)
        if bench.wants(3) or bench.wants(4) or bench.wants(5) or (bench.wants(7) and not bench.remote):
            await workload.figures_3_4_5(bench)
        if bench.wants(6):
            await mutual_rooms.figure6(bench)
        if bench.wants(8):
            await ceiling.figure8(bench)
    finally:
        for server in list(bench.servers):
            await server.stop()


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
        await run_figures(bench)
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
        cold_start.internal_fig2(*args.internal_fig2)
        return 0
    if args.internal_ceiling_server:
        ceiling.internal_ceiling_server(args.internal_ceiling_server)
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
