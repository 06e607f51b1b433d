#!/usr/bin/env python3
"""The inspector at scale (issue 17): how long each read of the page takes on a server holding
10,000 rooms, 2,000 more users and 100,000 logged requests.

The world is the one ``tests/test_inspector_scale.py`` checks (``benchkit.inspector_world``):
two users' 10,000 rooms seeded into a file database, 2,000 other users, the request log filled
on the server's loop. Each call of the page (the same list the test checks) is made ``--rounds``
times over HTTP from this process to the in-process ``MinihsServer``, after one call not counted;
each time is from sending the request to having read the whole answer. Prints median, p95 and
max in ms and the answer's size per call, and, with ``--json``, the figures as JSON.

    python scripts/bench_inspector.py              # the full world, 200 rounds per call
    python scripts/bench_inspector.py --quick      # a small world, 5 rounds (the test suite's)

A figure for BENCHMARKS.md, not a test: nothing here fails on a slow number.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit.in_process import spread_ms  # noqa: E402
from benchkit.inspector_world import (  # noqa: E402
    FULL, QUICK, WorldSize, get, inspector_world, page_calls,
)
from benchkit.machine import machine_info  # noqa: E402


def measure(size: WorldSize, rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="minihs-bench-inspector-") as directory:
        started = time.perf_counter()
        with inspector_world(Path(directory), size) as (server, targets):
            built_s = time.perf_counter() - started
            calls = {}
            for name, (path, _) in page_calls(targets).items():
                get(server, path)
                samples_ms = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    raw = get(server, path)
                    samples_ms.append((time.perf_counter() - started) * 1000)
                calls[name] = {**spread_ms(samples_ms), "n": rounds, "bytes": len(raw)}
    return {"world": {"rooms": size.rooms, "users": size.extra_users + 2,
                      "logged_requests": size.logged, "built_s": round(built_s, 1)},
            "calls": calls}


def load_average() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def table(results: dict) -> str:
    world = results["world"]
    lines = [
        f"{world['rooms']:,} rooms, {world['users']:,} users, {world['logged_requests']:,} "
        f"logged requests (built in {world['built_s']} s)",
        f"{'call':<28} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'bytes':>8}",
    ]
    for name, row in results["calls"].items():
        lines.append(f"{name:<28} {row['median']:>10.2f} {row['p95']:>8.2f} {row['max']:>8.2f} "
                     f"{row['bytes']:>8,}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="per call")
    parser.add_argument("--quick", action="store_true",
                        help="100 rooms, 22 users, 1,000 logged requests, 5 rounds per call")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    size, rounds = (QUICK, 5) if args.quick else (FULL, args.rounds)
    machine = machine_info()
    results = measure(size, rounds)
    machine["loadavg_at_end"] = load_average()
    print(table(results))
    print(f"load average at start {machine['loadavg_at_start']}, at end {machine['loadavg_at_end']}")
    if args.json:
        document = {"machine": machine, "args": {"quick": args.quick, "rounds": rounds},
                    "results": results}
        Path(args.json).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
