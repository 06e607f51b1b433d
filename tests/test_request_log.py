"""The request log: what the server answered, for tests to assert on.

Each behaviour is checked through the admin HTTP API (``/_minihs/admin/requests``, on the
in-process ``hs`` server) and through the Python API (``MinihsServer.requests`` and friends).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from conftest import quote, test_config
from minihs.config import RequestLogConfig
from minihs.domain.path_patterns import compile_pattern
from minihs.domain.redaction import redact_credentials
from minihs.domain.request_log import RequestLog
from minihs.testing import MinihsHTTPError, MinihsServer

REQUESTS = "/_minihs/admin/requests"
FAULTS = "/_minihs/admin/faults"
SEND = "/rooms/{roomId}/send/*"
SEND_TEMPLATE = "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"
WHOAMI = "/_matrix/client/v3/account/whoami"


async def logged(hs, **params) -> list[dict]:
    query = {name: str(value) for name, value in params.items()}
    return (await hs.request("GET", REQUESTS, params=query))["requests"]


def send_path(room_id: str, txn_id: str) -> str:
    return f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{txn_id}"


async def without_log(make_homeserver):
    config = test_config()
    config.request_log = dataclasses.replace(config.request_log, enabled=False)
    return await make_homeserver(config)


# --- what an entry says (admin HTTP API) ----------------------------------------------------


async def test_an_entry_names_method_path_template_user_status_time_and_duration(hs):
    alice = await hs.register("alice")
    room_id = await hs.create_room(alice)
    hs.homeserver.clock.freeze()
    mark = (await hs.request("GET", REQUESTS))["mark"]
    await hs.send(alice, room_id, "hi", txn_id="t1")
    (entry,) = await logged(hs, since=mark)
    assert entry == {
        "id": mark + 1, "ts": hs.homeserver.clock.now_ms(), "method": "PUT",
        "path": f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t1",
        "path_template": SEND_TEMPLATE, "user": alice.user_id, "status": 200,
        "errcode": None, "duration_ms": entry["duration_ms"], "fault": None,
    }
    assert 0 < entry["duration_ms"] < 10_000


async def test_an_error_is_recorded_with_its_status_and_errcode(hs):
    alice = await hs.register()
    await hs.join(alice, "!nowhere:localhost", expect=404)
    await hs.request("GET", "/_matrix/client/v3/no/such/endpoint", expect=404)
    await hs.request("GET", WHOAMI, expect=401)
    joined, unknown, anonymous = (await logged(hs))[-3:]
    assert (joined["status"], joined["errcode"], joined["user"]) == \
        (404, "M_NOT_FOUND", alice.user_id)
    assert (unknown["status"], unknown["errcode"], unknown["path_template"]) == \
        (404, "M_UNRECOGNIZED", None)
    assert (anonymous["status"], anonymous["errcode"], anonymous["user"]) == \
        (401, "M_MISSING_TOKEN", None)


async def test_a_faulted_request_names_its_rule_and_its_user(hs):
    alice = await hs.register()
    rule = await hs.request("POST", FAULTS, json={"method": "GET", "path": "/account/whoami",
                                                  "status": 429, "retry_after_ms": 5})
    await hs.request("GET", WHOAMI, alice, expect=429)
    entry = (await logged(hs))[-1]
    assert (entry["status"], entry["errcode"], entry["fault"], entry["user"]) == \
        (429, "M_LIMIT_EXCEEDED", rule["id"], alice.user_id)


async def test_a_dropped_request_is_recorded_with_no_status(hs):
    import aiohttp

    rule = await hs.request("POST", FAULTS, json={"method": "GET",
                                                  "path": "/_matrix/client/versions",
                                                  "drop": True})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await hs.http.get("/_matrix/client/versions")
    entry = (await logged(hs))[-1]
    assert (entry["path"], entry["status"], entry["fault"]) == \
        ("/_matrix/client/versions", None, rule["id"])


async def test_admin_requests_are_not_recorded(hs):
    await hs.request("GET", "/_matrix/client/versions")
    await hs.request("GET", FAULTS)
    await hs.request("GET", "/_minihs/openapi.json")
    await hs.request("GET", REQUESTS)
    assert [entry["path"] for entry in await logged(hs)] == ["/_matrix/client/versions"]


# --- reading the log (admin HTTP API) -------------------------------------------------------


async def test_since_the_mark_lists_only_what_came_after(hs):
    await hs.request("GET", "/_matrix/client/versions")
    mark = (await hs.request("GET", REQUESTS))["mark"]
    assert mark == 1
    await hs.request("GET", "/_matrix/client/v3/capabilities", expect=401)
    assert [entry["path"] for entry in await logged(hs, since=mark)] == \
        ["/_matrix/client/v3/capabilities"]


async def test_filters_by_path_pattern_user_status_and_method(hs):
    alice, bob = await hs.register(), await hs.register()
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room_id)
    await hs.send(alice, room_id, "from alice")
    await hs.send(bob, room_id, "from bob")
    await hs.request("GET", WHOAMI, expect=401)
    sends = await logged(hs, path=SEND)
    assert [entry["user"] for entry in sends] == [alice.user_id, bob.user_id]
    assert [entry["user"] for entry in await logged(hs, path=SEND, user=bob.user_id)] == \
        [bob.user_id]
    assert [entry["path"] for entry in await logged(hs, status=401)] == [WHOAMI]
    assert {entry["method"] for entry in await logged(hs, method="put")} == {"PUT"}
    assert await logged(hs, path="/_matrix/client/r0/*") == []


async def test_pages_go_backwards_with_before_and_desc(hs):
    for _ in range(5):
        await hs.request("GET", "/_matrix/client/versions")
    newest = await logged(hs, order="desc", limit=2)
    assert [entry["id"] for entry in newest] == [5, 4]
    assert [entry["id"] for entry in await logged(hs, order="desc", limit=2, before=4)] == [3, 2]
    assert [entry["id"] for entry in await logged(hs, since=1, before=4)] == [2, 3]
    assert [entry["id"] for entry in await logged(hs, limit=2)] == [1, 2]


async def test_one_entry_keeps_the_query_headers_and_both_bodies(hs):
    alice = await hs.register()
    await hs.request("PUT", f"/_matrix/client/v3/profile/{quote(alice.user_id)}/displayname",
                     alice, json={"displayname": "Alice"}, params={"x": "1"})
    entry = (await logged(hs))[-1]
    detail = await hs.request("GET", f"{REQUESTS}/{entry['id']}")
    assert {key: detail[key] for key in entry} == entry
    assert detail["request"]["query"] == "x=1"
    assert json.loads(detail["request"]["body"]) == {"displayname": "Alice"}
    assert detail["request"]["truncated"] is False
    assert detail["response"] == {"body": "{}", "truncated": False}
    assert detail["request"]["headers"]["Authorization"] == "<redacted>"


async def test_no_access_token_or_password_is_kept_anywhere(hs):
    alice = await hs.register("alice")  # a password in the body, a token in the answer
    login = await hs.request("POST", "/_matrix/client/v3/login", json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
        "password": alice.password})
    await hs.request("GET", WHOAMI, params={"access_token": login["access_token"]})
    await hs.request("GET", f"{WHOAMI}?x=1&access%5Ftoken={login['access_token']}")
    await hs.request("GET", WHOAMI, alice)  # the token in the Authorization header
    # Not served here (404): its body is recorded all the same, unread by any endpoint.
    await hs.request("POST", "/_matrix/client/v3/account/password", alice, json={
        "new_password": "another secret", "logout_devices": False,
        "auth": {"type": "m.login.password", "password": alice.password,
                 "identifier": {"type": "m.id.user", "user": "alice"}}}, expect=404)
    everything = json.dumps([await hs.request("GET", f"{REQUESTS}/{entry['id']}")
                             for entry in await logged(hs)])
    for secret in (alice.password, alice.access_token, login["access_token"], "another secret"):
        assert secret not in everything
    password_change = json.loads((await hs.request("GET", f"{REQUESTS}/6"))["request"]["body"])
    assert password_change["auth"]["password"] == password_change["new_password"] == "<redacted>"
    register = await hs.request("GET", f"{REQUESTS}/1")
    assert json.loads(register["request"]["body"])["password"] == "<redacted>"
    assert json.loads(register["response"]["body"])["access_token"] == "<redacted>"
    assert json.loads(register["request"]["body"])["username"] == "alice"  # the shape is kept


async def test_clearing_empties_the_log_and_ids_go_on(hs):
    await hs.request("GET", "/_matrix/client/versions")
    assert await hs.request("DELETE", REQUESTS) == {}
    body = await hs.request("GET", REQUESTS)
    assert (body["requests"], body["mark"], body["total"]) == ([], 1, 0)
    await hs.request("GET", "/_matrix/client/versions")
    assert [entry["id"] for entry in await logged(hs)] == [2]


async def test_a_reset_empties_the_log(hs):
    await hs.request("GET", "/_matrix/client/versions")
    await hs.request("POST", "/_minihs/admin/reset")
    body = await hs.request("GET", REQUESTS)
    assert (body["requests"], body["total"]) == ([], 0)


async def test_an_unknown_entry_is_not_found(hs):
    for entry_id in ("1", "abc", "9" * 40):
        body = await hs.request("GET", f"{REQUESTS}/{entry_id}", expect=404)
        assert body["errcode"] == "M_NOT_FOUND"


@pytest.mark.parametrize("params", [
    {"since": "-1"}, {"since": "x"}, {"before": "1.5"}, {"limit": "0"}, {"limit": "1001"},
    {"order": "up"}, {"status": "abc"}, {"path": "rooms"}, {"path": "/a/*/b"},
    {"since": "9" * 5000},
])
async def test_a_bad_parameter_is_refused(hs, params):
    body = await hs.request("GET", REQUESTS, params=params, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"
    assert body["error"].startswith(next(iter(params)) + ": ")


# --- size, bodies, and turning it off --------------------------------------------------------


async def test_the_log_keeps_only_the_newest_size_entries(make_homeserver):
    hs = await make_homeserver(request_log={"size": 3, "bodies_kept": 0})
    for _ in range(5):
        await hs.request("GET", "/_matrix/client/versions")
    body = await hs.request("GET", REQUESTS)
    assert [entry["id"] for entry in body["requests"]] == [3, 4, 5]
    assert (body["mark"], body["total"]) == (5, 3)
    await hs.request("GET", f"{REQUESTS}/2", expect=404)


async def test_bodies_are_cut_and_dropped_beyond_the_newest_bodies_kept(make_homeserver):
    hs = await make_homeserver(request_log={"size": 10, "bodies_kept": 2,
                                            "max_body_bytes": 10})
    alice = await hs.register()
    for n in range(3):
        await hs.request("PUT", f"/_matrix/client/v3/user/{quote(alice.user_id)}"
                         f"/account_data/x.y", alice, json={"n": n, "padding": "z" * 50})
    first, second, third = [await hs.request("GET", f"{REQUESTS}/{entry['id']}")
                            for entry in (await logged(hs))[-3:]]
    assert (first["request"], first["response"]) == (None, None)
    assert second["request"]["body"] == '{"n": 1, "' and second["request"]["truncated"]
    assert third["request"]["body"] == '{"n": 2, "' and third["request"]["truncated"]
    assert third["response"] == {"body": "{}", "truncated": False}


async def test_a_body_over_the_size_limit_is_recorded_as_413_without_its_body(make_homeserver):
    hs = await make_homeserver(limits={"max_request_body_bytes": 1024})
    alice = await hs.register()
    await hs.request("POST", "/_matrix/client/v3/createRoom", alice,
                     json={"name": "x" * 2000}, expect=413)
    entry = (await logged(hs))[-1]
    assert (entry["status"], entry["errcode"]) == (413, "M_TOO_LARGE")
    detail = await hs.request("GET", f"{REQUESTS}/{entry['id']}")
    assert detail["request"]["body"] is None


async def test_without_the_log_the_endpoints_answer_an_empty_log(make_homeserver):
    hs = await without_log(make_homeserver)
    await hs.request("GET", "/_matrix/client/versions")
    assert await hs.request("GET", REQUESTS) == \
        {"requests": [], "mark": 0, "total": 0, "enabled": False}
    await hs.request("GET", f"{REQUESTS}/1", expect=404)
    assert await hs.request("DELETE", REQUESTS) == {}


async def test_the_log_endpoints_do_not_exist_without_the_admin_api(hs_admin_off):
    hs = hs_admin_off
    assert (await hs.request("GET", REQUESTS, expect=404))["errcode"] == "M_UNRECOGNIZED"


# --- the domain object -----------------------------------------------------------------------


def _filled(count: int, **config) -> RequestLog:
    log = RequestLog(RequestLogConfig(enabled=True, **config))
    for n in range(count):
        log.record(ts=n, method="GET", raw_path=f"/_matrix/client/v3/rooms/!r{n % 7}:hs/state",
                   path_template=None, user=f"@u{n % 3}:hs", status=200, errcode=None,
                   duration_ms=0.1)
    return log


class CountingRing(list):
    """A request log's ring that counts the entries read from it."""

    reads = 0

    def __getitem__(self, index):
        if isinstance(index, slice):
            self.reads += len(range(*index.indices(len(self))))
        else:
            self.reads += 1
        return super().__getitem__(index)

    def __iter__(self):
        return (self[index] for index in range(len(self)))


def test_paging_a_full_log_goes_straight_to_the_page():
    log = _filled(100_000, size=100_000, bodies_kept=0)
    ring = log._ring = CountingRing(log._ring)
    for page in range(1_000):
        since = page * 97
        ring.reads = 0
        assert [entry.id for entry in log.query(since=since, limit=3)] == \
            [since + 1, since + 2, since + 3]
        # The page, and at most the one entry after it that tells the page is full: a scan
        # from the start would read up to 100,000.
        assert ring.reads <= 3 + 1
        before = 100_000 - page * 89
        ring.reads = 0
        assert log.query(before=before, limit=1, descending=True)[0].id == before - 1
        assert ring.reads <= 1 + 1


def test_the_ring_wraps_and_still_finds_every_kept_entry():
    log = _filled(25, size=10, bodies_kept=0)
    assert [entry.id for entry in log.query()] == list(range(16, 26))
    assert log.get(15) is None and log.get(16).id == 16 and log.get(25).id == 25
    assert [entry.id for entry in log.query(user="@u0:hs", path=compile_pattern(
        "/rooms/!r1:hs/state"))] == [16]


def test_every_hook_sees_each_new_entry():
    log = RequestLog(RequestLogConfig(enabled=True))
    seen = []
    log.on_record.append(lambda entry: seen.append(entry.id))
    log.on_record.append(lambda entry: 1 / 0)  # a broken watcher does not stop the others
    for _ in range(2):
        log.record(ts=0, method="GET", raw_path="/", path_template=None, user=None,
                   status=200, errcode=None, duration_ms=0.0)
    assert seen == [1, 2]


@pytest.mark.parametrize("body, shown", [
    (b'{"password": "pw", "user": "a"}', b'{"password": "<redacted>", "user": "a"}'),
    (b'{"auth":{"pass\\u0077ord":"p\\"w"}}', b'{"auth":{"pass\\u0077ord":"<redacted>"}}'),
    (b'{"access_token":"mhs_abc', b'{"access_token":"<redacted>"'),  # cut inside the value
    (b'{"token": 12345, "type": "m.login.token"}',
     b'{"token": "<redacted>", "type": "m.login.token"}'),
    (b'{"refresh_token": null}', b'{"refresh_token": null}'),
    (b'{"body": "my \\"password\\": \\"x\\""}', b'{"body": "my \\"password\\": \\"x\\""}'),
    (b'{"msgtype": "m.text", "body": "hi"}', b'{"msgtype": "m.text", "body": "hi"}'),
])
def test_credentials_in_bodies_are_redacted_and_the_rest_kept(body, shown):
    assert redact_credentials(body) == shown


# --- the Python API -------------------------------------------------------------------------


def test_python_api_requests_since_a_mark(fresh):
    alice = fresh.register_user()
    mark = fresh.request_log_mark()
    fresh.request("GET", WHOAMI, alice)
    (entry,) = fresh.requests(since=mark)
    assert (entry["method"], entry["path"], entry["path_template"], entry["user"],
            entry["status"], entry["errcode"], entry["fault"]) == \
        ("GET", WHOAMI, WHOAMI, alice.user_id, 200, None, None)
    assert entry["id"] == mark + 1 == fresh.request_log_mark()


def test_python_api_the_client_retried_after_the_429(fresh):
    alice = fresh.register_user()
    room_id = fresh.create_room(alice)
    rule = fresh.add_fault("PUT", SEND, status=429, retry_after_ms=1, times=1)
    mark = fresh.request_log_mark()
    content = {"msgtype": "m.text", "body": "hi"}
    for _ in range(3):  # the client under test
        try:
            fresh.request("PUT", send_path(room_id, "txn"), alice, json_body=content)
            break
        except MinihsHTTPError as error:
            assert error.status == 429
    sends = fresh.requests(since=mark, path=SEND)
    assert [(entry["status"], entry["fault"]) for entry in sends] == \
        [(429, rule["id"]), (200, None)]


def test_python_api_filters(fresh):
    alice, bob = fresh.register_user(), fresh.register_user()
    fresh.request("GET", WHOAMI, alice)
    fresh.request("GET", WHOAMI, bob)
    fresh.request("GET", WHOAMI, expect=401)
    assert [entry["user"] for entry in fresh.requests(path="/account/whoami", status=200)] == \
        [alice.user_id, bob.user_id]
    assert len(fresh.requests(user=bob.user_id, method="get")) == 1
    assert [entry["errcode"] for entry in fresh.requests(status=401)] == ["M_MISSING_TOKEN"]
    assert len(fresh.requests(limit=2)) == 2


def test_python_api_no_access_token_in_the_log(fresh):
    alice = fresh.register_user()
    fresh.request("GET", WHOAMI, alice, params={"x": alice.access_token[:4]})
    fresh.request("GET", WHOAMI, params={"access_token": alice.access_token})
    everything = json.dumps([fresh.request("GET", f"{REQUESTS}/{entry['id']}")
                             for entry in fresh.requests()])
    assert alice.access_token not in everything and alice.password not in everything


def test_python_api_admin_requests_are_not_recorded(fresh):
    fresh.faults()
    fresh.request("GET", FAULTS)
    fresh.request("GET", "/_matrix/client/versions")
    assert [entry["path"] for entry in fresh.requests()] == ["/_matrix/client/versions"]


def test_python_api_clearing_empties_the_log_and_keeps_the_mark(fresh):
    fresh.request("GET", "/_matrix/client/versions")
    mark = fresh.request_log_mark()
    fresh.clear_request_log()
    assert fresh.requests() == [] and fresh.request_log_mark() == mark
    fresh.request("GET", "/_matrix/client/versions")
    assert [entry["id"] for entry in fresh.requests()] == [mark + 1]


def test_python_api_a_reset_empties_the_log(fresh):
    fresh.request("GET", "/_matrix/client/versions")
    fresh.reset()
    assert fresh.requests() == []


def test_python_api_without_the_log_it_is_empty():
    with MinihsServer({"request_log": {"enabled": False}}) as server:
        server.request("GET", "/_matrix/client/versions")
        assert server.requests() == [] and server.request_log_mark() == 0
        assert server.request("GET", REQUESTS)["enabled"] is False


@pytest.mark.parametrize("limit", [0, -1, True, "10"])
def test_python_api_a_limit_that_is_not_a_positive_integer_is_refused(fresh, limit):
    with pytest.raises(ValueError, match="limit"):
        fresh.requests(limit=limit)
