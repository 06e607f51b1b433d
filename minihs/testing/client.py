"""The blocking HTTP helpers of :class:`~minihs.testing.MinihsServer`, and what they return.

Thin calls made with the standard library only: one keep-alive connection per calling thread,
so they work the same from sync tests, from threads and from inside a running asyncio loop
(which they never touch). Each raises :class:`MinihsHTTPError` on any status other than the
one the call expects.
"""

from __future__ import annotations

import dataclasses
import http.client
import itertools
import json
import secrets
import socket
import threading
from typing import Any, Mapping
from urllib.parse import quote, urlencode

from minihs.config import Config

HTTP_TIMEOUT_S = 30.0


@dataclasses.dataclass(frozen=True)
class MinihsUser:
    """A registered, logged-in user: what :meth:`MinihsServer.register_user` returns."""

    user_id: str
    access_token: str
    device_id: str
    password: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].partition(":")[0]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class MinihsHTTPError(Exception):
    """A helper call got a status it did not expect. ``errcode`` and ``error`` come from the
    Matrix error body when there is one."""

    def __init__(self, method: str, path: str, status: int, expected: int, body: Any) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.expected = expected
        self.body = body
        self.errcode = body.get("errcode") if isinstance(body, dict) else None
        self.error = body.get("error") if isinstance(body, dict) else None
        detail = f"{self.errcode}: {self.error}" if self.errcode else repr(body)
        super().__init__(f"{method} {path}: expected HTTP {expected}, got {status} ({detail})")


class _Connections(threading.local):
    conn: http.client.HTTPConnection | None = None


class BlockingClient:
    """HTTP helpers for a server at ``self.host``:``self.port``, serving ``self.config``.

    A mixin: the class that uses it provides those attributes and ``_require_running()``, and
    calls ``BlockingClient.__init__`` from its own ``__init__``.
    """

    host: str
    port: int | None
    config: Config
    _require_running: Any  # a method of the server: raises unless it is serving

    def __init__(self) -> None:
        self._local = _Connections()
        self._all_connections: list[http.client.HTTPConnection] = []
        self._connections_lock = threading.Lock()
        self._user_numbers = itertools.count(1)

    # --- HTTP ----------------------------------------------------------------------------

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's keep-alive connection, and whether it is a new one."""
        conn = self._local.conn
        if conn is not None:
            return conn, False
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT_S)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._local.conn = conn
        with self._connections_lock:
            self._all_connections.append(conn)
        return conn, True

    def _drop_connection(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._connections_lock:
            if conn in self._all_connections:
                self._all_connections.remove(conn)

    def _close_client_connections(self) -> None:
        with self._connections_lock:
            connections, self._all_connections = self._all_connections, []
        for conn in connections:
            conn.close()
        self._local.conn = None

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        while True:
            conn, fresh = self._connection()
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A reused connection the server had already closed (an idle timeout): the
                # request never reached it, so sending it again on a new one is safe.
                self._drop_connection(conn)
                if fresh:
                    raise
                continue
            except BaseException:
                self._drop_connection(conn)
                raise
            if response.will_close:
                self._drop_connection(conn)
            return response.status, data

    def request(
        self,
        method: str,
        path: str,
        user: MinihsUser | None = None,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: int | None = 200,
    ) -> Any:
        """One HTTP request; the decoded JSON reply (None for an empty body).

        ``user`` authenticates it. Raises :class:`MinihsHTTPError` unless the status is
        ``expect`` (``expect=None`` accepts any status).
        """
        self._require_running()
        all_headers = {"Accept": "application/json"}
        if user is not None:
            all_headers["Authorization"] = f"Bearer {user.access_token}"
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        target = path + ("?" + urlencode(params) if params else "")
        status, data = self._exchange(method, target, body, all_headers)
        try:
            reply = json.loads(data) if data else None
        except ValueError:
            reply = data.decode("utf-8", "replace")
        if expect is not None and status != expect:
            raise MinihsHTTPError(method, path, status, expect, reply)
        return reply

    # --- helpers -------------------------------------------------------------------------

    def register_user(
        self, localpart: str | None = None, password: str | None = None
    ) -> MinihsUser:
        """Register and log in a user through ``POST /register``. Without a localpart, a new
        one (``user-1``, ``user-2``...) that no earlier call of this server has used."""
        if localpart is None:
            localpart = f"user-{next(self._user_numbers)}"
        if password is None:
            password = secrets.token_urlsafe(12)
        registration = self.config.registration
        if registration.mode == "token":
            auth = {"type": "m.login.registration_token", "token": registration.tokens[0]}
        else:
            auth = {"type": "m.login.dummy"}
        body = self.request(
            "POST",
            "/_matrix/client/v3/register",
            json_body={"username": localpart, "password": password, "auth": auth},
        )
        return MinihsUser(body["user_id"], body["access_token"], body["device_id"], password)

    def create_room(self, user: MinihsUser, **body: Any) -> str:
        """``POST /createRoom`` with ``body`` (``preset=``, ``name=``...); the new room's ID."""
        return self.request("POST", "/_matrix/client/v3/createRoom", user, json_body=body)[
            "room_id"
        ]

    def join(self, user: MinihsUser, room_id_or_alias: str, **body: Any) -> str:
        """``POST /join/{roomIdOrAlias}``; the room ID."""
        path = f"/_matrix/client/v3/join/{quote(room_id_or_alias, safe='')}"
        return self.request("POST", path, user, json_body=body)["room_id"]

    def invite(self, user: MinihsUser, room_id: str, target: MinihsUser | str, **body: Any) -> None:
        """``POST /rooms/{roomId}/invite`` of ``target`` (a user or a user ID)."""
        body["user_id"] = target.user_id if isinstance(target, MinihsUser) else target
        self.request("POST", self._room_path(room_id, "invite"), user, json_body=body)

    def leave(self, user: MinihsUser, room_id: str, **body: Any) -> None:
        """``POST /rooms/{roomId}/leave``."""
        self.request("POST", self._room_path(room_id, "leave"), user, json_body=body)

    def mutual_rooms(
        self, user: MinihsUser, other: MinihsUser | str, from_token: str | None = None
    ) -> dict[str, Any]:
        """``GET /_matrix/client/v1/mutual_rooms``: the whole reply (``joined``, ``count``,
        ``next_batch`` when there is a next page)."""
        params = {"user_id": other.user_id if isinstance(other, MinihsUser) else other}
        if from_token is not None:
            params["from"] = from_token
        return self.request("GET", "/_matrix/client/v1/mutual_rooms", user, params=params)

    @staticmethod
    def _room_path(room_id: str, action: str) -> str:
        return f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/{action}"
