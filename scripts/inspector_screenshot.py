#!/usr/bin/env python3
"""Draw docs/inspector.png, the README's picture of the inspector (GET /_minihs/).

Starts a minihs fixture server, plays a small scene through the client API (three users, three
rooms, a few messages, a fault that fails one send), opens the page in headless Chromium
(Debian's, as the browser test uses it: ``bash scripts/install_browser.sh``), picks two users
for mutual rooms, opens a room and a logged request, and takes a full-page screenshot.

Usage: ``python scripts/inspector_screenshot.py [--output PATH] [--chromium PATH]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from minihs.testing import MinihsServer

REPO = Path(__file__).resolve().parent.parent


def send(server, user, room_id, body, txn, expect_status=200):
    path = f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}"
    server.request("PUT", path, user, json_body={"msgtype": "m.text", "body": body},
                   expect=expect_status)


def play_scene(server):
    alice, bob, carol = (server.register_user(name) for name in ("alice", "bob", "carol"))
    server.request("PUT", f"/_matrix/client/v3/profile/{bob.user_id}/displayname", bob,
                   json_body={"displayname": "Bob"})
    lobby = server.create_room(alice, preset="public_chat", name="Lobby",
                               room_alias_name="lobby", topic="Say hello")
    review = server.create_room(alice, name="Design review")
    server.create_room(carol, name="Carol's notes")
    server.join(bob, lobby)
    server.join(carol, lobby)
    server.invite(alice, review, bob)
    server.join(bob, review)
    send(server, alice, lobby, "Hello, everyone!", "t1")
    send(server, bob, lobby, "Hi Alice", "t2")
    server.add_fault("PUT", "/rooms/{roomId}/send/*", status=503, times=1)
    send(server, carol, lobby, "Is this thing on?", "t3", expect_status=503)
    server.add_fault("GET", "/sync", delay_ms=250)
    send(server, carol, lobby, "Is this thing on?", "t4")
    server.snapshot("after-hello")
    return alice, bob, lobby


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(REPO / "docs" / "inspector.png"))
    parser.add_argument("--chromium", default=os.environ.get("MINIHS_CHROMIUM")
                        or shutil.which("chromium"))
    args = parser.parse_args(argv)
    if not args.chromium:
        print("no Chromium: bash scripts/install_browser.sh", file=sys.stderr)
        return 1
    with MinihsServer() as server, sync_playwright() as playwright:
        alice, bob, lobby = play_scene(server)
        browser = playwright.chromium.launch(executable_path=args.chromium, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(server.url_for("/_minihs/"))
        users = page.locator("#users tbody")
        users.locator(f'tr[data-user-id="{alice.user_id}"] .pick-a').click()
        users.locator(f'tr[data-user-id="{bob.user_id}"] .pick-b').click()
        expect(page.locator("#mutual-rooms li")).to_have_count(2)
        page.locator(f'#rooms tbody tr[data-room-id="{lobby}"]').click()
        expect(page.locator("#members li")).to_have_count(3)
        page.locator("#log tbody tr", has_text="503").first.click()
        expect(page.locator("#log-detail")).to_be_visible()
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.output, full_page=True)
        browser.close()
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
