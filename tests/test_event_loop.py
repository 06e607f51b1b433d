"""The event loop setting: uvloop when installed (auto), or asyncio's own on request."""

from __future__ import annotations

import asyncio
import sys

import pytest

from minihs.api import event_loop
from minihs.__main__ import main
from minihs.config import ConfigError, load_config
from minihs.testing import MinihsServer

from conftest import test_config
from prerequisites import prerequisite_missing

try:
    import uvloop
except ImportError:  # setup.py installs it on CPython outside Windows: skip elsewhere only
    prerequisite_missing("uvloop is not installed: pip install -e .", module_level=True)


def _loop_of(factory) -> str:
    loop = factory()
    try:
        return event_loop.loop_name(loop)
    finally:
        loop.close()


def test_auto_picks_uvloop_when_it_is_installed():
    assert _loop_of(event_loop.loop_factory("auto")) == "uvloop"


def test_asyncio_picks_the_standard_library_loop():
    assert _loop_of(event_loop.loop_factory("asyncio")) == "asyncio"


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    assert _loop_of(event_loop.loop_factory("auto")) == "asyncio"


def test_asking_for_uvloop_without_it_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with pytest.raises(ConfigError, match="event_loop"):
        event_loop.loop_factory("uvloop")


def test_run_returns_the_coroutine_result_on_the_chosen_loop():
    async def which() -> str:
        return event_loop.loop_name(asyncio.get_running_loop())

    assert event_loop.run(which(), uvloop.new_event_loop) == "uvloop"
    assert event_loop.run(which(), asyncio.new_event_loop) == "asyncio"


@pytest.mark.parametrize("factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_running_by_hand_as_on_python_3_10_cancels_leftovers_and_closes_the_loop(factory):
    seen = {}

    async def main() -> str:
        async def forever() -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen["cancelled"] = True
                raise

        seen["loop"] = asyncio.get_running_loop()
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)
        return "done"

    assert event_loop.run_by_hand(main(), factory) == "done"
    assert seen["cancelled"] is True
    assert seen["loop"].is_closed()


def test_run_leaves_the_global_loop_policy_alone():
    policy = asyncio.get_event_loop_policy()
    event_loop.run(asyncio.sleep(0), uvloop.new_event_loop)
    assert asyncio.get_event_loop_policy() is policy


def test_an_unknown_event_loop_in_the_config_names_the_key(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("event_loop: twisted\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="event_loop"):
        load_config(path)


def test_cli_refuses_uvloop_when_it_is_missing_with_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)
    path = tmp_path / "config.yaml"
    path.write_text("event_loop: uvloop\n", encoding="utf-8")
    assert main(["--config", str(path), "--port", "0", "--database", ":memory:"]) == 2
    assert "event_loop" in capsys.readouterr().err


@pytest.mark.parametrize("choice", ["uvloop", "asyncio"])
def test_the_fixture_server_serves_on_either_loop(choice):
    with MinihsServer(test_config(event_loop=choice)) as server:
        user = server.register_user()
        assert user.user_id.startswith("@")
        assert event_loop.loop_name(server._loop) == choice
