"""Hostile input never yields a 5xx or a hang, on any route, and is answered in Matrix JSON."""

from __future__ import annotations

import re

import pytest

HOSTILE_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"a string"',
    b"12",
    b"{",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": -Infinity}',
    b'{"a": 1, "a": 2}',
    b'{"a": 9007199254740993}',
    b'{"a": -9007199254740993}',
    b'{"a": "\\ud800"}',
    b'{"\\udfff": 1}',
    b'{"a": "\\u0000"}',
    b"\xff\xfe{}",
    b'{"a": "\xc3\x28"}',
    b'{"username": 5, "password": [], "auth": "x", "type": {}, "user_id": null}',
    b'{"username": "\\u0000", "password": "\\u0000", "user_id": "@\\u0000:x"}',
    b'{"user_id": "@robert\'); DROP TABLE users;--:localhost"}',
    b'{"room_alias_name": "\'; DELETE FROM rooms; --", "name": 1e400}',
    b'{"preset": ["x"], "invite": "x", "initial_state": [1], "creation_content": []}',
    b'{"initial_state": [{"type": "m.x", "content": {"n": 1.5}}]}',
    b'{"power_level_content_override": {"users": "x", "ban": "high"}}',
    b'{"identifier": {"type": "m.id.user", "user": ["x"]}, "type": "m.login.password"}',
    b'{"username": "' + b"a" * 100_000 + b'"}',
    b"[" * 5000 + b"]" * 5000,
]

HOSTILE_PATH_VALUES = [
    "!x' OR 1=1 --",
    "%2F..%2F..%2Fetc%2Fpasswd",
    "%00",
    "!" + "a" * 3000,
    "#alias%2Fwith%2Fslashes:localhost",
    "%F0%9F%92%A9",
    "%ED%A0%80",  # a lone surrogate, percent-encoded
    "%ZZ",
]


def routes(app):
    """(method, path template) for every route the app serves."""
    seen = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("formatter") or info.get("path")
        if template and route.method not in ("HEAD", "*"):
            seen.append((route.method, template))
    return sorted(set(seen))


def fill(template: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, template)


def assert_matrix_error_or_success(status: int, raw: bytes, what: str) -> None:
    assert status < 500, f"{what}: {status} {raw[:200]!r}"
    if status == 400 and raw.startswith((b"400, message", b"Got more than")):
        # aiohttp's HTTP parser refused the message (a request line over max_header_bytes)
        # before any Matrix handling; that answer is a plain-text 400 by design.
        return
    if status >= 400 and raw:
        import json

        body = json.loads(raw)
        if status == 401 and "flows" in body:
            return  # a User-Interactive Authentication step, not an error
        assert isinstance(body.get("errcode"), str) and isinstance(body.get("error"), str), what


async def test_every_route_answers_hostile_bodies_without_a_5xx(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, preset="public_chat")
    for method, template in routes(hs.http.server.app):
        if method != "POST" or "admin" in template:
            continue
        path = fill(template, room)
        for body in HOSTILE_BODIES:
            response = await hs.http.request(
                method, path, data=body, headers={**alice.headers, "Content-Type": "application/json"}
            )
            assert_matrix_error_or_success(response.status, await response.read(), f"{method} {path} {body[:40]!r}")


@pytest.mark.parametrize("value", HOSTILE_PATH_VALUES, ids=lambda v: v[:24])
async def test_every_route_answers_hostile_path_parameters_without_a_5xx(hs, value):
    alice = await hs.register()
    for method, template in routes(hs.http.server.app):
        if "{" not in template:
            continue
        path = fill(template, value)
        response = await hs.http.request(method, path, json={}, headers=alice.headers)
        assert_matrix_error_or_success(response.status, await response.read(), f"{method} {path[:80]}")


@pytest.mark.parametrize(
    "query",
    [
        "user_id=%00",
        "user_id=%ED%A0%80",
        "user_id=@a:b&user_id=@c:d",
        "user_id=@a:b&from=%FF",
        "user_id=" + "@" + "a" * 10_000 + ":x",
        "from=" + "a" * 5000,
        "access_token=%00",
    ],
    ids=lambda q: q[:24],
)
async def test_hostile_query_strings_get_4xx_not_5xx(hs, query):
    alice = await hs.register()
    for path in (
        "/_matrix/client/v1/mutual_rooms",
        "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms",
        "/_matrix/client/v3/register/available",
        "/_matrix/client/v3/rooms/!x/members",
    ):
        response = await hs.http.get(f"{path}?{query}", headers=alice.headers)
        assert_matrix_error_or_success(response.status, await response.read(), f"{path}?{query[:40]}")


@pytest.mark.parametrize(
    "raw_body, errcode",
    [
        # Not JSON at all:
        (b'{"a": NaN}', "M_NOT_JSON"),
        (b'{"a": Infinity}', "M_NOT_JSON"),
        (b"\xff", "M_NOT_JSON"),
        # Well-formed JSON that cannot be kept exactly (spec: canonical JSON -> M_BAD_JSON):
        (b'{"a": 1, "a": 2}', "M_BAD_JSON"),
        (b'{"a": 9007199254740992}', "M_BAD_JSON"),
        (b'{"a": "\\ud800"}', "M_BAD_JSON"),
        (b"[]", "M_BAD_JSON"),
    ],
)
async def test_json_minihs_cannot_store_exactly_is_rejected_with_the_right_errcode(hs, raw_body, errcode):
    body = await hs.request(
        "POST", "/_matrix/client/v3/login", data=raw_body,
        headers={"Content-Type": "application/json"}, expect=400,
    )
    assert body["errcode"] == errcode


async def test_sql_looking_room_ids_are_just_unknown_rooms(hs):
    alice = await hs.register()
    body = await hs.join(alice, "!x' OR '1'='1", expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


async def test_percent_encoded_slash_in_a_room_id_reaches_the_handler_as_one_parameter(hs):
    alice = await hs.register()
    response = await hs.http.post(
        "/_matrix/client/v3/rooms/%21a%2Fb/leave", json={}, headers=alice.headers
    )
    assert response.status == 403
    assert (await response.json())["error"] == f"{alice.user_id} not in room !a/b."
