"""matrix-bot-sdk (npm, pinned in js/package.json) runs its normal bot loop against minihs.

``js/bot_flow.cjs`` runs once per module against a live server, with two users this module
registers (``bot`` and ``human``; their tokens go to the driver in its environment). The bot
is a ``MatrixClient`` with a ``SimpleFsStorageProvider`` in a temporary directory,
``AutojoinRoomsMixin`` and an ``on("room.message")`` handler; it calls ``start()``. The human
creates a room inviting the bot and, once the bot has joined, sends it a message; the bot
answers with ``sendText`` and calls ``stop()``. This module then reads the room as the human
(``GET /messages``). Each test checks one behaviour in the driver's record and the server's log
of requests.

Stand-in: matrix-bot-sdk's encryption dependency, ``@matrix-org/matrix-sdk-crypto-nodejs``,
is replaced by an empty local package (``js/matrix-sdk-crypto-nodejs-stand-in``) because its
install script downloads a native library from a host the test machines cannot reach. The bot
here runs without encryption, which never calls into that package; encryption is not tested.

Install the SDK with ``scripts/install_js_clients.sh`` (CI does). Without ``node`` (>= 20) or
without the pinned SDK these tests are skipped, with one line saying which; under ``CI=true``
either is a collection error instead (tests/prerequisites.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request

import pytest

from prerequisites import prerequisite_missing

from .conftest import JS_DIR, LiveMinihs, SeenRequest, js_package_missing, node_missing, serve_in_thread

BOT_FLOW = JS_DIR / "bot_flow.cjs"
SDK_VERSION = "0.8.0"
# matrix-bot-sdk 0.8.0 declares Node >= 22 but runs on 20, which matrix-js-sdk 37.5.0 needs.
FLOW_TIMEOUT_S = 60
HTTP_TIMEOUT_S = 10
SERVER = "localhost"
BOT, HUMAN = (f"@{name}:{SERVER}" for name in ("bot", "human"))
SYNC = "/_matrix/client/v3/sync"
M_DIRECT = f"/_matrix/client/v3/user/{BOT}/account_data/m.direct"


_js_problem = node_missing("matrix-bot-sdk") or js_package_missing("matrix-bot-sdk", SDK_VERSION)
if _js_problem:
    prerequisite_missing(_js_problem, module_level=True)


def _call(base_url: str, method: str, path: str, body: dict | None = None,
          token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
        return json.load(response)


def _register(base_url: str, username: str) -> str:
    session = _call(base_url, "POST", "/_matrix/client/v3/register", {
        "username": username, "password": f"{username}-password",
        "auth": {"type": "m.login.dummy"},
    })
    return session["access_token"]


class BotRun:
    """What each step of bot_flow.cjs returned, what bot-sdk logged, the server's request log,
    and the room as the human reads it afterwards."""

    def __init__(self, results: dict, server: LiveMinihs, human_reads: list[dict]) -> None:
        self.results = results
        self.server = server
        self.requests = server.requests
        self.human_reads = human_reads

    def __getitem__(self, step: str):
        return self.results[step]

    @property
    def room_id(self) -> str:
        return self.results["other_creates_room_inviting_bot"]

    def requests_to(self, path: str, method: str | None = None) -> list[SeenRequest]:
        return self.server.requests_to(path, method)


@pytest.fixture(scope="module")
def bot_run() -> BotRun:
    with serve_in_thread() as server:
        bot_token = _register(server.url, "bot")
        human_token = _register(server.url, "human")
        completed = subprocess.run(
            ["node", str(BOT_FLOW), server.url],
            cwd=JS_DIR, capture_output=True, text=True, timeout=FLOW_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "MINIHS_BOT_TOKEN": bot_token, "MINIHS_OTHER_TOKEN": human_token},
        )
        lines = completed.stdout.strip().splitlines()
        try:
            report = json.loads(lines[-1])
        except (IndexError, ValueError):
            pytest.fail(f"bot_flow.cjs printed no report (exit {completed.returncode}):\n"
                        f"{completed.stdout}\n{completed.stderr}")
        assert report["ok"], (
            f"matrix-bot-sdk failed at step {report['step']!r}: {report['error']} "
            f"(errcode={report['errcode']}, HTTP {report['httpStatus']}); "
            f"it logged {report['results'].get('logged')}"
        )
        assert completed.returncode == 0, completed.stderr
        room = urllib.parse.quote(report["results"]["other_creates_room_inviting_bot"])
        page = _call(server.url, "GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=50",
                     token=human_token)
    return BotRun(report["results"], server, page["chunk"])


def test_get_user_id_asks_whoami(bot_run):
    assert bot_run["bot_user_id"] == BOT
    assert bot_run["other_user_id"] == HUMAN
    whoamis = bot_run.requests_to("/_matrix/client/v3/account/whoami", "GET")
    assert whoamis and all(r.status == 200 and r.bearer for r in whoamis)


def test_start_reads_m_direct_and_carries_on_when_it_is_not_set(bot_run):
    # DMs.update() in start(): an unset account data type is 404 M_NOT_FOUND, which bot-sdk
    # treats as "no DMs yet" (it logs the HTTP error, and nothing else).
    assert [(r.status, r.errcode) for r in bot_run.requests_to(M_DIRECT, "GET")] == [
        (404, "M_NOT_FOUND")
    ]
    assert bot_run["bot_starts"] is None  # start() resolved


def test_start_begins_syncing_and_on_room_message_receives_the_other_users_message(bot_run):
    assert bot_run["bot_hears"] == {
        "roomId": bot_run.room_id,
        "sender": HUMAN,
        "body": "hello bot",
        "eventId": bot_run["other_sends"],
    }


def test_each_sync_after_the_first_continues_from_the_last_next_batch(bot_run):
    syncs = bot_run.requests_to(SYNC, "GET")
    assert len(syncs) >= 2 and all(r.status == 200 for r in syncs)
    assert "since" not in syncs[0].query
    assert all("since" in r.query for r in syncs[1:])
    assert bot_run["sync_token_stored"] is True  # in the SimpleFsStorageProvider


def test_autojoin_mixin_joins_the_room_the_bot_is_invited_to(bot_run):
    assert bot_run["bot_joins_on_invite"] == bot_run.room_id
    joins = bot_run.requests_to(f"/_matrix/client/v3/join/{bot_run.room_id}", "POST")
    assert [r.status for r in joins] == [200]
    assert bot_run["bot_joined_rooms"] == [bot_run.room_id]


def test_send_text_reaches_the_other_user(bot_run):
    sent = [e for e in bot_run.human_reads if e["event_id"] == bot_run["bot_sends_text"]]
    assert [(e["sender"], e["type"], e["content"]) for e in sent] == [
        (BOT, "m.room.message", {"msgtype": "m.text", "body": "hello human"})
    ]


def test_the_sync_loop_logged_no_error(bot_run):
    # The only error bot-sdk logs is its HTTP client's line for the m.direct 404 above; a
    # failed /sync would show as "Error handling sync" from MatrixClientLite.
    logged = bot_run["logged"]
    assert [(e["level"], e["module"]) for e in logged] == [("error", "MatrixHttpClient")]
    assert "M_NOT_FOUND" in logged[0]["message"]


def test_no_request_got_a_5xx(bot_run):
    assert [r for r in bot_run.requests if r.status >= 500] == []
    assert bot_run.server.misses() == []  # nor an endpoint minihs lacks (M_UNRECOGNIZED)
