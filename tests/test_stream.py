"""The change stream (minihs.domain.stream): tokens and the notifier that wakes waiting syncs,
and the one counter every stored change takes its position from."""

from __future__ import annotations

import asyncio

import pytest

from minihs.domain.stream import Stream
from minihs.spec.errors import MatrixError


def loaded(position=10, epoch="0a1b2c3d") -> Stream:
    stream = Stream()
    stream.load(position, epoch)
    return stream


def test_a_token_reads_back_as_its_position():
    stream = loaded()
    assert stream.parse_token(stream.token(7)) == 7


@pytest.mark.parametrize("token", ["", "7", "s7", "s7_", "s-1_0a1b2c3d", "s7_0A1B2C3D", "t7_0a1b2c3d"])
def test_a_malformed_token_is_an_invalid_param(token):
    with pytest.raises(MatrixError) as caught:
        loaded().parse_token(token)
    assert (caught.value.status, caught.value.errcode) == (400, "M_INVALID_PARAM")


def test_a_token_of_another_epoch_is_refused():
    with pytest.raises(MatrixError):
        loaded(epoch="0a1b2c3d").parse_token("s5_ffffffff")


def test_a_token_ahead_of_the_stream_is_refused():
    with pytest.raises(MatrixError):
        loaded(position=10).parse_token("s11_0a1b2c3d")


async def test_a_waiter_is_woken_by_a_change_that_concerns_its_user():
    stream = loaded()
    waiting = asyncio.ensure_future(stream.wait_for_change("@a:x", 10, 30))
    await asyncio.sleep(0)
    stream.notify(["@a:x"], 11)
    assert await waiting is True
    assert stream.waiting() == 0


async def test_a_waiter_is_not_woken_by_a_change_for_someone_else():
    stream = loaded()
    waiting = asyncio.ensure_future(stream.wait_for_change("@a:x", 10, 30))
    await asyncio.sleep(0)
    stream.notify(["@b:x"], 11)
    await asyncio.sleep(0)
    assert not waiting.done()
    assert stream.position == 11
    waiting.cancel()


async def test_a_change_already_after_the_position_returns_at_once():
    stream = loaded()
    stream.notify(["@a:x"], 12)
    assert await stream.wait_for_change("@a:x", 11, 30) is True


async def test_a_waiter_times_out_with_false():
    stream = loaded()
    assert await stream.wait_for_change("@a:x", 10, 0.001) is False
    assert stream.waiting() == 0


async def test_a_cancelled_waiter_leaves_nothing_behind():
    stream = loaded()
    waiting = asyncio.ensure_future(stream.wait_for_change("@a:x", 10, 30))
    await asyncio.sleep(0)
    assert stream.waiting() == 1
    waiting.cancel()
    await asyncio.sleep(0)
    assert stream.waiting() == 0


def test_a_position_from_before_the_process_started_counts_as_changed():
    stream = loaded(position=10)
    assert stream.changed_since("@a:x", 9)
    assert not stream.changed_since("@a:x", 10)


async def test_loading_again_wakes_every_waiter():
    stream = loaded()
    waiting = asyncio.ensure_future(stream.wait_for_change("@a:x", 10, 30))
    await asyncio.sleep(0)
    stream.load(0, "ffffffff")
    assert await waiting is True


async def test_every_event_takes_the_next_position_of_the_one_counter(hs):
    alice = await hs.register()
    before = hs.homeserver.stream.position
    room = await hs.create_room(alice)
    after_create = hs.homeserver.stream.position
    assert after_create > before
    await hs.send(alice, room)
    assert hs.homeserver.stream.position == after_create + 1


async def test_the_stream_position_survives_a_restart(make_homeserver, tmp_path):
    import dataclasses

    from conftest import test_config

    config = test_config()
    config.database = dataclasses.replace(config.database, path=str(tmp_path / "hs.db"))
    hs = await make_homeserver(config)
    alice = await hs.register()
    room = await hs.create_room(alice)
    token = (await hs.sync(alice))["next_batch"]
    await hs.http.close()
    hs = await make_homeserver(config)
    await hs.send(alice, room, "after the restart")
    body = await hs.sync(alice, since=token)
    events = body["rooms"]["join"][room]["timeline"]["events"]
    assert [e["content"]["body"] for e in events] == ["after the restart"]
