"""Fuzzing: schemathesis drives a live minihs with the OpenAPI document the server publishes.

Issue 6, "Fuzzing": every operation of ``GET /_minihs/openapi.json`` is called with schemathesis'
schema examples, coverage cases (boundary and schema-violating values) and Hypothesis-generated
requests, authenticated with a real access token, and each response must pass four checks:
no 5xx, a status the document lists for the operation, the documented content type, and a body
matching the documented schema. A request that gets no answer within the timeout fails too.

Quick mode (the test suite) runs a few examples per operation and leaves out the legacy ``r0``
copies of the ``v3`` paths (same handlers); ``scripts/fuzz.py`` runs this same test with many more
examples, the ``r0`` paths and a random seed. Environment knobs (set by that script):
``MINIHS_FUZZ_MAX_EXAMPLES``, ``MINIHS_FUZZ_SEED``, ``MINIHS_FUZZ_R0=1``, and
``MINIHS_FUZZ_REPORT`` (a file the per-operation example counts are written to as JSON).
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import importlib.util
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from minihs.api import app as minihs_app
from minihs.config import Config
from minihs.testing import MinihsServer
from minihs.config import apply_testing_profile

REPO = Path(__file__).resolve().parent.parent
QUICK_MAX_EXAMPLES = 10
MAX_EXAMPLES = int(os.environ.get("MINIHS_FUZZ_MAX_EXAMPLES", QUICK_MAX_EXAMPLES))
# Quick mode is deterministic (a fixed seed); scripts/fuzz.py passes a random one.
SEED = int(os.environ.get("MINIHS_FUZZ_SEED", "6"))
DETERMINISTIC = "MINIHS_FUZZ_SEED" not in os.environ
INCLUDE_R0 = os.environ.get("MINIHS_FUZZ_R0") == "1"
REPORT_PATH = os.environ.get("MINIHS_FUZZ_REPORT")
# A request the server has not answered by then counts as a hang.
REQUEST_TIMEOUT_S = 10.0
PASSWORD = "fuzz password"
SHARED_SECRET = "fuzz shared secret"
SHARED_SECRET_REGISTER = "/_synapse/admin/v1/register"
# A generated shared-secret registration whose `mac` is this gets a fresh nonce and a valid MAC.
SIGN_ME = "sign me"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# --- the world the fuzzer acts in ----------------------------------------------------------------


@dataclass
class World:
    """Accounts and rooms made before fuzzing, so generated requests can name real things."""

    server: MinihsServer
    token: str = ""
    users: list[str] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    def throwaway_token(self) -> str:
        """A new account's token (the server picks the username, so no fuzzed one collides)."""
        body = {"password": PASSWORD, "auth": {"type": "m.login.dummy"}}
        return self.server.request("POST", "/_matrix/client/v3/register", json_body=body)[
            "access_token"
        ]

    def sign_shared_secret_request(self, body: dict[str, Any]) -> None:
        """Give a generated registration a fresh nonce and the MAC Synapse's docs define."""
        username, password = body.get("username"), body.get("password")
        if not (isinstance(username, str) and isinstance(password, str)):
            return
        body["nonce"] = self.server.request("GET", SHARED_SECRET_REGISTER)["nonce"]
        parts = [body["nonce"], username, password, "admin" if body.get("admin") else "notadmin"]
        if isinstance(body.get("user_type"), str) and body["user_type"]:
            parts.append(body["user_type"])
        message = b"\x00".join(part.encode("utf-8", "surrogatepass") for part in parts)
        body["mac"] = hmac.new(SHARED_SECRET.encode(), message, hashlib.sha1).hexdigest()

    def rebuild(self) -> None:
        """A fresh server holding the same world (new IDs and tokens, same shape)."""
        self.server.reset()
        self.build()

    def build(self) -> "World":
        server = self.server
        fuzzer = server.register_user("fuzzer", PASSWORD)
        friend = server.register_user("friend", PASSWORD)
        # The document's login example names alice/wonderland: make it a working login.
        server.register_user("alice", "wonderland")
        self.token = fuzzer.access_token
        lobby = server.create_room(fuzzer, preset="public_chat", room_alias_name="lobby")
        server.join(friend, lobby)
        private = server.create_room(friend, preset="private_chat")
        old = server.create_room(fuzzer, room_version="10", invite=[friend.user_id])
        # Always the same number of each: generation draws positions in these lists, so the
        # same draws stay valid after a rebuild.
        self.users = [fuzzer.user_id, friend.user_id, "@nobody:localhost"]
        self.rooms = [lobby, private, old]
        self.aliases = ["#lobby:localhost", "#nowhere:localhost"]
        return self


# Realistic values that generated requests sometimes carry instead of random ones, so that fuzzing
# also reaches the paths behind "room not found" and "user not in room".
EVENT_TYPES = ["m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules"]


def _sometimes(
    strategy: st.SearchStrategy, choices: dict[str, Callable[[], list[str]]]
) -> st.SearchStrategy:
    """Half the draws unchanged; the other half with each named key (where present) set to one
    of its choices. A position is drawn and looked up when the value is built, so a choice list
    may be replaced by another of the same length (see World.rebuild)."""

    def replace(drawn: tuple[Any, dict[str, int]]) -> Any:
        value, positions = drawn
        if not isinstance(value, dict):
            return value
        picks = {key: choices[key]()[i] for key, i in positions.items() if key in value}
        return {**value, **picks}

    positions = st.fixed_dictionaries(
        {key: st.integers(0, len(values()) - 1) for key, values in choices.items()}
    )
    return st.one_of(strategy, st.tuples(strategy, positions).map(replace))


def install_world(schema: Any, world: World) -> None:
    """Hooks that mix the world's real IDs into generation, and the access token provider."""
    path_choices = {
        "roomId": lambda: world.rooms,
        "roomIdOrAlias": lambda: world.rooms + world.aliases,
        "roomAlias": lambda: world.aliases,
        "eventType": lambda: EVENT_TYPES,
        "stateKey": lambda: ["", *world.users],
        "userId": lambda: world.users,
    }

    @schema.hook
    def before_generate_path_parameters(context, strategy):
        return _sometimes(strategy, path_choices)

    @schema.hook
    def before_generate_query(context, strategy):
        return _sometimes(strategy, {"user_id": lambda: world.users})

    @schema.hook
    def before_generate_body(context, strategy):
        return _sometimes(strategy, {"user_id": lambda: world.users, "mac": lambda: [SIGN_ME]})

    @schema.auth(refresh_interval=None, retry_on=[])
    class AccessToken:
        """The fuzzing user's token; logouts get a throwaway account each, or they would end
        the session every other request relies on."""

        def get(self, case, context):
            if re.search(r"/logout(/all)?$", case.operation.path):
                return world.throwaway_token()
            return world.token

        def set(self, case, token, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_minihs():
    with MinihsServer({"registration": {"shared_secret": SHARED_SECRET}}) as server:
        yield server


@pytest.fixture(scope="module")
def http_session():
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def fuzz_world(live_minihs) -> World:
    return World(live_minihs).build()


class FuzzStats:
    """Examples sent and statuses received, per operation."""

    def __init__(self) -> None:
        self.statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.request_seconds: collections.Counter = collections.Counter()
        self.started = time.monotonic()

    def record(self, label: str, status: int, seconds: float) -> None:
        self.statuses[label][status] += 1
        self.request_seconds[label] += seconds

    @property
    def examples(self) -> int:
        return sum(sum(counter.values()) for counter in self.statuses.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "max_examples": MAX_EXAMPLES,
            "seed": SEED,
            "include_r0": INCLUDE_R0,
            "examples": self.examples,
            "seconds": round(time.monotonic() - self.started, 2),
            "operations": {
                label: {
                    "statuses": {str(status): n for status, n in sorted(counter.items())},
                    "request_seconds": round(self.request_seconds[label], 3),
                }
                for label, counter in sorted(self.statuses.items())
            },
        }


@pytest.fixture(scope="module")
def fuzz_stats():
    stats = FuzzStats()
    yield stats
    if REPORT_PATH:
        Path(REPORT_PATH).write_text(json.dumps(stats.as_json(), indent=2), encoding="utf-8")


@pytest.fixture(scope="module")
def minihs_api(live_minihs, fuzz_world):
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "request-timeout": REQUEST_TIMEOUT_S,
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none"},
    })
    schema = schemathesis.openapi.from_url(
        live_minihs.base_url + "/_minihs/openapi.json", config=config
    )
    schema.config.update(base_url=live_minihs.base_url)
    install_world(schema, fuzz_world)
    return schema


def fuzzed(schema):
    """The operations to fuzz: all but the reset, which would log the fuzzing user out halfway
    through (the admin tests cover it), and in quick mode the r0 copies of the v3 paths."""
    schema = schema.exclude(path="/_minihs/admin/reset")
    return schema if INCLUDE_R0 else schema.exclude(path_regex="^/_matrix/client/r0/")


api = fuzzed(schemathesis.pytest.from_fixture("minihs_api"))


# --- the tests -----------------------------------------------------------------------------------


def send(case, world: World, session: requests.Session, stats: FuzzStats):
    if isinstance(case.body, dict) and case.body.get("mac") == SIGN_ME:
        world.sign_shared_secret_request(case.body)
    sent = time.monotonic()
    response = case.call(session=session, timeout=REQUEST_TIMEOUT_S)
    stats.record(case.operation.label, response.status_code, time.monotonic() - sent)
    return response


@api.parametrize()
def test_every_operation_answers_as_its_openapi_document_says(
    case, http_session, fuzz_world, fuzz_stats
):
    response = send(case, fuzz_world, http_session, fuzz_stats)
    case.validate_response(response, checks=CHECKS)


def test_call_sequences_along_the_documents_links_answer_as_it_says(
    minihs_api, http_session, fuzz_world, fuzz_stats
):
    """Stateful: create or join a room, then act in it (invite, kick, ban, read its state);
    register, then ask for mutual rooms with the new account; follow next_batch."""

    class Sequences(fuzzed(minihs_api).as_state_machine()):
        def setup(self):
            # Every sequence starts from the same state, or Hypothesis could not replay one.
            fuzz_world.rebuild()

        def call(self, case, **kwargs):
            return send(case, fuzz_world, http_session, fuzz_stats)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Sequences.run(settings=hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        stateful_step_count=8,
        deadline=None,
        database=None,
        derandomize=DETERMINISTIC,
        suppress_health_check=list(HealthCheck),
    ))


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packaged_openapi_document_is_what_make_openapi_writes():
    packaged = (REPO / "minihs" / "openapi.json").read_text(encoding="utf-8")
    assert packaged == _load_script("make_openapi").render()


def test_openapi_document_describes_every_route_the_server_registers():
    document = json.loads((REPO / "minihs" / "openapi.json").read_text(encoding="utf-8"))
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item}
    app = minihs_app.create_app(apply_testing_profile(Config()))
    served = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside every GET
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.resource.canonical)
        if route.method == "*":  # one handler for any method: the document names the ones it serves
            served.update(entry for entry in documented if entry[1] == path)
            assert any(entry[1] == path for entry in documented), path
        else:
            served.add((route.method, path))
    assert served - documented == set()
    assert documented - served == set()


async def test_openapi_document_is_served_at_minihs_openapi_json(hs):
    body = await hs.request("GET", "/_minihs/openapi.json")
    assert hs.last_response.content_type == "application/json"
    assert body == json.loads((REPO / "minihs" / "openapi.json").read_text(encoding="utf-8"))
    assert body["openapi"].startswith("3.1")
