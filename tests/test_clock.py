"""The server clock (issue 16): freeze, set and advance it, from Python (``MinihsServer.clock``)
and over HTTP (``/_minihs/admin/clock``); everything minihs dates or times follows it.

Each behaviour runs through both APIs (the ``clock`` fixture is one or the other), so a test
steps past a 30-minute lifetime without sleeping either way.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from minihs.domain.admin_registration import NONCE_LIFETIME_S, registration_mac
from minihs.domain.clock import MAX_TIME_MS
from minihs.domain.uia import SESSION_LIFETIME_S
from minihs.testing import MinihsHTTPError, MinihsServer

CLOCK = "/_minihs/admin/clock"
CLIENT = "/_matrix/client/v3"
MUTUAL_ROOMS = "/_matrix/client/v1/mutual_rooms"
SECRET = "s3cret"
T = 1_700_000_000_123  # a time with milliseconds, on no second boundary
TOKEN_LIFETIME_S = 600
HOUR_MS = 3_600_000

CONFIG = {
    "mutual_rooms": {"page_size": 1, "token_lifetime_seconds": TOKEN_LIFETIME_S},
    "registration": {"shared_secret": SECRET},
    # One request per 100 s, three at once: a window no test waits out in real time.
    "rate_limits": {"mutual_rooms_per_user": {"enabled": True, "per_second": 0.01, "burst": 3}},
}


class HttpClock:
    """The admin HTTP API, shaped like ``MinihsServer.clock``."""

    def __init__(self, server: MinihsServer) -> None:
        self._server = server

    def _post(self, **body: Any) -> dict[str, Any]:
        return self._server.request("POST", CLOCK, json_body=body)

    def state(self) -> dict[str, Any]:
        return self._server.request("GET", CLOCK)

    def now_ms(self) -> int:
        return self.state()["now_ms"]

    def freeze(self) -> dict[str, Any]:
        return self._post(frozen=True)

    def unfreeze(self) -> dict[str, Any]:
        return self._post(frozen=False)

    def set(self, now_ms: int) -> dict[str, Any]:
        return self._post(now_ms=now_ms)

    def advance(self, ms: int) -> dict[str, Any]:
        return self._post(advance_ms=ms)


@pytest.fixture(scope="module")
def running():
    with MinihsServer(CONFIG) as server:
        yield server


@pytest.fixture
def server(running):
    """The module's server, reset, with its clock put back as it was after the test (a reset
    leaves an unseeded server's clock alone)."""
    running.reset()

    async def save(homeserver):
        return homeserver.clock.saved()

    saved = running.on_server(save)
    yield running

    async def restore(homeserver):
        homeserver.clock.restore_saved(saved)

    running.on_server(restore)


@pytest.fixture(params=["python", "http"])
def clock(request, server):
    return server.clock if request.param == "python" else HttpClock(server)


def _send(server: MinihsServer, user, room_id: str, body: str = "hello") -> dict[str, Any]:
    """Send a message; the event as the server then serves it."""
    txn = f"t{time.monotonic_ns()}"
    event_id = server.request(
        "PUT", f"{CLIENT}/rooms/{quote(room_id)}/send/m.room.message/{txn}", user,
        json_body={"msgtype": "m.text", "body": body},
    )["event_id"]
    return server.request("GET", f"{CLIENT}/rooms/{quote(room_id)}/event/{quote(event_id)}", user)


# --- the clock itself --------------------------------------------------------------------


def test_a_frozen_clock_stands_still(clock):
    frozen_at = clock.freeze()["now_ms"]
    time.sleep(0.02)
    assert clock.state() == {"now_ms": frozen_at, "frozen": True}


def test_advance_moves_a_frozen_clock_by_exactly_that_much(clock):
    clock.freeze()
    clock.set(T)
    assert clock.advance(HOUR_MS) == {"now_ms": T + HOUR_MS, "frozen": True}
    assert clock.now_ms() == T + HOUR_MS


def test_an_unfrozen_clock_runs_on_from_where_it_was_set(clock):
    clock.freeze()
    clock.set(T)
    clock.unfreeze()
    time.sleep(0.02)
    state = clock.state()
    assert state["frozen"] is False
    assert T + 20 <= state["now_ms"] < T + 60_000


def test_a_running_clock_set_to_a_time_runs_on_from_it(clock):
    clock.unfreeze()
    assert T <= clock.set(T)["now_ms"] < T + 60_000


def test_the_changes_of_one_post_apply_in_order_set_advance_freeze(server):
    server.clock.unfreeze()
    state = server.request("POST", CLOCK, json_body={"frozen": True, "advance_ms": 5, "now_ms": T})
    assert state == {"now_ms": T + 5, "frozen": True}


# --- what reads it -----------------------------------------------------------------------


def test_an_event_sent_on_a_frozen_clock_has_its_time_as_origin_server_ts(server, clock):
    alice = server.register_user("alice")
    room_id = server.create_room(alice)
    clock.freeze()
    clock.set(T)
    assert _send(server, alice, room_id)["origin_server_ts"] == T


def test_a_room_created_on_a_frozen_clock_has_its_time_on_every_initial_event(server, clock):
    clock.freeze()
    clock.set(T)
    alice = server.register_user("alice")
    room_id = server.create_room(alice, preset="public_chat")
    timeline = server.request("GET", f"{CLIENT}/rooms/{quote(room_id)}/messages", alice,
                              params={"dir": "b"})["chunk"]
    assert timeline and {event["origin_server_ts"] for event in timeline} == {T}


def test_setting_the_clock_back_then_forward_dates_events_by_it(server, clock):
    alice = server.register_user("alice")
    room_id = server.create_room(alice)
    clock.freeze()
    stamps = []
    for now in (T, T - HOUR_MS, T + HOUR_MS):
        clock.set(now)
        stamps.append(_send(server, alice, room_id)["origin_server_ts"])
    assert stamps == [T, T - HOUR_MS, T + HOUR_MS]


def test_presence_last_active_ago_is_measured_on_the_server_clock(server, clock):
    alice = server.register_user("alice")
    clock.freeze()
    path = f"{CLIENT}/presence/{quote(alice.user_id)}/status"
    server.request("PUT", path, alice, json_body={"presence": "online"})
    clock.advance(90_000)
    assert server.request("GET", path, alice)["last_active_ago"] == 90_000


def test_a_receipt_is_dated_on_the_server_clock(server, clock):
    alice = server.register_user("alice")
    room_id = server.create_room(alice)
    event_id = _send(server, alice, room_id)["event_id"]
    clock.freeze()
    clock.set(T)
    server.request("POST", f"{CLIENT}/rooms/{quote(room_id)}/receipt/m.read/{quote(event_id)}",
                   alice, json_body={})
    sync = server.request("GET", f"{CLIENT}/sync", alice)
    (receipt,) = sync["rooms"]["join"][room_id]["ephemeral"]["events"]
    assert receipt["content"][event_id]["m.read"][alice.user_id]["ts"] == T


def _start_registration(server: MinihsServer, username: str) -> str:
    body = server.request("POST", f"{CLIENT}/register",
                          json_body={"username": username, "password": "pw"}, expect=401)
    return body["session"]


def _finish_registration(server: MinihsServer, username: str, session: str, expect: int) -> Any:
    auth = {"type": "m.login.dummy", "session": session}
    return server.request("POST", f"{CLIENT}/register", expect=expect,
                          json_body={"username": username, "password": "pw", "auth": auth})


def test_advancing_past_the_uia_session_lifetime_forgets_the_session(server, clock):
    session = _start_registration(server, "alice")
    clock.advance(SESSION_LIFETIME_S * 1000)
    error = _finish_registration(server, "alice", session, expect=400)
    assert error["errcode"] == "M_UNKNOWN" and "expired" in error["error"]


def test_a_uia_session_lives_its_whole_lifetime_on_the_server_clock(server, clock):
    session = _start_registration(server, "alice")
    clock.freeze()
    clock.advance(SESSION_LIFETIME_S * 1000 - 1_000)
    registered = _finish_registration(server, "alice", session, expect=200)
    assert registered["user_id"] == "@alice:localhost"


def test_advancing_past_a_shared_secret_nonce_lifetime_makes_it_unrecognised(server, clock):
    nonce = server.request("GET", "/_synapse/admin/v1/register")["nonce"]
    clock.advance(NONCE_LIFETIME_S * 1000)
    body = {"nonce": nonce, "username": "bot", "password": "pw", "admin": False,
            "mac": registration_mac(SECRET, nonce, "bot", "pw", False)}
    error = server.request("POST", "/_synapse/admin/v1/register", json_body=body, expect=400)
    assert error["error"] == "unrecognised nonce"


def _two_shared_rooms(server: MinihsServer):
    alice, bob = server.register_user("alice"), server.register_user("bob")
    for _ in range(2):
        server.join(bob, server.create_room(alice, preset="public_chat"))
    return alice, bob


def test_advancing_past_the_token_lifetime_refuses_a_mutual_rooms_next_batch(server, clock):
    alice, bob = _two_shared_rooms(server)
    page = server.request("GET", MUTUAL_ROOMS, alice, params={"user_id": bob.user_id})
    clock.advance(TOKEN_LIFETIME_S * 1000 + 1_000)
    params = {"user_id": bob.user_id, "from": page["next_batch"]}
    error = server.request("GET", MUTUAL_ROOMS, alice, params=params, expect=400)
    assert error == {"errcode": "M_INVALID_PARAM", "error": "Expired 'from' token"}


def test_a_mutual_rooms_next_batch_is_good_for_its_lifetime_on_the_server_clock(server, clock):
    alice, bob = _two_shared_rooms(server)
    clock.freeze()
    page = server.request("GET", MUTUAL_ROOMS, alice, params={"user_id": bob.user_id})
    clock.advance(TOKEN_LIFETIME_S * 1000 - 1_000)  # a token's issue time is in whole seconds
    params = {"user_id": bob.user_id, "from": page["next_batch"]}
    assert len(server.request("GET", MUTUAL_ROOMS, alice, params=params)["joined"]) == 1


def test_a_rate_limit_window_refills_when_the_clock_advances(server, clock):
    alice, bob = server.register_user("alice"), server.register_user("bob")
    clock.freeze()
    params = {"user_id": bob.user_id}
    for _ in range(3):  # the burst
        server.request("GET", MUTUAL_ROOMS, alice, params=params)
    limited = server.request("GET", MUTUAL_ROOMS, alice, params=params, expect=429)
    assert limited["errcode"] == "M_LIMIT_EXCEEDED"
    clock.advance(limited["retry_after_ms"])
    server.request("GET", MUTUAL_ROOMS, alice, params=params)


def test_setting_the_clock_back_does_not_refill_a_rate_limit_window(server, clock):
    # Windows are measured on the clock that never goes back; setting the date is not waiting.
    alice, bob = server.register_user("alice"), server.register_user("bob")
    clock.freeze()
    clock.set(T)
    params = {"user_id": bob.user_id}
    for _ in range(3):
        server.request("GET", MUTUAL_ROOMS, alice, params=params)
    clock.set(T - HOUR_MS)
    server.request("GET", MUTUAL_ROOMS, alice, params=params, expect=429)


# --- what stays on real time, so that a frozen clock hangs no client ---------------------


def test_a_long_poll_sync_ends_in_real_time_while_the_clock_is_frozen(server, clock):
    alice = server.register_user("alice")
    since = server.request("GET", f"{CLIENT}/sync", alice)["next_batch"]
    clock.freeze()
    # 50 ms of real time; on the frozen clock the wait would outlast the helper's own timeout.
    body = server.request("GET", f"{CLIENT}/sync", alice, params={"since": since, "timeout": "50"})
    assert body["next_batch"] == since


def test_a_typing_notification_expires_in_real_time_while_the_clock_is_frozen(server, clock):
    alice = server.register_user("alice")
    room_id = server.create_room(alice)
    since = server.request("GET", f"{CLIENT}/sync", alice)["next_batch"]
    clock.freeze()
    server.request("PUT", f"{CLIENT}/rooms/{quote(room_id)}/typing/{quote(alice.user_id)}", alice,
                   json_body={"typing": True, "timeout": 100})
    # Each long poll answers at the next change: the typing, then its expiry (on the frozen
    # clock, never: the polls would time out with nothing).
    typing_seen = []
    for _ in range(2):
        sync = server.request("GET", f"{CLIENT}/sync", alice,
                              params={"since": since, "timeout": "10000"})
        since = sync["next_batch"]
        ephemeral = sync.get("rooms", {}).get("join", {}).get(room_id, {}).get("ephemeral", {})
        typing_seen += [event["content"]["user_ids"] for event in ephemeral.get("events", [])
                        if event["type"] == "m.typing"]
        if [] in typing_seen:
            break
    assert typing_seen[-1:] == [[]], typing_seen


# --- bad values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, errcode",
    [
        ({"now_ms": "1700000000000"}, "M_BAD_JSON"),
        ({"now_ms": 1.5}, "M_BAD_JSON"),
        ({"now_ms": True}, "M_BAD_JSON"),
        ({"advance_ms": False}, "M_BAD_JSON"),
        ({"advance_ms": [1]}, "M_BAD_JSON"),
        ({"frozen": 1}, "M_BAD_JSON"),
        ({"frozen": "yes"}, "M_BAD_JSON"),
        ({"now": T}, "M_BAD_JSON"),
        ({"now_ms": -1}, "M_INVALID_PARAM"),
        ({"now_ms": MAX_TIME_MS + 1}, "M_INVALID_PARAM"),
        ({"now_ms": 10**30}, "M_BAD_JSON"),  # beyond what minihs's JSON reader takes
        ({"advance_ms": -1}, "M_INVALID_PARAM"),
        ({"now_ms": MAX_TIME_MS, "advance_ms": 1}, "M_INVALID_PARAM"),
    ],
)
def test_a_bad_value_is_refused_over_http(server, body, errcode):
    reply = server.request("POST", CLOCK, json_body=body, expect=400)
    assert reply["errcode"] == errcode and reply["error"]


def test_a_body_that_is_not_a_json_object_is_refused_over_http(server):
    reply = server.request("POST", CLOCK, json_body=[T], expect=400)
    assert reply["errcode"] == "M_BAD_JSON"


def test_a_refused_change_leaves_the_clock_as_it_was(server, clock):
    clock.freeze()
    clock.set(T)
    with pytest.raises((ValueError, MinihsHTTPError)):
        clock.set(-1)
    bad = {"now_ms": 0, "frozen": "no"}  # one good value, one bad: neither applies
    server.request("POST", CLOCK, json_body=bad, expect=400)
    assert clock.state() == {"now_ms": T, "frozen": True}


@pytest.mark.parametrize(
    "call, value",
    [("set", True), ("set", "5"), ("set", -1), ("set", MAX_TIME_MS + 1), ("advance", -1),
     ("advance", 2.5)],
)
def test_a_bad_value_raises_value_error_in_python(server, call, value):
    with pytest.raises(ValueError):
        getattr(server.clock, call)(value)


def test_the_largest_time_is_accepted(clock):
    assert clock.set(MAX_TIME_MS)["now_ms"] == MAX_TIME_MS


# --- where the admin API is off ----------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_clock_endpoints_do_not_exist_when_the_admin_api_is_off(method):
    with MinihsServer({"enable_admin_api": False}) as server:
        reply = server.request(method, CLOCK, json_body={} if method == "POST" else None,
                               expect=404)
    assert reply["errcode"] == "M_UNRECOGNIZED"


def test_the_python_clock_needs_a_running_server():
    with pytest.raises(RuntimeError):
        MinihsServer().clock


# --- lifetimes end exactly when they have passed, whatever the clock's reading ----------------


def test_a_uia_session_expires_exactly_when_its_lifetime_has_passed():
    from minihs.domain.clock import ServerClock
    from minihs.domain.uia import RegistrationAuth
    from minihs.spec.errors import MatrixError

    # Floating point made some readings outlive the lifetime by a hair: try many readings.
    clock = ServerClock()
    clock.freeze()
    auth = RegistrationAuth("open", [], clock=clock.monotonic)
    for step_ms in range(1, 200):
        clock.advance_ms(step_ms * 7919)
        with pytest.raises(MatrixError) as first:
            auth.authenticate({})
        clock.advance_ms(SESSION_LIFETIME_S * 1000)
        with pytest.raises(MatrixError) as expired:
            auth.authenticate({"type": "m.login.dummy", "session": first.value.session})
        assert expired.value.status == 400 and "expired" in expired.value.message
