"""The Mutual Rooms API, sentence by sentence of ``shared/spec/mutual_rooms.yaml`` (spec v1.19).

Each test name says which part of the spec it checks.
"""

from __future__ import annotations

import re

import pytest

from minihs.domain.mutual_rooms import PaginationTokens

STABLE = "/_matrix/client/v1/mutual_rooms"
UNSTABLE = "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms"
PAGE_SIZE = 3


@pytest.fixture
async def paged(make_homeserver):
    """A server whose mutual-rooms pages hold three rooms."""
    return await make_homeserver(mutual_rooms={"page_size": PAGE_SIZE})


async def shared_rooms(hs, alice, bob, count, **create):
    rooms = []
    for _ in range(count):
        room = await hs.create_room(alice, preset="public_chat", **create)
        await hs.join(bob, room)
        rooms.append(room)
    return sorted(rooms)


async def walk(hs, user, other):
    """Every page in order; returns (the rooms, the bodies)."""
    rooms, bodies, token = [], [], None
    while True:
        body = await hs.mutual_rooms(user, other, token)
        bodies.append(body)
        rooms += body["joined"]
        token = body.get("next_batch")
        if token is None:
            return rooms, bodies


# --- 200: "A list of room IDs that the user shares with the specified user." -----------------


async def test_joined_lists_shared_public_rooms(hs):
    alice, bob = await hs.register(), await hs.register()
    rooms = await shared_rooms(hs, alice, bob, 2)
    assert await hs.mutual_rooms(alice, bob) == {"joined": rooms, "count": 2}


async def test_joined_lists_shared_private_rooms(hs):
    alice, bob = await hs.register(), await hs.register()
    room = await hs.create_room(alice, preset="private_chat", invite=[bob.user_id])
    await hs.join(bob, room)
    assert (await hs.mutual_rooms(alice, bob))["joined"] == [room]


async def test_joined_lists_a_mix_of_public_and_private_rooms_sorted_by_room_id(hs):
    alice, bob = await hs.register(), await hs.register()
    public = await hs.create_room(alice, preset="public_chat")
    private = await hs.create_room(bob, preset="private_chat", invite=[alice.user_id])
    await hs.join(bob, public)
    await hs.join(alice, private)
    body = await hs.mutual_rooms(bob, alice)
    assert body["joined"] == sorted([public, private])
    assert body["count"] == 2


async def test_joined_is_symmetric_between_the_two_users(hs):
    alice, bob = await hs.register(), await hs.register()
    rooms = await shared_rooms(hs, alice, bob, 2)
    assert (await hs.mutual_rooms(alice, bob))["joined"] == rooms
    assert (await hs.mutual_rooms(bob, alice))["joined"] == rooms


async def test_joined_omits_rooms_only_one_of_the_users_is_in(hs):
    alice, bob = await hs.register(), await hs.register()
    shared = await shared_rooms(hs, alice, bob, 1)
    await hs.create_room(alice, preset="public_chat")
    await hs.create_room(bob, preset="public_chat")
    assert await hs.mutual_rooms(alice, bob) == {"joined": shared, "count": 1}


# --- joined: "rooms where both ... have a membership of type `join`" -------------------------


async def test_joined_excludes_a_room_the_other_user_is_only_invited_to(hs):
    alice, bob = await hs.register(), await hs.register()
    await hs.create_room(alice, preset="private_chat", invite=[bob.user_id])
    assert await hs.mutual_rooms(alice, bob) == {"joined": [], "count": 0}


async def test_joined_excludes_a_room_after_the_other_user_leaves(hs):
    alice, bob = await hs.register(), await hs.register()
    (room,) = await shared_rooms(hs, alice, bob, 1)
    await hs.leave(bob, room)
    assert await hs.mutual_rooms(alice, bob) == {"joined": [], "count": 0}


async def test_joined_excludes_a_room_after_the_requesting_user_leaves(hs):
    alice, bob = await hs.register(), await hs.register()
    (room,) = await shared_rooms(hs, alice, bob, 1)
    await hs.leave(alice, room)
    assert await hs.mutual_rooms(alice, bob) == {"joined": [], "count": 0}


async def test_joined_excludes_a_room_the_other_user_was_kicked_from(hs):
    alice, bob = await hs.register(), await hs.register()
    (room,) = await shared_rooms(hs, alice, bob, 1)
    await hs.kick(alice, room, bob)
    assert (await hs.mutual_rooms(alice, bob))["joined"] == []


async def test_joined_excludes_a_room_the_other_user_is_banned_from(hs):
    alice, bob = await hs.register(), await hs.register()
    (room,) = await shared_rooms(hs, alice, bob, 1)
    await hs.ban(alice, room, bob)
    assert (await hs.mutual_rooms(alice, bob))["joined"] == []


async def test_joined_includes_a_room_again_after_the_user_rejoins(hs):
    alice, bob = await hs.register(), await hs.register()
    (room,) = await shared_rooms(hs, alice, bob, 1)
    await hs.leave(bob, room)
    await hs.join(bob, room)
    assert (await hs.mutual_rooms(alice, bob))["joined"] == [room]


async def test_joined_rooms_are_room_ids_starting_with_an_exclamation_mark(hs):
    alice, bob = await hs.register(), await hs.register()
    for version in ("10", "11", "12"):
        room = await hs.create_room(alice, preset="public_chat", room_version=version)
        await hs.join(bob, room)
    joined = (await hs.mutual_rooms(alice, bob))["joined"]
    assert len(joined) == 3 and all(room.startswith("!") for room in joined)


# --- count: "the total count even if the response is batched" --------------------------------


async def test_count_is_the_total_on_every_page(paged):
    alice, bob = await paged.register(), await paged.register()
    await shared_rooms(paged, alice, bob, 2 * PAGE_SIZE + 1)
    _, bodies = await walk(paged, alice, bob)
    assert [body["count"] for body in bodies] == [2 * PAGE_SIZE + 1] * 3
    assert [len(body["joined"]) for body in bodies] == [PAGE_SIZE, PAGE_SIZE, 1]


# --- next_batch / from: pagination ----------------------------------------------------------


async def test_next_batch_is_absent_when_there_are_no_more_results(paged):
    alice, bob = await paged.register(), await paged.register()
    await shared_rooms(paged, alice, bob, 1)
    assert "next_batch" not in await paged.mutual_rooms(alice, bob)


async def test_exactly_one_full_page_has_no_next_batch(paged):
    alice, bob = await paged.register(), await paged.register()
    rooms = await shared_rooms(paged, alice, bob, PAGE_SIZE)
    assert await paged.mutual_rooms(alice, bob) == {"joined": rooms, "count": PAGE_SIZE}


async def test_from_continues_with_the_next_batch_over_two_pages(paged):
    alice, bob = await paged.register(), await paged.register()
    rooms = await shared_rooms(paged, alice, bob, PAGE_SIZE + 2)
    first = await paged.mutual_rooms(alice, bob)
    assert first["joined"] == rooms[:PAGE_SIZE]
    second = await paged.mutual_rooms(alice, bob, first["next_batch"])
    assert second == {"joined": rooms[PAGE_SIZE:], "count": PAGE_SIZE + 2}


async def test_page_size_default_is_one_hundred(hs):
    assert hs.config.mutual_rooms.page_size == 100


async def test_next_batch_uses_only_opaque_identifier_characters_and_at_most_255(paged):
    alice, bob = await paged.register(), await paged.register()
    for version in ("10", "12"):
        await shared_rooms(paged, alice, bob, PAGE_SIZE + 1, room_version=version)
    _, bodies = await walk(paged, alice, bob)
    tokens = [body["next_batch"] for body in bodies if "next_batch" in body]
    assert tokens
    for token in tokens:
        assert re.fullmatch(r"[0-9a-zA-Z._~-]{1,255}", token), token


async def test_a_room_joined_between_pages_is_never_repeated(paged):
    alice, bob = await paged.register(), await paged.register()
    await shared_rooms(paged, alice, bob, PAGE_SIZE + 1)
    first = await paged.mutual_rooms(alice, bob)
    await shared_rooms(paged, alice, bob, 3)  # new rooms sort anywhere
    second = await paged.mutual_rooms(alice, bob, first["next_batch"])
    assert not set(first["joined"]) & set(second["joined"])
    assert second["count"] == PAGE_SIZE + 4


async def test_a_room_left_between_pages_is_not_returned_and_causes_no_error(paged):
    alice, bob = await paged.register(), await paged.register()
    rooms = await shared_rooms(paged, alice, bob, PAGE_SIZE + 2)
    first = await paged.mutual_rooms(alice, bob)
    await paged.leave(bob, rooms[-1])
    await paged.leave(bob, first["joined"][-1])  # the room the token points after
    second = await paged.mutual_rooms(alice, bob, first["next_batch"])
    assert second == {"joined": rooms[PAGE_SIZE:-1], "count": PAGE_SIZE}


async def test_the_unstable_path_pages_with_batch_token_and_next_batch_token(paged):
    alice, bob = await paged.register(), await paged.register()
    rooms = await shared_rooms(paged, alice, bob, PAGE_SIZE + 1)
    first = await paged.request("GET", UNSTABLE, alice, params={"user_id": bob.user_id})
    assert first["joined"] == rooms[:PAGE_SIZE]
    second = await paged.request(
        "GET",
        UNSTABLE,
        alice,
        params={"user_id": bob.user_id, "batch_token": first["next_batch_token"]},
    )
    assert second["joined"] == rooms[PAGE_SIZE:]
    assert "next_batch_token" not in second and "next_batch" not in second


async def test_the_unstable_path_gives_the_token_under_the_stable_name_too(paged):
    # ruma and tuwunel read `next_batch` on the unstable path as well.
    alice, bob = await paged.register(), await paged.register()
    await shared_rooms(paged, alice, bob, PAGE_SIZE + 1)
    first = await paged.request("GET", UNSTABLE, alice, params={"user_id": bob.user_id})
    assert first["next_batch"] == first["next_batch_token"]
    second = await paged.request(
        "GET", UNSTABLE, alice, params={"user_id": bob.user_id, "from": first["next_batch"]}
    )
    assert second["count"] == first["count"] == PAGE_SIZE + 1


async def test_every_unstable_answer_carries_count(hs):
    alice, bob = await hs.register(), await hs.register()
    body = await hs.request("GET", UNSTABLE, alice, params={"user_id": bob.user_id})
    assert body == {"joined": [], "count": 0}


async def test_the_unstable_path_has_the_same_errors_as_the_stable_one(hs):
    alice = await hs.register()
    body = await hs.request(
        "GET", UNSTABLE, alice, params={"user_id": alice.user_id}, expect=400
    )
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_versions_advertises_both_msc2666_features(hs):
    body = await hs.request("GET", "/_matrix/client/versions")
    assert body["unstable_features"]["uk.half-shot.msc2666.query_mutual_rooms"] is True
    assert body["unstable_features"]["uk.half-shot.msc2666.query_mutual_rooms.stable"] is True
    assert "v1.19" in body["versions"]


# --- 400: "The `from` token provided was invalid or expired" ---------------------------------


@pytest.mark.parametrize(
    "token",
    ["garbage", "", "a.b.c", "1.2.3.4", "x" * 300, "zz.!!!.abc", "%00"],
)
async def test_from_token_that_is_malformed_is_rejected(hs, token):
    alice, bob = await hs.register(), await hs.register()
    body = await hs.mutual_rooms(alice, bob, token, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_from_token_that_was_tampered_with_is_rejected(paged):
    alice, bob = await paged.register(), await paged.register()
    await shared_rooms(paged, alice, bob, PAGE_SIZE + 1)
    token = (await paged.mutual_rooms(alice, bob))["next_batch"]
    issued, room, mac = token.split(".")
    tampered = ".".join([issued, room[:-2] + ("AA" if room[-2:] != "AA" else "BB"), mac])
    body = await paged.mutual_rooms(alice, bob, tampered, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_from_token_issued_for_another_user_id_is_rejected(paged):
    alice, bob, carol = await paged.register(), await paged.register(), await paged.register()
    rooms = await shared_rooms(paged, alice, bob, PAGE_SIZE + 1)
    for room in rooms:
        await paged.join(carol, room)
    token = (await paged.mutual_rooms(alice, bob))["next_batch"]
    body = await paged.mutual_rooms(alice, carol, token, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"
    # ...and a token is not valid for the other user of the pair asking either.
    await paged.mutual_rooms(bob, alice, token, expect=400)


def test_from_token_stays_valid_for_ten_minutes_and_expires_after_its_lifetime():
    now = [1_000_000.0]
    tokens = PaginationTokens(b"key", lifetime_s=600, clock=lambda: now[0])
    token = tokens.issue("@a:hs", "@b:hs", "!room")
    now[0] += 600
    assert tokens.read("@a:hs", "@b:hs", token) == "!room"
    now[0] += 1
    with pytest.raises(Exception) as raised:
        tokens.read("@a:hs", "@b:hs", token)
    assert raised.value.errcode == "M_INVALID_PARAM"


async def test_token_lifetime_below_ten_minutes_is_refused_by_the_config():
    from minihs.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match="mutual_rooms.token_lifetime_seconds"):
        config_from_dict({"mutual_rooms": {"token_lifetime_seconds": 599}})


# --- 400: "the `user_id` parameter was missing, non-compliant, or was the sender's own" -----


async def test_user_id_missing_is_rejected(hs):
    alice = await hs.register()
    body = await hs.request("GET", STABLE, alice, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


@pytest.mark.parametrize(
    "user_id",
    [
        "@:example.com",  # empty localpart
        "@" + "a" * 255 + ":example.com",  # over 255 bytes
        "@\u00e9l\u00e8ve:example.com",  # outside U+0021-U+007E
        "@a b:example.com",  # space is outside the range too
        "@alice",  # no server name
        "@alice:",  # empty server name
        "@alice:bad_server!",  # invalid server name
        "alice:example.com",  # no sigil
        "",
    ],
)
async def test_user_id_non_compliant_is_rejected(hs, user_id):
    alice = await hs.register()
    body = await hs.mutual_rooms(alice, user_id, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_user_id_with_historical_characters_is_accepted(hs):
    alice = await hs.register()
    body = await hs.mutual_rooms(alice, "@Old!Style~User:example.com")
    assert body == {"joined": [], "count": 0}


async def test_user_id_of_the_requester_is_rejected(hs):
    alice = await hs.register()
    body = await hs.mutual_rooms(alice, alice, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_user_id_containing_plus_sent_as_percent_2b_is_understood(hs):
    alice, plus = await hs.register(), await hs.register("first+last")
    (room,) = await shared_rooms(hs, alice, plus, 1)
    response = await hs.http.get(
        f"{STABLE}?user_id=%40first%2Blast%3A{hs.server_name}", headers=alice.headers
    )
    assert response.status == 200
    assert (await response.json())["joined"] == [room]


# --- 200: "If the provided `user_id` is not a valid user, the server MUST return an empty list"


async def test_user_that_does_not_exist_gets_an_empty_list(hs):
    alice = await hs.register()
    body = await hs.mutual_rooms(alice, f"@nobody:{hs.server_name}")
    assert body == {"joined": [], "count": 0}


async def test_user_on_another_server_gets_an_empty_list(hs):
    alice = await hs.register()
    assert await hs.mutual_rooms(alice, "@bob:elsewhere.example") == {"joined": [], "count": 0}


async def test_unknown_user_is_indistinguishable_from_a_user_sharing_no_rooms(hs):
    alice, loner = await hs.register(), await hs.register()
    await hs.create_room(loner, preset="public_chat")
    existing = await hs.mutual_rooms(alice, loner)
    missing = await hs.mutual_rooms(alice, f"@ghost:{hs.server_name}")
    assert existing == missing


# --- security: accessTokenQuery / accessTokenBearer ------------------------------------------


async def test_request_without_a_token_is_401_missing_token(hs):
    body = await hs.request("GET", STABLE, params={"user_id": "@a:b.c"}, expect=401)
    assert body["errcode"] == "M_MISSING_TOKEN"


async def test_request_with_an_unknown_token_is_401_unknown_token(hs):
    body = await hs.request(
        "GET",
        STABLE,
        params={"user_id": "@a:b.c"},
        headers={"Authorization": "Bearer nope"},
        expect=401,
    )
    assert body["errcode"] == "M_UNKNOWN_TOKEN"


async def test_access_token_in_the_query_string_is_accepted(hs):
    alice, bob = await hs.register(), await hs.register()
    rooms = await shared_rooms(hs, alice, bob, 1)
    body = await hs.request(
        "GET", STABLE, params={"user_id": bob.user_id, "access_token": alice.access_token}
    )
    assert body["joined"] == rooms


async def test_guests_are_refused_as_no_guest_account_can_be_made(hs):
    # "Guests are refused": minihs never issues a guest access token, so no guest ever
    # reaches this endpoint.
    body = await hs.request(
        "POST", "/_matrix/client/v3/register", params={"kind": "guest"}, json={}, expect=403
    )
    assert body["errcode"] == "M_GUEST_ACCESS_FORBIDDEN"


# --- 429: "This request was rate-limited." ---------------------------------------------------


def limited_config(burst):
    from conftest import test_config
    from minihs.config import RateLimit

    config = test_config()
    config.rate_limits.mutual_rooms_per_user = RateLimit(True, 0.001, burst)
    return config


async def test_requests_over_the_rate_limit_get_429_with_retry_after(make_homeserver):
    hs = await make_homeserver(limited_config(2))
    alice = await hs.register()
    await hs.mutual_rooms(alice, "@x:y.z")
    await hs.mutual_rooms(alice, "@x:y.z")
    body = await hs.mutual_rooms(alice, "@x:y.z", expect=429)
    assert body["errcode"] == "M_LIMIT_EXCEEDED"
    assert isinstance(body["retry_after_ms"], int) and body["retry_after_ms"] > 0
    assert int(hs.last_response.headers["Retry-After"]) >= 1


async def test_rate_limit_is_per_requester(make_homeserver):
    hs = await make_homeserver(limited_config(1))
    alice, bob = await hs.register(), await hs.register()
    await hs.mutual_rooms(alice, "@x:y.z")
    await hs.mutual_rooms(alice, "@x:y.z", expect=429)
    await hs.mutual_rooms(bob, "@x:y.z")


@pytest.mark.parametrize("size", [0, 1, 100, 101, 808, 809, 5000, 20000])
def test_page_selection_is_exactly_the_smallest_room_ids_in_order(size):
    import random
    import string

    from minihs.domain.mutual_rooms import smallest

    rng = random.Random(size)
    rooms = {"!" + "".join(rng.choices(string.ascii_letters + "-_", k=12)) for _ in range(size)}
    for count in (1, 101):
        assert smallest(rooms, count) == sorted(rooms)[:count]
    # A skewed set (every ID shares a long prefix but a few) still comes out exact.
    skewed = {f"!a{i:06d}" for i in range(size)} | {"!0", "!1", "!zz"}
    assert smallest(skewed, 101) == sorted(skewed)[:101]


# --- from: only the spelling next_batch was issued in ----------------------------------------


def _respellings_of(token: str) -> list[str]:
    """The same (issued, room, MAC) written other ways that int() and base64 would also read."""
    from minihs.domain.mutual_rooms import _unb64

    issued, room, mac = token.split(".")
    variants = [
        f"{issued.upper()}.{room}.{mac}",
        f"0x{issued}.{room}.{mac}",
        f"0{issued}.{room}.{mac}",
        f"+{issued}.{room}.{mac}",
        f"{issued[:2]}_{issued[2:]}.{room}.{mac}",
    ]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    decoded = _unb64(room)
    for other in alphabet:  # a last character differing only in bits base64 ignores
        respelled = room[:-1] + other
        if respelled != room and _unb64(respelled) == decoded:
            variants.append(f"{issued}.{respelled}.{mac}")
            break
    return variants


def test_a_respelled_pagination_token_is_invalid():
    from minihs.spec.errors import MatrixError

    tokens = PaginationTokens(b"key", 600, clock=lambda: 0x6A5F3B2C)
    token = tokens.issue("@a:x", "@b:x", "!room:x")  # "!room:x": its base64 has spare bits
    assert tokens.read("@a:x", "@b:x", token) == "!room:x"
    variants = _respellings_of(token)
    assert len(variants) == 6
    for variant in variants:
        with pytest.raises(MatrixError) as raised:
            tokens.read("@a:x", "@b:x", variant)
        assert (raised.value.status, raised.value.errcode) == (400, "M_INVALID_PARAM"), variant


async def test_from_in_upper_case_hex_is_invalid_param(paged):
    alice, bob = await paged.register(), await paged.register()
    await shared_rooms(paged, alice, bob, PAGE_SIZE + 1)
    issued, room, mac = (await paged.mutual_rooms(alice, bob))["next_batch"].split(".")
    body = await paged.request(
        "GET", STABLE, alice, params={"user_id": bob.user_id, "from": f"0X{issued}.{room}.{mac}"},
        expect=400,
    )
    assert body["errcode"] == "M_INVALID_PARAM"
