#!/usr/bin/env python3
"""Fuzz minihs with schemathesis, at length: the suite's fuzz tests with many more examples.

Runs the fuzz tests of ``tests/test_fuzz.py`` against a live minihs on 127.0.0.1: every operation
minihs serves, against the official Client-Server definitions (v1.19, read from
``../shared/spec/matrix-spec-v1.19/``) where they describe it and against minihs's own
``/_minihs/openapi.json`` where they do not, each with its documented examples and
schema-conforming and schema-violating cases; the legacy ``r0`` paths against our document; then
call sequences along our document's links (create a room, act in it). Each answer is checked for
5xx, undocumented statuses (less the quirks the test tolerates, each with why), content types and
response schemas. Uses ``--max-examples`` per operation (and as many sequences), and a random seed
unless one is given. Prints the requests sent and statuses received per operation, the total, and
the failures; exits non-zero when there is any.

    python scripts/fuzz.py --max-examples 500
    python scripts/fuzz.py --seed 1234 --max-examples 200   # replay a run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The fuzzing tests of tests/test_fuzz.py (its other tests check the documents themselves).
FUZZ_TESTS = " or ".join([
    "test_operation_answers_as_the_official_definitions_say",
    "test_operation_the_official_definitions_lack_answers_as_our_document_says",
    "test_legacy_r0_paths_answer_as_our_document_says",
    "test_call_sequences_along_our_documents_links_answer_as_it_says",
])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=200,
                        help="examples per operation in the fuzzing phase (default 200)")
    parser.add_argument("--seed", type=int, default=None, help="default: a random seed")
    parser.add_argument("--no-r0", action="store_true",
                        help="leave out the legacy /_matrix/client/r0 copies of the v3 paths")
    parser.add_argument("-v", "--verbose", action="store_true", help="pytest's verbose output")
    args = parser.parse_args(argv)
    if args.max_examples < 1:
        parser.error("--max-examples must be at least 1")
    return args


def print_summary(report: dict, wall_seconds: float, exit_code: int) -> None:
    print()
    print(f"{'document: operation':<82} {'examples':>8}  statuses")
    for label, entry in report["operations"].items():
        statuses = entry["statuses"]
        shown = " ".join(f"{status}x{count}" for status, count in statuses.items())
        print(f"{label:<82} {sum(statuses.values()):>8}  {shown}")
    print()
    print(
        f"examples: {report['examples']} over {len(report['operations'])} operations "
        f"(max_examples={report['max_examples']}, seed={report['seed']}, "
        f"r0 {'included' if report['include_r0'] else 'left out'}) in {wall_seconds:.1f} s"
    )
    print("failures: none" if exit_code == 0 else f"failures: yes (pytest exit code {exit_code}, see above)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "fuzz-report.json"
        os.environ.update({
            "MINIHS_FUZZ_MAX_EXAMPLES": str(args.max_examples),
            "MINIHS_FUZZ_SEED": str(seed),
            "MINIHS_FUZZ_R0": "0" if args.no_r0 else "1",
            "MINIHS_FUZZ_REPORT": str(report_path),
        })
        import pytest  # after the environment is set: the test module reads it on import

        os.chdir(REPO)
        if str(REPO) not in sys.path:  # as `python -m pytest` from the checkout would
            sys.path.insert(0, str(REPO))
        started = time.monotonic()
        exit_code = pytest.main(["tests/test_fuzz.py", "-k", FUZZ_TESTS, "-p", "no:randomly",
                                 "-v" if args.verbose else "-q"])
        wall = time.monotonic() - started
        if not report_path.exists():
            print("fuzz: the test did not run (no report written)", file=sys.stderr)
            return int(exit_code) or 1
        print_summary(json.loads(report_path.read_text(encoding="utf-8")), wall, int(exit_code))
    return int(exit_code)


if __name__ == "__main__":
    sys.exit(main())
