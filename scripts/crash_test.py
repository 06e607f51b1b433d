#!/usr/bin/env python3
"""Crash safety: kill -9 the real server under load, restart it, and check nothing acknowledged
was lost and nothing unacknowledged is half-visible.

Each cycle starts ``python -m minihs`` on the same file database, runs concurrent clients that
register, create rooms, join, invite and leave, records every change the server acknowledged with
200, kills the server with SIGKILL at a random moment, checks the database file's consistency
directly, restarts, and checks over HTTP that every acknowledged change is visible (login,
joined_rooms, joined_members, mutual_rooms). Changes in flight at the kill may land or not; those
are the only ones allowed either way.

Messages (issue 15): clients also send messages into one watched room, each with its own txnId.
A watcher user, joined there for good, takes a ``/sync`` token at the start of each cycle. After
the restart, every acknowledged message must be readable (``GET /rooms/{roomId}/event/...``), and
``/sync?since=<that token>`` must report exactly the messages sent during the cycle: all the
acknowledged ones, none from before the token, and no others than those in flight at the kill.

    python scripts/crash_test.py --cycles 20 --clients 16      # full mode
    python scripts/crash_test.py --quick                        # what the test suite runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from crash_checks import PASSWORD, Ledger, check_database_file, verify  # noqa: F401 (tests use check_database_file)



class ServerProcess:
    def __init__(self, database: Path, workdir: Path) -> None:
        self.database = database
        self.workdir = workdir
        self.proc: asyncio.subprocess.Process | None = None
        self.base_url = ""

    async def start(self) -> float:
        began = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "minihs", "--testing", "--port", "0",
            "--database", str(self.database), "--log-level", "warning",
            cwd=self.workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 30)).decode().strip()
        if not line.startswith("minihs listening on "):
            raise RuntimeError(f"server did not start: {line!r}")
        self.base_url = line.removeprefix("minihs listening on ")
        return time.perf_counter() - began

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def wait(self) -> None:
        if self.proc is not None:
            await self.proc.wait()


class Client:
    """One simulated user making random changes, holding a per-key lock around each change so
    that the order of acknowledged changes to one (user, room) is known."""

    def __init__(self, session, base, ledger, key_locks, rng) -> None:
        self.session = session
        self.base = base
        self.ledger = ledger
        self.key_locks = key_locks
        self.rng = rng
        self.user_id: str | None = None
        self.token: str | None = None
        self.in_watched = False

    async def call(self, method, path, body=None, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.base + path, json=body, headers=headers
        ) as response:
            data = await response.json(content_type=None)
            if response.status >= 500:
                raise AssertionError(f"{method} {path} -> {response.status} {data}")
            return response.status, data

    async def register(self) -> None:
        localpart = f"c{self.rng.getrandbits(48):x}"
        user_id_guess = localpart
        self.ledger.pending_registrations.add(user_id_guess)
        status, body = await self.call(
            "POST",
            "/_matrix/client/v3/register",
            {"username": localpart, "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
        )
        self.ledger.pending_registrations.discard(user_id_guess)
        assert status == 200, body
        self.user_id, self.token = body["user_id"], body["access_token"]
        self.ledger.users[self.user_id] = localpart
        self.ledger.acknowledged += 1

    async def change(self, user_id, room_id, attempted, method_path, body):
        key = (user_id, room_id)
        lock = self.key_locks.setdefault(key, asyncio.Lock())
        async with lock:
            before = self.ledger.membership.get(key)
            self.ledger.uncertain[key] = (before, attempted)
            status, reply = await self.call("POST", method_path, body, self.token)
            del self.ledger.uncertain[key]
            if status == 200:
                self.ledger.membership[key] = attempted
                self.ledger.acknowledged += 1

    async def send_message(self) -> None:
        ledger = self.ledger
        room = ledger.watched_room
        if not self.in_watched:
            status, body = await self.call("POST", f"/_matrix/client/v3/join/{room}", {}, self.token)
            assert status == 200, body
            self.in_watched = True
        text = f"m{self.rng.getrandbits(48):x}"
        ledger.in_flight.add(text)
        status, body = await self.call(
            "PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{text}",
            {"msgtype": "m.text", "body": text}, self.token,
        )
        assert status == 200, body
        ledger.in_flight.discard(text)
        ledger.messages[body["event_id"]] = text
        ledger.cycle_messages.add(body["event_id"])
        ledger.acknowledged += 1

    async def step(self) -> None:
        ledger, rng = self.ledger, self.rng
        if ledger.watched_room and rng.random() < 0.3:
            await self.send_message()
            return
        choice = rng.random()
        rooms = list(ledger.rooms)
        if choice < 0.15 or not rooms:
            public = rng.random() < 0.6
            ledger.pending_rooms += 1
            status, body = await self.call(
                "POST",
                "/_matrix/client/v3/createRoom",
                {"preset": "public_chat" if public else "private_chat"},
                self.token,
            )
            ledger.pending_rooms -= 1
            assert status == 200, body
            ledger.rooms[body["room_id"]] = public
            ledger.membership[(self.user_id, body["room_id"])] = "join"
            ledger.acknowledged += 1
        elif choice < 0.55:
            room = rng.choice(rooms)
            await self.change(self.user_id, room, "join", f"/_matrix/client/v3/join/{room}", {})
        elif choice < 0.8:
            room = rng.choice(rooms)
            await self.change(
                self.user_id, room, "leave", f"/_matrix/client/v3/rooms/{room}/leave", {}
            )
        else:
            room = rng.choice(rooms)
            target = rng.choice(list(ledger.users))
            if target != self.user_id:
                await self.change(
                    target, room, "invite",
                    f"/_matrix/client/v3/rooms/{room}/invite", {"user_id": target},
                )

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self.register()
            while not stop.is_set():
                await self.step()
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
            return  # the server died under us: expected


async def start_cycle_messages(base: str, ledger: Ledger) -> None:
    """Before a cycle: make the watched room and its watcher once, then take the watcher's
    sync token that the check after the next crash starts from."""
    async with aiohttp.ClientSession() as session:

        async def call(method, path, body=None, token=None, params=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with session.request(method, base + path, json=body, headers=headers, params=params) as response:
                data = await response.json(content_type=None)
                assert response.status == 200, (path, response.status, data)
                return data

        if not ledger.watched_room:
            body = await call("POST", "/_matrix/client/v3/register", {
                "username": "watcher", "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
            ledger.watcher = (body["user_id"], body["access_token"])
            room = await call("POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat"},
                              ledger.watcher[1])
            ledger.watched_room = room["room_id"]
        else:
            body = await call("POST", "/_matrix/client/v3/login", {
                "type": "m.login.password", "user": "watcher", "password": PASSWORD})
            ledger.watcher = (ledger.watcher[0], body["access_token"])
        body = await call("GET", "/_matrix/client/v3/sync", token=ledger.watcher[1],
                          params={"timeout": "0", "filter": json.dumps({"room": {"timeline": {"limit": 1}}})})
        ledger.since = body["next_batch"]
        ledger.cycle_messages.clear()
        ledger.in_flight.clear()


async def crash_cycles(cycles: int, clients: int, seed: int, workdir: Path, min_run: float, max_run: float) -> dict:
    rng = random.Random(seed)
    ledger = Ledger()
    server = ServerProcess(workdir / "crash.db", workdir)
    report = {"cycles": 0, "acknowledged": 0, "lost": 0, "problems": [], "restart_seconds": []}
    for cycle in range(cycles):
        report["restart_seconds"].append(round(await server.start(), 3))
        if cycle > 0:
            problems, lost = await verify(server.base_url, ledger)
            report["problems"] += problems
            report["lost"] += lost
        # Anything left uncertain was settled by the check above: adopt what the server says.
        await settle_uncertain(server.base_url, ledger)
        await start_cycle_messages(server.base_url, ledger)
        stop = asyncio.Event()
        key_locks: dict = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            tasks = [
                asyncio.create_task(
                    Client(session, server.base_url, ledger, key_locks, random.Random(rng.random())).run(stop)
                )
                for _ in range(clients)
            ]
            await asyncio.sleep(rng.uniform(min_run, max_run))
            server.kill()
            await server.wait()
            stop.set()
            await asyncio.gather(*tasks)
        report["problems"] += check_database_file(server.database)
        report["cycles"] += 1
    report["restart_seconds"].append(round(await server.start(), 3))
    problems, lost = await verify(server.base_url, ledger)
    report["problems"] += problems
    report["lost"] += lost
    server.proc.send_signal(signal.SIGTERM)
    await server.wait()
    report["acknowledged"] = ledger.acknowledged
    report["users"] = len(ledger.users)
    report["rooms"] = len(ledger.rooms)
    report["messages"] = len(ledger.messages)
    return report


async def settle_uncertain(base: str, ledger: Ledger) -> None:
    """After a restart, an in-flight change either happened or not; record which, so the
    next cycle checks against what the server actually holds."""
    if not ledger.uncertain:
        return
    async with aiohttp.ClientSession() as session:
        for (user_id, room_id), (before, attempted) in list(ledger.uncertain.items()):
            localpart = ledger.users.get(user_id)
            if localpart is None:
                continue
            async with session.post(
                base + "/_matrix/client/v3/login",
                json={"type": "m.login.password", "user": localpart, "password": PASSWORD},
            ) as response:
                token = (await response.json())["access_token"]
            async with session.get(
                f"{base}/_matrix/client/v3/joined_rooms",
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                joined = room_id in (await response.json())["joined_rooms"]
            if attempted == "join":
                ledger.membership[(user_id, room_id)] = "join" if joined else (before or "leave")
            elif not joined and before == "join":
                ledger.membership[(user_id, room_id)] = attempted
    ledger.uncertain.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="3 cycles, 8 clients")
    args = parser.parse_args(argv)
    if args.quick:
        args.cycles, args.clients = 3, 8
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    with tempfile.TemporaryDirectory() as tmp:
        report = asyncio.run(
            crash_cycles(args.cycles, args.clients, seed, Path(tmp), 0.3, 1.5)
        )
    report["seed"] = seed
    print(json.dumps(report, indent=2))
    return 0 if not report["problems"] and report["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
