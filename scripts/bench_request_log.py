#!/usr/bin/env python3
"""What the request log costs each request, measured inside the server.

Two probe middlewares bracket ``request_log_middleware``: one just outside it, one just inside.
The log's cost for a request is the time the outer probe saw minus the time the inner probe
saw: recording the entry, redacting and keeping the bodies, reading the errcode of an error.
Client and network time cancel out, so the figure holds on a busy machine too.

minihs runs in-process (the testing profile: in-memory database, log on). Each round sends a
message (a JSON body in, an event ID out), syncs (a larger answer) and sends once more into a
429 fault (an error whose errcode is read). Run once with the default bodies (the newest 1,000
entries keep theirs) and once with ``bodies_kept: 0``. Prints median, p95 and max in
microseconds per kind of request as JSON.

    python scripts/bench_request_log.py --rounds 2000

A figure for BENCHMARKS.md, not a test: nothing here fails on a slow number.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit.in_process import serving  # noqa: E402

from minihs.api.app import create_app  # noqa: E402
from minihs.api.event_loop import loop_factory, run  # noqa: E402
from minihs.api.observe import request_log_middleware  # noqa: E402
from minihs.config import Config, apply_testing_profile  # noqa: E402

CLIENT = "/_matrix/client/v3"


def bracketed_app(config: Config, samples: dict[str, list[float]]) -> web.Application:
    """The app, with probes just outside and just inside the request log's middleware."""
    app = create_app(config)
    inside: dict[int, float] = {}

    @web.middleware
    async def outer(request: web.Request, handler):
        started = time.perf_counter()
        response = await handler(request)
        total = time.perf_counter() - started
        kind = request.headers.get("X-Bench-Kind")
        if kind:
            samples.setdefault(kind, []).append((total - inside.pop(id(request))) * 1e6)
        return response

    @web.middleware
    async def inner(request: web.Request, handler):
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            inside[id(request)] = time.perf_counter() - started

    position = list(app.middlewares).index(request_log_middleware)
    app.middlewares.insert(position + 1, inner)
    app.middlewares.insert(position, outer)
    return app


async def measure(config: Config, rounds: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[float]] = {}
    async with serving(bracketed_app(config, samples)) as base_url:
        async with aiohttp.ClientSession(base_url) as http:
            body = {"username": "bench", "password": "bench", "auth": {"type": "m.login.dummy"}}
            async with http.post(f"{CLIENT}/register", json=body) as reply:
                token = (await reply.json())["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            async with http.post(f"{CLIENT}/createRoom", json={}, headers=auth) as reply:
                room = quote((await reply.json())["room_id"], safe="")
            rule = {"method": "PUT", "path": "/rooms/{roomId}/send/m.bench.faulted/*",
                    "status": 429, "retry_after_ms": 1000}
            async with http.post("/_minihs/admin/faults", json=rule) as reply:
                assert reply.status == 200, await reply.text()
            content = {"msgtype": "m.text", "body": "x" * 200}
            for n in range(rounds):
                kinds = [
                    ("send", f"{CLIENT}/rooms/{room}/send/m.room.message/t{n}"),
                    ("send (429 fault)", f"{CLIENT}/rooms/{room}/send/m.bench.faulted/t{n}"),
                ]
                for kind, path in kinds:
                    async with http.put(path, json=content,
                                        headers={**auth, "X-Bench-Kind": kind}) as reply:
                        await reply.read()
                async with http.get(f"{CLIENT}/sync", params={"timeout": "0"},
                                    headers={**auth, "X-Bench-Kind": "sync"}) as reply:
                    await reply.read()
    return {kind: summary(values) for kind, values in samples.items()}


def summary(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "median_us": round(statistics.median(values), 1),
        "p95_us": round(values[int(len(values) * 0.95)], 1),
        "max_us": round(values[-1], 1),
        "requests": len(values),
    }


async def main_async(rounds: int) -> dict:
    with_bodies = apply_testing_profile(Config())
    without_bodies = dataclasses.replace(
        with_bodies, request_log=dataclasses.replace(with_bodies.request_log, bodies_kept=0)
    )
    return {
        "rounds": rounds,
        "bodies kept (default)": await measure(with_bodies, rounds),
        "bodies_kept: 0": await measure(without_bodies, rounds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    result = run(main_async(args.rounds), loop_factory("auto"))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
