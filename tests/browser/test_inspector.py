"""The inspector page (GET /_minihs/, issue 17) in a real browser: Debian's Chromium, headless,
driven by Playwright's Python package through its executable path (Playwright's own browser
download is never used; ``scripts/install_browser.sh`` installs Chromium).

One server and one browser serve the module; each test starts from a reset server and a fresh
page, and acts on the server the way a client under test would: through the client API. The page
must show it without a reload. Without Chromium or Playwright the module skips with one line
outside CI and fails under CI=true (tests/prerequisites.py).

A failed test leaves a screenshot of its page in ``test-artefacts/`` (or
``$MINIHS_TEST_ARTEFACTS``), and so does the test that shows the most at once
(``inspector.png``, the README's picture is made the same way by
``scripts/inspector_screenshot.py``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from prerequisites import prerequisite_missing

from .conftest import CALL_FAILED

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("MINIHS_TEST_ARTEFACTS", ROOT / "test-artefacts"))
# How long the page may take to show a change (it polls twice a second): room for a busy machine.
LIVE_TIMEOUT_MS = 5000


def chromium_path() -> str | None:
    configured = os.environ.get("MINIHS_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium")


if importlib.util.find_spec("playwright") is None:
    prerequisite_missing(
        "playwright is not installed: pip install -c requirements/test.lock -e '.[test]'",
        module_level=True,
    )
CHROMIUM = chromium_path()
if CHROMIUM is None:
    prerequisite_missing(
        "Chromium is not installed (the inspector's browser test): bash scripts/install_browser.sh",
        module_level=True,
    )

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser_context():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        context.set_default_timeout(LIVE_TIMEOUT_MS)
        yield context
        browser.close()


def screenshot(page: Page, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def page(server, browser_context, request) -> Page:
    """The inspector, opened on a reset server (a screenshot of it is kept if the test fails)."""
    server.reset()
    opened = browser_context.new_page()
    asked: list[str] = []
    opened.on("request", lambda made: asked.append(made.url))
    opened.goto(server.url_for("/_minihs/"))
    expect(opened.locator("#live")).to_have_class("on")
    # Survives only if the page is never reloaded: every check below is of live updates.
    opened.evaluate("window.notReloaded = true")
    yield opened
    if request.node.stash.get(CALL_FAILED, False):
        screenshot(opened, f"inspector-failed-{request.node.name}")
    assert opened.evaluate("window.notReloaded") is True
    opened.close()
    assert [url for url in asked if not bounded(url)] == []


# The admin API's lists; a call to one must say how many entries it wants.
LISTS = re.compile(r"/_minihs/admin/(users|rooms|rooms/[^/]+/(members|state|events)|requests)$")


def bounded(url: str) -> bool:
    """Whether a call of the page asks for one page at most (the page never asks for all)."""
    parts = urlsplit(url)
    if not LISTS.search(parts.path):
        return True
    limits = parse_qs(parts.query).get("limit", [])
    return len(limits) == 1 and 1 <= int(limits[0]) <= 200


def user_row(page: Page, user_id: str):
    return page.locator(f'#users tbody tr[data-user-id="{user_id}"]')


def open_room(page: Page, room_id: str) -> None:
    page.locator(f'#rooms tbody tr[data-room-id="{room_id}"]').click()
    expect(page.locator("#room-panel")).to_be_visible()


def test_users_registered_through_the_client_api_appear_without_a_reload(page, server):
    alice = server.register_user("alice")
    bob = server.register_user("bob")
    expect(user_row(page, alice.user_id)).to_contain_text(alice.device_id)
    expect(user_row(page, bob.user_id)).to_be_visible()
    expect(user_row(page, alice.user_id).locator(".device.live")).to_have_count(1)


def test_a_shared_room_opens_with_its_members_state_and_events(page, server):
    alice, bob = server.register_user("alice"), server.register_user("bob")
    room = server.create_room(alice, preset="public_chat", name="Lobby")
    server.join(bob, room)
    open_room(page, room)
    expect(page.locator("#room-title")).to_have_text("Lobby")
    expect(page.locator("#members li.join")).to_have_count(2)
    expect(page.locator("#state tbody")).to_contain_text("m.room.power_levels")
    newest = page.locator("#events tbody tr").first
    expect(newest).to_contain_text(bob.user_id)
    newest.click()
    expect(page.locator("#event-json")).to_contain_text('"membership": "join"')


def test_the_room_search_keeps_the_rooms_whose_name_or_alias_matches(page, server):
    alice = server.register_user("alice")
    lobby = server.create_room(alice, name="Lobby", room_alias_name="lobby")
    kitchen = server.create_room(alice, name="Kitchen")
    expect(page.locator("#rooms tbody tr")).to_have_count(2)
    page.locator("#rooms-search").fill("LOBB")
    expect(page.locator("#rooms tbody tr")).to_have_count(1)
    expect(page.locator(f'#rooms tbody tr[data-room-id="{lobby}"]')).to_contain_text("#lobby:")
    page.locator("#rooms-search").fill(kitchen[:12])
    expect(page.locator(f'#rooms tbody tr[data-room-id="{kitchen}"]')).to_be_visible()
    expect(page.locator("#rooms tbody tr")).to_have_count(1)


def test_a_message_sent_while_a_room_is_open_appears_in_it(page, server):
    alice = server.register_user("alice")
    room = server.create_room(alice, name="Lobby")
    expect(page.locator(f'#rooms tbody tr[data-room-id="{room}"]')).to_be_visible()
    open_room(page, room)
    server.request("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t1", alice,
                   json_body={"msgtype": "m.text", "body": "hello from a client"})
    expect(page.locator("#events tbody tr").first).to_contain_text("hello from a client")


def test_the_mutual_rooms_of_two_picked_users_are_their_shared_rooms(page, server):
    alice, bob = server.register_user("alice"), server.register_user("bob")
    shared = server.create_room(alice, preset="public_chat")
    server.join(bob, shared)
    server.create_room(alice)  # alice's alone
    user_row(page, alice.user_id).locator(".pick-a").click()
    user_row(page, bob.user_id).locator(".pick-b").click()
    expect(page.locator("#mutual-count")).to_have_text("1 mutual room(s)")
    expect(page.locator("#mutual-rooms li")).to_have_text([shared])
    page.locator("#mutual-rooms li").click()  # and it opens
    expect(page.locator("#room-summary")).to_contain_text(shared)
    page.locator("#log tbody tr").first.click()
    expect(page.locator("#log-detail")).to_be_visible()
    screenshot(page, "inspector")  # users, rooms, mutual rooms, a room, the log: the whole page


def test_a_request_clicked_in_the_log_shows_its_bodies_without_the_token(page, server):
    alice = server.register_user("alice")
    room = server.create_room(alice)
    server.request("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t1", alice,
                   json_body={"msgtype": "m.text", "body": "logged body"})
    send = page.locator("#log tbody tr", has_text="/send/{eventType}/{txnId}")
    expect(send).to_contain_text(alice.user_id)
    send.click()
    expect(page.locator("#log-request")).to_contain_text("logged body")
    expect(page.locator("#log-response")).to_contain_text("event_id")
    assert alice.access_token not in page.locator("#log-detail").inner_text()


def test_a_fault_added_on_the_page_fails_requests_until_cleared_there(page, server):
    alice = server.register_user("alice")
    room = server.create_room(alice)
    page.locator("#fault-method").select_option("PUT")
    page.locator("#fault-path").fill("/rooms/{roomId}/send/*")
    page.locator("#fault-status").fill("503")
    page.locator("#fault-form button[type=submit]").click()
    expect(page.locator("#faults tbody tr")).to_contain_text("PUT /rooms/{roomId}/send/*")
    send = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/"
    server.request("PUT", send + "t1", alice, json_body={"body": "x"}, expect=503)
    expect(page.locator("#faults tbody tr td").nth(4)).to_have_text("1")  # matched once
    page.locator("#faults-clear").click()
    expect(page.locator("#faults tbody tr")).to_have_count(0)
    server.request("PUT", send + "t2", alice, json_body={"body": "x"})


def test_the_clock_advanced_on_the_page_is_the_servers(page, server):
    server.clock.freeze()
    try:
        before = server.clock.now_ms()
        page.locator("#clock-advance").fill("90000")
        page.locator("#clock-form button[type=submit]").click()
        expect(page.locator("#clock-now")).to_contain_text(f"({before + 90000} ms)")
        assert server.clock.now_ms() == before + 90000
    finally:
        server.clock.unfreeze()  # a reset leaves the clock alone: the next test needs it running


def test_a_snapshot_taken_on_the_page_is_restored_there(page, server):
    alice = server.register_user("alice")
    page.locator("#snapshot-name").fill("with-alice")
    page.locator("#snapshot-form button[type=submit]").click()
    expect(page.locator('#snapshots li[data-snapshot="with-alice"]')).to_be_visible()
    bob = server.register_user("bob")
    expect(user_row(page, bob.user_id)).to_be_visible()
    page.locator('#snapshots li[data-snapshot="with-alice"] button', has_text="restore").click()
    expect(user_row(page, bob.user_id)).to_have_count(0)
    expect(user_row(page, alice.user_id)).to_be_visible()
    server.delete_snapshot("with-alice")


def test_reset_on_the_page_empties_the_server_once_confirmed(page, server):
    alice = server.register_user("alice")
    expect(user_row(page, alice.user_id)).to_be_visible()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#reset").click()
    expect(page.locator("#error")).to_have_text("")
    assert server.request("GET", "/_minihs/admin/status")["users"] == 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#reset").click()
    expect(page.locator("#users tbody tr")).to_have_count(0)
    assert server.request("GET", "/_minihs/admin/status")["users"] == 0


def test_an_error_of_the_admin_api_is_shown_on_the_page(page):
    page.locator("#fault-path").fill("no leading slash")
    page.locator("#fault-form button[type=submit]").click()
    expect(page.locator("#error")).to_have_text(re.compile(r"POST /faults: 400 M_"))
