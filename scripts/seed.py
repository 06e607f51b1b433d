#!/usr/bin/env python3
"""Seed a minihs database with users, rooms and memberships, fast (no HTTP).

    python scripts/seed.py population big.db --users 100000 --memberships 1000000
    python scripts/seed.py mutual pair.db --rooms 1000 --shared 200 --tokens pair.json

``population``: many users in rooms of ``--room-size`` members drawn at random (cold-start
benchmarks). ``mutual``: users ``bench-a`` and ``bench-b`` each in ``--rooms`` rooms, ``--shared``
of them shared (Mutual Rooms benchmarks); ``--tokens`` writes their access tokens as JSON.
Then start a server on the file: ``python -m minihs --database big.db``.

Seeded rooms are real minihs rooms (see minihs/testing/seeding.py; the rows are written by minihs/store/bulk.py). Long steps print progress
to stderr. The database file may already exist (seeding adds to it) or not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from minihs.testing.seeding import Seeder, seed_mutual_rooms, seed_population  # noqa: E402


class ProgressPrinter:
    """Progress of long steps on stderr: one updating line on a terminal, else a line every 10%."""

    def __init__(self, stream=sys.stderr, quiet: bool = False) -> None:
        self._stream = stream
        self._quiet = quiet
        self._tty = stream.isatty()
        self._started: dict[str, float] = {}
        self._last_decile: dict[str, int] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        if self._quiet:
            return
        now = time.perf_counter()
        if done == 0:  # a step starts (again): time it from here
            self._started[step] = now
            self._last_decile.pop(step, None)
            return
        start = self._started.setdefault(step, now)
        elapsed = now - start
        rate = done / elapsed if elapsed > 0 else 0.0
        pct = 100.0 * done / total if total else 100.0
        eta = (total - done) / rate if rate > 0 else 0.0
        line = f"{step}: {done:,}/{total:,} ({pct:5.1f}%) {rate:,.0f}/s, eta {eta:,.0f} s"
        if self._tty:
            end = "\n" if done >= total else ""
            self._stream.write("\r" + line + end)
            self._stream.flush()
        else:
            decile = int(pct // 10)
            if decile != self._last_decile.get(step) or done >= total:
                self._last_decile[step] = decile
                self._stream.write(line + "\n")
                self._stream.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seed.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-name", default="localhost", help="must match the server's")
    parser.add_argument("--room-version", default="12", choices=("10", "11", "12"))
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    sub = parser.add_subparsers(dest="kind", required=True)

    pop = sub.add_parser("population", help="many users in rooms of random members")
    pop.add_argument("database")
    pop.add_argument("--users", type=int, default=100_000)
    pop.add_argument("--memberships", type=int, default=1_000_000)
    pop.add_argument("--room-size", type=int, default=100)

    mut = sub.add_parser("mutual", help="two users in R rooms each, S shared")
    mut.add_argument("database")
    mut.add_argument("--rooms", type=int, required=True, help="R: rooms each user is in")
    mut.add_argument("--shared", type=int, required=True, help="S: rooms both are in")
    mut.add_argument("--small", metavar="ROOMS:SHARED",
                     help="also user bench-c in ROOMS rooms, SHARED of them A's (e.g. 100:20)")
    mut.add_argument("--tokens", help="write the users' access tokens to this JSON file")

    args = parser.parse_args(argv)
    progress = ProgressPrinter(quiet=args.quiet)
    started = time.perf_counter()
    with Seeder(
        args.database,
        server_name=args.server_name,
        room_version=args.room_version,
        progress=progress,
    ) as seeder:
        if args.kind == "population":
            rooms = seed_population(
                seeder, args.users, args.memberships, room_size=args.room_size
            )
            summary = {"users": args.users, "rooms": rooms, "memberships": rooms * min(args.room_size, args.users)}
        else:
            small = None
            if args.small:
                rooms_text, _, shared_text = args.small.partition(":")
                small = (int(rooms_text), int(shared_text))
            scenario = seed_mutual_rooms(seeder, args.rooms, args.shared, small=small)
            summary = {
                "rooms_each": args.rooms,
                "shared": args.shared,
                "user_a": scenario.user_a.user_id,
                "user_b": scenario.user_b.user_id,
            }
            if args.tokens:
                with open(args.tokens, "w", encoding="utf-8") as out:
                    tokens = {
                        "user_a": vars(scenario.user_a),
                        "user_b": vars(scenario.user_b),
                        "shared_room_ids": scenario.shared_room_ids,
                    }
                    if scenario.user_c is not None:
                        tokens["user_c"] = vars(scenario.user_c)
                        tokens["c_shared_room_ids"] = scenario.c_shared_room_ids
                    json.dump(tokens, out)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
