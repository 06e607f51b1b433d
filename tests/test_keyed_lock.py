"""Locks by key: mutual exclusion per key, and an entry only while someone holds or awaits it."""

from __future__ import annotations

import asyncio

import pytest

from minihs.domain.keyed_lock import KeyedLock


async def test_a_released_lock_leaves_no_entry_behind():
    locks = KeyedLock()
    held = await locks.acquire("!a")
    assert len(locks) == 1 and locks.in_use("!a")
    held.release()
    assert len(locks) == 0 and not locks.in_use("!a")


async def test_many_keys_used_once_each_leave_the_table_empty():
    locks = KeyedLock()
    for n in range(1000):
        (await locks.acquire(f"!{n}")).release()
    assert len(locks) == 0


async def test_one_key_is_held_by_one_holder_at_a_time():
    locks = KeyedLock()
    order = []

    async def worker(name):
        held = await locks.acquire("!room")
        order.append(f"{name} in")
        await asyncio.sleep(0)
        order.append(f"{name} out")
        held.release()

    await asyncio.gather(worker("a"), worker("b"), worker("c"))
    assert order == ["a in", "a out", "b in", "b out", "c in", "c out"]
    assert len(locks) == 0


async def test_different_keys_do_not_wait_for_each_other():
    locks = KeyedLock()
    first = await locks.acquire("!a")
    second = await asyncio.wait_for(locks.acquire("!b"), timeout=5)
    assert len(locks) == 2
    first.release()
    second.release()


async def test_the_entry_stays_while_a_waiter_remains():
    locks = KeyedLock()
    held = await locks.acquire("!a")
    waiter = asyncio.ensure_future(locks.acquire("!a"))
    await asyncio.sleep(0)
    held.release()
    assert locks.in_use("!a")  # the waiter is about to hold it
    (await waiter).release()
    assert len(locks) == 0


async def test_a_waiter_cancelled_while_waiting_leaves_no_entry_behind():
    locks = KeyedLock()
    held = await locks.acquire("!a")
    waiter = asyncio.ensure_future(locks.acquire("!a"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    held.release()
    assert len(locks) == 0


async def test_a_holder_from_before_a_clear_still_releases_its_lock():
    locks = KeyedLock()
    old = await locks.acquire("!a")
    locks.clear()
    assert len(locks) == 0
    new = await asyncio.wait_for(locks.acquire("!a"), timeout=5)
    old.release()  # must neither fail nor drop the new holder's entry
    assert locks.in_use("!a")
    new.release()
    assert len(locks) == 0
