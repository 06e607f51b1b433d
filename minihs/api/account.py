"""Account endpoints: registration, login, logout, whoami.

Spec: Client-Server API, "Account registration and management", "Login", "Logout".
"""

from __future__ import annotations

from aiohttp import web

from minihs.domain.accounts import Session
from minihs.api.request import client_address, field, homeserver, json_object, query_param, requester
from minihs.spec.errors import Codes, MatrixError, forbidden
from minihs.api.responses import json_response

PASSWORD_LOGIN = "m.login.password"


def _session_body(server_name: str, session: Session) -> dict:
    body = {"user_id": session.user_id, "home_server": server_name}
    if session.access_token is not None:
        body["access_token"] = session.access_token
        body["device_id"] = session.device_id
    return body


async def register(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/register

    Spec: "Account registration and management" > POST /register, with User-Interactive
    Authentication. Username problems are reported before authentication, as the spec asks.
    """
    hs = homeserver(request)
    body = await json_object(request)
    kind = query_param(request, "kind") or "user"
    if kind == "guest":
        raise MatrixError(403, Codes.GUEST_ACCESS_FORBIDDEN, "Guest access is disabled")
    if kind != "user":
        raise MatrixError(400, Codes.INVALID_PARAM, "'kind' must be 'user' or 'guest'")
    registration = hs.config.registration
    if not registration.enabled or registration.mode == "closed":
        raise forbidden("Registration has been disabled")
    hs.ratelimits.registration_per_address.check(client_address(request))

    username = field(body, "username", str)
    password = field(body, "password", str)
    device_id = field(body, "device_id", str)
    display_name = field(body, "initial_device_display_name", str)
    inhibit_login = field(body, "inhibit_login", bool) or False
    field(body, "refresh_token", bool)  # accepted; minihs tokens do not expire
    auth = field(body, "auth", dict)
    if username is not None:
        await hs.accounts.check_username_available(username)

    uia_session = hs.registration_auth.authenticate(auth)
    if password is None:
        raise MatrixError(400, Codes.MISSING_PARAM, "Missing params: password")
    session = await hs.accounts.register(
        username,
        password,
        device_id=device_id,
        device_display_name=display_name,
        inhibit_login=inhibit_login,
    )
    hs.registration_auth.finish(uia_session)
    return json_response(_session_body(hs.config.server_name, session))


async def register_available(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/register/available

    Spec: "Account registration and management" > GET /register/available.
    """
    hs = homeserver(request)
    username = query_param(request, "username", required=True)
    hs.ratelimits.registration_per_address.check(client_address(request))
    await hs.accounts.check_username_available(username)
    return json_response({"available": True})


async def registration_token_validity(request: web.Request) -> web.Response:
    """GET /_matrix/client/v1/register/m.login.registration_token/validity

    Spec: "Token-authenticated registration".
    """
    hs = homeserver(request)
    token = query_param(request, "token", required=True)
    if hs.config.registration.mode != "token":
        raise forbidden("Registration tokens are not enabled on this server")
    hs.ratelimits.registration_per_address.check(client_address(request))
    return json_response({"valid": hs.registration_auth.is_valid_token(token)})


async def login_flows(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/login

    Spec: "Login" > GET /login. minihs offers password login only.
    """
    return json_response({"flows": [{"type": PASSWORD_LOGIN}]})


def _login_user(body: dict) -> str:
    """The user named by ``identifier`` (``m.id.user``) or the legacy top-level ``user``."""
    identifier = field(body, "identifier", dict)
    if identifier is not None:
        id_type = field(identifier, "type", str, required=True)
        if id_type != "m.id.user":
            raise MatrixError(400, Codes.UNKNOWN, f"Unknown login identifier type {id_type!r}")
        return field(identifier, "user", str, required=True)
    user = field(body, "user", str)
    if user is None:
        raise MatrixError(400, Codes.MISSING_PARAM, "Missing 'identifier' in login request")
    return user


async def login(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/login

    Spec: "Login" > POST /login, type ``m.login.password``. Unknown user and wrong password give
    the same 403, so the answer never reveals whether an account exists.
    """
    hs = homeserver(request)
    body = await json_object(request)
    login_type = field(body, "type", str, required=True)
    if login_type != PASSWORD_LOGIN:
        raise MatrixError(400, Codes.UNKNOWN, f"Unknown login type {login_type!r}")
    hs.ratelimits.login_per_address.check(client_address(request))
    user = _login_user(body)
    password = field(body, "password", str, required=True)
    device_id = field(body, "device_id", str)
    display_name = field(body, "initial_device_display_name", str)
    field(body, "refresh_token", bool)
    # One bucket per account, however the client spells its name.
    hs.ratelimits.login_per_user.check(hs.accounts.user_id_from_login_identifier(user) or user.lower())
    session = await hs.accounts.login_with_password(user, password, device_id, display_name)
    return json_response(_session_body(hs.config.server_name, session))


async def logout(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/logout

    Spec: "Logout" > POST /logout: this device's token only (the device goes with it).
    """
    who = await requester(request)
    await homeserver(request).accounts.logout(who)
    return json_response({})


async def logout_all(request: web.Request) -> web.Response:
    """POST /_matrix/client/v3/logout/all

    Spec: "Logout" > POST /logout/all: every token of the user.
    """
    who = await requester(request)
    await homeserver(request).accounts.logout_all(who)
    return json_response({})


async def whoami(request: web.Request) -> web.Response:
    """GET /_matrix/client/v3/account/whoami

    Spec: "Account registration and management" > GET /account/whoami.
    """
    who = await requester(request)
    # Every account is a full user: register with kind=guest is refused above.
    return json_response({"user_id": who.user_id, "device_id": who.device_id, "is_guest": False})


ROUTES = [
    ("POST", "/register", register),
    ("GET", "/register/available", register_available),
    ("GET", "/login", login_flows),
    ("POST", "/login", login),
    ("POST", "/logout", logout),
    ("POST", "/logout/all", logout_all),
    ("GET", "/account/whoami", whoami),
]

V1_ROUTES = [
    ("GET", "/register/m.login.registration_token/validity", registration_token_validity),
]
