"""The outcome of each browser test's call, for its page fixture: a failed test leaves a
screenshot of the page as it was."""

from __future__ import annotations

import pytest

CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
