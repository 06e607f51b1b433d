"""Odd input to the admin API is a 4xx with Matrix JSON, never a 5xx.

Each case is one a review found answering 500 (forged paging tokens holding numbers SQLite cannot
store or text Python cannot encode, a ``limit`` of thousands of digits), or one next to it.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

BIG = "9" * 5000


def token(raw: bytes | object) -> str:
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def answer(server, method: str, path: str, body: bytes | None = None,
           content_type: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(server.url_for(path), method=method, data=body)
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def room(server):
    alice = server.register_user("odd-alice")
    return server.create_room(alice)


PAGED_LISTS = ["/users", "/rooms", "/rooms/{room}/members", "/rooms/{room}/state",
               "/rooms/{room}/events"]
FORGED_TOKENS = {
    "an integer too big for SQLite": [10**30],
    "a negative integer too big for SQLite": [-(10**30)],
    "an integer of a thousand digits": [10**1000],
    "a lone surrogate": b'["\\ud800", "a"]',
    "nesting past the JSON depth limit": b"[" * 1500 + b"]" * 1500,
}


@pytest.mark.parametrize("forged", sorted(FORGED_TOKENS))
@pytest.mark.parametrize("listing", PAGED_LISTS)
def test_a_forged_paging_token_is_a_400(server, room, listing, forged):
    path = "/_minihs/admin" + listing.format(room=room) + "?from=" + token(FORGED_TOKENS[forged])
    status, body = answer(server, "GET", path)
    assert status == 400 and body["errcode"].startswith("M_")


@pytest.mark.parametrize("listing", PAGED_LISTS + ["/requests"])
def test_a_limit_of_thousands_of_digits_is_a_400(server, room, listing):
    path = "/_minihs/admin" + listing.format(room=room) + "?limit=" + BIG
    status, body = answer(server, "GET", path)
    assert status == 400 and body["errcode"] == "M_INVALID_PARAM"


ODD_REQUESTS = [
    ("GET", "/_minihs/admin/rooms/%ED%A0%80", None),
    ("GET", "/_minihs/admin/events/%ED%A0%80", None),
    ("GET", "/_minihs/admin/mutual_rooms?user_a=%40a%3Ax&user_b=%40b%3Ax&from=" + "x" * 300, None),
    ("GET", "/_minihs/admin/requests/" + BIG, None),
    ("POST", "/_minihs/admin/clock", b'{"now_ms": ' + BIG.encode() + b"}"),
    ("POST", "/_minihs/admin/clock", b'{"now_ms": 1e400}'),
    ("POST", "/_minihs/admin/faults", b'{"method": "GET", "path": "/\\ud800", "status": 500}'),
    ("DELETE", "/_minihs/admin/faults/%ED%A0%80", None),
    ("PUT", "/_minihs/admin/snapshots/%ED%A0%80", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ODD_REQUESTS)
def test_odd_input_to_an_admin_endpoint_is_a_4xx(server, method, path, body):
    status, answered = answer(server, method, path, body)
    assert 400 <= status < 500 and answered["errcode"].startswith("M_")


# Odd but well-formed: a search or a pattern that nothing matches is an empty page.
MATCHING_NOTHING = [
    ("/_minihs/admin/users?search=%ED%A0%80", "users"),
    ("/_minihs/admin/requests?path=%2F%ED%A0%80", "requests"),
    ("/_minihs/admin/requests?path=/(", "requests"),
]


@pytest.mark.parametrize(("path", "listed"), MATCHING_NOTHING)
def test_an_odd_search_or_pattern_is_an_empty_page(server, path, listed):
    status, answered = answer(server, "GET", path)
    assert status == 200 and answered[listed] == []


@pytest.mark.parametrize("yaml_body", [b"\xff\xfe", b"a: &a [*a]", b"[" * 100_000, b"- " * 100_000])
def test_an_odd_yaml_scenario_is_a_400(server, yaml_body):
    status, answered = answer(server, "POST", "/_minihs/admin/scenario", yaml_body,
                              "application/yaml")
    assert status == 400 and answered["errcode"].startswith("M_")
