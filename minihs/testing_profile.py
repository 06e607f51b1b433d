"""The test-fixture profile: what a server started by someone else's test suite wants.

In-memory database, the cheapest password hashing, no rate limits, no access log, and the admin
reset endpoint on. Shared by ``python -m minihs --testing`` and ``minihs.testing.MinihsServer``.
"""

from __future__ import annotations

import copy
import dataclasses

from minihs.config import Config, PasswordHashingConfig, RateLimit

TEST_SCRYPT_LOG2_N = 4
TEST_SCRYPT_R = 1


def apply_testing_profile(config: Config) -> Config:
    """A copy of ``config`` with the test-fixture defaults applied."""
    config = copy.deepcopy(config)
    config.database = dataclasses.replace(config.database, path=":memory:")
    config.password_hashing = PasswordHashingConfig(
        scrypt_log2_n=TEST_SCRYPT_LOG2_N, scrypt_r=TEST_SCRYPT_R
    )
    for limit in dataclasses.fields(config.rate_limits):
        current: RateLimit = getattr(config.rate_limits, limit.name)
        setattr(config.rate_limits, limit.name, dataclasses.replace(current, enabled=False))
    config.access_log = False
    config.enable_admin_reset = True
    return config
