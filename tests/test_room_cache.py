"""The room cache: least recently used out, pinned rooms never, at most its size otherwise."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from minihs.domain.room_cache import RoomCache


def room(room_id: str):
    return SimpleNamespace(room_id=room_id)  # the cache reads nothing else


def test_the_least_recently_put_room_goes_first():
    cache = RoomCache(2, is_pinned=lambda _: False)
    for room_id in ("!a", "!b", "!c"):
        cache.put(room(room_id))
    assert "!a" not in cache and "!b" in cache and "!c" in cache


def test_a_get_makes_a_room_the_most_recently_used():
    cache = RoomCache(2, is_pinned=lambda _: False)
    cache.put(room("!a"))
    cache.put(room("!b"))
    assert cache.get("!a") is not None
    cache.put(room("!c"))
    assert "!a" in cache and "!b" not in cache


def test_a_pinned_room_is_never_dropped():
    pinned = {"!a"}
    cache = RoomCache(2, is_pinned=pinned.__contains__)
    for room_id in ("!a", "!b", "!c", "!d"):
        cache.put(room(room_id))
    assert "!a" in cache and len(cache) == 2


def test_the_cache_exceeds_its_size_only_by_pinned_rooms():
    pinned = {"!a", "!b"}
    cache = RoomCache(1, is_pinned=pinned.__contains__)
    for room_id in ("!a", "!b", "!c", "!d"):
        cache.put(room(room_id))
    assert len(cache) == 2 and "!a" in cache and "!b" in cache  # only pinned rooms over
    pinned.clear()
    cache.put(room("!e"))
    assert len(cache) == 1 and "!e" in cache


def test_a_cache_for_no_rooms_is_refused():
    with pytest.raises(ValueError):
        RoomCache(0, is_pinned=lambda _: False)
