"""The plugin's fixtures for issue 16 (scenarios, the request log, faults, the clock), each
exercised in a throwaway project run by pytester, in this process.

Tests inside one throwaway project run in file order, so a later test there sees what an
earlier one left behind on the session's server: that is how these check what survives a test.
"""

from __future__ import annotations

import pytest
# Imported here, before any in-process run: pytester drops the modules a run imported once it
# ends, and PyYAML imported again over its already-loaded C extension no longer parses.
import yaml  # noqa: F401

pytest_plugins = ["pytester"]

WORLD = """
users:
  alice: {}
  bob: {}
rooms:
  lobby:
    creator: alice
    preset: public_chat
    members:
      joined: [bob]
messages:
  - {name: hello, room: lobby, sender: alice, body: "Hello, Bob"}
"""

OTHER_WORLD = """
users:
  carol: {}
"""

JOINED_ROOMS = """
def joined_rooms(minihs, user):
    return minihs.request("GET", "/_matrix/client/v3/joined_rooms", user)["joined_rooms"]
"""


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("MINIHS_HOST", raising=False)
    monkeypatch.delenv("MINIHS_PORT", raising=False)
    pytester.makefile(".yaml", world=WORLD, other=OTHER_WORLD)
    pytester.makepyfile(helpers=JOINED_ROOMS)
    return pytester


def run(project, *args):
    return project.runpytest_inprocess("-p", "minihs.testing.pytest_plugin", *args)


# --- scenarios -----------------------------------------------------------------------------


def test_the_scenario_mark_is_registered_so_strict_markers_accepts_it(project):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.minihs_scenario("world.yaml")
        def test_marked():
            pass
        """
    )
    run(project, "--strict-markers").assert_outcomes(passed=1)


def test_the_fixture_gives_the_ids_of_the_scenario_the_mark_names(project):
    project.makepyfile(
        """
        import pytest
        from helpers import joined_rooms

        @pytest.mark.minihs_scenario("world.yaml")
        def test_ids(minihs, minihs_scenario):
            alice, bob = minihs_scenario.users["alice"], minihs_scenario.users["bob"]
            lobby = minihs_scenario.rooms["lobby"]
            assert alice.user_id == "@alice:localhost"
            assert joined_rooms(minihs, bob) == [lobby]
            assert minihs_scenario.messages["hello"].startswith("$")
        """
    )
    run(project).assert_outcomes(passed=1)


def test_every_test_with_the_mark_starts_from_the_scenario_however_the_last_one_left_it(
    project,
):
    project.makepyfile(
        """
        import pytest
        from helpers import joined_rooms

        pytestmark = pytest.mark.minihs_scenario("world.yaml")

        @pytest.mark.parametrize("n", range(3))
        def test_changes_the_world(minihs, minihs_scenario, n):
            bob = minihs_scenario.users["bob"]
            assert joined_rooms(minihs, bob) == [minihs_scenario.rooms["lobby"]]
            minihs.leave(bob, minihs_scenario.rooms["lobby"])
            minihs.create_room(bob)
            minihs.register_user("dave")  # M_USER_IN_USE if the last test's dave survived
        """
    )
    run(project).assert_outcomes(passed=3)


def test_each_scenario_file_is_loaded_once_per_session(project):
    project.makeconftest(
        """
        import pytest
        from minihs.testing import MinihsServer

        LOADS = []
        original = MinihsServer.load_scenario

        def counting(self, scenario, *args, **kwargs):
            LOADS.append(str(scenario))
            return original(self, scenario, *args, **kwargs)

        MinihsServer.load_scenario = counting
        """
    )
    project.makepyfile(
        """
        import pytest
        from conftest import LOADS

        @pytest.mark.parametrize("n", range(3))
        @pytest.mark.minihs_scenario("world.yaml")
        def test_world(minihs_scenario, n):
            pass

        @pytest.mark.minihs_scenario("other.yaml")
        def test_other(minihs_scenario):
            assert set(minihs_scenario.users) == {"carol"}

        def test_each_file_was_loaded_once():
            assert sorted(name.rsplit("/", 1)[-1] for name in LOADS) == ["other.yaml", "world.yaml"]
        """
    )
    run(project).assert_outcomes(passed=5)


def test_the_scenario_path_is_relative_to_the_test_file(project):
    sub = project.mkpydir("sub")
    (sub / "nested.yaml").write_text("users:\n  erin: {}\n")
    (sub / "test_nested.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.minihs_scenario('nested.yaml')\n"
        "def test_nested(minihs_scenario):\n"
        "    assert set(minihs_scenario.users) == {'erin'}\n"
    )
    run(project, "sub").assert_outcomes(passed=1)


def test_the_mark_alone_sets_up_the_scenario_for_the_minihs_fixture(project):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.minihs_scenario("world.yaml")
        def test_alice_exists(minihs):
            with pytest.raises(Exception, match="M_USER_IN_USE"):
                minihs.register_user("alice")
        """
    )
    run(project).assert_outcomes(passed=1)


def test_a_test_without_the_mark_gets_an_empty_server_even_after_a_scenario_test(project):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.minihs_scenario("world.yaml")
        def test_with_the_world(minihs_scenario):
            pass

        def test_without(minihs, minihs_user):
            assert minihs_user("alice").user_id == "@alice:localhost"
        """
    )
    run(project).assert_outcomes(passed=2)


def test_a_scenario_snapshot_deleted_by_a_test_is_rebuilt(project):
    project.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.minihs_scenario("world.yaml")

        def test_deletes_every_snapshot(minihs, minihs_scenario):
            for snapshot in minihs.snapshots():
                minihs.delete_snapshot(snapshot["name"])

        def test_still_gets_the_world(minihs_scenario):
            assert set(minihs_scenario.users) == {"alice", "bob"}
        """
    )
    run(project).assert_outcomes(passed=2)


def test_the_fixture_without_the_mark_is_an_error_that_says_what_is_missing(project):
    project.makepyfile("def test_unmarked(minihs_scenario):\n    pass\n")
    result = run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs a @pytest.mark.minihs_scenario(*) mark*"])


def test_a_missing_scenario_file_is_reported_with_its_path(project):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.minihs_scenario("nowhere.yaml")
        def test_missing(minihs_scenario):
            pass
        """
    )
    result = run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no scenario file *nowhere.yaml*"])


def test_a_scenario_that_breaks_a_rule_is_reported_with_its_line(project):
    project.makefile(".yaml", broken="users:\n  alice: {}\nrooms:\n  den:\n    creator: alice\n"
                     "    members:\n      banned: [{user: alice, by: alice}]\n")
    project.makepyfile(
        """
        import pytest

        @pytest.mark.minihs_scenario("broken.yaml")
        def test_broken(minihs):
            pass
        """
    )
    result = run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*scenario refused: M_*broken.yaml line 7: rooms.den.members*"])


def test_two_scenario_files_rebuilt_after_deletion_keep_snapshots_of_their_own(project):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.minihs_scenario("world.yaml")
        def test_world_deletes_the_snapshots(minihs, minihs_scenario):
            for snapshot in minihs.snapshots():
                minihs.delete_snapshot(snapshot["name"])

        @pytest.mark.minihs_scenario("world.yaml")
        def test_world_again(minihs_scenario):
            assert set(minihs_scenario.users) == {"alice", "bob"}

        @pytest.mark.minihs_scenario("other.yaml")
        def test_other(minihs_scenario):
            assert set(minihs_scenario.users) == {"carol"}

        @pytest.mark.minihs_scenario("world.yaml")
        def test_world_once_more(minihs, minihs_scenario):
            assert set(minihs_scenario.users) == {"alice", "bob"}
            minihs.register_user("carol")  # M_USER_IN_USE if the other file's snapshot came back
        """
    )
    run(project).assert_outcomes(passed=4)


# --- the request log -----------------------------------------------------------------------


def test_minihs_requests_lists_what_the_server_answered_since_the_test_began(project):
    project.makepyfile(
        """
        def test_first(minihs, minihs_user):
            minihs_user("alice")

        def test_second(minihs, minihs_user, minihs_requests):
            assert minihs_requests.all() == []
            bob = minihs_user("bob")
            minihs.create_room(bob)
            paths = [entry["path"] for entry in minihs_requests.all()]
            assert paths == ["/_matrix/client/v3/register", "/_matrix/client/v3/createRoom"]
        """
    )
    run(project).assert_outcomes(passed=2)


def test_minihs_requests_filters_by_path_user_status_and_method(project):
    project.makepyfile(
        """
        def test_filters(minihs, minihs_user, minihs_requests):
            alice, bob = minihs_user("alice"), minihs_user("bob")
            room = minihs.create_room(alice, preset="private_chat")
            minihs.request("POST", f"/_matrix/client/v3/join/{room}", bob, json_body={}, expect=403)
            refused = minihs_requests.matching(path="/join/{roomIdOrAlias}", user=bob)
            assert [(e["status"], e["errcode"]) for e in refused] == [(403, "M_FORBIDDEN")]
            assert minihs_requests.matching(status=403) == refused
            assert len(minihs_requests.matching(method="POST", user=alice.user_id)) == 1
        """
    )
    run(project).assert_outcomes(passed=1)


def test_minihs_requests_mark_moves_the_start_to_now(project):
    project.makepyfile(
        """
        def test_mark(minihs, minihs_user, minihs_requests):
            alice = minihs_user("alice")
            minihs_requests.mark()
            minihs.create_room(alice)
            assert [e["path"] for e in minihs_requests.all()] == ["/_matrix/client/v3/createRoom"]
        """
    )
    run(project).assert_outcomes(passed=1)


# --- faults --------------------------------------------------------------------------------


def test_minihs_faults_injects_a_fault_and_clears_every_rule_after_the_test(project):
    project.makepyfile(
        """
        from minihs.testing import MinihsHTTPError
        import pytest

        def test_a_rate_limited_send(minihs, minihs_user, minihs_faults):
            alice = minihs_user("alice")
            room = minihs.create_room(alice)
            rule = minihs_faults.add("PUT", "/rooms/{roomId}/send/*", status=429,
                                     retry_after_ms=50, times=1, user=alice)
            assert rule["user"] == alice.user_id
            path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t1"
            body = {"msgtype": "m.text", "body": "hi"}
            with pytest.raises(MinihsHTTPError) as limited:
                minihs.request("PUT", path, alice, json_body=body)
            assert (limited.value.status, limited.value.errcode) == (429, "M_LIMIT_EXCEEDED")
            assert minihs.request("PUT", path, alice, json_body=body)["event_id"]
            minihs_faults.add("GET", "/sync", delay_ms=1)

        def test_no_rule_is_left(minihs_server):
            assert minihs_server.faults() == []
        """
    )
    run(project).assert_outcomes(passed=2)


def test_minihs_faults_lists_and_removes_one_rule(project):
    project.makepyfile(
        """
        def test_remove(minihs_faults):
            kept = minihs_faults.add("GET", "/sync", status=500)
            gone = minihs_faults.add("*", "/createRoom", status=503)
            minihs_faults.remove(gone)
            assert [rule["id"] for rule in minihs_faults.list()] == [kept["id"]]
        """
    )
    run(project).assert_outcomes(passed=1)


# --- the clock -----------------------------------------------------------------------------


def test_minihs_clock_moved_by_a_test_runs_on_real_time_again_after_it(project):
    project.makepyfile(
        """
        import time

        def test_moves_the_clock(minihs_clock):
            minihs_clock.freeze()
            minihs_clock.set(946_684_800_000)  # 2000-01-01
            minihs_clock.advance(1_000)
            assert minihs_clock.now_ms() == 946_684_801_000

        def test_the_next_test_sees_the_real_clock(minihs_server):
            state = minihs_server.clock.state()
            assert not state["frozen"]
            assert abs(state["now_ms"] - time.time() * 1000) < 5_000
        """
    )
    run(project).assert_outcomes(passed=2)


def test_minihs_clock_in_deterministic_mode_starts_each_test_at_the_configured_time(project):
    project.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def minihs_config():
            return {"deterministic": {"seed": "s", "start_time_ms": 1_000_000}}
        """
    )
    project.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(2))
        def test_clock(minihs_clock, n):
            assert minihs_clock.state() == {"now_ms": 1_000_000, "frozen": True}
            minihs_clock.advance(60_000)
        """
    )
    run(project).assert_outcomes(passed=2)
