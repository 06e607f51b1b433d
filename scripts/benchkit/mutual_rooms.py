"""Figure 6: mutual_rooms for users in R rooms with S shared: the first page and the full walk
right after a membership change, and requests per second (and figure 7's memory per scenario)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from .client import Api, User, mutual_target, new_session, quote
from .common import CLIENT, BenchError, log
from .context import Bench
from .machine import rss_mib
from .rawhttp import RawHttp
from .stats import latency_summary


async def build_mutual_over_http(api: Api, rooms: int, shared: int) -> dict[str, Any]:
    """With --base-url: users A and B in ``rooms`` rooms each, ``shared`` of them together,
    built over HTTP; the same meta as a seeded scenario."""
    stamp = f"{os.getpid()}-{int(time.time()) % 10**6}"
    a = await api.register(f"bench-a-{rooms}-{stamp}")
    b = await api.register(f"bench-b-{rooms}-{stamp}")
    began = time.perf_counter()
    shared_ids = []
    for _ in range(shared):
        room = await api.create_room(a, preset="public_chat")
        await api.join(b, room)
        shared_ids.append(room)
    for _ in range(rooms - shared):
        await api.create_room(a, preset="public_chat")
        await api.create_room(b, preset="public_chat")
    return {"a": {"user_id": a.user_id, "access_token": a.token},
            "b": {"user_id": b.user_id, "access_token": b.token},
            "shared_room_ids": shared_ids, "rooms_each": rooms, "shared": shared,
            "build_seconds": round(time.perf_counter() - began, 1)}

def walk(raw: RawHttp, a: User, other: str) -> tuple[list[str], int, int]:
    """Every page of A's mutual rooms with ``other``: (rooms, count, pages)."""
    rooms: list[str] = []
    token = None
    pages = 0
    count = -1
    while True:
        query = {"user_id": other}
        if token is not None:
            query["from"] = token
        page = raw.call("GET", mutual_target(query), a)
        pages += 1
        rooms.extend(page["joined"])
        count = page["count"]
        token = page.get("next_batch")
        if token is None:
            return rooms, count, pages
        if pages > 10_000:
            raise BenchError("mutual_rooms walk did not end")

async def measure_pair(
    bench: Bench, api: Api, a: User, b: User, toggle_room: str, expected: int, pid: int | None,
    tag: str, walks: bool = True,
) -> dict[str, Any]:
    """First page and full walk right after B leaves or rejoins ``toggle_room``, one
    request at a time on the raw keep-alive client."""
    p = bench.params
    raw = RawHttp(api.base)
    state = {"joined": True}
    room = quote(toggle_room)
    leave = raw.prepare("POST", f"{CLIENT}/rooms/{room}/leave", b.headers, b"{}")
    join = raw.prepare("POST", f"{CLIENT}/join/{room}", b.headers, b"{}")

    def change() -> int:
        status, data = raw.send(leave if state["joined"] else join)
        if status != 200:
            raise BenchError(f"membership change: {status} {data[:200]!r}")
        state["joined"] = not state["joined"]
        return expected if state["joined"] else expected - 1

    out: dict[str, Any] = {}
    first, change_lat = [], []
    first_page = raw.prepare("GET", mutual_target({"user_id": b.user_id}), a.headers)
    try:
        began = time.perf_counter()
        async with bench.profiler.phase(f"fig6_{tag}_first_page_after_change", pid):
            for _ in range(p["first_page_trials"]):
                t0 = time.perf_counter()
                want = change()
                t1 = time.perf_counter()
                status, data = raw.send(first_page)
                t2 = time.perf_counter()
                body = json.loads(data)
                if status != 200 or body["count"] != want:
                    raise BenchError(f"mutual_rooms after a change: {status} {str(body)[:200]} (want {want})")
                change_lat.append(t1 - t0)
                first.append(t2 - t1)
                if time.perf_counter() - began > p["phase_max_s"]:
                    break
                await asyncio.sleep(0)
        out["first_page_after_change"] = latency_summary(first)
        out["membership_change"] = latency_summary(change_lat)

        if walks:
            walk_lat, pages = [], 0
            began = time.perf_counter()
            async with bench.profiler.phase(f"fig6_{tag}_walk_after_change", pid):
                for _ in range(p["walk_trials"]):
                    want = change()
                    t0 = time.perf_counter()
                    rooms, count, pages = walk(raw, a, b.user_id)
                    walk_lat.append(time.perf_counter() - t0)
                    if count != want or len(rooms) != want or rooms != sorted(set(rooms)):
                        raise BenchError(f"walk: count {count}, {len(rooms)} rooms, want {want}")
                    if time.perf_counter() - began > p["phase_max_s"]:
                        break
                    await asyncio.sleep(0)
            out["full_walk_after_change"] = {**latency_summary(walk_lat), "pages": pages}

        if not state["joined"]:
            change()
    finally:
        raw.close()
    return out

async def figure6(bench: Bench) -> None:
    """Each scenario on its own server, started on a copy of its seeded database."""
    p = bench.params
    scenarios = bench.opts.scenario_list or p["scenarios"]
    out: dict[str, Any] = {}
    for rooms, shared in scenarios:
        key = f"R{rooms}_S{shared}"
        async with new_session(bench.opts.connections) as session:
            server = None
            if bench.remote:
                if 2 * rooms - shared > bench.opts.http_max_rooms:
                    out[key] = {"skipped": f"more than --http-max-rooms={bench.opts.http_max_rooms} rooms to build over HTTP"}
                    continue
                api = Api(session, bench.opts.base_url)
                log(f"fig6 {key}: building over HTTP ({2 * rooms - shared} rooms)")
                meta = await build_mutual_over_http(api, rooms, shared)
                pid = bench.opts.server_pid
            else:
                db, meta = bench.seed_mutual(rooms, shared)
                server = await bench.start_minihs(f"mutual-{key}", *bench.prod_args(db), session=session)
                api = Api(session, server.base_url)
                pid = server.pid
            res: dict[str, Any] = {"rooms_each": rooms, "shared": shared}
            if server is not None:
                res["server_start_s"] = round(server.ready_s, 3)
                res["rss_after_start_mib"] = rss_mib(pid)
                res["database_mib"] = round(db.stat().st_size / 2**20, 1)
            a = User(meta["a"]["user_id"], meta["a"]["access_token"])
            b = User(meta["b"]["user_id"], meta["b"]["access_token"])
            log(f"fig6 {key}: first page and full walk after a change")
            res.update(await measure_pair(bench, api, a, b, meta["shared_room_ids"][0], shared, pid, key))
            if "c" in meta:
                c = User(meta["c"]["user_id"], meta["c"]["access_token"])
                res["small_partner"] = {
                    "rooms": meta["small_rooms"], "shared": meta["small_shared"],
                    **await measure_pair(bench, api, a, c, meta["c_shared_room_ids"][0],
                                              meta["small_shared"], pid, key + "_small", walks=False),
                }
            log(f"fig6 {key}: requests per second")
            res["first_page_steady"] = await bench.steady_rps(
                session, api.base, mutual_target({"user_id": b.user_id}), a.headers, pid, f"fig6_{key}")
            res["rss_after_benchmark_mib"] = rss_mib(pid)
            if server is not None:
                await bench.stop(server)
            f = res["first_page_after_change"]
            log(f"fig6 {key}: first page after change median {f['median_ms']:.3f} ms, "
                f"walk median {res.get('full_walk_after_change', {}).get('median_ms', 0):.2f} ms, "
                f"{res['first_page_steady']['rps']} req/s")
            out[key] = res
    bench.results["6_mutual_rooms"] = out
    if out:
        biggest = max((v for v in out.values() if "rooms_each" in v), key=lambda v: v["rooms_each"], default=None)
        mem = bench.results.setdefault("7_memory", {})
        if biggest is not None and biggest.get("rss_after_benchmark_mib") is not None:
            mem["after_biggest_scenario_mib"] = biggest["rss_after_benchmark_mib"]
            mem["biggest_scenario"] = f"R{biggest['rooms_each']}_S{biggest['shared']}"
        if "R1000_S200" in out and "rss_after_benchmark_mib" in out["R1000_S200"]:
            mem["after_R1000_S200_mib"] = out["R1000_S200"]["rss_after_benchmark_mib"]
