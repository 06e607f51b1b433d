#!/usr/bin/env python3
"""Snapshot restore time on a server holding 10,000 events (issue 16's target: under 5 ms).

Builds the world in-process through the domain (the same code the HTTP handlers call): users,
public rooms, joins, then messages until the database holds ``--events`` room events. Takes a
snapshot, then times ``--restores`` restores two ways, each after a write that the restore
undoes (one message, not timed):

- **in-process**: ``await homeserver.restore_snapshot(name)``, what ``MinihsServer.restore``
  runs on the server's loop (the request gate, the database step, memory rebuilt);
- **admin HTTP**: ``POST /_minihs/admin/snapshots/{name}/restore`` from an aiohttp client on
  the same loop, answer read (the server's whole path plus one local HTTP round trip).

Both for an in-memory database (the testing profile's) and a file database in WAL mode.
Prints a table (median, p95, max in ms) and, with ``--json``, the figures as JSON.

    python scripts/bench_snapshots.py                 # 10,000 events, 200 restores per row
    python scripts/bench_snapshots.py --quick         # a small run (the test suite's)

A figure for BENCHMARKS.md, not a test: nothing here fails on a slow number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit.in_process import serving, spread_ms  # noqa: E402

from minihs.api.app import create_app  # noqa: E402
from minihs.api.event_loop import loop_factory, run  # noqa: E402
from minihs.api.request import HOMESERVER  # noqa: E402
from minihs.config import Config, apply_testing_profile, config_from_dict  # noqa: E402
from minihs.domain.room_creation import CreateRoomRequest  # noqa: E402

NAME = "bench"
# Sends in flight at once while building: the database thread commits them as groups.
BUILD_CONCURRENCY = 64


async def build_world(hs, events: int, users: int, rooms: int) -> int:
    """Users, rooms and joins, then messages until ``events`` room events; the count reached."""
    requesters = []
    for i in range(users):
        session = await hs.accounts.register(f"user{i}", "bench-password")
        requesters.append(await hs.accounts.requester_for_token(session.access_token))
    room_ids = []
    for r in range(rooms):
        creator = requesters[r % users]
        room_ids.append(
            await hs.rooms.create_room(creator.user_id, CreateRoomRequest(preset="public_chat"))
        )
    # Each user joins a handful of rooms: memberships for the index to rebuild.
    for i, who in enumerate(requesters):
        for k in range(1, 4):
            room_id = room_ids[(i + k) % rooms]
            await hs.rooms.join(who.user_id, room_id, {})
    count = await count_events(hs)
    sent = 0
    while count < events:
        batch = min(BUILD_CONCURRENCY, events - count)
        sends = []
        for _ in range(batch):
            who = requesters[sent % users]
            room_id = room_ids[(sent % users + 1) % rooms]
            content = {"msgtype": "m.text", "body": f"message {sent} " + "x" * 40}
            sends.append(hs.messages.send(who, room_id, "m.room.message", f"t{sent}", content))
            sent += 1
        await asyncio.gather(*sends)
        count += batch
    return await count_events(hs)


async def count_events(hs) -> int:
    return await hs.db.read(lambda conn: conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def summary(samples_ms: list[float]) -> dict:
    return {"n": len(samples_ms), **spread_ms(samples_ms)}


async def measure(database: str, args: argparse.Namespace) -> dict:
    overrides = {"database": {"path": database}} if database != ":memory:" else {}
    config = config_from_dict(overrides, base=apply_testing_profile(Config()))
    app = create_app(config)
    async with serving(app) as base_url:
        hs = app[HOMESERVER]  # made when the app starts
        started = time.perf_counter()
        writer = await hs.accounts.register("writer", "bench-password")
        who = await hs.accounts.requester_for_token(writer.access_token)
        room_id = await hs.rooms.create_room(who.user_id, CreateRoomRequest(preset="public_chat"))
        events = await build_world(hs, args.events, args.users, args.rooms)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        taken = await hs.take_snapshot(NAME)
        take_ms = (time.perf_counter() - started) * 1000
        size = hs.snapshots.get(NAME).copy.size_bytes

        async def undo_me(i: int) -> None:  # a write for the restore to undo (not timed)
            content = {"msgtype": "m.text", "body": f"undone {i}"}
            await hs.messages.send(who, room_id, "m.room.message", f"u{i}", content)

        in_process = []
        for i in range(args.restores):
            await undo_me(i)
            started = time.perf_counter()
            await hs.restore_snapshot(NAME)
            in_process.append((time.perf_counter() - started) * 1000)
        over_http = []
        path = f"/_minihs/admin/snapshots/{NAME}/restore"
        async with aiohttp.ClientSession(base_url) as http:
            for i in range(args.restores):
                await undo_me(i)
                started = time.perf_counter()
                async with http.post(path) as reply:
                    await reply.read()
                    assert reply.status == 200, reply.status
                over_http.append((time.perf_counter() - started) * 1000)
        assert await count_events(hs) == taken["events"] == events  # every write undone
    return {
        "events": events,
        "snapshot_bytes": size,
        "build_s": round(build_s, 2),
        "take_ms": round(take_ms, 3),
        "in_process_ms": summary(in_process),
        "admin_http_ms": summary(over_http),
    }


def table(results: dict) -> str:
    lines = [
        f"{'database':<10} {'path':<12} {'events':>7} {'MiB':>6} "
        f"{'median ms':>10} {'p95 ms':>8} {'max ms':>8}",
    ]
    for database, result in results.items():
        mib = result["snapshot_bytes"] / 2**20
        for label, key in (("in-process", "in_process_ms"), ("admin HTTP", "admin_http_ms")):
            row = result[key]
            lines.append(
                f"{database:<10} {label:<12} {result['events']:>7} {mib:>6.1f} "
                f"{row['median']:>10.3f} {row['p95']:>8.3f} {row['max']:>8.3f}"
            )
    return "\n".join(lines)


async def measure_all(args: argparse.Namespace) -> dict:
    results = {}
    if args.database in ("memory", "both"):
        results["memory"] = await measure(":memory:", args)
    if args.database in ("file", "both"):
        with tempfile.TemporaryDirectory(prefix="minihs-bench-snapshots-") as directory:
            results["file"] = await measure(str(Path(directory) / "bench.db"), args)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--restores", type=int, default=200, help="per row")
    parser.add_argument("--database", choices=("memory", "file", "both"), default="both")
    parser.add_argument("--quick", action="store_true",
                        help="300 events, 10 users, 5 rooms, 10 restores per row")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.users, args.rooms, args.restores = 300, 10, 5, 10
    results = run(measure_all(args), loop_factory("auto"))
    print(table(results))
    if args.json:
        document = {
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "processor": platform.processor()},
            "args": {k: v for k, v in vars(args).items() if k != "json"},
            "results": results,
        }
        Path(args.json).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
