"""Crash safety, quick mode: kill -9 the real server under load; nothing acknowledged is lost.

The full run is ``python scripts/crash_test.py`` (20 cycles, 16 clients by default).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import crash_test  # noqa: E402


async def test_acknowledged_changes_survive_kill_9_and_no_half_change_is_visible(tmp_path):
    seed = random.randrange(2**32)
    report = await crash_test.crash_cycles(
        cycles=2, clients=8, seed=seed, workdir=tmp_path, min_run=0.3, max_run=0.8
    )
    assert report["cycles"] == 2
    assert report["acknowledged"] > 50, report
    assert report["problems"] == [], f"seed {seed}: {report['problems'][:5]}"
    assert report["lost"] == 0, f"seed {seed}"
