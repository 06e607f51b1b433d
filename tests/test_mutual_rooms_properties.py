"""Property: paging through mutual rooms always gives exactly the intersection of joined rooms.

Random sequences of joins, leaves, invites, kicks, bans and unbans by several users are applied
over HTTP; a model tracks each user's membership from the answers the server gives (200 means
the change happened). Then the pages of ``GET /mutual_rooms`` are walked, with more random
changes between pages, and each page must be exactly what the spec's rules give at that moment:
the smallest rooms of the current intersection after the previous page, sorted, ``count`` the
current total, ``next_batch`` present exactly when more rooms follow.
"""

from __future__ import annotations

import asyncio
import os

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import MatrixTestClient, test_config
from joined_pairs import index_pairs, stored_joined_pairs
from minihs.api.app import create_app

USERS = 4
ROOMS = 6
PAGE_SIZE = 2
VERBS = ("join", "leave", "invite", "kick", "ban", "unban")
# What a successful change leaves the target's membership as.
RESULT = {"join": "join", "leave": "leave", "invite": "invite", "kick": "leave", "ban": "ban", "unban": "leave"}

# Quick mode in the suite; MINIHS_HYPOTHESIS_EXAMPLES raises it for a long run.
EXAMPLES = int(os.environ.get("MINIHS_HYPOTHESIS_EXAMPLES", "30"))

operation = st.tuples(
    st.integers(0, USERS - 1),  # actor
    st.sampled_from(VERBS),
    st.integers(0, USERS - 1),  # target (for invite, kick, ban, unban)
    st.integers(0, ROOMS - 1),  # room
)
operations = st.lists(operation, max_size=30)


async def apply(hs, users, rooms, model, op) -> None:
    actor, verb, target, room_index = op
    room = rooms[room_index]
    if verb in ("join", "leave"):
        target = actor
        path = f"/_matrix/client/v3/rooms/{room}/{verb}"
        body = {}
    else:
        path = f"/_matrix/client/v3/rooms/{room}/{verb}"
        body = {"user_id": users[target].user_id}
    response = await hs.http.post(path, json=body, headers=users[actor].headers)
    assert response.status in (200, 403), await response.text()
    if response.status == 200:
        model[(target, room_index)] = RESULT[verb]


def expected_mutual(model, rooms, a, b) -> list[str]:
    return sorted(
        rooms[r] for r in range(ROOMS) if model.get((a, r)) == "join" and model.get((b, r)) == "join"
    )


async def scenario(before, between) -> None:
    config = test_config(mutual_rooms={"page_size": PAGE_SIZE})
    async with TestClient(TestServer(create_app(config))) as http:
        hs = MatrixTestClient(http, config)
        users = [await hs.register() for _ in range(USERS)]
        model: dict[tuple[int, int], str] = {}
        rooms = []
        # Start from everyone joined everywhere, so walks span several pages; the random
        # operations then take rooms away (and give some back).
        for index in range(ROOMS):
            creator = index % USERS
            preset = "public_chat" if index % 2 == 0 else "private_chat"
            others = [u.user_id for i, u in enumerate(users) if i != creator]
            rooms.append(await hs.create_room(users[creator], preset=preset, invite=others))
            for member in range(USERS):
                if member != creator:
                    await hs.join(users[member], rooms[-1])
                model[(member, index)] = "join"
        for op in before:
            await apply(hs, users, rooms, model, op)

        # Walk the pages of user 0 and user 1, changing memberships between pages.
        after = None
        token = None
        step = 0
        seen: list[str] = []
        while True:
            body = await hs.mutual_rooms(users[0], users[1], token)
            current = expected_mutual(model, rooms, 0, 1)
            remaining = [r for r in current if after is None or r > after]
            assert body["joined"] == remaining[:PAGE_SIZE]
            assert body["count"] == len(current)
            assert ("next_batch" in body) == (len(remaining) > PAGE_SIZE)
            assert not set(seen) & set(body["joined"]), "a room was returned twice"
            seen += body["joined"]
            if "next_batch" not in body:
                break
            token, after = body["next_batch"], body["joined"][-1]
            for op in between[step % len(between)] if between else ():
                await apply(hs, users, rooms, model, op)
            step += 1

        event(f"pages walked: {step + 1}")
        if not between:
            assert seen == expected_mutual(model, rooms, 0, 1)
        # The index the pages came from agrees with the database, room for room.
        stored = await stored_joined_pairs(hs.homeserver.db)
        assert stored == index_pairs(hs.homeserver.joined_rooms)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(before=operations, between=st.lists(st.lists(operation, max_size=6), max_size=3))
def test_walking_every_page_gives_exactly_the_sorted_intersection(before, between):
    asyncio.run(scenario(before, between))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=operations)
def test_without_changes_between_pages_the_walk_is_the_whole_intersection(before):
    asyncio.run(scenario(before, []))
