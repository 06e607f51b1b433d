"""matrix-js-sdk (npm, pinned in js/package.json) drives minihs through the whole slice.

``js/flow.mjs`` runs once per module against a live server: it registers alice (one-shot
m.login.dummy) and bob and carol (User-Interactive Authentication), logs alice in twice (user
identifier, and the legacy top-level ``user`` of ``loginWithPassword``), then creates rooms,
invites, joins, leaves, asks for shared rooms and logs out, without a sync loop. It prints what
each SDK call returned; each test below checks one behaviour in that record and in the server's
log of requests.

Install the SDK with ``scripts/install_js_clients.sh`` (CI does). Without ``node`` (>= 20) or
without the pinned SDK these tests are skipped, with one line saying which; under ``CI=true``
either is a collection error instead (tests/prerequisites.py), so that a machine without
Node.js or a broken install step cannot pass as a skip.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from prerequisites import prerequisite_missing

from .conftest import JS_DIR, LiveMinihs, SeenRequest, js_package_missing, node_missing, serve_in_thread

FLOW = JS_DIR / "flow.mjs"
SDK_VERSION = "37.5.0"
FLOW_TIMEOUT_S = 60
SERVER = "localhost"
ALICE, BOB, CAROL = (f"@{name}:{SERVER}" for name in ("alice", "bob", "carol"))
MUTUAL_ROOMS_UNSTABLE = "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms"


_js_problem = node_missing("matrix-js-sdk") or js_package_missing("matrix-js-sdk", SDK_VERSION)
if _js_problem:
    prerequisite_missing(_js_problem, module_level=True)


class Flow:
    """What each step of flow.mjs returned, and the requests the server answered meanwhile."""

    def __init__(self, results: dict, server: LiveMinihs) -> None:
        self.results = results
        self.server = server
        self.requests = server.requests
        self.ids = results["ids"]

    def __getitem__(self, step: str):
        return self.results[step]

    def requests_to(self, path: str) -> list[SeenRequest]:
        return self.server.requests_to(path)


@pytest.fixture(scope="module")
def flow() -> Flow:
    with serve_in_thread() as server:
        completed = subprocess.run(
            ["node", str(FLOW), server.url],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=FLOW_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    lines = completed.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(
            f"flow.mjs printed no report (exit {completed.returncode}):\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    assert report["ok"], (
        f"matrix-js-sdk failed at step {report['step']!r}: {report['error']} "
        f"(errcode={report['errcode']}, HTTP {report['httpStatus']})"
    )
    assert completed.returncode == 0, completed.stderr
    return Flow(report["results"], server)


def test_one_shot_dummy_registration_returns_a_session(flow):
    registered = flow["register_dummy"]
    assert registered["user_id"] == ALICE
    assert registered["access_token"] and registered["device_id"]


def test_registration_without_auth_offers_the_dummy_stage(flow):
    challenge = flow["register_interactive_bob"]["challenge"]
    assert challenge["flows"] == [{"stages": ["m.login.dummy"]}]
    assert challenge["session"]
    assert challenge["params"] == {}


def test_registration_completes_with_dummy_auth_in_the_offered_session(flow):
    assert flow["register_interactive_bob"]["session"]["user_id"] == BOB
    assert flow["register_interactive_carol"]["session"]["user_id"] == CAROL
    sessions = {flow["register_interactive_bob"]["challenge"]["session"],
                flow["register_interactive_carol"]["challenge"]["session"]}
    assert len(sessions) == 2


def test_login_with_a_user_identifier_opens_a_new_device(flow):
    session = flow["login_identifier"]
    assert session["user_id"] == ALICE
    assert session["device_id"] != flow["register_dummy"]["device_id"]


def test_login_with_the_legacy_user_field_still_works(flow):
    logins = flow.requests_to("/_matrix/client/v3/login")
    legacy_logins = [r for r in logins if r.body_keys and "user" in r.body_keys]
    assert [r.status for r in legacy_logins] == [200]
    assert "identifier" not in legacy_logins[0].body_keys
    assert flow["login_legacy_user"]["user_id"] == ALICE


def test_whoami_names_the_logged_in_user_and_device(flow):
    assert flow["whoami"] == {
        "user_id": ALICE,
        "device_id": flow["login_identifier"]["device_id"],
        "is_guest": False,
    }


def test_public_room_alias_resolves_to_the_created_room(flow):
    assert flow["create_public_room"].startswith("!")
    assert flow["resolve_alias"] == flow.ids["publicRoom"]


def test_join_by_alias_joins_the_public_room(flow):
    assert flow["join_by_alias"] == flow.ids["publicRoom"]


def test_user_invited_at_creation_joins_the_private_room_by_id(flow):
    assert flow["join_by_id"] == flow.ids["privateRoom"]


def test_invite_returns_an_empty_object(flow):
    assert flow["invite"] == {}


def test_rejecting_an_invite_keeps_the_private_room_closed(flow):
    assert flow["reject_invite"] == {}
    assert flow["join_after_reject"] == ["M_FORBIDDEN", 403]
    assert flow["joined_rooms_after_reject"] == []


def test_joined_rooms_lists_both_joined_rooms(flow):
    assert flow["joined_rooms"] == sorted([flow.ids["publicRoom"], flow.ids["privateRoom"]])


def test_joined_members_lists_the_joined_users_but_not_the_rejecter(flow):
    # Each join carried the profile registration gives: the localpart as name, no avatar.
    assert flow["joined_members"] == {
        ALICE: {"display_name": "alice"},
        BOB: {"display_name": "bob"},
    }


def test_shared_rooms_lists_every_room_both_users_joined(flow):
    assert flow["shared_rooms"] == sorted([flow.ids["publicRoom"], flow.ids["privateRoom"]])


def test_shared_rooms_asks_versions_with_the_token_before_the_unstable_path(flow):
    paths = [r.path for r in flow.requests]
    first_mutual = paths.index(MUTUAL_ROOMS_UNSTABLE)
    versions = [r for r in flow.requests[:first_mutual] if r.path == "/_matrix/client/versions"]
    assert versions and versions[0].bearer and versions[0].status == 200


def test_shared_rooms_follows_the_batch_token_to_the_last_page(flow):
    # The server pages one room at a time: two shared rooms take two requests.
    first_call = flow.requests_to(MUTUAL_ROOMS_UNSTABLE)[:2]
    assert [sorted(r.query) for r in first_call] == [["user_id"], ["batch_token", "user_id"]]
    assert all(r.query["user_id"] == [BOB] and r.status == 200 and r.bearer for r in first_call)


def test_leaving_drops_the_room_from_joined_and_shared_rooms(flow):
    assert flow["leave"] == {}
    assert flow["joined_rooms_after_leave"] == [flow.ids["privateRoom"]]
    assert flow["shared_rooms_after_leave"] == [flow.ids["privateRoom"]]


def test_logout_kills_the_token_of_that_device_only(flow):
    assert flow["logout"] == {}
    assert flow["whoami_after_logout"] == ["M_UNKNOWN_TOKEN", 401]
    assert flow["whoami_other_device_after_logout"] == ALICE


def test_no_request_got_a_server_error_or_hit_an_unknown_endpoint(flow):
    assert flow.server.misses() == []
    errcodes = {r.errcode for r in flow.requests if r.status >= 400}
    assert errcodes == {None, "M_FORBIDDEN", "M_UNKNOWN_TOKEN"}  # None: the UIA 401s


# --- the normal loop: startClient() (issue 15) ----------------------------------------------------

SYNC_FLOW = JS_DIR / "sync_flow.mjs"


@pytest.fixture(scope="module")
def sync_flow() -> Flow:
    with serve_in_thread() as server:
        completed = subprocess.run(
            ["node", str(SYNC_FLOW), server.url],
            cwd=JS_DIR, capture_output=True, text=True, timeout=FLOW_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    lines = completed.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(f"sync_flow.mjs printed no report (exit {completed.returncode}):\n"
                    f"{completed.stdout}\n{completed.stderr}")
    assert report["ok"], (
        f"matrix-js-sdk failed at step {report['step']!r}: {report['error']} "
        f"(errcode={report['errcode']}, HTTP {report['httpStatus']})"
    )
    return Flow({**report["results"], "ids": {}}, server)


def test_start_client_reaches_prepared(sync_flow):
    assert sync_flow["prepared"] == "PREPARED"


def test_get_rooms_lists_the_room_with_its_members(sync_flow):
    assert sync_flow["rooms"] == [{
        "roomId": sync_flow["create_room"],
        "name": "Lobby",
        "members": sorted([ALICE, BOB]),
    }]


def test_the_other_users_message_arrives_through_room_event_timeline(sync_flow):
    assert sync_flow["timeline_event"] == {"roomId": sync_flow["create_room"], "body": "hello alice"}


def test_start_client_uploads_a_filter_then_syncs_with_it(sync_flow):
    paths = [(r.method, r.path, r.status) for r in sync_flow.requests]
    assert ("POST", f"/_matrix/client/v3/user/{ALICE}/filter", 200) in paths
    syncs = sync_flow.requests_to("/_matrix/client/v3/sync")
    assert syncs and all(r.status == 200 for r in syncs)
