#!/usr/bin/env python3
"""Benchmarks of the change stream (issue 15): wake latency, initial sync, idle long polls,
send throughput and /messages pages.

Usage: ``python scripts/bench_stream.py`` starts ``python -m minihs --testing`` on a file
database in a temporary directory and measures it; ``--base-url URL`` measures a server that
is already running instead (for Synapse: open registration with ``m.login.dummy``, and its rate
limits raised). ``--synapse-python /path/to/venv/bin/python`` also starts a Synapse configured for
benchmarking (scripts/bench_synapse.py) and measures both in the same run, taking turns where
samples are cheap (A B B A), so the figures can be reported side by side. Prints one JSON object.

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
import os
import shutil
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


async def wake_latency(api: Api, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """Raw samples (seconds): from the send request leaving, from the send's answer arriving,
    and the send's own round trip (the part of the first that is not the wake)."""
    alice, bob = await api.register(unique("wa")), await api.register(unique("wb"))
    room = await api.create_room(alice, preset="public_chat")
    await api.join(bob, room)
    token = (await sync(api, bob, timeout="0"))["next_batch"]
    from_send, from_ack, round_trip = [], [], []
    for n in range(rounds):
        waiting = asyncio.ensure_future(sync(api, bob, since=token, timeout="30000"))
        await asyncio.sleep(0.005)  # let the sync reach its wait
        began = time.perf_counter()
        acked: list[float] = []

        async def send_and_mark() -> None:
            await send(api, alice, room, f"ping {n}")
            acked.append(time.perf_counter())

        sender = asyncio.ensure_future(send_and_mark())
        while True:
            reply = await waiting
            woke = time.perf_counter()
            token = reply["next_batch"]
            if f"ping {n}" in json.dumps(reply.get("rooms", {}).get("join", {})):
                break
            # Woken by something else first (presence, say): wait on for the message.
            waiting = asyncio.ensure_future(sync(api, bob, since=token, timeout="30000"))
        await sender
        from_send.append(woke - began)
        from_ack.append(max(0.0, woke - acked[0]))
        round_trip.append(acked[0] - began)
    return from_send, from_ack, round_trip


SYNC_FILTER = json.dumps({"room": {"timeline": {"limit": 10}}})


async def build_many_rooms(api: Api, rooms: int, bound_s: float) -> tuple[User, int]:
    """One user creating ``rooms`` rooms, 50 requests at a time, until done or ``bound_s`` spent."""
    user = await api.register(unique("many"))
    built = 0
    deadline = time.perf_counter() + bound_s
    while built < rooms and time.perf_counter() < deadline:
        batch = min(50, rooms - built)
        await asyncio.gather(*(api.create_room(user) for _ in range(batch)))
        built += batch
    return user, built


async def timed_initial_sync(api: Api, user: User, rooms: int) -> float:
    began = time.perf_counter()
    reply = await sync(api, user, filter=SYNC_FILTER)
    elapsed = time.perf_counter() - began
    assert len(reply["rooms"]["join"]) >= rooms
    return elapsed


async def idle_pollers(base_url: str, api: Api, count: int, pid: int | None, idle_s: float) -> dict[str, Any]:
    users = [await api.register(unique("idle")) for _ in range(min(count, 50))]
    tokens = [(await sync(api, u, timeout="0"))["next_batch"] for u in users]
    rss_before = rss_mib(pid)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        polls = [
            asyncio.ensure_future(session.get(
                f"{base_url}{CLIENT}/sync",
                # A timeout of its own per request: Synapse answers identical /sync requests
                # in flight together (one computation, one wait); these are to be 1,000 waits.
                params={"since": tokens[i % len(users)], "timeout": str(int((idle_s + 30) * 1000) + i)},
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


async def measure_all(session: aiohttp.ClientSession, servers: list[tuple[str, str, int | None]],
                      args: argparse.Namespace) -> dict[str, Any]:
    """Each figure for every server; where samples are cheap the servers take turns (A B B A), so
    that a burst of load from elsewhere on the machine falls on both."""
    apis = {name: Api(session, url) for name, url, _ in servers}
    names = [name for name, _, _ in servers]
    turns = names + names[::-1]
    results: dict[str, dict[str, Any]] = {name: {} for name in names}

    wake: dict[str, tuple[list[float], ...]] = {name: ([], [], []) for name in names}
    for name in turns:
        samples = await wake_latency(apis[name], max(1, args.rounds // 2))
        for collected, new in zip(wake[name], samples):
            collected.extend(new)
    for name in names:
        results[name]["wake_latency"] = {"from_send_request": latency_summary(wake[name][0]),
                                         "from_send_ack": latency_summary(wake[name][1]),
                                         "send_round_trip": latency_summary(wake[name][2])}

    many: dict[str, tuple[User, int]] = {}
    for name in names:
        rooms = args.synapse_rooms if name == "synapse" and args.synapse_rooms else args.rooms
        began = time.perf_counter()
        many[name] = await build_many_rooms(apis[name], rooms, args.build_bound_seconds)
        results[name]["initial_sync"] = {"rooms": many[name][1],
                                         "build_rooms_s": round(time.perf_counter() - began, 1)}
    syncs: dict[str, list[float]] = {name: [] for name in names}
    order = list(names)
    for _ in range(args.sync_rounds):
        for name in order:
            syncs[name].append(await timed_initial_sync(apis[name], *many[name]))
        order.reverse()
    for name in names:
        results[name]["initial_sync"].update(latency_summary(syncs[name]))

    for name, url, pid in servers:
        results[name]["idle_long_polls"] = await idle_pollers(url, apis[name], args.pollers, pid,
                                                              args.idle_seconds)

    for name in turns:
        throughput, owner, room = await send_throughput(apis[name], args.senders, args.seconds)
        results[name].setdefault("send_throughput_runs", []).append(throughput)
        results[name]["messages_pages"] = await message_pages(apis[name], owner, room, 50)
    for name in names:
        runs = results[name]["send_throughput_runs"]
        results[name]["send_throughput_messages_per_s"] = round(
            sum(run["messages_per_s"] for run in runs) / len(runs), 1)
    return results


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.senders + 4)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        started: list[Any] = []
        temporary: list[Path] = []  # removed at the end; a --synapse-dir is kept
        servers: list[tuple[str, str, int | None]] = []
        summary: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
        try:
            if args.base_url is None:
                workdir = Path(tempfile.mkdtemp(prefix="minihs-bench-stream-"))
                temporary.append(workdir)
                # The fixture profile (cheap password hashing, no rate limits: registering hundreds
                # of users is not what is measured), but on a file database as in production.
                minihs = ServerProcess(
                    ["-m", "minihs", "--testing", "--database", str(workdir / "hs.db"),
                     "--host", "127.0.0.1", "--port", "0"],
                    workdir, "minihs",
                )
                started.append(minihs)
                await minihs.start(session)
                servers.append(("minihs", minihs.base_url, minihs.pid))
            else:
                servers.append((args.base_url, args.base_url, args.server_pid))
            if args.synapse_python:
                from bench_synapse import SynapseProcess, synapse_version

                synapse_dir = Path(args.synapse_dir or tempfile.mkdtemp(prefix="minihs-bench-synapse-"))
                if not args.synapse_dir:
                    temporary.append(synapse_dir)
                synapse = SynapseProcess(args.synapse_python, synapse_dir)
                started.append(synapse)
                summary["synapse_version"] = synapse_version(args.synapse_python)
                summary["synapse_start_s"] = round(await synapse.start(session), 1)
                servers.append(("synapse", synapse.base_url, synapse.pid))
            summary["results"] = await measure_all(session, servers, args)
            summary["load_average_at_end"] = os.getloadavg()
            return summary
        finally:
            for server in started:
                await server.stop()
            for directory in temporary:
                shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="measure this running server instead of starting minihs")
    parser.add_argument("--server-pid", type=int, help="with --base-url: its PID, for memory and CPU")
    parser.add_argument("--synapse-python", help="also start a Synapse with this interpreter (of a venv "
                        "with matrix-synapse) and measure it in the same run (scripts/bench_synapse.py)")
    parser.add_argument("--synapse-dir", help="where that Synapse's config and database go "
                        "(default: a new temporary directory)")
    parser.add_argument("--synapse-rooms", type=int, help="rooms for Synapse's initial sync "
                        "(default: --rooms; they are built over HTTP)")
    parser.add_argument("--build-bound-seconds", type=float, default=600.0,
                        help="stop building the initial sync's rooms after this long")
    parser.add_argument("--sync-rounds", type=int, default=6, help="initial syncs timed per server")
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
