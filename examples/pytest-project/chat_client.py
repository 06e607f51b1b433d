"""The code under test: a very small Matrix client, standard library only.

It sends text messages and reads a room's latest ones. When the server answers 429 it waits as
long as the server asks (``retry_after_ms``) and sends again, with the same transaction ID, so
that a retried message is never posted twice.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote


class MatrixError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"HTTP {status}: {body.get('errcode')}: {body.get('error')}")
        self.status = status
        self.errcode = body.get("errcode")


class ChatClient:
    def __init__(self, base_url: str, access_token: str, attempts: int = 3) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.attempts = attempts

    def send_text(self, room_id: str, text: str) -> str:
        """Post ``text`` to the room; the new event's ID."""
        txn_id = uuid.uuid4().hex
        path = f"/rooms/{quote(room_id)}/send/m.room.message/{txn_id}"
        return self._call("PUT", path, {"msgtype": "m.text", "body": text})["event_id"]

    def latest_messages(self, room_id: str, limit: int = 10) -> list[dict]:
        """The room's latest messages, newest first."""
        path = f"/rooms/{quote(room_id)}/messages?dir=b&limit={limit}"
        events = self._call("GET", path)["chunk"]
        return [event for event in events if event["type"] == "m.room.message"]

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(
                f"{self.base_url}/_matrix/client/v3{path}",
                data=data,
                method=method,
                headers={
                    "Authorization": f"Bearer {self.access_token}",
                    "Content-Type": "application/json",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:
                    return json.load(reply)
            except urllib.error.HTTPError as error:
                answer = json.load(error)
                if error.code != 429 or attempt == self.attempts:
                    raise MatrixError(error.code, answer) from None
                time.sleep(answer.get("retry_after_ms", 1000) / 1000)
        raise AssertionError("unreachable")
