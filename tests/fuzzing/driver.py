"""Driving schemathesis through its Python API: the world the fuzzer acts in, and the loop that
sends each operation's generated cases and collects what failed.

No schemathesis pytest integration is used (its ``from_fixture``/``parametrize`` broke under
pytest 9.1, issue 13): cases come from ``APIOperation.as_strategy`` and
``get_strategies_from_examples``, are drawn by a plain ``hypothesis.given`` inside an ordinary
test, sent with ``Case.call`` and judged by a ``verify`` callable the test supplies.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import hypothesis
import requests
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode

from minihs.testing import MinihsServer

PASSWORD = "fuzz password"
SHARED_SECRET = "fuzz shared secret"
SHARED_SECRET_REGISTER = "/_synapse/admin/v1/register"
FAULTS = "/_minihs/admin/faults"
# A generated shared-secret registration whose `mac` is this gets a fresh nonce and a valid MAC.
SIGN_ME = "sign me"
# A request the server has not answered by then counts as a hang.
REQUEST_TIMEOUT_S = 10.0
# Realistic values that generated requests sometimes carry instead of random ones, so that fuzzing
# also reaches the paths behind "room not found" and "user not in room".
EVENT_TYPES = ["m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules"]


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
        # Our document's login example names alice/wonderland: make it a working login.
        server.register_user("alice", "wonderland")
        self.token = fuzzer.access_token
        lobby = server.create_room(fuzzer, preset="public_chat", room_alias_name="lobby")
        server.join(friend, lobby)
        private = server.create_room(friend, preset="private_chat")
        old = server.create_room(fuzzer, room_version="10", invite=[friend.user_id])
        # Always the same number of each: generation draws positions in these lists, so the
        # same draws stay valid after a rebuild.
        self.users = [fuzzer.user_id, friend.user_id, "@nobody:localhost"]
        self.rooms = [lobby, private, old, "!unknownroomabcdefg:localhost"]
        self.aliases = ["#lobby:localhost", "#nowhere:localhost"]
        return self


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
    """Hooks that mix the world's real IDs into generation."""
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


class FuzzStats:
    """Examples sent and statuses received, per operation and document."""

    def __init__(self, max_examples: int, seed: int | None, include_r0: bool) -> None:
        self.settings = {"max_examples": max_examples, "seed": seed, "include_r0": include_r0}
        self.statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.request_seconds: collections.Counter = collections.Counter()
        self.started = time.monotonic()

    def record(self, label: str, status: int, seconds: float) -> None:
        self.statuses[label][status] += 1
        self.request_seconds[label] += seconds

    @property
    def examples(self) -> int:
        return sum(sum(counter.values()) for counter in self.statuses.values())

    def write(self, path: str | None) -> None:
        if not path:
            return
        report = {
            **self.settings,
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
        Path(path).write_text(json.dumps(report, indent=2), encoding="utf-8")


@dataclass
class Sender:
    """Sends a case as the fuzzing user and records it; ``document`` names the stats row."""

    world: World
    session: requests.Session
    stats: FuzzStats
    document: str

    def __call__(self, case) -> requests.Response:
        if isinstance(case.body, dict) and case.body.get("mac") == SIGN_ME:
            self.world.sign_shared_secret_request(case.body)
        # Logouts get a throwaway account each, or they would end the session every other
        # request relies on.
        if re.search(r"/logout(/all)?$", case.operation.path):
            token = self.world.throwaway_token()
        else:
            token = self.world.token
        # The token goes in the header only: the spec's security schemes also offer the
        # deprecated query form, and a request carrying both is refused (as Synapse does).
        if isinstance(case.query, dict):
            case.query.pop("access_token", None)
        headers = {key: value for key, value in (case.headers or {}).items()
                   if key.lower() != "authorization"}
        case.headers = {**headers, "Authorization": f"Bearer {token}"}
        sent = time.monotonic()
        response = case.call(session=self.session, timeout=REQUEST_TIMEOUT_S)
        if case.operation.path == FAULTS and case.operation.method.upper() == "POST":
            # A generated rule would fault the operations fuzzed after it: each is tried, then
            # gone.
            self.world.server.clear_faults()
        self.stats.record(f"{self.document}: {case.operation.label}", response.status_code,
                          time.monotonic() - sent)
        return response


def case_strategy(operation) -> st.SearchStrategy:
    """The operation's documented examples, then schema-conforming and schema-violating cases."""
    strategies = list(operation.get_strategies_from_examples())
    strategies += [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
    return st.one_of(strategies)


def fuzz_operation(
    operation,
    send: Callable[[Any], requests.Response],
    verify: Callable[[Any, requests.Response], None],
    *,
    max_examples: int,
    seed: int | None,
) -> str | None:
    """Send ``max_examples`` cases of one operation; the first failure, described (the case
    as a curl command, the response, what was wrong), or None."""
    failure: list[str] = []

    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        # Shrinking would re-send many requests; the failing case itself is reported.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @hypothesis.given(case=case_strategy(operation))
    def run(case) -> None:
        response = send(case)
        try:
            verify(case, response)
        except Exception as error:
            if not failure:
                body = response.text if len(response.text) < 600 else response.text[:600] + "..."
                failure.append(
                    f"{operation.label}\n  case: {case.as_curl_command()}\n"
                    f"  answer: {response.status_code} {body}\n  wrong: {error}"
                )
            raise

    if seed is not None:
        run = hypothesis.seed(seed)(run)
    try:
        run()
    except Exception as error:  # what failed is in `failure` (or, if generation did, here)
        return failure[0] if failure else f"{operation.label}\n  error: {error!r}"
    return None
