"""Tests of chat_client.ChatClient against a real homeserver: minihs, through its pytest plugin.

The plugin comes with minihs (installed from its checkout: see README.md); its fixtures are
all named ``minihs*``.
"""

import pytest

from chat_client import ChatClient, MatrixError

pytestmark = pytest.mark.minihs_scenario("scenario.yaml")

SEND = "/rooms/{roomId}/send/*"  # every client API version, any event type and txn ID


@pytest.fixture
def bot(minihs, minihs_scenario):
    """The client under test, logged in as the scenario's bot."""
    return ChatClient(minihs.base_url, minihs_scenario.users["bot"].access_token)


def test_the_bot_reads_the_welcome_message(bot, minihs_scenario):
    latest = bot.latest_messages(minihs_scenario.rooms["general"])
    assert [event["content"]["body"] for event in latest] == ["Welcome, bot!"]
    assert latest[0]["event_id"] == minihs_scenario.messages["welcome"]


def test_a_rate_limited_send_is_retried_after_the_wait_the_server_asks(
    bot, minihs_scenario, minihs_faults, minihs_requests
):
    minihs_faults.add("PUT", SEND, status=429, retry_after_ms=200, times=1)
    bot.send_text(minihs_scenario.rooms["general"], "hello")
    sends = minihs_requests.matching(method="PUT", path=SEND)
    assert [request["status"] for request in sends] == [429, 200]
    assert sends[1]["ts"] - sends[0]["ts"] >= 200  # the log's times are the server clock's
    assert sends[0]["path"] == sends[1]["path"]  # the same transaction ID: never posted twice


def test_the_bot_gives_up_after_three_attempts(bot, minihs_scenario, minihs_faults):
    minihs_faults.add("PUT", SEND, status=429, retry_after_ms=10)  # until the test ends
    with pytest.raises(MatrixError) as refused:
        bot.send_text(minihs_scenario.rooms["general"], "hello")
    assert refused.value.errcode == "M_LIMIT_EXCEEDED"
    assert minihs_faults.list()[0]["matched"] == 3


def test_messages_are_stamped_with_the_server_clock(bot, minihs_scenario, minihs_clock):
    minihs_clock.freeze()
    minihs_clock.set(1_767_225_600_000)  # 2026-01-01T00:00:00Z
    room = minihs_scenario.rooms["general"]
    bot.send_text(room, "happy new year")
    assert bot.latest_messages(room)[0]["origin_server_ts"] == 1_767_225_600_000


def test_a_snapshot_puts_the_room_back(minihs, bot, minihs_scenario):
    room = minihs_scenario.rooms["general"]
    minihs.snapshot("before-the-flood")
    for n in range(3):
        bot.send_text(room, f"spam {n}")
    minihs.restore("before-the-flood")
    assert [e["content"]["body"] for e in bot.latest_messages(room)] == ["Welcome, bot!"]
    minihs.delete_snapshot("before-the-flood")  # snapshots outlive the test otherwise
