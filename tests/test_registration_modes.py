"""Registration modes: open, closed, or gated by registration tokens.

Spec: "Token-authenticated registration" (the ``m.login.registration_token`` UIA stage and
``GET /_matrix/client/v1/register/m.login.registration_token/validity``).
"""

from __future__ import annotations

REGISTER = "/_matrix/client/v3/register"
VALIDITY = "/_matrix/client/v1/register/m.login.registration_token/validity"


async def token_server(make_homeserver, tokens=("letmein",)):
    return await make_homeserver(registration={"mode": "token", "tokens": list(tokens)})


TOKEN_FLOW = [{"stages": ["m.login.registration_token", "m.login.dummy"]}]


async def test_token_mode_offers_the_registration_token_stage_then_dummy_as_synapse_does(
    make_homeserver,
):
    hs = await token_server(make_homeserver)
    body = await hs.request("POST", REGISTER, json={"username": "a", "password": "p"}, expect=401)
    assert body["flows"] == TOKEN_FLOW
    assert body["completed"] == []
    assert isinstance(body["session"], str)


async def test_token_mode_registers_with_a_valid_token_then_the_dummy_stage(make_homeserver):
    hs = await token_server(make_homeserver)
    first = await hs.request("POST", REGISTER, json={"username": "a", "password": "p"}, expect=401)
    session = first["session"]
    auth = {"type": "m.login.registration_token", "token": "letmein", "session": session}
    second = await hs.request(
        "POST", REGISTER, json={"username": "a", "password": "p", "auth": auth}, expect=401
    )
    assert second["completed"] == ["m.login.registration_token"]
    assert second["session"] == session
    auth = {"type": "m.login.dummy", "session": session}
    body = await hs.request("POST", REGISTER, json={"username": "a", "password": "p", "auth": auth})
    assert body["user_id"] == "@a:localhost"


async def test_token_mode_without_the_token_stage_first_refuses_the_dummy_stage(make_homeserver):
    hs = await token_server(make_homeserver)
    first = await hs.request("POST", REGISTER, json={"username": "a", "password": "p"}, expect=401)
    auth = {"type": "m.login.dummy", "session": first["session"]}
    body = await hs.request(
        "POST", REGISTER, json={"username": "a", "password": "p", "auth": auth}, expect=401
    )
    assert body["completed"] == [] and "errcode" in body


async def test_token_mode_refuses_a_wrong_token_with_a_401_that_says_why(make_homeserver):
    hs = await token_server(make_homeserver)
    auth = {"type": "m.login.registration_token", "token": "guess"}
    body = await hs.request(
        "POST", REGISTER, json={"username": "a", "password": "p", "auth": auth}, expect=401
    )
    assert body["errcode"] == "M_FORBIDDEN"
    assert body["flows"] == TOKEN_FLOW
    await hs.request(
        "GET", "/_matrix/client/v3/register/available", params={"username": "a"}
    )  # nothing was created


async def test_token_mode_refuses_the_dummy_stage(make_homeserver):
    hs = await token_server(make_homeserver)
    body = await hs.request(
        "POST", REGISTER,
        json={"username": "a", "password": "p", "auth": {"type": "m.login.dummy"}}, expect=401,
    )
    assert "errcode" in body


async def test_validity_endpoint_says_whether_a_token_is_valid(make_homeserver):
    hs = await token_server(make_homeserver, tokens=["one", "two"])
    assert await hs.request("GET", VALIDITY, params={"token": "two"}) == {"valid": True}
    assert await hs.request("GET", VALIDITY, params={"token": "three"}) == {"valid": False}


async def test_validity_endpoint_is_403_when_tokens_are_not_in_use(hs):
    body = await hs.request("GET", VALIDITY, params={"token": "x"}, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


async def test_closed_mode_refuses_registration_with_403_forbidden(make_homeserver):
    hs = await make_homeserver(registration={"mode": "closed"})
    body = await hs.request(
        "POST", REGISTER,
        json={"username": "a", "password": "p", "auth": {"type": "m.login.dummy"}}, expect=403,
    )
    assert body["errcode"] == "M_FORBIDDEN"


async def test_token_mode_without_tokens_is_a_config_error():
    import pytest

    from minihs.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match="registration.tokens"):
        config_from_dict({"registration": {"mode": "token"}})


async def test_a_completed_session_can_retry_after_the_registration_itself_failed(hs):
    # As in Synapse: authenticating is not undone by a failure after it (here, no password).
    first = await hs.request("POST", REGISTER, json={"username": "a"}, expect=401)
    auth = {"type": "m.login.dummy", "session": first["session"]}
    missing = await hs.request("POST", REGISTER, json={"username": "a", "auth": auth}, expect=400)
    assert missing["errcode"] == "M_MISSING_PARAM"
    body = await hs.request("POST", REGISTER, json={"username": "a", "password": "p", "auth": auth})
    assert body["user_id"] == "@a:localhost"


async def test_a_session_is_spent_once_its_registration_succeeds(hs):
    first = await hs.request("POST", REGISTER, json={"username": "a"}, expect=401)
    auth = {"type": "m.login.dummy", "session": first["session"]}
    await hs.request("POST", REGISTER, json={"username": "a", "password": "p", "auth": auth})
    again = await hs.request(
        "POST", REGISTER, json={"username": "b", "password": "p", "auth": auth}, expect=400
    )
    assert again["errcode"] == "M_UNKNOWN"
