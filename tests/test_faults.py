"""Fault injection: rules that make chosen requests fail, wait or go unanswered.

Each behaviour is checked through the admin HTTP API (``/_minihs/admin/faults``, on the
in-process ``hs`` server) and through the Python API (``MinihsServer.add_fault`` and friends).
"""

from __future__ import annotations

import asyncio
import http.client
import time

import aiohttp
import pytest

from conftest import quote
from minihs.domain.faults import FIELDS, FaultRules
from minihs.domain.path_patterns import compile_pattern
from minihs.spec.errors import MatrixError
from minihs.testing import MinihsHTTPError, MinihsServer

FAULTS = "/_minihs/admin/faults"
SEND = "/rooms/{roomId}/send/*"


async def add_fault(hs, expect=200, **rule):
    return await hs.request("POST", FAULTS, json=rule, expect=expect)


def send_path(room_id: str, txn_id: str, version: str = "v3") -> str:
    return f"/_matrix/client/{version}/rooms/{quote(room_id)}/send/m.room.message/{txn_id}"


async def timeline_bodies(hs, user, room_id) -> list[str]:
    chunk = (await hs.messages(user, room_id, dir="b", limit=50))["chunk"]
    return [event["content"].get("body") for event in chunk if event["type"] == "m.room.message"]


# --- path patterns ---------------------------------------------------------------------------


@pytest.mark.parametrize("path, matches", [
    ("/_matrix/client/v3/rooms/!r:hs/send/m.room.message/t1", True),
    ("/_matrix/client/r0/rooms/!r:hs/send/m.room.message/t1", True),
    ("/_matrix/client/v3/rooms/!r:hs/send/m.room.message", True),
    ("/_matrix/client/v3/rooms/!r:hs/send", False),  # '*' needs at least one segment
    ("/_matrix/client/v3/rooms/!r:hs/state/m.room.name/", False),
    ("/_matrix/client/v3/rooms/send/m.room.message/t1", False),  # {roomId} is one segment
])
def test_a_relative_pattern_matches_client_paths_of_any_version(path, matches):
    assert compile_pattern(SEND).matches(path) is matches


def test_an_absolute_pattern_matches_the_whole_path_only():
    pattern = compile_pattern("/_matrix/client/v3/sync")
    assert pattern.matches("/_matrix/client/v3/sync")
    assert not pattern.matches("/_matrix/client/r0/sync")
    assert compile_pattern("/.well-known/matrix/client").matches("/.well-known/matrix/client")


def test_literal_segments_compare_percent_decoded_and_an_encoded_slash_stays_in_its_segment():
    pattern = compile_pattern("/rooms/!a:hs/send/*")
    assert pattern.matches("/_matrix/client/v3/rooms/%21a%3Ahs/send/m.room.message/t")
    state_key = compile_pattern("/rooms/{roomId}/state/{type}/{key}")
    assert state_key.matches("/_matrix/client/v3/rooms/!a:hs/state/x/a%2Fb")
    assert not state_key.matches("/_matrix/client/v3/rooms/!a:hs/state/x/a/b")


@pytest.mark.parametrize("bad", [
    "rooms/{roomId}", "/rooms/{roomId}?x=1", "/rooms/x{roomId}", "/rooms/{a{b}}",
    "/rooms/*/send", "/sync*", "/_minihs/admin/faults", 42, None, "/" + "a" * 3000,
])
def test_a_malformed_pattern_is_refused(bad):
    with pytest.raises(MatrixError) as refused:
        compile_pattern(bad)
    assert refused.value.errcode == "M_INVALID_PARAM"
    assert refused.value.message.startswith("path: ")


# --- what a fault does (admin HTTP API) -----------------------------------------------------


async def test_a_429_on_send_answers_retry_after_and_the_message_never_reaches_the_room(hs):
    alice = await hs.register()
    room_id = await hs.create_room(alice)
    since = (await hs.sync(alice))["next_batch"]
    rule = await add_fault(hs, method="PUT", path=SEND, status=429, retry_after_ms=1500)
    body = await hs.request("PUT", send_path(room_id, "t1"), alice,
                            json={"msgtype": "m.text", "body": "lost"}, expect=429)
    assert body == {"errcode": "M_LIMIT_EXCEEDED", "error": "Injected fault",
                    "retry_after_ms": 1500}
    assert hs.last_response.headers["Retry-After"] == "2"  # seconds, rounded up
    assert rule["id"] and rule["matched"] == 0
    sync = await hs.sync(alice, since=since, timeout=0)
    assert room_id not in sync.get("rooms", {}).get("join", {})
    assert "lost" not in await timeline_bodies(hs, alice, room_id)


async def test_times_two_faults_exactly_two_requests_then_the_request_succeeds(hs):
    alice = await hs.register()
    room_id = await hs.create_room(alice)
    await add_fault(hs, method="PUT", path=SEND, status=500, times=2)
    content = {"msgtype": "m.text", "body": "third time lucky"}
    statuses = []
    for attempt in range(3):
        await hs.request("PUT", send_path(room_id, f"t{attempt}"), alice, json=content,
                         expect=None)
        statuses.append(hs.last_response.status)
    assert statuses == [500, 500, 200]
    assert await hs.request("GET", FAULTS) == {"faults": []}  # used up, gone
    assert await timeline_bodies(hs, alice, room_id) == ["third time lucky"]


async def test_a_client_that_retries_after_the_429_gets_its_message_through(hs):
    alice = await hs.register()
    room_id = await hs.create_room(alice)
    await add_fault(hs, method="PUT", path=SEND, status=429, retry_after_ms=1, times=2)
    content = {"msgtype": "m.text", "body": "persistent"}
    for attempts in range(1, 6):  # what a well-behaved client does: same txn ID, wait, retry
        body = await hs.request("PUT", send_path(room_id, "same-txn"), alice, json=content,
                                expect=None)
        if hs.last_response.status != 429:
            break
        await asyncio.sleep(body["retry_after_ms"] / 1000)
    assert (attempts, hs.last_response.status) == (3, 200)
    assert await timeline_bodies(hs, alice, room_id) == ["persistent"]


async def test_a_rule_for_one_user_faults_only_that_users_requests(hs):
    alice, bob = await hs.register(), await hs.register()
    await add_fault(hs, method="GET", path="/account/whoami", user=alice.user_id, status=403,
                    errcode="M_FORBIDDEN", error="not you")
    body = await hs.request("GET", "/_matrix/client/v3/account/whoami", alice, expect=403)
    assert body == {"errcode": "M_FORBIDDEN", "error": "not you"}
    assert (await hs.request("GET", "/_matrix/client/v3/account/whoami", bob))["user_id"] \
        == bob.user_id
    await hs.request("GET", "/_matrix/client/v3/account/whoami", expect=401)  # no token: no user


async def test_a_fault_on_sync_is_what_sync_answers(hs):
    alice = await hs.register()
    await add_fault(hs, method="GET", path="/sync", status=503, errcode="M_UNKNOWN", times=1)
    body = await hs.sync(alice, expect=503)
    assert body["errcode"] == "M_UNKNOWN"
    assert "next_batch" in await hs.sync(alice)  # times: 1, so the next sync is served


async def test_a_delay_alone_waits_then_answers_normally(hs):
    alice = await hs.register()
    await add_fault(hs, method="GET", path="/account/whoami", delay_ms=150)
    started = time.perf_counter()
    body = await hs.request("GET", "/_matrix/client/v3/account/whoami", alice)
    assert time.perf_counter() - started >= 0.15
    assert body["user_id"] == alice.user_id


async def test_a_delay_with_a_status_waits_then_answers_the_status(hs):
    await add_fault(hs, method="GET", path="/_matrix/client/versions", delay_ms=100,
                    status=502)
    started = time.perf_counter()
    await hs.request("GET", "/_matrix/client/versions", expect=502)
    assert time.perf_counter() - started >= 0.1


async def test_drop_closes_the_connection_without_an_answer(hs):
    await add_fault(hs, method="GET", path="/_matrix/client/versions", drop=True, times=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await hs.http.get("/_matrix/client/versions")
    await hs.request("GET", "/_matrix/client/versions")  # the next connection is served


async def test_a_faulted_create_room_creates_nothing(hs):
    alice = await hs.register()
    await add_fault(hs, method="POST", path="/createRoom", status=500)
    await hs.request("POST", "/_matrix/client/v3/createRoom", alice, json={}, expect=500)
    assert await hs.joined_rooms(alice) == []


async def test_the_first_matching_rule_takes_the_request(hs):
    first = await add_fault(hs, method="*", path="/_matrix/client/versions", status=503)
    await add_fault(hs, method="GET", path="/_matrix/client/versions", status=500)
    await hs.request("GET", "/_matrix/client/versions", expect=503)
    rules = (await hs.request("GET", FAULTS))["faults"]
    assert [(rule["id"], rule["matched"]) for rule in rules] == \
        [(first["id"], 1), (rules[1]["id"], 0)]


async def test_a_rule_for_one_method_leaves_the_others_alone(hs):
    alice = await hs.register()
    await add_fault(hs, method="put", path="/profile/{userId}/displayname", status=500)
    path = f"/_matrix/client/v3/profile/{quote(alice.user_id)}/displayname"
    await hs.request("GET", path, alice)
    await hs.request("PUT", path, alice, json={"displayname": "A"}, expect=500)


async def test_admin_requests_are_never_faulted(hs):
    await add_fault(hs, method="*", path="/*", status=500)
    await add_fault(hs, method="*", path="/_matrix/*", status=500)
    await hs.request("GET", "/_matrix/client/v3/capabilities", expect=500)
    assert len((await hs.request("GET", FAULTS))["faults"]) == 2
    assert await hs.request("DELETE", FAULTS) == {}
    await hs.request("GET", "/_matrix/client/versions")


# --- managing rules (admin HTTP API) --------------------------------------------------------


async def test_a_new_rule_is_answered_with_its_id_and_every_field(hs):
    rule = await add_fault(hs, method="PUT", path=SEND, status=429, times=3)
    assert rule == {
        "id": rule["id"], "method": "PUT", "path": SEND, "user": None, "status": 429,
        "errcode": None, "error": None, "retry_after_ms": None, "delay_ms": None,
        "drop": False, "times": 3, "remaining": 3, "matched": 0,
    }


async def test_the_list_counts_matches_and_remaining_turns(hs):
    rule = await add_fault(hs, method="GET", path="/_matrix/client/versions", status=500,
                           times=3)
    await hs.request("GET", "/_matrix/client/versions", expect=500)
    (listed,) = (await hs.request("GET", FAULTS))["faults"]
    assert (listed["id"], listed["matched"], listed["remaining"]) == (rule["id"], 1, 2)


async def test_deleting_one_rule_leaves_the_others(hs):
    doomed = await add_fault(hs, method="GET", path="/sync", status=500)
    kept = await add_fault(hs, method="GET", path="/_matrix/client/versions", status=500)
    assert await hs.request("DELETE", f"{FAULTS}/{doomed['id']}") == {}
    assert [rule["id"] for rule in (await hs.request("GET", FAULTS))["faults"]] == [kept["id"]]
    body = await hs.request("DELETE", f"{FAULTS}/{doomed['id']}", expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


async def test_clearing_removes_every_rule(hs):
    await add_fault(hs, method="GET", path="/sync", status=500)
    await add_fault(hs, method="*", path="/*", delay_ms=10)
    assert await hs.request("DELETE", FAULTS) == {}
    assert await hs.request("GET", FAULTS) == {"faults": []}
    await hs.request("GET", "/_matrix/client/v3/capabilities", expect=401)  # served, not faulted


async def test_a_reset_clears_the_rules(hs):
    await add_fault(hs, method="GET", path="/_matrix/client/versions", status=500)
    await hs.request("POST", "/_minihs/admin/reset")
    assert await hs.request("GET", FAULTS) == {"faults": []}
    await hs.request("GET", "/_matrix/client/versions")


BAD_RULES = [
    ({"path": SEND, "status": 500}, "method"),
    ({"method": "P UT", "path": SEND, "status": 500}, "method"),
    ({"method": "PUT", "status": 500}, "path"),
    ({"method": "PUT", "path": "rooms", "status": 500}, "path"),
    ({"method": "PUT", "path": SEND}, "status"),  # nothing to do
    ({"method": "PUT", "path": SEND, "status": 200}, "status"),
    ({"method": "PUT", "path": SEND, "status": 600}, "status"),
    ({"method": "PUT", "path": SEND, "status": "429"}, "status"),
    ({"method": "PUT", "path": SEND, "status": 429, "errcode": "LIMIT"}, "errcode"),
    ({"method": "PUT", "path": SEND, "errcode": "M_X", "delay_ms": 1}, "errcode"),
    ({"method": "PUT", "path": SEND, "error": "why", "delay_ms": 1}, "error"),
    ({"method": "PUT", "path": SEND, "retry_after_ms": 5, "delay_ms": 1}, "retry_after_ms"),
    ({"method": "PUT", "path": SEND, "status": 429, "retry_after_ms": -1}, "retry_after_ms"),
    ({"method": "PUT", "path": SEND, "delay_ms": 600_001}, "delay_ms"),
    ({"method": "PUT", "path": SEND, "delay_ms": True}, "delay_ms"),
    ({"method": "PUT", "path": SEND, "status": 500, "times": 0}, "times"),
    ({"method": "PUT", "path": SEND, "drop": "yes"}, "drop"),
    ({"method": "PUT", "path": SEND, "drop": True, "status": 500}, "drop"),
    ({"method": "PUT", "path": SEND, "status": 500, "user": "alice"}, "user"),
    ({"method": "PUT", "path": SEND, "status": 500, "tims": 2}, "tims"),
    ({"method": "PUT", "path": SEND, "status": 500, "id": "f9"}, "id"),
]


@pytest.mark.parametrize("rule, field", BAD_RULES)
async def test_a_rule_that_cannot_work_is_refused_naming_the_field(hs, rule, field):
    body = await hs.request("POST", FAULTS, json=rule, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"
    assert body["error"].startswith(f"{field}: ")
    assert await hs.request("GET", FAULTS) == {"faults": []}


async def test_a_body_that_is_not_a_json_object_is_refused(hs):
    assert (await hs.request("POST", FAULTS, json=[1], expect=400))["errcode"] == "M_BAD_JSON"


async def test_the_fault_endpoints_do_not_exist_without_the_admin_api(hs_admin_off):
    hs = hs_admin_off
    body = await hs.request("POST", FAULTS, json={"method": "*", "path": "/*", "status": 500},
                            expect=404)
    assert body["errcode"] == "M_UNRECOGNIZED"
    await hs.request("GET", FAULTS, expect=404)


def test_the_number_of_rules_is_bounded():
    rules = FaultRules(max_rules=2)
    for _ in range(2):
        rules.add({"method": "*", "path": "/sync", "status": 500})
    with pytest.raises(MatrixError) as refused:
        rules.add({"method": "*", "path": "/sync", "status": 500})
    assert (refused.value.status, refused.value.errcode) == (400, "M_LIMIT_EXCEEDED")


def test_rule_ids_are_never_reused_after_a_clear():
    rules = FaultRules()
    first = rules.add({"method": "*", "path": "/sync", "status": 500})
    rules.clear()
    assert rules.add({"method": "*", "path": "/sync", "status": 500}).id != first.id


# --- the Python API -------------------------------------------------------------------------


def test_python_api_a_429_on_send_and_the_message_is_not_in_the_room(fresh):
    alice = fresh.register_user()
    room_id = fresh.create_room(alice)
    fresh.add_fault("PUT", SEND, status=429, retry_after_ms=2500)
    with pytest.raises(MinihsHTTPError) as refused:
        fresh.request("PUT", send_path(room_id, "t1"), alice,
                      json_body={"msgtype": "m.text", "body": "lost"})
    assert (refused.value.status, refused.value.errcode) == (429, "M_LIMIT_EXCEEDED")
    assert refused.value.body["retry_after_ms"] == 2500
    chunk = fresh.request("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages", alice,
                          params={"dir": "b"})["chunk"]
    assert [event for event in chunk if event["type"] == "m.room.message"] == []


def test_python_api_times_two_then_the_request_succeeds(fresh):
    alice = fresh.register_user()
    room_id = fresh.create_room(alice)
    fresh.add_fault("PUT", SEND, status=503, times=2)
    content = {"msgtype": "m.text", "body": "hi"}
    statuses = []
    for n in range(3):
        try:
            fresh.request("PUT", send_path(room_id, f"t{n}", "r0"), alice, json_body=content)
            statuses.append(200)
        except MinihsHTTPError as error:
            statuses.append(error.status)
    assert statuses == [503, 503, 200]
    assert fresh.faults() == []


def test_python_api_a_rule_for_one_user(fresh):
    alice, bob = fresh.register_user(), fresh.register_user()
    fresh.add_fault("GET", "/account/whoami", user=bob.user_id, status=500)
    assert fresh.request("GET", "/_matrix/client/v3/account/whoami", alice)["user_id"] \
        == alice.user_id
    fresh.request("GET", "/_matrix/client/v3/account/whoami", bob, expect=500)


def test_python_api_a_fault_on_sync(fresh):
    alice = fresh.register_user()
    fresh.add_fault("GET", "/sync", status=429, retry_after_ms=10, times=1)
    body = fresh.request("GET", "/_matrix/client/v3/sync", alice, expect=429)
    assert body["retry_after_ms"] == 10
    fresh.request("GET", "/_matrix/client/v3/sync", alice)


def test_python_api_a_delay_then_the_normal_answer(fresh):
    fresh.add_fault("GET", "/_matrix/client/versions", delay_ms=120, times=1)
    started = time.perf_counter()
    assert "versions" in fresh.request("GET", "/_matrix/client/versions")
    assert time.perf_counter() - started >= 0.12


def test_python_api_drop_closes_the_connection(fresh):
    fresh.add_fault("GET", "/_matrix/client/versions", drop=True)
    conn = http.client.HTTPConnection(fresh.host, fresh.port, timeout=10)
    try:
        conn.request("GET", "/_matrix/client/versions")
        with pytest.raises(http.client.RemoteDisconnected):
            conn.getresponse()
    finally:
        conn.close()
    (rule,) = fresh.faults()
    assert rule["matched"] == 1


def test_python_api_removing_one_rule_leaves_the_others(fresh):
    first = fresh.add_fault("GET", "/sync", status=500)
    second = fresh.add_fault("*", "/*", delay_ms=5, times=4)
    assert [rule["id"] for rule in fresh.faults()] == [first["id"], second["id"]]
    fresh.remove_fault(first["id"])
    assert fresh.faults() == [second]
    with pytest.raises(MatrixError) as refused:
        fresh.remove_fault(first["id"])
    assert (refused.value.status, refused.value.errcode) == (404, "M_NOT_FOUND")


def test_python_api_clearing_removes_every_rule(fresh):
    fresh.add_fault("GET", "/_matrix/client/versions", status=500)
    fresh.add_fault("*", "/*", delay_ms=5, times=4)
    fresh.clear_faults()
    assert fresh.faults() == []
    fresh.request("GET", "/_matrix/client/versions")  # served, not faulted


def test_python_api_a_reset_clears_the_rules(fresh):
    fresh.add_fault("GET", "/_matrix/client/versions", status=500)
    fresh.reset()
    assert fresh.faults() == []
    fresh.request("GET", "/_matrix/client/versions")


def test_python_api_admin_requests_are_never_faulted(fresh):
    fresh.add_fault("*", "/_matrix/*", status=500)
    assert fresh.request("GET", FAULTS)["faults"]  # the admin API still answers
    with pytest.raises(MatrixError):
        fresh.add_fault("GET", "/_minihs/admin/faults", status=500)


# The ones the Python API can express: a method given, and only the keyword arguments it has.
PYTHON_BAD_RULES = [(rule, field) for rule, field in BAD_RULES
                    if "method" in rule and set(rule) <= FIELDS]


@pytest.mark.parametrize("rule, field", PYTHON_BAD_RULES)
def test_python_api_a_rule_that_cannot_work_raises_naming_the_field(fresh, rule, field):
    kwargs = {name: value for name, value in rule.items() if name not in ("method", "path")}
    with pytest.raises(MatrixError) as refused:
        fresh.add_fault(rule.get("method", "PUT"), rule.get("path"), **kwargs)
    assert refused.value.message.startswith(f"{field}: ")
    assert fresh.faults() == []


def test_python_api_faults_need_the_admin_api():
    with MinihsServer({"enable_admin_api": False}) as server:
        with pytest.raises(RuntimeError, match="enable_admin_api"):
            server.add_fault("*", "/*", status=500)
