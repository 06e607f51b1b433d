"""Deterministic mode (issue 16): with ``deterministic.seed`` set, every ID minihs mints and
every timestamp it writes follow from the seed and the (frozen) server clock, so the same
requests get the same bytes back: on two servers, and on one server after a reset.

Each comparison runs one request sequence that touches everything minted: UIA session IDs,
access tokens and device IDs, room IDs (versions 10 and 12), event IDs and timestamps, the
sync stream's tokens, ``/messages`` tokens, mutual-rooms ``next_batch`` tokens and
shared-secret nonces. Responses are compared as raw bytes, not as parsed JSON.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from minihs.domain.accounts import is_canonical_access_token, new_access_token
from minihs.domain.minting import IdSource
from minihs.testing import MinihsServer

SEED = "issue-16"
CLIENT = "/_matrix/client/v3"
CLOCK = "/_minihs/admin/clock"
START_MS = 1_767_225_600_000  # the default deterministic.start_time_ms
PASSWORD = "pw"


def seeded_config(seed: str = SEED, **overrides: Any) -> dict[str, Any]:
    return {
        "deterministic": {"seed": seed},
        "mutual_rooms": {"page_size": 1},  # two shared rooms give a next_batch
        "registration": {"shared_secret": "s3cret"},
        **overrides,
    }


class Recorder:
    """Raw HTTP against a running server, every answer kept as (request, status, bytes)."""

    def __init__(self, server: MinihsServer) -> None:
        self.server = server
        self.answers: list[tuple[str, int, bytes]] = []

    def call(
        self, method: str, path: str, token: str | None = None, body: Any = None, **params: str
    ) -> Any:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        target = path + ("?" + urlencode(params) if params else "")
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        try:
            data = None if body is None else json.dumps(body).encode()
            connection.request(method, target, body=data, headers=headers)
            reply = connection.getresponse()
            raw = reply.read()
        finally:
            connection.close()
        self.answers.append((f"{method} {target}", reply.status, raw))
        return json.loads(raw) if raw else None


def run_sequence(server: MinihsServer) -> list[tuple[str, int, bytes]]:
    """The same requests, in the same order, each built from the answers before it."""
    r = Recorder(server)
    started = r.call("POST", f"{CLIENT}/register", body={"username": "alice", "password": PASSWORD})
    alice = r.call("POST", f"{CLIENT}/register", body={
        "username": "alice", "password": PASSWORD,
        "auth": {"type": "m.login.dummy", "session": started["session"]},
    })
    bob = r.call("POST", f"{CLIENT}/register", body={
        "username": "bob", "password": PASSWORD, "auth": {"type": "m.login.dummy"},
    })
    login = r.call("POST", f"{CLIENT}/login", body={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
        "password": PASSWORD,
    })
    a, b = login["access_token"], bob["access_token"]
    lobby = r.call("POST", f"{CLIENT}/createRoom", a, {
        "preset": "public_chat", "room_alias_name": "lobby", "name": "Lobby",
    })["room_id"]
    old = r.call("POST", f"{CLIENT}/createRoom", a, {"preset": "public_chat", "room_version": "10"})
    r.call("POST", f"{CLIENT}/join/{quote('#lobby:localhost')}", b, {})
    r.call("POST", f"{CLIENT}/join/{quote(old['room_id'])}", b, {})
    first = r.call("PUT", f"{CLIENT}/rooms/{quote(lobby)}/send/m.room.message/t1", a, {
        "msgtype": "m.text", "body": "hello",
    })
    initial = r.call("GET", f"{CLIENT}/sync", a)
    r.call("PUT", f"{CLIENT}/rooms/{quote(lobby)}/send/m.room.message/t2", b, {
        "msgtype": "m.text", "body": "hi alice",
    })
    receipt = f"{CLIENT}/rooms/{quote(lobby)}/receipt/m.read/{quote(first['event_id'])}"
    r.call("POST", receipt, b, {})
    r.call("PUT", f"{CLIENT}/presence/{quote(bob['user_id'])}/status", b, {"presence": "online"})
    r.call("GET", f"{CLIENT}/sync", a, since=initial["next_batch"], timeout="0")
    r.call("GET", f"{CLIENT}/rooms/{quote(lobby)}/messages", a, dir="b")
    page = r.call("GET", "/_matrix/client/v1/mutual_rooms", a, user_id=bob["user_id"])
    r.call("GET", "/_matrix/client/v1/mutual_rooms", a, user_id=bob["user_id"],
           **{"from": page["next_batch"]})
    r.call("GET", "/_synapse/admin/v1/register")
    r.call("GET", f"{CLIENT}/account/whoami", alice["access_token"])
    return r.answers


def assert_same_answers(first: list, second: list) -> None:
    assert len(first) == len(second)
    for one, other in zip(first, second):
        assert one == other, f"{one[0]} answered differently:\n{one[2]!r}\n{other[2]!r}"


@pytest.fixture(scope="module")
def seeded():
    with MinihsServer(seeded_config()) as server:
        yield server


# --- the same seed, the same bytes -------------------------------------------------------


def test_two_servers_with_the_same_seed_answer_the_same_requests_with_the_same_bytes(seeded):
    seeded.reset()
    with MinihsServer(seeded_config()) as other:
        assert_same_answers(run_sequence(seeded), run_sequence(other))


def test_the_sequence_succeeds_and_mints_what_it_should(seeded):
    # The byte comparison means something only if the requests did what they claim.
    seeded.reset()
    answers = run_sequence(seeded)
    assert [status for _, status, _ in answers] == [401] + [200] * (len(answers) - 1)
    body = json.loads(answers[3][2])  # the login
    assert body["device_id"] and is_canonical_access_token(body["access_token"])


def test_a_different_seed_mints_different_ids(seeded):
    seeded.reset()
    with MinihsServer(seeded_config(seed="another")) as other:
        mine, theirs = run_sequence(seeded), run_sequence(other)
    login, their_login = json.loads(mine[3][2]), json.loads(theirs[3][2])
    assert login["access_token"] != their_login["access_token"]
    room, their_room = json.loads(mine[5][2]), json.loads(theirs[5][2])  # the version-10 room
    assert room["room_id"] != their_room["room_id"]


def test_without_a_seed_two_servers_mint_different_ids():
    config = {"mutual_rooms": {"page_size": 1}, "registration": {"shared_secret": "s3cret"}}
    with MinihsServer(config) as one, MinihsServer(config) as two:
        first, second = run_sequence(one), run_sequence(two)
    for index in (1, 3):  # the access tokens of the registration and of the login
        token, other = (json.loads(run[index][2])["access_token"] for run in (first, second))
        assert token != other
    assert json.loads(first[5][2])["room_id"] != json.loads(second[5][2])["room_id"]


def _reset_by_python(server: MinihsServer) -> None:
    server.reset()


def _reset_by_http(server: MinihsServer) -> None:
    server.request("POST", "/_minihs/admin/reset", json_body={})


@pytest.mark.parametrize("reset", [_reset_by_python, _reset_by_http], ids=["python", "http"])
def test_after_a_reset_the_same_requests_get_the_same_bytes_again(seeded, reset):
    seeded.reset()
    before = run_sequence(seeded)
    seeded.clock.advance(5_000)  # moved on: a reset puts the clock back to its start
    reset(seeded)
    assert_same_answers(before, run_sequence(seeded))


def _restore_by_python(server: MinihsServer, name: str) -> None:
    server.restore(name)


def _restore_by_http(server: MinihsServer, name: str) -> None:
    server.request("POST", f"/_minihs/admin/snapshots/{name}/restore", json_body={})


@pytest.mark.parametrize("restore", [_restore_by_python, _restore_by_http], ids=["python", "http"])
def test_each_restore_of_a_snapshot_gets_the_same_bytes_for_the_same_requests(seeded, restore):
    # What a seeded suite does before each test: restore its world, then run the test.
    seeded.reset()
    seeded.snapshot("world")
    try:
        restore(seeded, "world")
        first = run_sequence(seeded)
        seeded.clock.advance(5_000)  # frozen in the snapshot: the restore puts it back
        restore(seeded, "world")
        assert_same_answers(first, run_sequence(seeded))
    finally:
        seeded.delete_snapshot("world")


# --- the clock in deterministic mode -------------------------------------------------------


def test_a_seeded_server_starts_with_its_clock_frozen_at_start_time():
    with MinihsServer(seeded_config()) as server:
        assert server.clock.state() == {"now_ms": START_MS, "frozen": True}
        assert server.request("GET", CLOCK) == {"now_ms": START_MS, "frozen": True}


@pytest.mark.parametrize("reset", [_reset_by_python, _reset_by_http], ids=["python", "http"])
def test_a_reset_puts_a_seeded_servers_clock_back_to_its_start_frozen(seeded, reset):
    seeded.clock.set(START_MS + 86_400_000)
    seeded.clock.unfreeze()
    reset(seeded)
    assert seeded.request("GET", CLOCK) == {"now_ms": START_MS, "frozen": True}


def test_start_time_ms_sets_where_a_seeded_clock_starts():
    with MinihsServer({"deterministic": {"seed": SEED, "start_time_ms": 1_000}}) as server:
        assert server.clock.state() == {"now_ms": 1_000, "frozen": True}


def test_an_unseeded_server_runs_on_the_real_clock():
    import time

    with MinihsServer() as server:
        state = server.clock.state()
    assert state["frozen"] is False
    assert abs(state["now_ms"] - time.time() * 1000) < 60_000


# --- the stream epoch --------------------------------------------------------------------


def test_a_seeded_database_with_changes_keeps_its_epoch_when_reopened(tmp_path):
    # A new database takes the seed's epoch; one that has moved keeps its own, so its sync
    # tokens survive a restart, even under another seed.
    database = {"database": {"path": str(tmp_path / "minihs.db")}}
    with MinihsServer({**seeded_config(), **database}) as server:
        alice = server.register_user("alice", password=PASSWORD)
        token = server.request("GET", f"{CLIENT}/sync", alice)["next_batch"]
    with MinihsServer({**seeded_config(seed="another"), **database}) as server:
        query = {"since": token, "timeout": "0"}
        again = server.request("GET", f"{CLIENT}/sync", alice, params=query)
    assert again["next_batch"].split("_")[1] == token.split("_")[1]


def test_seeded_access_tokens_have_the_canonical_form():
    ids = IdSource(SEED)
    assert all(is_canonical_access_token(new_access_token(ids)) for _ in range(200))


# --- across processes --------------------------------------------------------------------

_RUN_ELSEWHERE = """
import sys
sys.path.insert(0, sys.argv[1])
from test_deterministic import run_sequence, seeded_config
from minihs.testing import MinihsServer
with MinihsServer(seeded_config()) as server:
    for _, status, raw in run_sequence(server):
        print(status, raw.hex())
"""


def test_two_runs_in_separate_processes_get_the_same_bytes():
    # What a test suite run twice sees: another process, another string-hash seed (set
    # iteration order), another moment. In-process comparisons cannot show those.
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parent)
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _RUN_ELSEWHERE, tests],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            stdout=subprocess.PIPE, text=True,
        )
        for hash_seed in ("1", "2")
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert outputs[0] and outputs[0] == outputs[1]
