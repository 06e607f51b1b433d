"""matrix-nio (``AsyncClient``) drives a live minihs through the whole slice.

nio never raises for an HTTP error: it validates each body against its own JSON schemas and
returns a ``*Response`` when the body fits the success schema, a ``*Error`` otherwise. So every
call here checks the class it got back, then the values in it. Retries are off (nio's default
retries 429s and connection errors forever), so a failure fails at once.
"""

from __future__ import annotations

import pytest

from .conftest import require_client_library

require_client_library("nio", "matrix-nio")

from nio import (  # noqa: E402
    AsyncClient,
    AsyncClientConfig,
    JoinedMembersResponse,
    JoinedRoomsResponse,
    JoinError,
    JoinResponse,
    LoginError,
    LoginResponse,
    LogoutResponse,
    RegisterResponse,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomLeaveResponse,
    RoomPreset,
    RoomResolveAliasResponse,
    RoomVisibility,
    WhoamiError,
    WhoamiResponse,
)
from nio.api import MATRIX_API_PATH_V1, Api  # noqa: E402
from nio.responses import RegisterInteractiveResponse  # noqa: E402

NO_RETRIES = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0, request_timeout=10)
SERVER = "localhost"
MUTUAL_ROOMS = "/_matrix/client/v1/mutual_rooms"


def expect(response, cls):
    assert isinstance(response, cls), f"expected {cls.__name__}, got {response!r}"
    return response


def password_of(localpart: str) -> str:
    return f"{localpart}-password"


@pytest.fixture
async def new_client(live_minihs):
    """Factory for nio clients of this test's server; all are closed afterwards."""
    clients: list[AsyncClient] = []

    def make(user: str = "") -> AsyncClient:
        client = AsyncClient(live_minihs.url, user, config=NO_RETRIES)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
def register(new_client):
    async def register(localpart: str) -> AsyncClient:
        client = new_client()
        response = await client.register(localpart, password_of(localpart), device_name="nio")
        expect(response, RegisterResponse)
        return client

    return register


@pytest.fixture
async def alice(register):
    return await register("alice")


@pytest.fixture
async def bob(register):
    return await register("bob")


@pytest.fixture
async def carol(register):
    return await register("carol")


async def create_private_room(creator: AsyncClient, *invitees: AsyncClient) -> str:
    response = await creator.room_create(
        preset=RoomPreset.private_chat, invite=[user.user_id for user in invitees]
    )
    return expect(response, RoomCreateResponse).room_id


async def create_public_room(creator: AsyncClient, alias: str | None = None) -> str:
    response = await creator.room_create(
        visibility=RoomVisibility.public, preset=RoomPreset.public_chat, alias=alias
    )
    return expect(response, RoomCreateResponse).room_id


async def test_one_shot_dummy_registration_logs_the_client_in(new_client):
    client = new_client()
    response = expect(await client.register("alice", password_of("alice")), RegisterResponse)
    assert response.user_id == f"@alice:{SERVER}"
    assert client.user_id == response.user_id
    assert client.access_token == response.access_token and response.access_token
    assert client.device_id == response.device_id and response.device_id


async def test_interactive_registration_offers_the_dummy_stage_then_completes(new_client):
    client = new_client()
    # nio cannot leave "auth" out (an empty dict becomes m.login.dummy); its own
    # register_with_token opens the flow with an auth dict that has no "type", as here.
    challenge = expect(
        await client.register_interactive(
            "bob", password_of("bob"), auth_dict={"initial_device_display_name": "nio"}
        ),
        RegisterInteractiveResponse,
    )
    assert challenge.stages == ["m.login.dummy"]
    assert challenge.session
    response = await client.register("bob", password_of("bob"), session_token=challenge.session)
    assert expect(response, RegisterResponse).user_id == f"@bob:{SERVER}"


async def test_password_login_opens_the_device_that_whoami_names(alice, new_client):
    client = new_client("alice")
    login = expect(await client.login(password_of("alice"), device_name="nio login"), LoginResponse)
    assert login.user_id == alice.user_id
    assert login.device_id != alice.device_id
    whoami = expect(await client.whoami(), WhoamiResponse)
    assert whoami.user_id == alice.user_id
    assert (whoami.device_id, whoami.is_guest) == (login.device_id, False)


async def test_wrong_password_is_a_login_error_with_m_forbidden(alice, new_client):
    client = new_client("alice")
    error = expect(await client.login("not the password"), LoginError)
    assert error.status_code == "M_FORBIDDEN"
    assert error.transport_response.status == 403
    assert client.access_token == ""


async def test_public_room_alias_resolves_to_the_room_and_joins_it(alice, bob):
    room_id = await create_public_room(alice, alias="lobby")
    resolved = expect(await bob.room_resolve_alias(f"#lobby:{SERVER}"), RoomResolveAliasResponse)
    assert resolved.room_id == room_id
    assert expect(await bob.join(f"#lobby:{SERVER}"), JoinResponse).room_id == room_id
    members = expect(await alice.joined_members(room_id), JoinedMembersResponse).members
    assert sorted(member.user_id for member in members) == sorted([alice.user_id, bob.user_id])


async def test_user_invited_at_creation_joins_the_private_room_by_id(alice, bob):
    room_id = await create_private_room(alice, bob)
    assert expect(await bob.join(room_id), JoinResponse).room_id == room_id
    assert expect(await bob.joined_rooms(), JoinedRoomsResponse).rooms == [room_id]


async def test_user_invited_by_a_member_can_join(alice, bob):
    room_id = await create_private_room(alice)
    expect(await alice.room_invite(room_id, bob.user_id), RoomInviteResponse)
    assert expect(await bob.join(room_id), JoinResponse).room_id == room_id


async def test_uninvited_user_cannot_join_a_private_room(alice, bob):
    room_id = await create_private_room(alice)
    error = expect(await bob.join(room_id), JoinError)
    assert (error.status_code, error.transport_response.status) == ("M_FORBIDDEN", 403)


async def test_rejecting_an_invite_keeps_the_private_room_closed(alice, carol):
    room_id = await create_private_room(alice, carol)
    expect(await carol.room_leave(room_id), RoomLeaveResponse)
    error = expect(await carol.join(room_id), JoinError)
    assert (error.status_code, error.transport_response.status) == ("M_FORBIDDEN", 403)
    assert expect(await carol.joined_rooms(), JoinedRoomsResponse).rooms == []


async def test_joined_rooms_lists_joined_rooms_but_not_invites(alice, bob):
    public = await create_public_room(alice)
    private = await create_private_room(alice, bob)
    invited_only = await create_private_room(alice, bob)
    expect(await bob.join(public), JoinResponse)
    expect(await bob.join(private), JoinResponse)
    rooms = expect(await bob.joined_rooms(), JoinedRoomsResponse).rooms
    assert sorted(rooms) == sorted([public, private])
    assert invited_only not in rooms


async def test_joined_members_lists_joined_users_but_not_invitees(alice, bob, carol):
    room_id = await create_private_room(alice, bob, carol)
    expect(await bob.join(room_id), JoinResponse)
    members = expect(await alice.joined_members(room_id), JoinedMembersResponse).members
    assert sorted(member.user_id for member in members) == sorted([alice.user_id, bob.user_id])
    # Each join carried the profile registration gives: the localpart as name, no avatar.
    assert all(member.display_name == member.user_id[1:].split(":")[0] for member in members)
    assert all(member.avatar_url is None for member in members)


async def test_leaving_drops_the_room_from_joined_rooms_and_members(alice, bob):
    room_id = await create_public_room(alice)
    expect(await bob.join(room_id), JoinResponse)
    expect(await bob.room_leave(room_id), RoomLeaveResponse)
    assert expect(await bob.joined_rooms(), JoinedRoomsResponse).rooms == []
    members = expect(await alice.joined_members(room_id), JoinedMembersResponse).members
    assert [member.user_id for member in members] == [alice.user_id]


async def mutual_rooms_with_token_in_query(
    client: AsyncClient, other_user: str
) -> tuple[list[str], list[dict]]:
    """nio has no mutual-rooms call: build the path as nio's own Api does, with the token in
    ``?access_token=`` (``send`` passes it through untouched), following ``next_batch``."""
    rooms, pages, from_token = [], [], None
    while True:
        query = {"access_token": client.access_token, "user_id": other_user}
        if from_token is not None:
            query["from"] = from_token
        path = Api._build_path("mutual_rooms", query, base_path=MATRIX_API_PATH_V1)
        response = await client.send("GET", path)
        body = await response.json()
        assert response.status == 200, body
        pages.append(body)
        rooms += body["joined"]
        from_token = body.get("next_batch")
        if from_token is None:
            return rooms, pages


async def test_mutual_rooms_with_the_token_in_the_query_string_pages_through_shared_rooms(
    live_minihs, alice, bob
):
    public = await create_public_room(alice)
    private = await create_private_room(alice, bob)
    await create_public_room(alice)  # alice alone
    expect(await bob.join(public), JoinResponse)
    expect(await bob.join(private), JoinResponse)

    rooms, pages = await mutual_rooms_with_token_in_query(alice, bob.user_id)

    assert sorted(rooms) == sorted([public, private])
    assert [page["count"] for page in pages] == [2, 2]  # one room per page on this server
    seen = live_minihs.requests_to(MUTUAL_ROOMS)
    assert [(r.token_in_query, r.bearer) for r in seen] == [(True, False), (True, False)]


async def test_logout_kills_the_access_token_in_header_and_query(alice, live_minihs):
    token = alice.access_token
    expect(await alice.logout(), LogoutResponse)
    assert alice.access_token == ""

    alice.access_token = token  # the header form
    error = expect(await alice.whoami(), WhoamiError)
    assert (error.status_code, error.transport_response.status) == ("M_UNKNOWN_TOKEN", 401)

    response = await alice.send("GET", Api.whoami(token)[1])  # the query-string form
    assert response.status == 401
    assert (await response.json())["errcode"] == "M_UNKNOWN_TOKEN"
    assert live_minihs.requests[-1].token_in_query and not live_minihs.requests[-1].bearer


async def test_register_with_token_completes_the_token_then_dummy_flow(aiohttp_server):
    from minihs.api.app import create_app
    from tests.conftest import test_config

    config = test_config(registration={"mode": "token", "tokens": ["invite-only"]})
    server = await aiohttp_server(create_app(config))
    client = AsyncClient(str(server.make_url("")).rstrip("/"), "", config=NO_RETRIES)
    try:
        response = await client.register_with_token("dana", "dana-pw", "invite-only")
        assert expect(response, RegisterResponse).user_id == "@dana:localhost"
        refused = await client.register_with_token("erin", "erin-pw", "wrong-token")
        assert not isinstance(refused, RegisterResponse)
    finally:
        await client.close()


# --- the normal loop: sync, send, receive (issue 15) -------------------------------------------


async def test_an_initial_sync_gives_nio_the_room_with_its_members(alice, bob):
    from nio import SyncResponse

    room_id = await create_public_room(alice)
    expect(await bob.join(room_id), JoinResponse)
    expect(await alice.sync(timeout=0, full_state=True), SyncResponse)
    room = alice.rooms[room_id]
    assert set(room.users) == {alice.user_id, bob.user_id}


async def test_sync_forever_hands_the_other_users_message_to_the_callback(alice, bob):
    import asyncio

    from nio import RoomMessageText, RoomSendResponse

    room_id = await create_public_room(alice)
    expect(await bob.join(room_id), JoinResponse)
    received: asyncio.Future = asyncio.get_running_loop().create_future()

    async def on_message(room, event):
        if event.sender == bob.user_id and not received.done():
            received.set_result((room.room_id, event.body))

    alice.add_event_callback(on_message, RoomMessageText)
    loop = asyncio.ensure_future(alice.sync_forever(timeout=30_000, full_state=True))
    try:
        await asyncio.wait_for(alice.synced.wait(), 10)  # the first sync is done: alice waits
        sent = await bob.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "hi alice"})
        expect(sent, RoomSendResponse)
        assert await asyncio.wait_for(received, 10) == (room_id, "hi alice")
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop


async def test_room_messages_pages_back_through_what_nio_sent(alice):
    from nio import RoomMessagesResponse, RoomSendResponse

    room_id = await create_public_room(alice)
    for n in range(3):
        sent = await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": f"m{n}"})
        expect(sent, RoomSendResponse)
    page = expect(await alice.room_messages(room_id, start="", limit=2), RoomMessagesResponse)
    assert [event.body for event in page.chunk] == ["m2", "m1"]
