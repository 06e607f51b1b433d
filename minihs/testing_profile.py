"""The test-fixture profile: what a server started by someone else's test suite wants.

In-memory database, the cheapest password hashing, no rate limits, no access log, and the admin
reset endpoint on. Shared by ``python -m minihs --testing`` and ``minihs.testing.MinihsServer``.
"""

from __future__ import annotations

import copy
import dataclasses

from minihs.config import Config, PasswordHashingConfig, RateLimit

# argon2id at its smallest: 8 KiB, one pass, one lane (microseconds, not a tenth of a second).
TEST_PASSWORD_HASHING = PasswordHashingConfig(
    algorithm="argon2id", argon2_memory_kib=8, argon2_time_cost=1, argon2_parallelism=1
)


def apply_testing_profile(config: Config) -> Config:
    """A copy of ``config`` with the test-fixture defaults applied."""
    config = copy.deepcopy(config)
    config.database = dataclasses.replace(config.database, path=":memory:")
    config.password_hashing = copy.copy(TEST_PASSWORD_HASHING)
    for limit in dataclasses.fields(config.rate_limits):
        current: RateLimit = getattr(config.rate_limits, limit.name)
        setattr(config.rate_limits, limit.name, dataclasses.replace(current, enabled=False))
    config.access_log = False
    config.enable_admin_reset = True
    return config
