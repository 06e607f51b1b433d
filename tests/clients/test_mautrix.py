"""mautrix-python (``mautrix.client.ClientAPI``) drives a live minihs through the whole slice.

mautrix raises on any non-2xx answer: a ``MatrixStandardRequestError`` subclass chosen by the
errcode (``MForbidden``, ``MUnknownToken``, ...), or ``MatrixUnknownRequestError`` when there is
none (the UIA 401). A 2xx must be a JSON object served as ``application/json``.
``join_room`` retries any error with sleeps of 10+20+30+40 s by default: always
``max_retries=0`` here.
"""

from __future__ import annotations

import json

import pytest

from .conftest import require_client_library

require_client_library("mautrix", "mautrix")

from mautrix.api import Method, Path  # noqa: E402
from mautrix.client import ClientAPI  # noqa: E402
from mautrix.errors import MatrixUnknownRequestError, MForbidden, MUnknownToken  # noqa: E402
from mautrix.types import RoomCreatePreset, RoomDirectoryVisibility  # noqa: E402

SERVER = "localhost"
MUTUAL_ROOMS = "/_matrix/client/v1/mutual_rooms"


def password_of(localpart: str) -> str:
    return f"{localpart}-password"


@pytest.fixture
async def new_client(live_minihs):
    """Factory for mautrix clients of this test's server; their HTTP sessions are closed after."""
    clients: list[ClientAPI] = []

    def make(mxid: str = "", token: str = "", device_id: str = "") -> ClientAPI:
        client = ClientAPI(mxid, device_id=device_id, base_url=live_minihs.url, token=token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.api.session.close()


async def register_request(client: ClientAPI, localpart: str, auth: dict | None = None) -> dict:
    """ClientAPI has no register call: POST /_matrix/client/v3/register through its HTTPAPI."""
    body = {
        "username": localpart,
        "password": password_of(localpart),
        "initial_device_display_name": "mautrix",
    }
    if auth is not None:
        body["auth"] = auth
    return await client.api.request(Method.POST, Path.v3.register, body, sensitive=True)


@pytest.fixture
def register(new_client):
    async def register(localpart: str) -> ClientAPI:
        session = await register_request(new_client(), localpart, {"type": "m.login.dummy"})
        return new_client(session["user_id"], session["access_token"], session["device_id"])

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


async def create_private_room(creator: ClientAPI, *invitees: ClientAPI) -> str:
    invitees = [user.mxid for user in invitees]
    return await creator.create_room(preset=RoomCreatePreset.PRIVATE, invitees=invitees)


async def create_public_room(creator: ClientAPI, alias: str | None = None) -> str:
    return await creator.create_room(
        alias_localpart=alias,
        visibility=RoomDirectoryVisibility.PUBLIC,
        preset=RoomCreatePreset.PUBLIC,
    )


async def test_registration_without_auth_answers_401_with_the_dummy_flow(new_client):
    with pytest.raises(MatrixUnknownRequestError) as raised:
        await register_request(new_client(), "bob")
    assert raised.value.http_status == 401
    challenge = json.loads(raised.value.text)
    assert challenge["flows"] == [{"stages": ["m.login.dummy"]}]
    assert challenge["session"]


async def test_registration_completes_with_dummy_auth_in_the_offered_session(new_client):
    client = new_client()
    with pytest.raises(MatrixUnknownRequestError) as raised:
        await register_request(client, "bob")
    session = json.loads(raised.value.text)["session"]
    auth = {"type": "m.login.dummy", "session": session}
    registered = await register_request(client, "bob", auth)
    assert registered["user_id"] == f"@bob:{SERVER}"
    assert registered["access_token"] and registered["device_id"]


async def test_password_login_opens_the_device_that_whoami_names(alice, new_client):
    client = new_client()
    login = await client.login(
        identifier="alice", password=password_of("alice"), device_name="mautrix login"
    )
    assert login.user_id == alice.mxid
    assert login.device_id != alice.device_id
    assert client.mxid == login.user_id
    assert (client.device_id, client.api.token) == (login.device_id, login.access_token)
    whoami = await client.whoami()
    assert whoami.user_id == alice.mxid
    assert (whoami.device_id, whoami.is_guest) == (login.device_id, False)


async def test_wrong_password_raises_m_forbidden(alice, new_client):
    with pytest.raises(MForbidden) as raised:
        await new_client().login(identifier="alice", password="not the password")
    assert raised.value.http_status == 403


async def test_public_room_alias_resolves_to_the_room_and_joins_it(alice, bob):
    room_id = await create_public_room(alice, alias="lobby")
    resolved = await bob.resolve_room_alias(f"#lobby:{SERVER}")
    assert resolved.room_id == room_id
    assert resolved.servers == [SERVER]
    assert await bob.join_room(f"#lobby:{SERVER}", max_retries=0) == room_id
    assert sorted(await alice.get_joined_members(room_id)) == sorted([alice.mxid, bob.mxid])


async def test_user_invited_at_creation_joins_the_private_room_by_id(alice, bob):
    room_id = await create_private_room(alice, bob)
    assert await bob.join_room_by_id(room_id) == room_id
    assert await bob.get_joined_rooms() == [room_id]


async def test_user_invited_by_a_member_can_join(alice, bob):
    room_id = await create_private_room(alice)
    await alice.invite_user(room_id, bob.mxid, reason="come in")
    assert await bob.join_room(room_id, max_retries=0) == room_id


async def test_uninvited_user_cannot_join_a_private_room(alice, bob):
    room_id = await create_private_room(alice)
    with pytest.raises(MForbidden) as raised:
        await bob.join_room(room_id, max_retries=0)
    assert raised.value.http_status == 403


async def test_rejecting_an_invite_keeps_the_private_room_closed(alice, carol):
    room_id = await create_private_room(alice, carol)
    await carol.leave_room(room_id, reason="no thanks", raise_not_in_room=True)
    with pytest.raises(MForbidden):
        await carol.join_room_by_id(room_id)
    assert await carol.get_joined_rooms() == []


async def test_joined_rooms_lists_joined_rooms_but_not_invites(alice, bob):
    public = await create_public_room(alice)
    private = await create_private_room(alice, bob)
    invited_only = await create_private_room(alice, bob)
    await bob.join_room(public, max_retries=0)
    await bob.join_room_by_id(private)
    rooms = await bob.get_joined_rooms()
    assert sorted(rooms) == sorted([public, private])
    assert invited_only not in rooms


async def test_joined_members_lists_joined_users_but_not_invitees(alice, bob, carol):
    room_id = await create_private_room(alice, bob, carol)
    await bob.join_room_by_id(room_id)
    members = await alice.get_joined_members(room_id)
    assert sorted(members) == sorted([alice.mxid, bob.mxid])
    # Each join carried the profile registration gives: the localpart as name, and no avatar
    # (minihs leaves out what it does not have; mautrix reads a missing one as "").
    assert all(m.displayname == user_id[1:].split(":")[0] for user_id, m in members.items())
    assert all(not m.avatar_url for m in members.values())


async def test_leaving_drops_the_room_from_joined_rooms_and_members(alice, bob):
    room_id = await create_public_room(alice)
    await bob.join_room(room_id, max_retries=0)
    await bob.leave_room(room_id, raise_not_in_room=True)
    assert await bob.get_joined_rooms() == []
    assert list(await alice.get_joined_members(room_id)) == [alice.mxid]


async def mutual_rooms(client: ClientAPI, other_user: str) -> tuple[list[str], list[dict]]:
    """ClientAPI has no mutual-rooms call: GET the stable path, following ``next_batch``."""
    rooms, pages, from_token = [], [], None
    while True:
        query = {"user_id": other_user}
        if from_token is not None:
            query["from"] = from_token
        page = await client.api.request(Method.GET, Path.v1.mutual_rooms, query_params=query)
        pages.append(page)
        rooms += page["joined"]
        from_token = page.get("next_batch")
        if from_token is None:
            return rooms, pages


async def test_mutual_rooms_pages_through_every_shared_room(live_minihs, alice, bob):
    public = await create_public_room(alice)
    private = await create_private_room(alice, bob)
    await create_public_room(alice)  # alice alone
    await bob.join_room(public, max_retries=0)
    await bob.join_room_by_id(private)

    rooms, pages = await mutual_rooms(alice, bob.mxid)

    assert sorted(rooms) == sorted([public, private])
    assert [page["count"] for page in pages] == [2, 2]  # one room per page on this server
    seen = live_minihs.requests_to(MUTUAL_ROOMS)
    assert [(r.bearer, r.token_in_query, r.status) for r in seen] == [(True, False, 200)] * 2


async def test_logout_kills_the_access_token(alice, new_client):
    token = alice.api.token
    await alice.logout()
    assert alice.api.token == ""
    with pytest.raises(MUnknownToken) as raised:
        await new_client(alice.mxid, token).whoami()
    assert raised.value.http_status == 401


# --- the normal loop: the syncer with an event handler (issue 15) -------------------------------


async def test_the_syncer_hands_the_other_users_message_to_an_event_handler(alice, bob, live_minihs):
    import asyncio

    from mautrix.client import Client
    from mautrix.types import EventType, TextMessageEventContent

    room_id = await alice.create_room(preset=RoomCreatePreset.PUBLIC)
    await bob.join_room(room_id, max_retries=0)
    syncing = Client(alice.mxid, device_id=alice.device_id, base_url=live_minihs.url, token=alice.api.token)
    received: asyncio.Future = asyncio.get_running_loop().create_future()

    async def on_message(event) -> None:
        if event.sender == bob.mxid and not received.done():
            received.set_result((event.room_id, event.content.body))

    syncing.add_event_handler(EventType.ROOM_MESSAGE, on_message)
    task = syncing.start(None)
    try:
        await asyncio.sleep(0.2)  # the first sync (it asks timeout=30000 at once)
        await bob.send_message(room_id, TextMessageEventContent(body="hi alice", msgtype="m.text"))
        assert await asyncio.wait_for(received, 10) == (room_id, "hi alice")
    finally:
        syncing.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await syncing.api.session.close()
