"""Accounts (Client-Server API v1.19): registration with User-Interactive Auth, availability,
login, whoami and logout."""

from __future__ import annotations

import asyncio

import pytest

from conftest import PASSWORD, User

REGISTER = "/_matrix/client/v3/register"
AVAILABLE = "/_matrix/client/v3/register/available"
LOGIN = "/_matrix/client/v3/login"
WHOAMI = "/_matrix/client/v3/account/whoami"
LOGOUT = "/_matrix/client/v3/logout"
LOGOUT_ALL = "/_matrix/client/v3/logout/all"
DUMMY = {"type": "m.login.dummy"}


async def register(hs, expect=200, params=None, **body):
    return await hs.request("POST", REGISTER, json=body, params=params, expect=expect)


async def login(hs, expect=200, **body):
    body.setdefault("type", "m.login.password")
    return await hs.request("POST", LOGIN, json=body, expect=expect)


def as_user(body: dict, password: str = PASSWORD) -> User:
    return User(body["user_id"], body["access_token"], body["device_id"], password)


async def device_row(hs, user_id: str, device_id: str):
    def read(conn):
        return conn.execute(
            "SELECT display_name FROM devices WHERE user_id = ? AND device_id = ?",
            (user_id, device_id),
        ).fetchone()

    return await hs.homeserver.db.read(read)


async def count_devices(hs, user_id: str) -> int:
    def read(conn):
        return conn.execute("SELECT COUNT(*) FROM devices WHERE user_id = ?", (user_id,)).fetchone()[0]

    return await hs.homeserver.db.read(read)


# --- registration: User-Interactive Auth -------------------------------------------------------


async def test_register_without_auth_answers_401_with_flows_params_and_session(hs):
    body = await register(hs, 401, username="alice", password=PASSWORD)
    assert body["flows"] == [{"stages": ["m.login.dummy"]}]
    assert body["params"] == {}
    assert isinstance(body["session"], str) and body["session"]


async def test_register_completes_with_the_dummy_stage_and_the_session(hs):
    first = await register(hs, 401, username="alice", password=PASSWORD)
    body = await register(
        hs, username="alice", password=PASSWORD,
        auth={"type": "m.login.dummy", "session": first["session"]},
    )
    assert body["user_id"] == "@alice:localhost"
    assert body["access_token"]
    assert body["device_id"]


async def test_register_accepts_a_dummy_stage_without_a_session(hs):
    body = await register(hs, username="alice", password=PASSWORD, auth=DUMMY)
    assert body["user_id"] == "@alice:localhost"


async def test_register_with_an_unknown_session_is_refused(hs):
    body = await register(
        hs, 400, username="alice", password=PASSWORD,
        auth={"type": "m.login.dummy", "session": "never-issued"},
    )
    assert body["errcode"] == "M_UNKNOWN"


async def test_register_with_the_wrong_stage_type_answers_401_again(hs):
    body = await register(hs, 401, username="alice", password=PASSWORD, auth={"type": "m.login.bogus"})
    assert body["flows"] == [{"stages": ["m.login.dummy"]}]
    assert "session" in body


async def test_registered_access_token_works(hs):
    body = await register(hs, username="alice", password=PASSWORD, auth=DUMMY)
    who = await hs.request("GET", WHOAMI, as_user(body))
    assert who["user_id"] == "@alice:localhost"


async def test_register_without_password_after_auth_is_missing_param(hs):
    body = await register(hs, 400, username="alice", auth=DUMMY)
    assert body["errcode"] == "M_MISSING_PARAM"


async def test_register_with_a_password_that_is_not_a_string_is_bad_json(hs):
    body = await register(hs, 400, username="alice", password=12345, auth=DUMMY)
    assert body["errcode"] == "M_BAD_JSON"


# --- registration: usernames -------------------------------------------------------------------


async def test_username_is_lowercased(hs):
    body = await register(hs, username="AlIcE", password=PASSWORD, auth=DUMMY)
    assert body["user_id"] == "@alice:localhost"


@pytest.mark.parametrize("username", ["al ice", "alice!", "al:ice", "élise", "al@ice", "a\u0000b", ""])
async def test_username_with_characters_outside_the_grammar_is_invalid(hs, username):
    body = await register(hs, 400, username=username, password=PASSWORD, auth=DUMMY)
    assert body["errcode"] == "M_INVALID_USERNAME"


async def test_username_may_use_every_allowed_character(hs):
    body = await register(hs, username="a-z0-9._=-/+", password=PASSWORD, auth=DUMMY)
    assert body["user_id"] == "@a-z0-9._=-/+:localhost"


async def test_user_id_of_exactly_255_bytes_is_accepted(hs):
    localpart = "a" * (255 - len("@:localhost"))
    body = await register(hs, username=localpart, password=PASSWORD, auth=DUMMY)
    assert len(body["user_id"].encode()) == 255


async def test_user_id_over_255_bytes_is_invalid(hs):
    localpart = "a" * (256 - len("@:localhost"))
    body = await register(hs, 400, username=localpart, password=PASSWORD, auth=DUMMY)
    assert body["errcode"] == "M_INVALID_USERNAME"


async def test_taken_username_is_user_in_use(hs):
    await hs.register("alice")
    body = await register(hs, 400, username="alice", password=PASSWORD, auth=DUMMY)
    assert body["errcode"] == "M_USER_IN_USE"


async def test_taken_username_is_checked_case_insensitively(hs):
    await hs.register("alice")
    body = await register(hs, 400, username="ALICE", password=PASSWORD, auth=DUMMY)
    assert body["errcode"] == "M_USER_IN_USE"


async def test_username_problems_are_reported_before_authentication(hs):
    # Spec: M_USER_IN_USE and M_INVALID_USERNAME come before the 401 of the first UIA call.
    await hs.register("alice")
    assert (await register(hs, 400, username="alice", password=PASSWORD))["errcode"] == "M_USER_IN_USE"
    assert (await register(hs, 400, username="a b", password=PASSWORD))["errcode"] == "M_INVALID_USERNAME"


async def test_concurrent_registrations_of_one_name_have_exactly_one_winner(hs):
    attempts = [
        hs.http.post(REGISTER, json={"username": "alice", "password": PASSWORD, "auth": DUMMY})
        for _ in range(8)
    ]
    responses = await asyncio.gather(*attempts)
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [400] * 7
    for response in responses:
        if response.status == 400:
            assert (await response.json())["errcode"] == "M_USER_IN_USE"


async def test_register_without_username_generates_one(hs):
    body = await register(hs, password=PASSWORD, auth=DUMMY)
    localpart, _, server = body["user_id"][1:].partition(":")
    assert server == "localhost"
    assert localpart
    assert (await hs.request("GET", WHOAMI, as_user(body)))["user_id"] == body["user_id"]


async def test_generated_usernames_differ(hs):
    first = await register(hs, password=PASSWORD, auth=DUMMY)
    second = await register(hs, password=PASSWORD, auth=DUMMY)
    assert first["user_id"] != second["user_id"]


# --- registration: devices and login options ---------------------------------------------------


async def test_register_echoes_the_requested_device_id(hs):
    body = await register(hs, username="alice", password=PASSWORD, device_id="MYPHONE", auth=DUMMY)
    assert body["device_id"] == "MYPHONE"
    assert (await hs.request("GET", WHOAMI, as_user(body)))["device_id"] == "MYPHONE"


async def test_register_stores_the_initial_device_display_name(hs):
    body = await register(
        hs, username="alice", password=PASSWORD, auth=DUMMY,
        initial_device_display_name="Alice's laptop",
    )
    assert await device_row(hs, body["user_id"], body["device_id"]) == ("Alice's laptop",)


async def test_register_with_inhibit_login_returns_no_token_and_no_device(hs):
    body = await register(hs, username="alice", password=PASSWORD, inhibit_login=True, auth=DUMMY)
    assert body["user_id"] == "@alice:localhost"
    assert "access_token" not in body
    assert "device_id" not in body
    assert set(body) <= {"user_id", "home_server"}  # home_server: deprecated, Synapse sends it
    assert await count_devices(hs, "@alice:localhost") == 0
    # The account exists all the same: its password logs in.
    await login(hs, identifier={"type": "m.id.user", "user": "alice"}, password=PASSWORD)


async def test_register_as_guest_is_forbidden(hs):
    body = await register(hs, 403, params={"kind": "guest"}, auth=DUMMY)
    assert body["errcode"] == "M_GUEST_ACCESS_FORBIDDEN"


async def test_register_with_kind_user_is_ordinary_registration(hs):
    body = await register(hs, params={"kind": "user"}, username="alice", password=PASSWORD, auth=DUMMY)
    assert body["user_id"] == "@alice:localhost"


async def test_register_when_registration_is_disabled_is_forbidden(make_homeserver):
    hs = await make_homeserver(registration={"enabled": False})
    body = await register(hs, 403, username="alice", password=PASSWORD, auth=DUMMY)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_register_when_registration_is_closed_is_forbidden(make_homeserver):
    hs = await make_homeserver(registration={"mode": "closed"})
    body = await register(hs, 403, username="alice", password=PASSWORD, auth=DUMMY)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_register_through_the_r0_path_works(hs):
    body = await hs.request(
        "POST", "/_matrix/client/r0/register",
        json={"username": "alice", "password": PASSWORD, "auth": DUMMY},
    )
    assert body["user_id"] == "@alice:localhost"


# --- GET /register/available -------------------------------------------------------------------


async def test_available_username_is_available(hs):
    assert await hs.request("GET", AVAILABLE, params={"username": "alice"}) == {"available": True}


async def test_taken_username_is_not_available(hs):
    await hs.register("alice")
    body = await hs.request("GET", AVAILABLE, params={"username": "Alice"}, expect=400)
    assert body["errcode"] == "M_USER_IN_USE"


async def test_invalid_username_is_reported_by_available(hs):
    body = await hs.request("GET", AVAILABLE, params={"username": "al ice"}, expect=400)
    assert body["errcode"] == "M_INVALID_USERNAME"


async def test_available_without_username_is_missing_param(hs):
    body = await hs.request("GET", AVAILABLE, expect=400)
    assert body["errcode"] == "M_MISSING_PARAM"


# --- login -------------------------------------------------------------------------------------


async def test_login_flows_offer_password_login(hs):
    body = await hs.request("GET", LOGIN)
    assert {"type": "m.login.password"} in body["flows"]


@pytest.mark.parametrize("user", ["alice", "@alice:localhost", "ALICE", "@Alice:LOCALHOST"])
async def test_login_with_a_user_identifier(hs, user):
    await hs.register("alice")
    body = await login(hs, identifier={"type": "m.id.user", "user": user}, password=PASSWORD)
    assert body["user_id"] == "@alice:localhost"
    assert body["access_token"] and body["device_id"]
    assert (await hs.request("GET", WHOAMI, as_user(body)))["user_id"] == "@alice:localhost"


async def test_login_with_the_legacy_top_level_user(hs):
    await hs.register("alice")
    body = await login(hs, user="alice", password=PASSWORD)
    assert body["user_id"] == "@alice:localhost"


async def test_login_through_the_r0_path_works(hs):
    await hs.register("alice")
    body = await hs.request(
        "POST", "/_matrix/client/r0/login",
        json={"type": "m.login.password", "user": "alice", "password": PASSWORD},
    )
    assert body["user_id"] == "@alice:localhost"


async def test_login_without_device_id_creates_a_new_device(hs):
    alice = await hs.register("alice")
    body = await login(hs, user="alice", password=PASSWORD)
    assert body["device_id"] != alice.device_id
    # Both sessions are live.
    await hs.request("GET", WHOAMI, alice)
    await hs.request("GET", WHOAMI, as_user(body))


async def test_login_with_a_known_device_id_reuses_it_and_replaces_its_token(hs):
    alice = await hs.register("alice")
    body = await login(hs, user="alice", password=PASSWORD, device_id=alice.device_id)
    assert body["device_id"] == alice.device_id
    assert body["access_token"] != alice.access_token
    old = await hs.request("GET", WHOAMI, alice, expect=401)
    assert old["errcode"] == "M_UNKNOWN_TOKEN"
    assert (await hs.request("GET", WHOAMI, as_user(body)))["device_id"] == alice.device_id
    assert await count_devices(hs, alice.user_id) == 1


async def test_login_with_a_new_device_id_uses_it(hs):
    await hs.register("alice")
    body = await login(
        hs, user="alice", password=PASSWORD, device_id="TABLET", initial_device_display_name="Tab"
    )
    assert body["device_id"] == "TABLET"
    assert await device_row(hs, "@alice:localhost", "TABLET") == ("Tab",)


async def test_wrong_password_and_unknown_user_get_the_same_403(hs):
    await hs.register("alice")
    wrong_password = await login(hs, 403, user="alice", password="not it")
    unknown_user = await login(hs, 403, user="nobody", password="not it")
    assert wrong_password["errcode"] == "M_FORBIDDEN"
    assert wrong_password == unknown_user


async def test_login_as_a_user_of_another_server_is_forbidden(hs):
    await hs.register("alice")
    body = await login(hs, 403, user="@alice:elsewhere.example", password=PASSWORD)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_unknown_login_type_is_m_unknown(hs):
    body = await login(hs, 400, type="m.login.fingerprint", user="alice", password=PASSWORD)
    assert body["errcode"] == "M_UNKNOWN"


async def test_unknown_identifier_type_is_m_unknown(hs):
    body = await login(
        hs, 400, identifier={"type": "m.id.thirdparty", "medium": "email", "address": "a@b.c"},
        password=PASSWORD,
    )
    assert body["errcode"] == "M_UNKNOWN"


async def test_login_without_type_is_missing_param(hs):
    body = await hs.request("POST", LOGIN, json={"user": "alice", "password": PASSWORD}, expect=400)
    assert body["errcode"] == "M_MISSING_PARAM"


async def test_login_without_password_is_missing_param(hs):
    body = await login(hs, 400, user="alice")
    assert body["errcode"] == "M_MISSING_PARAM"


# --- whoami and logout -------------------------------------------------------------------------


async def test_whoami_names_the_user_and_device(hs):
    alice = await hs.register("alice")
    body = await hs.request("GET", WHOAMI, alice)
    assert body == {"user_id": alice.user_id, "device_id": alice.device_id, "is_guest": False}


async def test_logout_ends_this_device_only(hs):
    alice = await hs.register("alice")
    other = as_user(await login(hs, user="alice", password=PASSWORD))
    assert await hs.request("POST", LOGOUT, alice, json={}) == {}
    assert (await hs.request("GET", WHOAMI, alice, expect=401))["errcode"] == "M_UNKNOWN_TOKEN"
    assert (await hs.request("GET", WHOAMI, other))["device_id"] == other.device_id
    # The device goes with its token.
    assert await device_row(hs, alice.user_id, alice.device_id) is None


async def test_logout_all_ends_every_session_of_the_user(hs):
    alice = await hs.register("alice")
    other = as_user(await login(hs, user="alice", password=PASSWORD))
    bob = await hs.register("bob")
    assert await hs.request("POST", LOGOUT_ALL, alice, json={}) == {}
    for session in (alice, other):
        assert (await hs.request("GET", WHOAMI, session, expect=401))["errcode"] == "M_UNKNOWN_TOKEN"
    assert await count_devices(hs, alice.user_id) == 0
    await hs.request("GET", WHOAMI, bob)  # other users keep their sessions


async def test_logout_requires_a_token(hs):
    body = await hs.request("POST", LOGOUT, json={}, expect=401)
    assert body["errcode"] == "M_MISSING_TOKEN"


async def test_password_still_logs_in_after_logout_all(hs):
    alice = await hs.register("alice")
    await hs.request("POST", LOGOUT_ALL, alice, json={})
    await login(hs, user="alice", password=PASSWORD)


# --- UIA sessions: bounded in time and in number -----------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def new_uia_session(auth) -> str:
    from minihs.domain.uia import AuthRequired

    with pytest.raises(AuthRequired) as raised:
        auth.authenticate(None)
    return raised.value.session


def test_an_expired_uia_session_answers_as_an_unknown_session():
    from minihs.domain.uia import SESSION_LIFETIME_S, RegistrationAuth
    from minihs.spec.errors import MatrixError

    clock = FakeClock()
    auth = RegistrationAuth("open", [], clock=clock)
    session = new_uia_session(auth)
    clock.now += SESSION_LIFETIME_S
    with pytest.raises(MatrixError) as raised:
        auth.authenticate({"type": "m.login.dummy", "session": session})
    assert (raised.value.status, raised.value.errcode) == (400, "M_UNKNOWN")
    assert len(auth._sessions) == 0  # and it is gone from memory


def test_a_uia_session_works_until_just_before_it_expires():
    from minihs.domain.uia import SESSION_LIFETIME_S, RegistrationAuth

    clock = FakeClock()
    auth = RegistrationAuth("open", [], clock=clock)
    session = new_uia_session(auth)
    clock.now += SESSION_LIFETIME_S - 1
    assert auth.authenticate({"type": "m.login.dummy", "session": session}) == session


def test_new_uia_sessions_over_the_bound_push_out_the_oldest():
    from minihs.domain.uia import RegistrationAuth
    from minihs.spec.errors import MatrixError

    auth = RegistrationAuth("open", [], clock=FakeClock(), max_sessions=3)
    sessions = [new_uia_session(auth) for _ in range(5)]
    assert len(auth._sessions) == 3
    with pytest.raises(MatrixError):
        auth.authenticate({"type": "m.login.dummy", "session": sessions[0]})
    assert auth.authenticate({"type": "m.login.dummy", "session": sessions[-1]}) == sessions[-1]


def test_expired_uia_sessions_are_dropped_when_a_new_one_starts():
    from minihs.domain.uia import SESSION_LIFETIME_S, RegistrationAuth

    clock = FakeClock()
    auth = RegistrationAuth("open", [], clock=clock)
    for _ in range(10):
        new_uia_session(auth)
    clock.now += SESSION_LIFETIME_S
    new_uia_session(auth)
    assert len(auth._sessions) == 1


# --- access tokens: only the form minihs issues ----------------------------------------------


async def test_an_access_token_in_other_case_is_an_unknown_token(hs):
    alice = await hs.register("alice")
    for variant in (alice.access_token.upper(), alice.access_token.lower()):
        if variant == alice.access_token:
            continue
        body = await hs.request(
            "GET", WHOAMI, headers={"Authorization": f"Bearer {variant}"}, expect=401
        )
        assert body["errcode"] == "M_UNKNOWN_TOKEN"


def test_issued_access_tokens_have_the_canonical_form():
    from minihs.domain.accounts import is_canonical_access_token, new_access_token
    from minihs.domain.minting import IdSource

    ids = IdSource()
    assert all(is_canonical_access_token(new_access_token(ids)) for _ in range(200))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "mhs_",
        "MHS_" + "A" * 43,
        "mhs_" + "A" * 42,  # too short
        "mhs_" + "A" * 44,  # too long
        "mhs_" + "A" * 42 + "B",  # a last character with bits no 32-byte token has
        "mhs_" + "A" * 42 + "A=",  # padded
        "mhs_" + "A" * 41 + "+A",  # standard base64, not URL-safe
        "mhs_" + "A" * 43 + "\n",
    ],
)
async def test_a_token_not_in_the_issued_form_is_unknown_without_a_lookup(token):
    from minihs.config import Config
    from minihs.domain.accounts import Accounts

    class NoLookups:
        async def token_owner(self, digest):
            raise AssertionError("a non-canonical token reached the database")

    accounts = Accounts(Config(), NoLookups())
    assert await accounts.requester_for_token(token) is None
