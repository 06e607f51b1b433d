"""The inspector at scale (issue 17): a server holding 10,000 rooms and 100,000 logged requests,
and every read the page makes of it.

Shared by ``tests/test_inspector_scale.py`` (each answer is one bounded page) and
``scripts/bench_inspector.py`` (how long each takes), so that both look at the same calls.
The rooms are seeded straight into the database (:mod:`minihs.testing.seeding`); the request
log is filled on the server's loop, which is far quicker than making 100,000 requests.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, urlencode

from minihs.domain.inspection import encode_token
from minihs.testing import MinihsServer
from minihs.testing.seeding import Seeder, seed_mutual_rooms

ADMIN = "/_minihs/admin"
PAGE = 50  # the page's PAGE_SIZE (minihs/api/inspector/common.js)
# The logged requests come from this many users in turn, so one user's requests are this far
# apart in the log: a page of them filtered by user reads back this many entries per match.
LOGGING_USERS = 500


@dataclass(frozen=True)
class WorldSize:
    rooms_each: int  # two users' rooms each, ``shared`` of them the same
    shared: int
    extra_users: int
    logged: int

    @property
    def rooms(self) -> int:
        return 2 * self.rooms_each - self.shared


FULL = WorldSize(rooms_each=5_500, shared=1_000, extra_users=2_000, logged=100_000)
QUICK = WorldSize(rooms_each=55, shared=10, extra_users=20, logged=1_000)


@dataclass(frozen=True)
class Targets:
    """What the calls name: a room the two users share, the users, one of the room's events."""

    room_id: str
    user_a: str
    user_b: str
    event_id: str
    logged: int

    @staticmethod
    def names_only() -> "Targets":
        """Stand-ins, for when only the names of the calls matter."""
        return Targets("!room:localhost", "@a:localhost", "@b:localhost", "$event", 1)


def page_calls(targets: Targets) -> dict[str, tuple[str, str | None]]:
    """Every read the page makes, as it makes it: the path, and the key of the list it answers
    (None: not a list)."""
    r = f"{ADMIN}/rooms/{quote(targets.room_id, safe='')}"
    mutual = urlencode({"user_a": targets.user_a, "user_b": targets.user_b})
    requests = f"{ADMIN}/requests?order=desc&limit={PAGE}"
    return {
        "status": (f"{ADMIN}/status", None),
        "users": (f"{ADMIN}/users?limit={PAGE}", "users"),
        "users, searched": (f"{ADMIN}/users?limit={PAGE}&search=someone19", "users"),
        "rooms": (f"{ADMIN}/rooms?limit={PAGE}", "rooms"),
        # Scrolled to the end: the token of the page before the last (rooms are newest first).
        "rooms, the last page": (f"{ADMIN}/rooms?limit={PAGE}&from={encode_token(PAGE + 1)}",
                                 "rooms"),
        # A search nothing matches looks at every room before it answers an empty page.
        "rooms, searched for nothing": (f"{ADMIN}/rooms?limit={PAGE}&search=nowhere", "rooms"),
        "one room": (r, None),
        "members": (f"{r}/members?limit={PAGE}", "members"),
        "state": (f"{r}/state?limit={PAGE}", "state"),
        "events": (f"{r}/events?limit={PAGE}", "events"),
        "one event": (f"{ADMIN}/events/{quote(targets.event_id, safe='')}", None),
        "mutual rooms": (f"{ADMIN}/mutual_rooms?{mutual}", "joined"),
        "requests, newest": (requests, "requests"),
        "requests, older": (f"{requests}&before={targets.logged // 2}", "requests"),
        "requests, filtered": (f"{requests}&user=@someone7:localhost", "requests"),
        # A filter nothing matches reads the whole log before it answers an empty page.
        "requests, filtered to nothing": (f"{requests}&user=@nobody:localhost", "requests"),
        "one request": (f"{ADMIN}/requests/{targets.logged}", None),
        "faults": (f"{ADMIN}/faults", "faults"),
        "snapshots": (f"{ADMIN}/snapshots", "snapshots"),
    }


def get(server: MinihsServer, path: str) -> bytes:
    """The raw body of a GET that must answer 200 (its size is part of what is checked)."""
    status, raw = server._exchange("GET", path, None, {"Accept": "application/json"})
    if status != 200:
        raise AssertionError(f"GET {path}: {status} {raw[:200]!r}")
    return raw


@contextlib.contextmanager
def inspector_world(
    directory: Path, size: WorldSize = FULL,
) -> Iterator[tuple[MinihsServer, Targets]]:
    """A running server holding a world of ``size``, its database in ``directory``."""
    path = str(Path(directory) / "minihs.db")
    with Seeder(path) as seeder:
        scenario = seed_mutual_rooms(seeder, size.rooms_each, size.shared)
        seeder.add_users([f"someone{i}" for i in range(size.extra_users)], password=None)
    config = {"database": {"path": path},
              "request_log": {"size": size.logged, "bodies_kept": 1_000}}
    with MinihsServer(config) as server:

        async def fill(homeserver) -> None:
            fill_request_log(homeserver.request_log, size.logged)

        server.on_server(fill)
        room_id = scenario.shared_room_ids[0]
        events = server.request("GET", f"{ADMIN}/rooms/{quote(room_id, safe='')}/events?limit=1")
        yield server, Targets(room_id, scenario.user_a.user_id, scenario.user_b.user_id,
                              events["events"][0]["event_id"], size.logged)


def fill_request_log(log, count: int) -> None:
    """``count`` sends from ``LOGGING_USERS`` users in turn, as the log middleware records them."""
    for i in range(count):
        log.record(
            ts=1_767_225_600_000 + i, method="PUT",
            raw_path=f"/_matrix/client/v3/rooms/!r{i % 97}:localhost/send/m.room.message/t{i}",
            path_template="/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}",
            user=f"@someone{i % LOGGING_USERS}:localhost", status=200, errcode=None,
            duration_ms=0.5, query="", headers={"Content-Type": "application/json"},
            request_body=b'{"msgtype":"m.text","body":"hello"}',
            response_body=b'{"event_id":"$e"}',
        )
