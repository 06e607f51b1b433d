"""The inspector at scale (issue 17): a server holding 10,000 rooms and 100,000 logged requests
answers every call the page makes with one bounded page, quickly.

The rooms are seeded straight into the database (minihs.testing.seeding), the request log is
filled directly on the server's loop; then each call is made over HTTP as the page makes it.
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urlencode

import pytest

from minihs.domain.inspection import encode_token
from minihs.testing import MinihsServer
from minihs.testing.seeding import Seeder, seed_mutual_rooms

ROOMS_EACH, SHARED = 5_500, 1_000  # two users' rooms: 10,000 in all
EXTRA_USERS = 2_000
LOGGED = 100_000
PAGE = 50
# Generous for a shared two-core machine: a page takes milliseconds; a call that read
# everything would take seconds at this size.
MAX_SECONDS = 0.5
MAX_BYTES = 256 * 1024


@pytest.fixture(scope="module")
def big_server(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("scale") / "minihs.db")
    with Seeder(path) as seeder:
        scenario = seed_mutual_rooms(seeder, ROOMS_EACH, SHARED)
        seeder.add_users([f"someone{i}" for i in range(EXTRA_USERS)], password=None)
    config = {"database": {"path": path},
              "request_log": {"size": LOGGED, "bodies_kept": 1_000}}
    with MinihsServer(config) as server:
        server.on_server(fill_request_log)
        yield server, scenario


async def fill_request_log(homeserver) -> None:
    log = homeserver.request_log
    for i in range(LOGGED):
        log.record(
            ts=1_767_225_600_000 + i, method="PUT",
            raw_path=f"/_matrix/client/v3/rooms/!r{i % 97}:localhost/send/m.room.message/t{i}",
            path_template="/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}",
            user=f"@someone{i % 500}:localhost", status=200, errcode=None, duration_ms=0.5,
            query="", headers={"Content-Type": "application/json"},
            request_body=b'{"msgtype":"m.text","body":"hello"}',
            response_body=b'{"event_id":"$e"}',
        )


class _Names:
    """Stands in for a seeded scenario where only the names of the calls matter."""

    shared_room_ids = ["!room:localhost"]
    user_a = user_b = type("User", (), {"user_id": "@a:localhost"})


SCENARIO_FOR_NAMES = _Names()


def timed_get(server, path: str) -> tuple[float, int, dict]:
    """The best of three: the answer's time, its size in bytes, and its body."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        status, raw = server._exchange("GET", path, None, {"Accept": "application/json"})
        times.append(time.perf_counter() - started)
        assert status == 200, (path, raw[:200])
    return min(times), len(raw), json.loads(raw)


def page_calls(scenario) -> dict[str, tuple[str, str]]:
    """Every call the page makes, with the key of the list it answers (None: not a list)."""
    room = scenario.shared_room_ids[0]
    r = f"/_minihs/admin/rooms/{quote(room, safe='')}"
    a, b = scenario.user_a.user_id, scenario.user_b.user_id
    admin = "/_minihs/admin"
    return {
        "status": (f"{admin}/status", None),
        "users": (f"{admin}/users?limit={PAGE}", "users"),
        "users, searched": (f"{admin}/users?limit={PAGE}&search=someone19", "users"),
        "rooms": (f"{admin}/rooms?limit={PAGE}", "rooms"),
        "rooms, searched for nothing": (f"{admin}/rooms?limit={PAGE}&search=nowhere", "rooms"),
        "one room": (r, None),
        "members": (f"{r}/members?limit={PAGE}", "members"),
        "state": (f"{r}/state?limit={PAGE}", "state"),
        "events": (f"{r}/events?limit={PAGE}", "events"),
        "mutual rooms": (f"{admin}/mutual_rooms?" + urlencode({"user_a": a, "user_b": b}),
                         "joined"),
        "requests, newest": (f"{admin}/requests?order=desc&limit={PAGE}", "requests"),
        "requests, older": (f"{admin}/requests?order=desc&limit={PAGE}&before=50000", "requests"),
        "requests, filtered": (f"{admin}/requests?order=desc&limit={PAGE}&user=@someone7:localhost",
                               "requests"),
        "one request": (f"{admin}/requests/{LOGGED}", None),
        "faults": (f"{admin}/faults", "faults"),
        "snapshots": (f"{admin}/snapshots", "snapshots"),
    }


def test_the_server_holds_10000_rooms_and_100000_logged_requests(big_server):
    server, _ = big_server
    status = server.request("GET", "/_minihs/admin/status")
    assert status["rooms"] == 2 * ROOMS_EACH - SHARED == 10_000
    assert status["requests"] == {"mark": LOGGED, "total": LOGGED}


CALLS = [
    "status", "users", "users, searched", "rooms", "rooms, searched for nothing", "one room",
    "members", "state", "events", "mutual rooms", "requests, newest", "requests, older",
    "requests, filtered", "one request", "faults", "snapshots",
]


def test_every_call_of_the_page_is_measured():
    assert sorted(CALLS) == sorted(page_calls(SCENARIO_FOR_NAMES))


@pytest.mark.parametrize("call", CALLS)
def test_each_call_of_the_page_answers_one_bounded_page_quickly(big_server, call):
    server, scenario = big_server
    path, key = page_calls(scenario)[call]
    seconds, size, body = timed_get(server, path)
    print(f"{call}: {seconds * 1000:.1f} ms, {size} bytes")
    assert seconds < MAX_SECONDS, f"{call} took {seconds * 1000:.0f} ms"
    assert size < MAX_BYTES
    if key is not None:
        # Mutual rooms come in the server's own pages (mutual_rooms.page_size: 100).
        assert len(body[key]) <= (100 if call == "mutual rooms" else PAGE)


def test_the_last_page_of_rooms_costs_what_the_first_costs(big_server):
    server, _ = big_server
    first, _, body = timed_get(server, "/_minihs/admin/rooms?limit=200")
    assert body["next_batch"] is not None
    # A token is a position in the list: one near its end is as cheap to follow.
    last, _, body = timed_get(server, f"/_minihs/admin/rooms?limit=200&from={encode_token(150)}")
    assert len(body["rooms"]) == 149 and body["next_batch"] is None
    assert first < MAX_SECONDS and last < MAX_SECONDS
