"""Rate limits and request limits (spec: "Rate limiting"; issue: limits and abuse)."""

from __future__ import annotations

import asyncio

import pytest

from conftest import PASSWORD, test_config
from minihs.config import RateLimit
from minihs.domain.ratelimit import Ratelimiter

LOGIN = "/_matrix/client/v3/login"
REGISTER = "/_matrix/client/v3/register"


def config_with(limit_name: str, burst: int = 2, **overrides):
    config = test_config(**overrides)
    setattr(config.rate_limits, limit_name, RateLimit(True, 0.001, burst))
    return config


def login_body(user: str, password: str = PASSWORD) -> dict:
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password}


def assert_rate_limited(body, response) -> None:
    assert body["errcode"] == "M_LIMIT_EXCEEDED"
    assert isinstance(body["retry_after_ms"], int) and body["retry_after_ms"] > 0
    assert int(response.headers["Retry-After"]) * 1000 >= body["retry_after_ms"]


# --- the token bucket itself ----------------------------------------------------------------


def test_bucket_allows_a_burst_then_refuses_until_it_refills():
    now = [0.0]
    limiter = Ratelimiter(RateLimit(True, per_second=2.0, burst=3), clock=lambda: now[0])
    for _ in range(3):
        limiter.check("k")
    with pytest.raises(Exception) as refused:
        limiter.check("k")
    assert refused.value.status == 429
    assert refused.value.extra["retry_after_ms"] == 501  # half a second for one token, rounded up
    now[0] += 0.5
    limiter.check("k")


def test_bucket_keys_are_independent():
    limiter = Ratelimiter(RateLimit(True, per_second=0.001, burst=1), clock=lambda: 0.0)
    limiter.check("a")
    limiter.check("b")
    with pytest.raises(Exception):
        limiter.check("a")


def test_disabled_bucket_never_refuses():
    limiter = Ratelimiter(RateLimit(False, per_second=0.001, burst=1), clock=lambda: 0.0)
    for _ in range(100):
        limiter.check("k")


# --- each limit over HTTP -------------------------------------------------------------------


async def test_login_attempts_are_limited_per_address(make_homeserver):
    hs = await make_homeserver(config_with("login_per_address"))
    for _ in range(2):
        await hs.request("POST", LOGIN, json=login_body("nobody", "x"), expect=403)
    body = await hs.request("POST", LOGIN, json=login_body("someone-else", "x"), expect=429)
    assert_rate_limited(body, hs.last_response)


async def test_login_attempts_are_limited_per_user(make_homeserver):
    hs = await make_homeserver(config_with("login_per_user"))
    alice = await hs.register("alice")
    for _ in range(2):
        await hs.request("POST", LOGIN, json=login_body("alice", "wrong"), expect=403)
    # The same account under another spelling counts against the same bucket...
    body = await hs.request("POST", LOGIN, json=login_body("@ALICE:localhost"), expect=429)
    assert_rate_limited(body, hs.last_response)
    # ...while another user is unaffected.
    await hs.register("bob")
    await hs.request("POST", LOGIN, json=login_body("bob"))
    assert alice.user_id == "@alice:localhost"


async def test_registration_is_limited_per_address(make_homeserver):
    hs = await make_homeserver(config_with("registration_per_address"))
    await hs.register()
    await hs.register()
    body = await hs.request(
        "POST", REGISTER, json={"username": "third", "password": "p", "auth": {"type": "m.login.dummy"}},
        expect=429,
    )
    assert_rate_limited(body, hs.last_response)


async def test_joins_are_limited_per_user(make_homeserver):
    hs = await make_homeserver(config_with("joins_per_user"))
    alice, bob = await hs.register(), await hs.register()
    rooms = [await hs.create_room(alice, preset="public_chat") for _ in range(3)]
    await hs.join(bob, rooms[0])
    await hs.join(bob, rooms[1])
    body = await hs.join(bob, rooms[2], expect=429)
    assert_rate_limited(body, hs.last_response)
    assert rooms[2] not in await hs.joined_rooms(bob)


async def test_every_limit_can_be_turned_off_in_config():
    from minihs.config import config_from_dict

    names = ["login_per_address", "login_per_user", "registration_per_address", "joins_per_user", "mutual_rooms_per_user"]
    config = config_from_dict({"rate_limits": {name: {"enabled": False} for name in names}})
    assert not any(getattr(config.rate_limits, name).enabled for name in names)


# --- request limits -------------------------------------------------------------------------


async def test_body_over_the_limit_is_413_too_large(make_homeserver):
    hs = await make_homeserver(limits={"max_request_body_bytes": 4096})
    body = await hs.request(
        "POST", REGISTER, data=b'{"username": "' + b"a" * 5000 + b'"}',
        headers={"Content-Type": "application/json"}, expect=413,
    )
    assert body["errcode"] == "M_TOO_LARGE"


async def test_json_nested_deeper_than_the_limit_is_rejected_as_bad_json(make_homeserver):
    hs = await make_homeserver(limits={"max_json_depth": 8})
    alice = await hs.register()
    deep = {"a": 1}
    for _ in range(10):
        deep = {"nested": deep}
    body = await hs.request(
        "POST", "/_matrix/client/v3/createRoom", alice,
        json={"creation_content": deep}, expect=400,
    )
    assert body["errcode"] == "M_BAD_JSON"


async def test_json_nested_beyond_the_parser_recursion_limit_is_400_not_500(hs):
    alice = await hs.register()
    text = b"[" * 100_000 + b"]" * 100_000
    body = await hs.request(
        "POST", "/_matrix/client/v3/createRoom", alice, data=text,
        headers={"Content-Type": "application/json"}, expect=400,
    )
    assert body["errcode"] == "M_BAD_JSON"


async def raw_exchange(host: str, port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    return reply


async def test_header_over_the_limit_is_refused_with_a_4xx(hs):
    server = hs.http.server
    request = (
        b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Big: "
        + b"a" * 20_000
        + b"\r\n\r\n"
    )
    reply = await raw_exchange(server.host, server.port, request)
    status = int(reply.split(b" ", 2)[1])
    assert 400 <= status < 500


async def test_very_long_url_is_refused_with_a_4xx_not_a_5xx(hs):
    server = hs.http.server
    request = b"GET /_matrix/client/v3/" + b"x" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = await raw_exchange(server.host, server.port, request)
    status = int(reply.split(b" ", 2)[1])
    assert 400 <= status < 500


async def test_a_client_sending_headers_one_byte_at_a_time_does_not_hold_the_server(hs):
    server = hs.http.server
    _, slow_writer = await asyncio.open_connection(server.host, server.port)
    slow_writer.write(b"GET /_matrix/client/versions HTTP/1.1\r\nHo")
    await slow_writer.drain()
    # While the slow client is mid-headers, others are answered.
    body = await hs.request("GET", "/_matrix/client/versions")
    assert "versions" in body
    slow_writer.close()


async def test_idle_connections_are_closed_after_the_idle_timeout(make_homeserver):
    hs = await make_homeserver(limits={"idle_timeout_seconds": 0.2})
    # aiohttp's test server does not take runner options; start a real runner with them.
    from aiohttp import web

    from minihs.api.app import create_app, runner_options

    runner = web.AppRunner(create_app(hs.config), **runner_options(hs.config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /_matrix/client/versions HTTP/1.1\r\nHo")  # never finished
        await writer.drain()
        closed = await asyncio.wait_for(reader.read(), 5)  # EOF once the server gives up
        assert closed == b""
        writer.close()
    finally:
        await runner.cleanup()


async def test_500_idle_connections_do_not_stop_a_normal_request(hs):
    server = hs.http.server
    idle = [await asyncio.open_connection(server.host, server.port) for _ in range(500)]
    try:
        body = await asyncio.wait_for(hs.request("GET", "/_matrix/client/versions"), 5)
        assert "versions" in body
    finally:
        for _, writer in idle:
            writer.close()
