"""Figure 8, the ceiling: a bare aiohttp endpoint answering a mutual_rooms-shaped body, on each
event loop available, and mutual_rooms against it in alternating rounds."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import signal
from typing import Any

from .client import mutual_target, new_session
from .common import ENTRY, log
from .context import Bench
from .machine import rss_mib
from .server import ServerProcess


async def figure8(bench: Bench) -> None:
    """The bare aiohttp endpoint on each loop available. The figure that counts compares
    mutual_rooms with the ceiling of its own stack: the bare endpoint on the same loop."""
    p = bench.params
    loops = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") else [])
    same = "asyncio" if bench.remote else bench.minihs_event_loop()
    ceiling_target = "/ceiling?user_id=%40b%3Alocalhost"
    ceiling_headers = {"Authorization": "Bearer x"}
    by_loop: dict[str, dict[str, Any]] = {}
    ceilings: dict[str, ServerProcess] = {}
    async with new_session(bench.opts.connections) as session:
        try:
            for loop in loops:
                server = ServerProcess([str(ENTRY), "--internal-ceiling-server", loop],
                                       bench.workdir, f"ceiling-{loop}")
                bench.servers.append(server)
                await server.start(session)
                ceilings[loop] = server
                by_loop[loop] = await bench.steady_rps(session, server.base_url, ceiling_target,
                                                      ceiling_headers, server.pid, f"fig8_ceiling_{loop}")
                by_loop[loop]["rss_mib"] = rss_mib(server.pid)
                log(f"fig8 bare aiohttp ceiling on {loop}: {by_loop[loop]['rps']} req/s, one client "
                    f"median {by_loop[loop]['one_client']['median_ms']:.3f} ms")
            res: dict[str, Any] = {**by_loop[same], "loop": same, "by_loop": by_loop}
            if not bench.remote:
                # mutual_rooms (R=1000, S=200, first page) against each ceiling, round by round.
                db, meta = bench.seed_mutual(1000, 200)
                mutual = await bench.start_minihs("fig8-mutual", *bench.prod_args(db), session=session)
                a_token = meta["a"]["access_token"]
                for loop in [same] + [x for x in loops if x != same]:
                    log(f"fig8 ceiling on {loop} and mutual_rooms R=1000 S=200 (minihs on {same}), "
                        "alternating rounds")
                    key = ("paired_with_mutual_R1000_S200" if loop == same
                           else f"paired_with_mutual_R1000_S200_vs_{loop}_ceiling")
                    res[key] = await bench.paired_rounds(
                        session,
                        {"base_url": ceilings[loop].base_url, "target": ceiling_target,
                         "headers": ceiling_headers, "pid": ceilings[loop].pid},
                        {"base_url": mutual.base_url,
                         "target": mutual_target({"user_id": meta["b"]["user_id"]}),
                         "headers": {"Authorization": f"Bearer {a_token}"}, "pid": mutual.pid},
                        rounds=3 if bench.opts.quick else 6,
                        seconds=max(0.25, p["rps_s"] / 3),
                    )
                await bench.stop(mutual)
        finally:
            for server in ceilings.values():
                await bench.stop(server)
    bench.results["8_ceiling"] = res


def internal_ceiling_server(loop: str) -> None:
    """A bare aiohttp endpoint answering a mutual_rooms-shaped body of 100 room IDs, on
    asyncio's event loop or uvloop."""
    import base64

    from aiohttp import web

    def room_id(i: int) -> str:
        digest = hashlib.sha256(str(i).encode()).digest()
        return "!" + base64.urlsafe_b64encode(digest).decode().rstrip("=")

    rooms = sorted(room_id(i) for i in range(200))[:100]
    token = "1a2b3c4d." + base64.urlsafe_b64encode(rooms[-1].encode()).decode().rstrip("=") + ".abcdefghijklmnopqrstuv"

    async def ceiling(request: web.Request) -> web.Response:
        body = {"joined": rooms, "count": 200, "next_batch": token}
        return web.Response(text=json.dumps(body, separators=(",", ":")), content_type="application/json")

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/ceiling", ceiling)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(f"ceiling listening on http://127.0.0.1:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await runner.cleanup()

    if loop == "uvloop":
        import uvloop

        uvloop.run(serve())
    else:
        asyncio.run(serve())
