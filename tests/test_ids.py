"""The identifier grammar: user IDs every server must accept (spec appendix)."""

from __future__ import annotations

import pytest

from minihs.spec import ids


@pytest.mark.parametrize(
    "user_id",
    ["@alice:localhost", "@Alice!:example.org:8448", "@a:[::1]", "@x" + "y" * 249 + ":a.b"],
)
def test_historical_user_ids_are_valid(user_id):
    assert len(user_id.encode()) <= 255
    assert ids.is_valid_user_id(user_id)


@pytest.mark.parametrize(
    "user_id",
    ["alice:localhost", "@:localhost", "@alice", "@al:ice:localhost!", "@al ice:localhost",
     "@x" + "y" * 250 + ":a.b", "@é:localhost"],
    ids=["no-sigil", "empty-localpart", "no-server", "bad-server", "space", "256-bytes",
         "non-ascii"],
)
def test_non_compliant_user_ids_are_invalid(user_id):
    assert not ids.is_valid_user_id(user_id)


def test_a_user_id_of_many_multibyte_characters_is_measured_in_bytes():
    assert not ids.is_valid_user_id("@" + "é" * 127 + ":a")  # 127 characters, 258 bytes


def test_overlong_user_ids_never_enter_the_cache():
    before = ids._is_valid_short_user_id.cache_info().currsize
    assert not ids.is_valid_user_id("@" + "a" * 8000 + ":localhost")
    assert ids._is_valid_short_user_id.cache_info().currsize == before
