#!/usr/bin/env python
"""How fast is minihs as a test fixture? Prints one JSON summary.

Measures, with the testing profile:
- a fresh in-process MinihsServer, from construction to the first answered request
  (imports already done; the cold figure, imports included, is reported beside it);
- ``reset()`` of an empty-ish server (two users, one room) and of an empty one;
- ``register_user()``;
- a consumer suite of 200 pytest tests, each registering a fresh user and creating a room,
  run through the pytest plugin in a subprocess (serially and with ``-n 2``), beside the same
  200 tests doing nothing, which is what pytest itself costs. The headline runs load only the
  plugins a consumer needs; a second pair loads every plugin installed here, for comparison.

Targets (issue 5): first request < 20 ms median, reset < 1 ms median, register < 5 ms median,
the 200-test suite < 5 s.

Usage: python scripts/bench_fixture.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from minihs.testing import MinihsServer  # noqa: E402

TARGETS = {
    "first_request_ms": 20.0,
    "reset_ms": 1.0,
    "register_user_ms": 5.0,
    "suite_200_tests_s": 5.0,
}

SUITE_TESTS = 200

CONSUMER_SUITE = f'''
import pytest


@pytest.mark.parametrize("n", range({SUITE_TESTS}))
def test_a_fresh_user_creates_a_room(minihs, minihs_user, n):
    user = minihs_user()
    room_id = minihs.create_room(user, preset="public_chat")
    assert room_id.startswith("!")
'''

BASELINE_SUITE = f'''
import pytest


@pytest.mark.parametrize("n", range({SUITE_TESTS}))
def test_nothing(n):
    assert n >= 0
'''

COLD_START = """
import time
t0 = time.perf_counter()
from minihs.testing import MinihsServer
with MinihsServer() as server:
    server.request("GET", "/_matrix/client/versions")
    print((time.perf_counter() - t0) * 1000)
"""


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(p95, 3),
        "min": round(ordered[0], 3),
        "runs": len(ordered),
    }


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def first_request(runs: int) -> list[float]:
    MinihsServer().start().stop()  # imports and first-use costs out of the way
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        server = MinihsServer().start()
        server.request("GET", "/_matrix/client/versions")
        samples.append((time.perf_counter() - start) * 1000)
        server.stop()
    return samples


def cold_first_request(runs: int) -> list[float]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return [
        float(subprocess.run([sys.executable, "-c", COLD_START], env=env, check=True,
                             capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]


def resets(server: MinihsServer, runs: int, populate: bool) -> list[float]:
    server.reset()  # the pristine copy is prepared on first use
    samples = []
    for _ in range(runs):
        if populate:
            alice = server.register_user()
            bob = server.register_user()
            server.join(bob, server.create_room(alice, preset="public_chat"))
        samples.append(timed(server.reset))
    return samples


def registrations(server: MinihsServer, runs: int) -> list[float]:
    server.register_user()
    return [timed(server.register_user) for _ in range(runs)]


def run_suite(source: str, *extra_args: str, autoload: bool = False) -> dict[str, float]:
    """Run a throwaway project's suite in a subprocess: wall-clock seconds (interpreter and
    plugin start-up included) and the session time pytest reports itself.

    With ``autoload`` off, only the plugins a minihs consumer needs are loaded; on, every
    plugin installed in this environment is (here that includes hypothesis and schemathesis,
    whose imports alone cost seconds on a busy machine, whatever the suite does).
    """
    with tempfile.TemporaryDirectory() as project:
        Path(project, "pytest.ini").write_text("[pytest]\n")
        Path(project, "test_consumer.py").write_text(source)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "-p", "minihs.testing.pytest_plugin", *extra_args]
        if autoload:
            env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
            if "-n" in extra_args:
                command[3:3] = ["-p", "xdist.plugin"]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"consumer suite failed:\n{done.stdout}\n{done.stderr}")
        reported = re.search(r"passed.* in ([0-9.]+)s", done.stdout)
        return {
            "wall_s": round(elapsed, 3),
            "pytest_session_s": float(reported.group(1)) if reported else math.nan,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke check")
    args = parser.parse_args()
    starts, cycles = (10, 50) if args.quick else (50, 500)

    result: dict[str, object] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    result["first_request_ms"] = summary(first_request(starts))
    result["first_request_cold_process_ms"] = summary(cold_first_request(3))
    with MinihsServer() as server:
        result["reset_ms"] = summary(resets(server, cycles, populate=True))
        result["reset_empty_ms"] = summary(resets(server, cycles, populate=False))
        server.reset()
        result["register_user_ms"] = summary(registrations(server, cycles))
    result["suite_200_tests_s"] = {
        "serial": run_suite(CONSUMER_SUITE),
        "xdist_2_workers": run_suite(CONSUMER_SUITE, "-n", "2"),
        "same_200_empty_tests_serial": run_suite(BASELINE_SUITE),
        "serial_all_installed_plugins": run_suite(CONSUMER_SUITE, autoload=True),
        "same_200_empty_tests_all_installed_plugins": run_suite(BASELINE_SUITE, autoload=True),
    }
    result["targets"] = TARGETS
    suite = result["suite_200_tests_s"]
    result["meets_targets"] = {
        "first_request": result["first_request_ms"]["median"] < TARGETS["first_request_ms"],
        "reset": result["reset_ms"]["median"] < TARGETS["reset_ms"],
        "register_user": result["register_user_ms"]["median"] < TARGETS["register_user_ms"],
        "suite_200_tests": suite["serial"]["wall_s"] < TARGETS["suite_200_tests_s"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
