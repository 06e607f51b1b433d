"""Admin endpoints: the test-harness reset, and Synapse-compatible shared-secret registration.

Shared-secret registration follows Synapse's Admin API docs (``docs/admin_api/register_api.md``)
and the answers of its ``UserRegisterServlet``.
"""

from __future__ import annotations

import pytest
from aiohttp import web

from conftest import test_config
from minihs.domain.admin_registration import NONCE_LIFETIME_S, SharedSecretRegistration, registration_mac
from minihs.api.admin import RESET_PATH, SHARED_SECRET_REGISTER_PATH, is_loopback
from minihs.api.app import create_app
from minihs.spec.errors import MatrixError

SECRET = "shared_secret"


# --- POST /_minihs/admin/reset ------------------------------------------------------------


async def test_reset_forgets_users_and_their_tokens(hs):
    alice = await hs.register("alice")
    assert await hs.request("POST", RESET_PATH) == {}
    body = await hs.request("GET", "/_matrix/client/v3/account/whoami", alice, expect=401)
    assert body["errcode"] == "M_UNKNOWN_TOKEN"
    await hs.register("alice")  # the name is free again


async def test_reset_forgets_rooms_and_the_joined_rooms_index(hs):
    alice = await hs.register("alice")
    bob = await hs.register("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    await hs.request("POST", RESET_PATH)
    alice = await hs.register("alice")
    bob = await hs.register("bob")
    assert (await hs.mutual_rooms(alice, bob))["joined"] == []
    assert (await hs.join(bob, room, expect=404))["errcode"] == "M_NOT_FOUND"


async def test_reset_does_not_exist_when_disabled(hs_admin_off):
    hs = hs_admin_off
    alice = await hs.register("alice")
    body = await hs.request("POST", RESET_PATH, expect=404)
    assert body["errcode"] == "M_UNRECOGNIZED"
    await hs.request("GET", "/_matrix/client/v3/account/whoami", alice)


async def test_reset_is_off_by_default_outside_the_testing_profile():
    from minihs.config import Config

    assert Config().admin_api_enabled is False


async def test_the_old_name_enable_admin_reset_still_turns_the_admin_api_on():
    from minihs.config import Config

    assert Config(enable_admin_reset=True).admin_api_enabled is True


async def test_reset_does_not_exist_for_a_non_loopback_client(aiohttp_client):
    app = create_app(test_config())

    @web.middleware
    async def from_elsewhere(request, handler):
        return await handler(request.clone(remote="203.0.113.7"))

    app.middlewares.insert(0, from_elsewhere)
    client = await aiohttp_client(app)
    response = await client.post(RESET_PATH)
    assert response.status == 404
    assert (await response.json())["errcode"] == "M_UNRECOGNIZED"


async def test_reset_does_not_exist_for_a_request_relayed_by_a_proxy(hs):
    body = await hs.request(
        "POST", RESET_PATH, headers={"X-Forwarded-For": "203.0.113.7"}, expect=404
    )
    assert body["errcode"] == "M_UNRECOGNIZED"


async def test_reset_answers_only_post(hs):
    body = await hs.request("GET", RESET_PATH, expect=405)
    assert body["errcode"] == "M_UNRECOGNIZED"


@pytest.mark.parametrize(
    "address, loopback",
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("2001:db8::1", False),
        ("", False),
        (None, False),
        ("not-an-address", False),
    ],
)
def test_only_loopback_addresses_count_as_this_host(address, loopback):
    assert is_loopback(address) is loopback


# --- /_synapse/admin/v1/register ---------------------------------------------------------


def test_mac_is_the_one_synapse_documents():
    # printf '%s\0%s\0%s\0%s' thisisanonce pepper_roni pizza admin \
    #     | openssl sha1 -hmac shared_secret
    assert (
        registration_mac(SECRET, "thisisanonce", "pepper_roni", "pizza", True)
        == "48715842ad67d5dc9a9ee938a3bda4fcfae8d7c7"
    )
    # ... and with a user type appended after another NUL.
    assert (
        registration_mac(SECRET, "thisisanonce", "pepper_roni", "pizza", False, "bot")
        == "b269635cb53e1adc15073ae7ffbd000b836b3105"
    )


@pytest.fixture
async def admin_hs(make_homeserver):
    return await make_homeserver(registration={"shared_secret": SECRET})


async def _nonce(hs) -> str:
    return (await hs.request("GET", SHARED_SECRET_REGISTER_PATH))["nonce"]


def _signed(nonce: str, username: str, password: str = "pizza", admin: bool = False, **extra):
    mac = registration_mac(SECRET, nonce, username, password, admin, extra.get("user_type"))
    return {
        "nonce": nonce, "username": username, "password": password, "admin": admin, "mac": mac,
        **extra,
    }


async def _is_admin(hs, user_id: str) -> bool:
    def read(conn):
        row = conn.execute("SELECT is_admin FROM users WHERE user_id = ?", (user_id,)).fetchone()
        return row[0]

    return bool(await hs.homeserver.db.read(read))


async def test_shared_secret_registration_creates_a_logged_in_admin(admin_hs):
    body = _signed(await _nonce(admin_hs), "pepper_roni", admin=True)
    reply = await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body)
    assert reply["user_id"] == "@pepper_roni:localhost"
    assert reply["home_server"] == "localhost"
    whoami = await admin_hs.request(
        "GET",
        "/_matrix/client/v3/account/whoami",
        headers={"Authorization": f"Bearer {reply['access_token']}"},
    )
    assert whoami["device_id"] == reply["device_id"]
    assert await _is_admin(admin_hs, reply["user_id"])


async def test_shared_secret_registration_without_admin_creates_an_ordinary_user(admin_hs):
    body = _signed(await _nonce(admin_hs), "pepper_roni", admin=False)
    reply = await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body)
    assert not await _is_admin(admin_hs, reply["user_id"])


async def test_shared_secret_registration_lowercases_the_username(admin_hs):
    body = _signed(await _nonce(admin_hs), "Pepper_Roni")
    reply = await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body)
    assert reply["user_id"] == "@pepper_roni:localhost"


async def test_shared_secret_registration_works_while_registration_is_closed(make_homeserver):
    hs = await make_homeserver(registration={"shared_secret": SECRET, "mode": "closed"})
    body = _signed(await _nonce(hs), "pepper_roni")
    await hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body)


async def test_shared_secret_registration_with_inhibit_login_gives_no_token(admin_hs):
    body = _signed(await _nonce(admin_hs), "pepper_roni", inhibit_login=True)
    reply = await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body)
    assert reply == {"user_id": "@pepper_roni:localhost", "home_server": "localhost"}


async def test_shared_secret_registration_with_a_wrong_mac_is_forbidden(admin_hs):
    body = _signed(await _nonce(admin_hs), "pepper_roni")
    body["mac"] = registration_mac("another secret", body["nonce"], "pepper_roni", "pizza", False)
    reply = await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body, expect=403)
    assert reply == {"errcode": "M_FORBIDDEN", "error": "HMAC incorrect"}


async def test_shared_secret_registration_mac_covers_the_admin_flag(admin_hs):
    body = _signed(await _nonce(admin_hs), "pepper_roni", admin=False)
    body["admin"] = True
    await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body, expect=403)


async def test_a_nonce_cannot_be_used_twice(admin_hs):
    nonce = await _nonce(admin_hs)
    await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=_signed(nonce, "first"))
    reply = await admin_hs.request(
        "POST", SHARED_SECRET_REGISTER_PATH, json=_signed(nonce, "second"), expect=400
    )
    assert reply == {"errcode": "M_UNKNOWN", "error": "unrecognised nonce"}


async def test_a_failed_attempt_spends_its_nonce(admin_hs):
    nonce = await _nonce(admin_hs)
    bad = dict(_signed(nonce, "pepper_roni"), mac="00" * 20)
    await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=bad, expect=403)
    reply = await admin_hs.request(
        "POST", SHARED_SECRET_REGISTER_PATH, json=_signed(nonce, "pepper_roni"), expect=400
    )
    assert reply["error"] == "unrecognised nonce"


async def test_a_nonce_the_server_never_issued_is_refused(admin_hs):
    reply = await admin_hs.request(
        "POST", SHARED_SECRET_REGISTER_PATH, json=_signed("made-up", "pepper_roni"), expect=400
    )
    assert reply["error"] == "unrecognised nonce"


async def test_a_request_without_a_mac_is_bad_json(admin_hs):
    body = _signed(await _nonce(admin_hs), "pepper_roni")
    del body["mac"]
    reply = await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body, expect=400)
    assert reply == {"errcode": "M_BAD_JSON", "error": "mac must be specified"}


async def test_shared_secret_registration_of_a_taken_name_is_user_in_use(admin_hs):
    await admin_hs.register("pepper_roni")
    body = _signed(await _nonce(admin_hs), "pepper_roni")
    reply = await admin_hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body, expect=400)
    assert reply["errcode"] == "M_USER_IN_USE"


async def test_shared_secret_registration_is_disabled_without_a_secret(hs):
    # As in Synapse: a nonce is still handed out; the POST says the API is off.
    body = _signed(await _nonce(hs), "pepper_roni")
    reply = await hs.request("POST", SHARED_SECRET_REGISTER_PATH, json=body, expect=400)
    assert reply == {"errcode": "M_UNKNOWN", "error": "Shared secret registration is not enabled"}


async def test_a_nonce_expires_after_its_lifetime():
    now = [1000.0]
    registration = SharedSecretRegistration(SECRET, accounts=None, clock=lambda: now[0])
    nonce = registration.new_nonce()
    now[0] += NONCE_LIFETIME_S
    with pytest.raises(MatrixError) as refused:
        registration.parse(_signed(nonce, "pepper_roni"))
    assert refused.value.message == "unrecognised nonce"


async def test_a_nonce_is_accepted_within_its_lifetime():
    now = [1000.0]
    registration = SharedSecretRegistration(SECRET, accounts=None, clock=lambda: now[0])
    nonce = registration.new_nonce()
    now[0] += NONCE_LIFETIME_S - 1
    assert registration.parse(_signed(nonce, "pepper_roni")).username == "pepper_roni"
