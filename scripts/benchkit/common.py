"""What every part of the benchmark shares: paths, endpoints, the targets, the run sizes, log()."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
# The command line (scripts/bench.py): child processes (figure 2, the ceiling server) run it again.
ENTRY = REPO / "scripts" / "bench.py"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CLIENT = "/_matrix/client/v3"
MUTUAL = "/_matrix/client/v1/mutual_rooms"
PASSWORD = "bench-password-1"
START_TIMEOUT_S = 180.0
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# Targets from issue 7 (2-core machine), and Synapse 1.163 measured there for scale.
TARGETS = {
    "cold_start_empty_s": ("<", 0.3, "~0.9 s"),
    "cold_start_seeded_s": ("<", 3.0, "n/a"),
    "cold_start_seeded_rss_mib": ("<", 300.0, "n/a"),
    "register_login_production_ms": ("<", 300.0, "~610 ms (bcrypt 12)"),
    "register_login_testing_ms": ("<", 5.0, "n/a"),
    "create_room_per_s": (">", 300.0, "~27 rooms/s"),
    "join_leave_ops_per_s": (">", 2000.0, "~76 ops/s"),
    "mutual_after_change_1000_200_ms": ("<", 0.3, "~2.3 ms"),
    "mutual_first_page_10000_5000_ms": ("<", 2.0, "not measured"),
    "mutual_vs_ceiling_ratio": (">=", 0.6, "n/a"),
    "rss_after_1000_mib": ("<", 60.0, "~200 MiB"),
}

FULL = dict(
    cold_empty=20, cold_seeded=5, seeded_users=100_000, seeded_memberships=1_000_000,
    fig2_starts=20, fig2_resets=100, reg_prod=10, reg_test=200,
    create_s=5.0, create_max=5000, joinleave_s=5.0, joinleave_max=50_000,
    scenarios=[(100, 20), (1000, 200), (10000, 5000), (100000, 10000)],
    first_page_trials=200, walk_trials=20, phase_max_s=30.0, rps_s=5.0, rps_max=100_000,
    steady_latency_n=2000,
)
QUICK = dict(
    cold_empty=3, cold_seeded=1, seeded_users=2_000, seeded_memberships=20_000,
    fig2_starts=3, fig2_resets=10, reg_prod=1, reg_test=30,
    create_s=0.75, create_max=1000, joinleave_s=0.75, joinleave_max=10_000,
    scenarios=[(100, 20), (1000, 200)],
    first_page_trials=30, walk_trials=5, phase_max_s=2.0, rps_s=0.75, rps_max=20_000,
    steady_latency_n=200,
)
# The third user of every scenario: in 100 rooms, 20 of them shared with A.
SMALL_PARTNER = (100, 20)


class BenchError(Exception):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
