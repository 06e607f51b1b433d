"""Protocol basics every endpoint shares: the error format and status codes, CORS, what real
clients send (empty bodies, r0 paths, encoded path parameters), authentication, discovery and
the access log."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request
from yarl import URL

from conftest import quote, test_config
from minihs.api.app import RedactingAccessLogger, create_app, make_runner, redact_tokens
from minihs.api.app import STARTED_AT

REGISTER = "/_matrix/client/v3/register"
LOGIN = "/_matrix/client/v3/login"
WHOAMI = "/_matrix/client/v3/account/whoami"
LOGOUT = "/_matrix/client/v3/logout"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
}


async def raw(hs, method, path, *, data=None, headers=None, user=None):
    """Send exactly these bytes; return (status, parsed JSON body or None, response)."""
    all_headers = dict(user.headers) if user else {}
    all_headers.update(headers or {})
    response = await hs.http.request(method, path, data=data, headers=all_headers)
    text = await response.read()
    return response.status, (await response.json(content_type=None) if text else None), response


def assert_error(body, errcode):
    assert body["errcode"] == errcode
    assert isinstance(body["error"], str) and body["error"]


def assert_cors(response):
    for name, value in CORS.items():
        assert response.headers.get(name) == value, name


# --- unknown paths and methods, sizes, bodies ------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/_matrix/client/v3/no_such_thing", "/nowhere", "/_matrix/client/v9/login"]
)
async def test_unknown_path_is_404_unrecognized(hs, path):
    status, body, _ = await raw(hs, "GET", path)
    assert status == 404
    assert_error(body, "M_UNRECOGNIZED")


@pytest.mark.parametrize("method, path", [("GET", LOGOUT), ("PUT", REGISTER), ("DELETE", LOGIN)])
async def test_known_path_with_the_wrong_method_is_405_unrecognized(hs, method, path):
    status, body, _ = await raw(hs, method, path)
    assert status == 405
    assert_error(body, "M_UNRECOGNIZED")


async def test_body_over_the_limit_is_413_too_large(make_homeserver):
    hs = await make_homeserver(limits={"max_request_body_bytes": 1024})
    big = b'{"username": "' + b"a" * 2048 + b'"}'
    status, body, _ = await raw(hs, "POST", REGISTER, data=big)
    assert status == 413
    assert_error(body, "M_TOO_LARGE")


async def test_body_at_the_limit_is_read(make_homeserver):
    hs = await make_homeserver(limits={"max_request_body_bytes": 1024})
    body = b'{"auth": {"type": "m.login.dummy"}, "password": "p", "username": "a"}'
    status, _, _ = await raw(hs, "POST", REGISTER, data=body.ljust(1024, b" "))
    assert status == 200


@pytest.mark.parametrize(
    "data",
    [b"{", b"not json", b'{"a": 1} trailing', b"\xff\xfe{}", b'{"a": NaN}', b'{"a": Infinity}',
     '{"a": "caf\u00e9"}'.encode("latin-1")],
    ids=["truncated", "text", "trailing", "not-utf8", "nan", "infinity", "latin1"],
)
async def test_body_that_is_not_json_is_not_json(hs, data):
    status, body, _ = await raw(hs, "POST", LOGIN, data=data)
    assert status == 400
    assert_error(body, "M_NOT_JSON")


@pytest.mark.parametrize("data", [b"[]", b'"a string"', b"42", b"null", b"true"])
async def test_json_that_is_not_an_object_is_bad_json(hs, data):
    status, body, _ = await raw(hs, "POST", LOGIN, data=data)
    assert status == 400
    assert_error(body, "M_BAD_JSON")


@pytest.mark.parametrize(
    "body",
    [
        {"type": 1, "user": "alice", "password": "p"},
        {"type": "m.login.password", "user": ["alice"], "password": "p"},
        {"type": "m.login.password", "identifier": "alice", "password": "p"},
        {"type": "m.login.password", "user": "alice", "password": True},
        {"type": "m.login.password", "user": "alice", "password": "p", "device_id": 7},
    ],
)
async def test_field_of_the_wrong_type_is_bad_json(hs, body):
    reply = await hs.request("POST", LOGIN, json=body, expect=400)
    assert_error(reply, "M_BAD_JSON")


async def test_missing_required_field_is_missing_param(hs):
    reply = await hs.request("POST", LOGIN, json={"type": "m.login.password", "user": "a"}, expect=400)
    assert_error(reply, "M_MISSING_PARAM")


async def test_unexpected_failure_is_500_unknown_logged_and_not_leaked(aiohttp_client, caplog):
    async def broken(request):
        raise RuntimeError("internal detail /secret/path")

    app = create_app(test_config())
    app.router.add_get("/_matrix/client/v3/broken", broken)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR):
        response = await client.get("/_matrix/client/v3/broken")
    body = await response.json()
    assert response.status == 500
    assert_error(body, "M_UNKNOWN")
    assert "secret" not in await response.text()
    assert_cors(response)
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert logged, "the traceback goes to the log"


def _weird_bodies():
    yield b""
    yield b"null"
    yield b"{"
    yield b"\xff"
    yield b"\xef\xbb\xbf{}"  # a UTF-8 byte order mark
    yield b'{"a": NaN}'
    yield b'{"a": 1, "a": 2}'
    yield b'{"a": "\\ud800"}'  # an unpaired surrogate
    yield b'{"a": 123456789012345678901234567890}'
    yield b"[" * 100_000
    yield b'{"a":' * 200 + b"1" + b"}" * 200
    yield b'{"username": {"x": 1}, "password": [], "auth": "dummy", "device_id": null}'
    yield b'{"identifier": {"type": "m.id.user", "user": 5}, "type": "m.login.password"}'
    yield b'{"type": "m.login.password", "user": "@:", "password": "x"}'
    yield b'{"type": "m.login.password", "user": "@alice", "password": "x"}'
    yield b'{"username": "\\u0000", "password": "x", "auth": {"type": "m.login.dummy"}}'
    yield b'{"password": "' + b"x" * 5000 + b'", "auth": {"type": "m.login.dummy"}}'


@pytest.mark.parametrize(
    "path",
    [REGISTER, LOGIN, LOGOUT, "/_matrix/client/v3/logout/all", "/_matrix/client/v3/createRoom",
     "/_matrix/client/v3/join/%21x%3Alocalhost", "/_matrix/client/v3/rooms/%21x%3Alocalhost/leave"],
)
async def test_no_input_produces_a_5xx(hs, path):
    alice = await hs.register("alice")
    for data in _weird_bodies():
        for user in (None, alice):
            status, body, _ = await raw(hs, "POST", path, data=data, user=user)
            assert status < 500, (path, data[:40], body)
            if status == 401 and "flows" in body:
                continue  # a User-Interactive Auth step, not an error
            if status >= 400:
                assert_error(body, body["errcode"])


# --- CORS and OPTIONS ----------------------------------------------------------------------------


async def test_cors_headers_are_on_successful_responses(hs):
    _, _, response = await raw(hs, "GET", "/_matrix/client/versions")
    assert_cors(response)


@pytest.mark.parametrize(
    "method, path", [("GET", "/nowhere"), ("GET", WHOAMI), ("GET", LOGOUT), ("POST", LOGIN)]
)
async def test_cors_headers_are_on_error_responses(hs, method, path):
    status, _, response = await raw(hs, method, path, data=b"{")
    assert status >= 400
    assert_cors(response)


@pytest.mark.parametrize("path", [REGISTER, WHOAMI, LOGOUT, "/_matrix/client/versions", "/nowhere"])
async def test_options_is_answered_with_cors_headers(hs, path):
    status, _, response = await raw(hs, "OPTIONS", path)
    assert 200 <= status < 300
    assert_cors(response)


async def test_options_runs_no_endpoint_logic(hs):
    alice = await hs.register("alice")
    body = b'{"username": "bob", "password": "p", "auth": {"type": "m.login.dummy"}}'
    await raw(hs, "OPTIONS", REGISTER, data=body)
    await raw(hs, "OPTIONS", LOGOUT, user=alice)
    # No account was made and no session ended.
    await hs.request("GET", "/_matrix/client/v3/register/available", params={"username": "bob"})
    await hs.request("GET", WHOAMI, alice)


# --- what real clients send ---------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "application/json"])
async def test_empty_post_body_counts_as_an_empty_object(hs, content_type):
    alice = await hs.register("alice")
    headers = {"Content-Type": content_type} if content_type else {}
    status, body, _ = await raw(hs, "POST", LOGOUT, headers=headers, user=alice)
    assert (status, body) == (200, {})


@pytest.mark.parametrize("content_type", [None, "application/json"])
async def test_join_with_an_empty_body_works(hs, content_type):
    alice, bob = await hs.register("alice"), await hs.register("bob")
    room = await hs.create_room(alice, preset="public_chat")
    headers = {"Content-Type": content_type} if content_type else {}
    path = f"/_matrix/client/v3/join/{quote(room)}"
    status, body, _ = await raw(hs, "POST", path, headers=headers, user=bob)
    assert status == 200, body
    assert body["room_id"] == room


async def test_empty_body_starts_registration(hs):
    status, body, _ = await raw(hs, "POST", REGISTER)
    assert status == 401
    assert body["flows"] == [{"stages": ["m.login.dummy"]}]


async def test_empty_body_where_a_field_is_required_is_missing_param(hs):
    status, body, _ = await raw(hs, "POST", LOGIN)
    assert status == 400
    assert_error(body, "M_MISSING_PARAM")


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/_matrix/client/r0/account/whoami"), ("POST", "/_matrix/client/r0/logout")],
)
async def test_r0_paths_are_aliases_of_v3(hs, method, path):
    alice = await hs.register("alice")
    status, _, _ = await raw(hs, method, path, user=alice)
    assert status == 200


async def test_r0_join_and_joined_rooms_work(hs):
    alice, bob = await hs.register("alice"), await hs.register("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.request("POST", f"/_matrix/client/r0/join/{quote(room)}", bob, json={})
    body = await hs.request("GET", "/_matrix/client/r0/joined_rooms", bob)
    assert body["joined_rooms"] == [room]


async def test_endpoints_newer_than_r0_have_no_r0_path(hs):
    alice = await hs.register("alice")
    path = "/_matrix/client/r0/mutual_rooms?user_id=%40b%3Alocalhost"
    status, body, _ = await raw(hs, "GET", path, user=alice)
    assert status == 404
    assert_error(body, "M_UNRECOGNIZED")


async def _get_exact(hs, path, user):
    """GET a path byte for byte: the test client would otherwise normalise %21 to !."""
    url = URL(str(hs.http.make_url("/")).rstrip("/") + path, encoded=True)
    response = await hs.http.session.get(url, headers=user.headers)
    return response.status, await response.json()


async def test_path_parameters_mean_the_same_raw_or_percent_encoded(hs):
    alice = await hs.register("alice")
    room = await hs.create_room(alice, room_version="10")  # "!opaque:localhost", with a colon
    assert room.startswith("!") and ":" in room
    encoded = room.replace("!", "%21").replace(":", "%3A")
    state = "/_matrix/client/v3/rooms/{}/state/m.room.create"
    raw_status, raw_body = await _get_exact(hs, state.format(room), alice)
    enc_status, enc_body = await _get_exact(hs, state.format(encoded), alice)
    assert raw_status == enc_status == 200
    assert raw_body == enc_body


async def test_join_accepts_a_percent_encoded_room_id(hs):
    alice, bob = await hs.register("alice"), await hs.register("bob")
    room = await hs.create_room(alice, preset="public_chat", room_version="10")
    encoded = room.replace("!", "%21").replace(":", "%3A")
    url = URL(str(hs.http.make_url("/")).rstrip("/") + f"/_matrix/client/v3/join/{encoded}", encoded=True)
    response = await hs.http.session.post(url, headers=bob.headers, json={})
    assert response.status == 200
    assert (await response.json())["room_id"] == room


# --- authentication -----------------------------------------------------------------------------


async def test_bearer_header_authenticates(hs):
    alice = await hs.register("alice")
    status, body, _ = await raw(hs, "GET", WHOAMI, headers={"Authorization": f"Bearer {alice.access_token}"})
    assert (status, body["user_id"]) == (200, alice.user_id)


async def test_query_parameter_authenticates(hs):
    alice = await hs.register("alice")
    body = await hs.request("GET", WHOAMI, params={"access_token": alice.access_token})
    assert body["user_id"] == alice.user_id


async def test_query_parameter_is_refused_when_disabled(make_homeserver):
    hs = await make_homeserver(allow_access_token_in_query=False)
    alice = await hs.register("alice")
    body = await hs.request("GET", WHOAMI, params={"access_token": alice.access_token}, expect=401)
    assert_error(body, "M_MISSING_TOKEN")
    await hs.request("GET", WHOAMI, alice)  # the header still works


async def test_header_and_query_token_at_once_are_rejected(hs):
    alice = await hs.register("alice")
    body = await hs.request("GET", WHOAMI, alice, params={"access_token": alice.access_token}, expect=401)
    assert_error(body, "M_MISSING_TOKEN")


async def test_two_authorization_headers_are_rejected(hs):
    alice = await hs.register("alice")
    headers = [("Authorization", f"Bearer {alice.access_token}")] * 2
    response = await hs.http.get(WHOAMI, headers=headers)
    assert response.status == 401
    assert_error(await response.json(), "M_MISSING_TOKEN")


async def test_no_token_is_401_missing_token(hs):
    body = await hs.request("GET", WHOAMI, expect=401)
    assert_error(body, "M_MISSING_TOKEN")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token"])
async def test_authorization_header_that_is_not_a_bearer_token_is_missing_token(hs, header):
    status, body, _ = await raw(hs, "GET", WHOAMI, headers={"Authorization": header})
    assert status == 401
    assert_error(body, "M_MISSING_TOKEN")


@pytest.mark.parametrize("where", ["header", "query"])
async def test_unknown_token_is_401_unknown_token_with_soft_logout_false(hs, where):
    if where == "header":
        body = await hs.request("GET", WHOAMI, headers={"Authorization": "Bearer nope"}, expect=401)
    else:
        body = await hs.request("GET", WHOAMI, params={"access_token": "nope"}, expect=401)
    assert_error(body, "M_UNKNOWN_TOKEN")
    assert body["soft_logout"] is False


# --- discovery ------------------------------------------------------------------------------------


async def test_versions_lists_spec_versions_as_strings(hs):
    body = await hs.request("GET", "/_matrix/client/versions")
    versions = body["versions"]
    assert versions and all(isinstance(v, str) for v in versions)
    assert all(re.fullmatch(r"r0\.\d+\.\d+|v1\.\d+", v) for v in versions)
    assert {"v1.1", "v1.19"} <= set(versions)


async def test_versions_unstable_features_are_booleans(hs):
    body = await hs.request("GET", "/_matrix/client/versions")
    features = body["unstable_features"]
    assert isinstance(features, dict)
    assert all(isinstance(value, bool) for value in features.values())


async def test_versions_needs_no_token_and_accepts_one(hs):
    alice = await hs.register("alice")
    anonymous = await hs.request("GET", "/_matrix/client/versions")
    assert await hs.request("GET", "/_matrix/client/versions", alice) == anonymous


async def test_well_known_client_points_at_this_server(hs):
    body = await hs.request("GET", "/.well-known/matrix/client")
    assert body["m.homeserver"]["base_url"] == str(hs.http.make_url("/")).rstrip("/")
    assert_cors(hs.last_response)


async def test_well_known_client_uses_the_configured_public_baseurl(make_homeserver):
    hs = await make_homeserver(public_baseurl="https://matrix.example.org/")
    body = await hs.request("GET", "/.well-known/matrix/client")
    assert body == {"m.homeserver": {"base_url": "https://matrix.example.org"}}


# --- the access log -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "logged, expected",
    [
        ("/x?access_token=SECRET", "/x?access_token=<redacted>"),
        ("/x?a=1&access_token=SECRET&b=2", "/x?a=1&access_token=<redacted>&b=2"),
        ("/x?access%5Ftoken=SECRET", "/x?access%5Ftoken=<redacted>"),
        ("/x?access_t%6Fken=SECRET", "/x?access_t%6Fken=<redacted>"),
        ("/x?access_token=A&access_token=B", "/x?access_token=<redacted>&access_token=<redacted>"),
        ("/x?user_id=%40a%3Ab", "/x?user_id=%40a%3Ab"),
    ],
)
def test_redact_tokens_hides_every_access_token_value(logged, expected):
    assert redact_tokens(logged) == expected


async def test_access_log_shows_the_request_but_never_the_query_token(aiohttp_client, caplog):
    logger = logging.getLogger("minihs.test.access")
    # Before the first connection: aiohttp decides per connection whether it logs at all.
    caplog.set_level(logging.INFO, logger="minihs.test.access")
    server = TestServer(create_app(test_config()))
    # Started here, with the CLI's access logger; the client then uses the running server.
    await server.start_server(access_log_class=RedactingAccessLogger, access_log=logger)
    client = await aiohttp_client(server)
    register = await client.post(
        REGISTER, json={"username": "alice", "password": "p", "auth": {"type": "m.login.dummy"}}
    )
    token = (await register.json())["access_token"]
    response = await client.get(f"{WHOAMI}?access_token={token}")
    assert response.status == 200
    bad = await client.get(f"{WHOAMI}?access_token=WRONG-SECRET")
    assert bad.status == 401
    # A line is written once its request is done; closing waits for every request to be done.
    await client.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "minihs.test.access"]
    assert any("/account/whoami?access_token=<redacted>" in line and " 200 " in line for line in lines)
    assert any(" 401 " in line for line in lines)
    assert not any(token in line or "WRONG-SECRET" in line for line in lines)


def test_access_log_durations_keep_microseconds():
    class Captured(logging.Handler):
        def __init__(self):
            super().__init__()
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    logger = logging.getLogger("minihs.test.access.precision")
    logger.setLevel(logging.INFO)
    captured = Captured()
    logger.addHandler(captured)
    try:
        request = make_mocked_request("GET", "/_matrix/client/versions")
        request[STARTED_AT] = time.perf_counter() - 0.000_25  # arrived 250 µs ago
        RedactingAccessLogger(logger, "").log(request, web.Response(), 0.0)
    finally:
        logger.removeHandler(captured)
    (line,) = captured.messages
    duration = re.search(r" (\d+\.\d{3})ms$", line)
    assert duration, line
    # Not the 0.0 that aiohttp's own figure (the loop clock: whole ms under uvloop) would give.
    assert float(duration.group(1)) >= 0.25


# --- the request line ---------------------------------------------------------------------------


@pytest.fixture
async def served_by_the_cli_runner():
    """The app behind the runner the command line serves with, on 127.0.0.1, a free port."""
    config = test_config()
    runner = make_runner(create_app(config), config)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][:2]
    await runner.cleanup()


async def _exchange(address, request: bytes) -> bytes:
    """Send ``request`` and read until the server closes; a server that waits fails the test."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()


async def test_a_request_line_without_an_http_version_gets_400_at_once(served_by_the_cli_runner):
    reply = await _exchange(served_by_the_cli_runner, b"GET /_matrix/client/versions\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["errcode"] == "M_UNRECOGNIZED"


async def test_a_request_line_split_across_packets_is_still_served(served_by_the_cli_runner):
    reader, writer = await asyncio.open_connection(*served_by_the_cli_runner)
    try:
        for part in (b"GET /_matrix/cli", b"ent/versions HT", b"TP/1.1\r\nHost: x\r\n",
                     b"Connection: close\r\n\r\n"):
            writer.write(part)
            await writer.drain()
        reply = await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert b'"versions"' in reply


async def test_requests_after_the_first_on_a_connection_are_served(served_by_the_cli_runner):
    one = b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reply = await _exchange(served_by_the_cli_runner, one + last)
    assert reply.count(b"HTTP/1.1 200 ") == 2
