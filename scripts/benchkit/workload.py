"""Figures 3, 4 and 5: register + login, createRoom per second, join + leave with 8 clients
(and the server's memory after start, for figure 7)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from .client import Api, User, load, new_session, quote
from .common import CLIENT, BenchError, log
from .context import Bench
from .machine import CpuMeter, rss_mib
from .rawhttp import RawAsyncConnection, RawHttp
from .stats import latency_summary


async def register_login(api: Api, count: int, prefix: str, pid: int | None) -> dict[str, Any]:
    """Register then log in ``count`` users one after the other (raw client)."""
    pairs, regs, logins = [], [], []
    raw = RawHttp(api.base)
    try:
        with CpuMeter(pid) as cpu:
            for i in range(count):
                localpart = f"{prefix}{i}-{os.getpid()}-{int(time.time() * 1000) % 10**7}"
                t0 = time.perf_counter()
                raw.register(localpart)
                t1 = time.perf_counter()
                raw.login(localpart)
                t2 = time.perf_counter()
                regs.append(t1 - t0)
                logins.append(t2 - t1)
                pairs.append(t2 - t0)
                await asyncio.sleep(0)
    finally:
        raw.close()
    return {
        **latency_summary(pairs), "register": latency_summary(regs),
        "login": latency_summary(logins), **cpu.per_request(count),
    }

async def create_rooms(bench: Bench, api: Api, owner: User, pid: int | None, tag: str) -> dict[str, Any]:
    """createRoom (public_chat preset) back to back from one raw client."""
    p = bench.params
    raw = RawHttp(api.base)
    request = raw.prepare("POST", CLIENT + "/createRoom", owner.headers,
                          json.dumps({"preset": "public_chat"}).encode())
    lat: list[float] = []
    try:
        with CpuMeter(pid) as cpu:
            async with bench.profiler.phase(f"fig4_create_room_{tag}", pid):
                began = time.perf_counter()
                deadline = began + p["create_s"]
                while len(lat) < p["create_max"] and time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    status, data = raw.send(request)
                    lat.append(time.perf_counter() - t0)
                    if status != 200:
                        raise BenchError(f"createRoom: {status} {data[:200]!r}")
                elapsed = time.perf_counter() - began
    finally:
        raw.close()
    count = len(lat)
    return {"rooms_per_s": round(count / elapsed, 1), "rooms": count,
            **latency_summary(lat), **cpu.per_request(count)}

async def join_leave(
    bench: Bench, api: Api, host: User, clients: list[User], pid: int | None, same_room: bool, tag: str
) -> dict[str, Any]:
    """Each client joins and leaves its room (or all the same room) in a loop; every join
    and every leave is one operation. Over --load-client connections."""
    p = bench.params
    n_rooms = 1 if same_room else len(clients)
    rooms = [await api.create_room(host, preset="public_chat") for _ in range(n_rooms)]
    joined = [False] * len(clients)
    conns: list[RawAsyncConnection] = []

    if bench.opts.load_client == "raw":
        raw = RawHttp(api.base)
        conns = [RawAsyncConnection(raw.host, raw.port) for _ in clients]
        requests = []
        for i, user in enumerate(clients):
            room = quote(rooms[0 if same_room else i])
            requests.append((
                raw.prepare("POST", f"{CLIENT}/join/{room}", user.headers, b"{}"),
                raw.prepare("POST", f"{CLIENT}/rooms/{room}/leave", user.headers, b"{}"),
            ))

        async def one(i: int) -> None:
            status = await conns[i].send(requests[i][1 if joined[i] else 0])
            if status != 200:
                raise BenchError(f"join/leave: HTTP {status}")
            joined[i] = not joined[i]
    else:

        async def one(i: int) -> None:
            room = rooms[0 if same_room else i]
            if joined[i]:
                await api.leave(clients[i], room)
            else:
                await api.join(clients[i], room)
            joined[i] = not joined[i]

    try:
        with CpuMeter(pid) as cpu:
            async with bench.profiler.phase(f"fig5_join_leave_{tag}", pid):
                count, elapsed, lat = await load(one, len(clients), p["joinleave_s"], p["joinleave_max"])
    finally:
        for conn in conns:
            await conn.close()
    for i, user in enumerate(clients):  # leave the rooms as found
        if joined[i]:
            await api.leave(user, rooms[0 if same_room else i])
    return {"ops_per_s": round(count / elapsed, 1), "ops": count, "clients": len(clients),
            "rooms": n_rooms, "load_client": bench.opts.load_client,
            **latency_summary(lat), **cpu.per_request(count)}

async def figures_3_4_5(bench: Bench) -> None:
    """Figures 3, 4 and 5 on one production server (and, in a full run, on a test-profile one)."""
    p = bench.params
    async with new_session(8) as session:
        if bench.remote:
            api = Api(session, bench.opts.base_url)
            pid = bench.opts.server_pid
            if bench.wants(3):
                bench.results["3_register_login"] = {
                    "remote": await register_login(api, p["reg_prod"], "bench-reg", pid)
                }
            if bench.wants(4) or bench.wants(5):
                stamp = f"{os.getpid()}-{int(time.time()) % 10**6}"
                users = [await api.register(f"bench-load{i}-{stamp}") for i in range(9)]
                if bench.wants(4):
                    bench.results["4_create_room"] = {"remote": await create_rooms(bench, api, users[0], pid, "remote")}
                if bench.wants(5):
                    bench.results["5_join_leave"] = {
                        "remote": await join_leave(bench, api, users[0], users[1:], pid, False, "remote")
                    }
            return

        prod_db = bench.workdir / "prod.db"
        users = bench.seed_workload_users(prod_db, 9)
        prod = await bench.start_minihs("prod", *bench.prod_args(prod_db), session=session)
        bench.results.setdefault("7_memory", {})["after_start_empty_mib"] = rss_mib(prod.pid)
        api = Api(session, prod.base_url)
        fig3: dict[str, Any] = {}
        if bench.wants(3):
            fig3["production"] = await register_login(api, p["reg_prod"], "prodreg", prod.pid)
            log(f"fig3 register+login, production hashing: median {fig3['production']['median_ms']:.0f} ms")
        if bench.wants(4):
            bench.results["4_create_room"] = {"production": await create_rooms(bench, api, users[0], prod.pid, "production")}
            log(f"fig4 createRoom: {bench.results['4_create_room']['production']['rooms_per_s']} rooms/s")
        if bench.wants(5):
            fig5 = {"production": await join_leave(bench, api, users[0], users[1:], prod.pid, False, "production")}
            if not bench.opts.quick:
                fig5["production_same_room"] = await join_leave(bench, 
                    api, users[0], users[1:], prod.pid, True, "production_same_room")
            bench.results["5_join_leave"] = fig5
            log(f"fig5 join+leave, 8 clients: {fig5['production']['ops_per_s']} ops/s")
        await bench.stop(prod)

        if bench.wants(3) or (not bench.opts.quick and (bench.wants(4) or bench.wants(5))):
            test = await bench.start_minihs("testing", "--testing", "--log-level", "warning", session=session)
            api = Api(session, test.base_url)
            if bench.wants(3):
                fig3["testing"] = await register_login(api, p["reg_test"], "testreg", test.pid)
                log(f"fig3 register+login, test profile: median {fig3['testing']['median_ms']:.2f} ms")
            if not bench.opts.quick:
                tusers = [await api.register(f"tload{i}") for i in range(9)]
                if bench.wants(4):
                    bench.results["4_create_room"]["testing"] = await create_rooms(bench, api, tusers[0], test.pid, "testing")
                if bench.wants(5):
                    bench.results["5_join_leave"]["testing"] = await join_leave(bench, 
                        api, tusers[0], tusers[1:], test.pid, False, "testing")
            await bench.stop(test)
        if fig3:
            bench.results["3_register_login"] = fig3
