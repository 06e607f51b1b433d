"""``python -m minihs --scenario FILE``, run as a subprocess: the ID map on the line after the
ready line (and in ``--scenario-out``), and exit 2 with the line and the rule for a scenario
that breaks one; exit 2 too, before anything starts (``main()`` in this process), for a
scenario file that cannot be read or a ``--scenario-out`` without ``--scenario``."""

from __future__ import annotations

import http.client
import json
import select
import subprocess
import sys

from subprocess_env import checkout_env

TIMEOUT_S = 60

WORLD = """\
users:
  alice: {password: secret}
  bob: {}
rooms:
  den:
    creator: alice
    members:
      joined: [{user: bob, invited_by: alice}]
messages:
  - {name: hello, room: den, sender: bob, body: Hi}
"""


def env() -> dict[str, str]:
    return checkout_env(buffered_stdout=True)  # the lines must arrive because minihs flushes them


def get(port: int, path: str, token: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        conn.close()


def read_line(proc: subprocess.Popen) -> str:
    readable, _, _ = select.select([proc.stdout], [], [], TIMEOUT_S)
    assert readable, "minihs printed nothing"
    return proc.stdout.readline()


def test_the_command_line_prints_the_scenarios_map_on_the_line_after_the_ready_line(tmp_path):
    (tmp_path / "world.yaml").write_text(WORLD, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "minihs", "--testing", "--port", "0",
         "--scenario", "world.yaml", "--scenario-out", "ids.json"],
        cwd=tmp_path, env=env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready = read_line(proc)
        assert ready.startswith("minihs listening on http://127.0.0.1:"), ready
        port = int(ready.rsplit(":", 1)[1])
        # Printed right after the ready line (often in the same read: no select for it).
        ids = json.loads(proc.stdout.readline())
        assert ids == json.loads((tmp_path / "ids.json").read_text(encoding="utf-8"))
        bob = ids["users"]["bob"]
        assert get(port, "/_matrix/client/v3/account/whoami", bob["access_token"])["user_id"] == bob["user_id"]
        joined = get(port, "/_matrix/client/v3/joined_rooms", bob["access_token"])["joined_rooms"]
        assert joined == [ids["rooms"]["den"]["room_id"]] == [ids["messages"]["hello"]["room_id"]]
        assert ids["users"]["alice"]["password"] == "secret"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, stderr


def test_the_command_line_exits_2_naming_the_line_and_rule_a_scenario_breaks(tmp_path):
    (tmp_path / "world.yaml").write_text(WORLD.replace("{user: bob, invited_by: alice}", "bob"), "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "minihs", "--testing", "--port", "0", "--scenario", "world.yaml"],
        cwd=tmp_path, env=env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stdout == ""  # never ready: nothing was served
    assert done.stderr.strip() == (
        "minihs: scenario refused: M_FORBIDDEN: world.yaml line 8: rooms.den.members.joined[0]: "
        "bob cannot join den (invite-only: list them as {user: bob, invited_by: <a member>}): "
        "You are not invited to this room."
    )


def test_a_scenario_file_that_cannot_be_read_exits_2_naming_it(tmp_path, capsys):
    from minihs.__main__ import main

    missing = tmp_path / "nowhere.yaml"
    assert main(["--testing", "--port", "0", "--scenario", str(missing)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"--scenario: cannot read {missing}" in error


def test_scenario_out_without_a_scenario_exits_2_saying_so(capsys):
    from minihs.__main__ import main

    assert main(["--testing", "--port", "0", "--scenario-out", "ids.json"]) == 2
    assert capsys.readouterr().err == (
        "minihs: configuration error: --scenario-out: needs --scenario\n"
    )
