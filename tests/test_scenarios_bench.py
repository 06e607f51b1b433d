"""The scenario benchmark runs end to end on a small scenario (``--quick``): each way of loading
loads it and checks what it made (the script asserts the counts it reads). No timing is
asserted here; BENCHMARKS.md has the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_scenario_benchmark_loads_a_small_scenario_every_way():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_scenario.py"), "--quick"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert set(summary["load"]) == {"python_api", "admin_api_json", "python_api_yaml"}
    assert all(way["samples_s"] for way in summary["load"].values())
    assert summary["scenario"]["memberships"] == summary["scenario"]["rooms"] * summary["scenario"]["members_per_room"]
