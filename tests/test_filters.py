"""Filters (spec v1.19, Client-Server API "Filtering"): the pure parser and matcher in
minihs.spec.filters, and POST/GET /user/{userId}/filter."""

from __future__ import annotations

import pytest

from conftest import quote
from minihs.spec.errors import MatrixError
from minihs.spec.filters import DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT, parse_filter
from spec_schemas import assert_matches_spec

V3 = "/_matrix/client/v3"


# --- parsing and matching (pure) ---------------------------------------------------------------


def test_an_empty_filter_lets_everything_through_with_the_default_limit():
    room = parse_filter({}).room
    assert room.timeline.allows("m.room.message", "@a:x")
    assert room.allows_room("!r:x")
    assert room.timeline_limit == DEFAULT_TIMELINE_LIMIT
    assert room.include_leave is False


def test_a_star_matches_any_sequence_of_characters():
    timeline = parse_filter({"room": {"timeline": {"types": ["m.room.*", "*.custom"]}}}).room.timeline
    assert timeline.allows("m.room.message", "@a:x")
    assert timeline.allows("org.example.custom", "@a:x")
    assert not timeline.allows("m.reaction", "@a:x")


def test_other_characters_in_a_type_pattern_are_literal():
    timeline = parse_filter({"room": {"timeline": {"types": ["m.room.messag?", "a.b"]}}}).room.timeline
    assert not timeline.allows("m.room.message", "@a:x")
    assert not timeline.allows("aXb", "@a:x")
    assert timeline.allows("a.b", "@a:x")


def test_not_types_wins_over_types():
    timeline = parse_filter(
        {"room": {"timeline": {"types": ["m.*"], "not_types": ["m.room.member"]}}}
    ).room.timeline
    assert timeline.allows("m.room.message", "@a:x")
    assert not timeline.allows("m.room.member", "@a:x")


def test_senders_and_not_senders_select_by_sender():
    timeline = parse_filter(
        {"room": {"timeline": {"senders": ["@a:x", "@b:x"], "not_senders": ["@b:x"]}}}
    ).room.timeline
    assert timeline.allows("t", "@a:x")
    assert not timeline.allows("t", "@b:x")
    assert not timeline.allows("t", "@c:x")


def test_an_empty_types_list_lets_nothing_through():
    timeline = parse_filter({"room": {"timeline": {"types": []}}}).room.timeline
    assert not timeline.allows("m.room.message", "@a:x")


def test_rooms_and_not_rooms_select_rooms():
    room = parse_filter({"room": {"rooms": ["!a:x", "!b:x"], "not_rooms": ["!b:x"]}}).room
    assert room.allows_room("!a:x")
    assert not room.allows_room("!b:x")
    assert not room.allows_room("!c:x")


def test_a_timeline_limit_above_the_cap_is_read_as_the_cap():
    room = parse_filter({"room": {"timeline": {"limit": 10**9}}}).room
    assert room.timeline_limit == MAX_TIMELINE_LIMIT


def test_lazy_load_members_is_read_from_the_state_filter():
    assert parse_filter({"room": {"state": {"lazy_load_members": True}}}).room.state.lazy_load_members


def test_unknown_keys_are_kept_out_of_the_way():
    parse_filter({"room": {"timeline": {"unread_thread_notifications": True}}, "org.example": 1})


@pytest.mark.parametrize(
    "definition",
    [
        [],
        {"room": []},
        {"room": {"timeline": {"limit": "10"}}},
        {"room": {"timeline": {"limit": -1}}},
        {"room": {"timeline": {"limit": True}}},
        {"room": {"timeline": {"types": "m.room.message"}}},
        {"room": {"timeline": {"types": [1]}}},
        {"room": {"rooms": "!a:x"}},
        {"room": {"include_leave": "yes"}},
        {"room": {"state": {"lazy_load_members": 1}}},
        {"presence": {"not_senders": [None]}},
        {"event_fields": "content"},
        {"event_format": "xml"},
    ],
)
def test_a_definition_of_the_wrong_shape_is_bad_json(definition):
    with pytest.raises(MatrixError) as caught:
        parse_filter(definition)
    assert (caught.value.status, caught.value.errcode) == (400, "M_BAD_JSON")


def test_a_definition_over_64_kib_is_too_large():
    with pytest.raises(MatrixError) as caught:
        parse_filter({"room": {"rooms": ["!" + "r" * 100 + ":x"] * 1000}})
    assert (caught.value.status, caught.value.errcode) == (413, "M_TOO_LARGE")


# --- the endpoints -----------------------------------------------------------------------------


def filter_path(user, filter_id=None):
    path = f"{V3}/user/{quote(user.user_id if hasattr(user, 'user_id') else user)}/filter"
    return path if filter_id is None else f"{path}/{filter_id}"


async def test_an_uploaded_filter_is_read_back_as_it_was_sent(hs):
    alice = await hs.register()
    definition = {"room": {"timeline": {"limit": 5, "types": ["m.room.*"]}}, "event_format": "client"}
    reply = await hs.request("POST", filter_path(alice), alice, json=definition)
    assert_matches_spec(reply, "filter.yaml", "/user/{userId}/filter", "post")
    body = await hs.request("GET", filter_path(alice, reply["filter_id"]), alice)
    assert body == definition
    assert_matches_spec(body, "filter.yaml", "/user/{userId}/filter/{filterId}", "get")


async def test_uploading_the_same_definition_twice_gives_the_same_id(hs):
    alice = await hs.register()
    first = await hs.request("POST", filter_path(alice), alice, json={"room": {}})
    again = await hs.request("POST", filter_path(alice), alice, json={"room": {}})
    other = await hs.request("POST", filter_path(alice), alice, json={"presence": {}})
    assert first == again
    assert other != first


async def test_filters_can_only_be_made_for_yourself(hs):
    alice, bob = await hs.register(), await hs.register()
    body = await hs.request("POST", filter_path(bob), alice, json={}, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_another_users_filter_cannot_be_read(hs):
    alice, bob = await hs.register(), await hs.register()
    reply = await hs.request("POST", filter_path(bob), bob, json={})
    await hs.request("GET", filter_path(bob, reply["filter_id"]), alice, expect=403)


async def test_an_unknown_filter_id_is_not_found(hs):
    alice = await hs.register()
    for filter_id in ("404", "abc", "9" * 30):
        body = await hs.request("GET", filter_path(alice, filter_id), alice, expect=404)
        assert body["errcode"] == "M_NOT_FOUND"


async def test_hostile_filter_bodies_get_4xx(hs):
    alice = await hs.register()
    cases = [
        b"[]", b"{", b'{"room": {"timeline": {"limit": "ten"}}}',
        b'{"room": ' * 300 + b"{}" + b"}" * 300,
        b'{"room": {"rooms": [' + b",".join([b'"!' + b"r" * 200 + b':x"'] * 400) + b"]}}",
    ]
    for data in cases:
        response = await hs.http.post(filter_path(alice), data=data, headers=alice.headers)
        assert 400 <= response.status < 500, (data[:40], response.status)
