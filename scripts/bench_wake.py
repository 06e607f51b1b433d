#!/usr/bin/env python3
"""Wake latency measured inside the server: from a message's commit to the waiting /sync's answer.

``scripts/bench_stream.py`` can only bracket "commit to wake" from the client, which sees neither
the commit nor the server's answer being built. This script runs minihs in-process (the testing
profile, an in-memory database, uvloop when installed) and times, on the server's own clock:

- **commit**: the change stream is told of the committed message (``Stream.notify``, called
  from the commit's callback: the moment the message is durable and visible);
- **answered**: bob's waiting ``/sync`` has built its answer and returns it to aiohttp, which
  then writes it to the socket.

Bob waits in ``/sync?since=...&timeout=30000``; alice sends a message into their room over HTTP;
one round at a time. Prints the median, p95 and max over ``--rounds`` rounds as JSON.

    python scripts/bench_wake.py --rounds 500

A figure for BENCHMARKS.md, not a test: nothing here fails on a slow number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit.in_process import serving, spread_ms  # noqa: E402

from minihs.api.app import create_app  # noqa: E402
from minihs.api.event_loop import loop_factory, run  # noqa: E402
from minihs.api.request import HOMESERVER  # noqa: E402
from minihs.config import Config, apply_testing_profile  # noqa: E402

CLIENT = "/_matrix/client/v3"


async def register(http: aiohttp.ClientSession, name: str) -> dict:
    body = {"username": name, "password": "wake-bench", "auth": {"type": "m.login.dummy"}}
    async with http.post(f"{CLIENT}/register", json=body) as reply:
        return await reply.json()


def clocked(hs) -> tuple[list[float], list[float]]:
    """Time, on the server's own clock, each commit reaching the change stream and each /sync
    answer being handed back; returns the two lists of times, appended to as they happen."""
    commits: list[float] = []
    answers: list[float] = []
    notify, sync = hs.stream.notify, hs.sync.sync

    def timed_notify(users, position):  # the commit callback reaches the stream
        commits.append(time.perf_counter())
        notify(users, position)

    async def timed_sync(request):  # the sync's answer is built and handed back
        response = await sync(request)
        answers.append(time.perf_counter())
        return response

    hs.stream.notify = timed_notify
    hs.sync.sync = timed_sync
    return commits, answers


async def measure(rounds: int) -> dict:
    config = apply_testing_profile(Config())
    app = create_app(config)
    latencies: list[float] = []
    async with serving(app) as base_url:
        hs = app[HOMESERVER]  # made when the app starts
        commits, answers = clocked(hs)
        async with aiohttp.ClientSession(base_url) as http:
            alice, bob = await register(http, "alice"), await register(http, "bob")
            as_alice = {"Authorization": f"Bearer {alice['access_token']}"}
            as_bob = {"Authorization": f"Bearer {bob['access_token']}"}
            async with http.post(f"{CLIENT}/createRoom", json={"preset": "public_chat"}, headers=as_alice) as r:
                room = (await r.json())["room_id"]
            async with http.post(f"{CLIENT}/join/{room}", json={}, headers=as_bob) as r:
                assert r.status == 200
            async with http.get(f"{CLIENT}/sync", headers=as_bob) as r:
                since = (await r.json())["next_batch"]
            for round_number in range(rounds):
                waiting = asyncio.ensure_future(
                    http.get(f"{CLIENT}/sync", params={"since": since, "timeout": "30000"}, headers=as_bob)
                )
                while hs.stream.waiting() == 0:
                    await asyncio.sleep(0.0005)
                commits.clear()
                answers.clear()
                async with http.put(
                    f"{CLIENT}/rooms/{room}/send/m.room.message/t{round_number}",
                    json={"msgtype": "m.text", "body": f"round {round_number}"},
                    headers=as_alice,
                ) as r:
                    assert r.status == 200
                reply = await waiting
                since = (await reply.json())["next_batch"]
                reply.release()
                if commits and answers:
                    latencies.append((answers[-1] - commits[0]) * 1000)
    return {"rounds": len(latencies), "commit_to_answer_ms": spread_ms(latencies)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args(argv)
    result = run(measure(args.rounds), loop_factory("auto"))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
