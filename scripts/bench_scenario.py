#!/usr/bin/env python
"""How fast does a big scenario load? Prints one JSON summary.

The scenario (issue 16's figure): 1,000 users and 1,000 public rooms of 20 members each (room i
is created by user i; users i+1 ... i+19 join it), nothing else. It is loaded into a fresh
in-process ``MinihsServer`` (testing profile) three ways, each timed from the call to the
answer (wall clock, and the process's CPU time, which other load on the machine does not
inflate as much) and checked afterwards (users' joined_rooms counts, one room's members):

- ``python_api``: ``server.load_scenario(mapping)``, the Python API;
- ``admin_api_json``: ``POST /_minihs/admin/scenario`` with the JSON text;
- ``python_api_yaml``: ``server.load_scenario(path)`` of the same scenario as a YAML file (the
  YAML parser's share is reported beside it).

Target (issue 16): under 2 s. ``--rounds`` repeats each (fresh server each time; the median and
the minimum are reported). ``--quick`` loads a small scenario once each way, for the suite: no
timing is asserted, only that it loads and checks out.

Usage: python scripts/bench_scenario.py [--quick] [--rounds N] [--profile FILE.html]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from minihs.testing import MinihsServer  # noqa: E402

TARGET_S = 2.0


def make_scenario(users: int, rooms: int, members: int) -> dict[str, Any]:
    names = [f"user{i:04d}" for i in range(users)]
    return {
        "users": {name: {"password": "bench"} for name in names},
        "rooms": {
            f"room{i:04d}": {
                "creator": names[i % users],
                "preset": "public_chat",
                "members": {"joined": [names[(i + j) % users] for j in range(1, members)]},
            }
            for i in range(rooms)
        },
    }


def check(server: MinihsServer, raw: dict[str, Any], scenario: dict[str, Any]) -> None:
    """Every user is in the rooms the scenario puts them in, and one room has its members."""
    expected: dict[str, int] = {name: 0 for name in scenario["users"]}
    for room in scenario["rooms"].values():
        for name in {room["creator"], *room["members"]["joined"]}:
            expected[name] += 1
    for name in list(expected)[:: max(1, len(expected) // 50)]:
        user = raw["users"][name]
        headers = {"Authorization": f"Bearer {user['access_token']}"}
        joined = server.request("GET", "/_matrix/client/v3/joined_rooms", headers=headers)
        assert len(joined["joined_rooms"]) == expected[name], (name, joined, expected[name])
    first = next(iter(scenario["rooms"]))
    room_id = raw["rooms"][first]["room_id"]
    creator = raw["users"][scenario["rooms"][first]["creator"]]
    members = server.request(
        "GET",
        f"/_matrix/client/v3/rooms/{urllib.request.quote(room_id, safe='')}/joined_members",
        headers={"Authorization": f"Bearer {creator['access_token']}"},
    )["joined"]
    want = {raw["users"][n]["user_id"] for n in [scenario["rooms"][first]["creator"],
                                                 *scenario["rooms"][first]["members"]["joined"]]}
    assert set(members) == want, (set(members) ^ want)


def through_admin_api(server: MinihsServer, text: bytes) -> dict[str, Any]:
    request = urllib.request.Request(
        server.base_url + "/_minihs/admin/scenario",
        data=text,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


def timed(load: Callable[[MinihsServer], dict[str, Any]], scenario: dict[str, Any], rounds: int,
          config: dict[str, Any]) -> tuple[list[float], list[float]]:
    samples, cpu = [], []
    for _ in range(rounds):
        with MinihsServer(config) as server:
            start, start_cpu = time.perf_counter(), time.process_time()
            raw = load(server)
            samples.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            check(server, raw, scenario)
    return samples, cpu


def profile(scenario: dict[str, Any], config: dict[str, Any], html_path: str) -> None:
    """One load, sampled on the server's thread (where the load runs; the database thread's
    share shows as waiting)."""
    from pyinstrument import Profiler

    async def load(homeserver: Any) -> None:
        profiler = Profiler(async_mode="disabled")
        profiler.start()
        try:
            await homeserver.load_scenario(scenario)
        finally:
            profiler.stop()
        Path(html_path).write_text(profiler.output_html(), encoding="utf-8")
        print(profiler.output_text(), file=sys.stderr)

    with MinihsServer(config) as server:
        server.on_server(load, timeout=600)


def yaml_parse_seconds(text: str) -> float:
    import yaml

    start = time.perf_counter()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        loader.construct_document(loader.get_single_node())
    finally:
        loader.dispose()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small scenario, once each way")
    parser.add_argument("--rounds", type=int, default=3, help="loads per way (default 3)")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--members", type=int, default=20, help="members per room, creator included")
    parser.add_argument("--profile", metavar="HTML", help="profile one in-process load (pyinstrument)")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.rooms, args.members, args.rounds = 60, 30, 8, 1
    scenario = make_scenario(args.users, args.rooms, args.members)
    json_text = json.dumps(scenario).encode("utf-8")
    # The admin API takes bodies up to limits.max_request_body_bytes: room for this one.
    config = {"limits": {"max_request_body_bytes": max(1 << 20, 2 * len(json_text))}}

    import yaml

    yaml_text = yaml.safe_dump(scenario, sort_keys=False)
    yaml_parse_s = min(yaml_parse_seconds(yaml_text) for _ in range(args.rounds))
    with tempfile.TemporaryDirectory() as directory:
        yaml_path = os.path.join(directory, "scenario.yaml")
        Path(yaml_path).write_text(yaml_text, encoding="utf-8")
        if args.profile:
            profile(scenario, config, args.profile)
        ways = {
            "python_api": lambda server: server.load_scenario(scenario).raw,
            "admin_api_json": lambda server: through_admin_api(server, json_text),
            "python_api_yaml": lambda server: server.load_scenario(yaml_path).raw,
        }
        results: dict[str, Any] = {}
        for name, load in ways.items():
            samples, cpu = timed(load, scenario, args.rounds, config)
            results[name] = {
                "median_s": round(statistics.median(samples), 3),
                "min_s": round(min(samples), 3),
                "samples_s": [round(s, 3) for s in samples],
                # CPU seconds of the whole process (server thread, database thread, client):
                # what the load costs whatever else the machine is doing.
                "cpu_median_s": round(statistics.median(cpu), 3),
            }
    summary = {
        "scenario": {
            "users": args.users,
            "rooms": args.rooms,
            "members_per_room": args.members,
            "memberships": args.rooms * args.members,
            "json_bytes": len(json_text),
            "yaml_bytes": len(yaml_text.encode("utf-8")),
        },
        "load": results,
        # PyYAML's C parser alone, on this text (the least of --rounds runs, before any load).
        "yaml_parse_s": round(yaml_parse_s, 3),
        "target_s": None if args.quick else TARGET_S,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
