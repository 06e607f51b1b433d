#!/usr/bin/env python3
"""Benchmarks of the change stream (issue 15): wake latency, initial sync, idle long polls,
send throughput and /messages pages.

Usage: ``python scripts/bench_stream.py`` starts ``python -m minihs --testing`` on a file
database in a temporary directory and measures it; ``--base-url URL`` measures a server that
is already running instead (for Synapse: open registration with ``m.login.dummy``, and its rate
limits raised), so both can be reported side by side. Prints one JSON object.

- wake latency: bob waits in ``/sync?since=...&timeout=30000``; alice sends a message. Measured
  from alice's send request leaving the client to bob's sync answer arriving (an upper bound of
  "commit to wake": it includes the send's own request and commit), and from alice's send
  answer arriving (the commit is acknowledged) to bob's sync answer (0 when bob's came first).
- initial sync: one user in ``--rooms`` rooms, ``timeline.limit`` 10, a few rounds.
- idle long polls: ``--pollers`` ``/sync`` requests held at once; server RSS and CPU while idle.
- send throughput: ``--senders`` clients sending messages into one room for ``--seconds``.
- /messages: pages of 20 backwards through that room.

These are figures for BENCHMARKS.md, not tests: nothing here fails on a slow number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit.client import Api, User, quote  # noqa: E402
from benchkit.common import CLIENT  # noqa: E402
from benchkit.machine import cpu_seconds, rss_mib  # noqa: E402
from benchkit.server import ServerProcess  # noqa: E402
from benchkit.stats import latency_summary  # noqa: E402

_serial = 0


def unique(prefix: str) -> str:
    global _serial
    _serial += 1
    return f"{prefix}{int(time.time())}x{_serial}"


async def send(api: Api, user: User, room: str, body: str) -> str:
    txn = unique("t")
    _, reply = await api.call(
        "PUT", f"{CLIENT}/rooms/{quote(room)}/send/m.room.message/{txn}", user,
        body={"msgtype": "m.text", "body": body},
    )
    return reply["event_id"]


async def sync(api: Api, user: User, **params: str) -> dict[str, Any]:
    _, reply = await api.call("GET", f"{CLIENT}/sync", user, params=params)
    return reply


async def wake_latency(api: Api, rounds: int) -> dict[str, Any]:
    alice, bob = await api.register(unique("wa")), await api.register(unique("wb"))
    room = await api.create_room(alice, preset="public_chat")
    await api.join(bob, room)
    token = (await sync(api, bob, timeout="0"))["next_batch"]
    from_send, from_ack = [], []
    for n in range(rounds):
        waiting = asyncio.ensure_future(sync(api, bob, since=token, timeout="30000"))
        await asyncio.sleep(0.005)  # let the sync reach its wait
        began = time.perf_counter()
        acked: list[float] = []

        async def send_and_mark() -> None:
            await send(api, alice, room, f"ping {n}")
            acked.append(time.perf_counter())

        sender = asyncio.ensure_future(send_and_mark())
        reply = await waiting
        woke = time.perf_counter()
        await sender
        token = reply["next_batch"]
        from_send.append(woke - began)
        from_ack.append(max(0.0, woke - acked[0]))
    return {"from_send_request": latency_summary(from_send), "from_send_ack": latency_summary(from_ack)}


async def initial_sync(api: Api, rooms: int, rounds: int) -> dict[str, Any]:
    user = await api.register(unique("many"))
    for start in range(0, rooms, 50):
        await asyncio.gather(*(api.create_room(user) for _ in range(min(50, rooms - start))))
    limit = json.dumps({"room": {"timeline": {"limit": 10}}})
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        reply = await sync(api, user, filter=limit)
        times.append(time.perf_counter() - began)
        assert len(reply["rooms"]["join"]) >= rooms
    return {"rooms": rooms, **latency_summary(times)}


async def idle_pollers(base_url: str, api: Api, count: int, pid: int | None, idle_s: float) -> dict[str, Any]:
    users = [await api.register(unique("idle")) for _ in range(min(count, 50))]
    tokens = [(await sync(api, u, timeout="0"))["next_batch"] for u in users]
    rss_before = rss_mib(pid)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        polls = [
            asyncio.ensure_future(session.get(
                f"{base_url}{CLIENT}/sync",
                params={"since": tokens[i % len(users)], "timeout": str(int((idle_s + 30) * 1000))},
                headers=users[i % len(users)].headers,
            ))
            for i in range(count)
        ]
        await asyncio.sleep(2)  # every request arrives and settles into its wait
        cpu0 = cpu_seconds(pid)
        await asyncio.sleep(idle_s)
        cpu1 = cpu_seconds(pid)
        rss_during = rss_mib(pid)
        for poll in polls:
            poll.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
    return {
        "pollers": count,
        "rss_mib_before": rss_before,
        "rss_mib_while_held": rss_during,
        "idle_cpu_percent": None if cpu0 is None or cpu1 is None else round((cpu1 - cpu0) / idle_s * 100, 2),
    }


async def send_throughput(api: Api, senders: int, seconds: float) -> tuple[dict[str, Any], User, str]:
    owner = await api.register(unique("room"))
    room = await api.create_room(owner, preset="public_chat")
    users = [await api.register(unique("s")) for _ in range(senders)]
    for user in users:
        await api.join(user, room)
    sent = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(user: User) -> None:
        nonlocal sent
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            await send(api, user, room, "throughput")
            latencies.append(time.perf_counter() - began)
            sent += 1

    began = time.perf_counter()
    await asyncio.gather(*(client(u) for u in users))
    elapsed = time.perf_counter() - began
    return {"senders": senders, "messages_per_s": round(sent / elapsed, 1),
            "latency": latency_summary(latencies)}, owner, room


async def message_pages(api: Api, user: User, room: str, pages: int) -> dict[str, Any]:
    times = []
    token = None
    for _ in range(pages):
        params = {"dir": "b", "limit": "20"}
        if token:
            params["from"] = token
        began = time.perf_counter()
        _, reply = await api.call("GET", f"{CLIENT}/rooms/{quote(room)}/messages", user, params=params)
        times.append(time.perf_counter() - began)
        token = reply.get("end")
        if token is None:
            break
    return {"page_size": 20, **latency_summary(times)}


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.senders + 4)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        server = None
        base_url, pid = args.base_url, None
        if base_url is None:
            workdir = Path(tempfile.mkdtemp(prefix="minihs-bench-stream-"))
            # The fixture profile (cheap password hashing, no rate limits: registering hundreds
            # of users is not what is measured), but on a file database as in production.
            server = ServerProcess(
                ["-m", "minihs", "--testing", "--database", str(workdir / "hs.db"),
                 "--host", "127.0.0.1", "--port", "0"],
                workdir, "minihs",
            )
            await server.start(session)
            base_url, pid = server.base_url, server.pid
        try:
            api = Api(session, base_url)
            results: dict[str, Any] = {"server": base_url if server is None else "minihs"}
            results["wake_latency"] = await wake_latency(api, args.rounds)
            results["initial_sync"] = await initial_sync(api, args.rooms, 5)
            results["idle_long_polls"] = await idle_pollers(base_url, api, args.pollers, pid, args.idle_seconds)
            throughput, owner, room = await send_throughput(api, args.senders, args.seconds)
            results["send_throughput"] = throughput
            results["messages_pages"] = await message_pages(api, owner, room, 50)
            return results
        finally:
            if server is not None:
                await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="measure this running server instead of starting minihs")
    parser.add_argument("--rounds", type=int, default=200, help="wake latency rounds")
    parser.add_argument("--rooms", type=int, default=1000, help="rooms for the initial sync")
    parser.add_argument("--pollers", type=int, default=1000, help="idle long polls held at once")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="send throughput duration")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(amain(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
