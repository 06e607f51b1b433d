"""The inspector at scale (issue 17): a server holding 10,000 rooms and 100,000 logged requests
answers every call the page makes with one bounded page.

The world and the list of calls are shared with ``scripts/bench_inspector.py``, which times
them (figures in BENCHMARKS.md): nothing here is timed. What stands in for speed is a count:
a page of the request log reads the entries of that page from the log, not the log.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_request_log import CountingRing

from minihs.domain.inspection import encode_token

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from benchkit.inspector_world import (  # noqa: E402
    FULL, LOGGING_USERS, PAGE, Targets, get, inspector_world, page_calls,
)

MAX_BYTES = 256 * 1024
CALLS = list(page_calls(Targets.names_only()))


@pytest.fixture(scope="module")
def big_server(tmp_path_factory):
    with inspector_world(tmp_path_factory.mktemp("scale"), FULL) as world:
        yield world


def test_the_server_holds_10000_rooms_and_100000_logged_requests(big_server):
    server, _ = big_server
    status = server.request("GET", "/_minihs/admin/status")
    assert status["rooms"] == FULL.rooms == 10_000
    assert status["requests"] == {"mark": FULL.logged, "total": FULL.logged} == {
        "mark": 100_000, "total": 100_000,
    }


@pytest.mark.parametrize("call", CALLS)
def test_each_call_of_the_page_answers_one_bounded_page(big_server, call):
    server, targets = big_server
    path, key = page_calls(targets)[call]
    raw = get(server, path)
    assert len(raw) < MAX_BYTES
    if key is not None:
        body = json.loads(raw)
        # Mutual rooms come in the server's own pages (mutual_rooms.page_size: 100).
        assert len(body[key]) <= (100 if call == "mutual rooms" else PAGE)


def test_a_token_near_the_end_of_the_rooms_answers_the_last_page(big_server):
    server, _ = big_server
    body = json.loads(get(server, "/_minihs/admin/rooms?limit=200"))
    assert len(body["rooms"]) == 200 and body["next_batch"] is not None
    # A token is a position in the list (rooms newest first): near its end, the last page.
    body = json.loads(get(server, f"/_minihs/admin/rooms?limit=200&from={encode_token(150)}"))
    assert len(body["rooms"]) == 149 and body["next_batch"] is None


async def _count_ring_reads(homeserver) -> None:
    log = homeserver.request_log
    log._ring = CountingRing(log._ring)


async def _stop_counting(homeserver) -> int:
    log = homeserver.request_log
    reads, log._ring = log._ring.reads, list(log._ring)
    return reads


@pytest.mark.parametrize("call, most_reads", [
    # The page, and the one entry after it that tells the page is full.
    ("requests, newest", PAGE + 1),
    ("requests, older", PAGE + 1),
    # One user's requests are LOGGING_USERS apart: back as far as the page's last match.
    ("requests, filtered", LOGGING_USERS * PAGE),
    ("one request", 1),
])
def test_a_page_of_the_request_log_reads_that_page_not_the_log(big_server, call, most_reads):
    server, targets = big_server
    path, key = page_calls(targets)[call]
    server.on_server(_count_ring_reads)
    try:
        body = json.loads(get(server, path))
    finally:
        reads = server.on_server(_stop_counting)
    if key is None:
        assert body["id"] == targets.logged
    else:
        assert len(body[key]) == PAGE
    # Read through the counting ring at all (0 would mean the log moved elsewhere), and far
    # from the 100,000 a scan of the log would read.
    assert 0 < reads <= most_reads
