"""The raw HTTP/1.1 load client: blocking one-at-a-time requests for latencies (aiohttp's client
alone adds ~0.3 ms per request), and an asyncio connection for ``--load-client raw``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from .client import User
from .common import CLIENT, PASSWORD, BenchError


class RawHttp:
    """A minimal blocking HTTP/1.1 keep-alive client, one request at a time.

    For the single-client latency figures only: a full aiohttp client adds about 0.3 ms of its
    own to every request here, more than some of the targets being measured. It sends one
    prepared request and reads the status line, the headers and a Content-Length (or chunked)
    body. Blocking is fine where it is used: nothing else runs on the bench's loop then.
    """

    def __init__(self, base_url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(base_url)
        if parts.scheme != "http":
            raise BenchError("the raw latency client speaks plain http only")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.host_header = parts.netloc.encode()
        self.sock = None
        self.buffer = b""

    def _connect(self) -> None:
        import socket

        self.close()
        self.sock = socket.create_connection((self.host, self.port), timeout=300)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def prepare(self, method: str, target: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> bytes:
        lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: " + self.host_header]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}".encode())
        if body is not None:
            lines.append(b"Content-Type: application/json")
        lines.append(b"Content-Length: " + str(len(body or b"")).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")

    def _read_until(self, marker: bytes) -> bytes:
        while True:
            at = self.buffer.find(marker)
            if at >= 0:
                out, self.buffer = self.buffer[:at], self.buffer[at + len(marker):]
                return out
            self._fill()

    def _read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionResetError("server closed the connection")
        self.buffer += chunk

    def send(self, request: bytes) -> tuple[int, bytes]:
        """Send a prepared request; (status, body). Reconnects once on a closed connection."""
        for attempt in (1, 2):
            if self.sock is None:
                self._connect()
            try:
                assert self.sock is not None
                self.sock.sendall(request)
                head = self._read_until(b"\r\n\r\n")
                break
            except (ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        status_line, *header_lines = head.split(b"\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    break
                parts.append(self._read_exactly(size))
                self._read_exactly(2)
            data = b"".join(parts)
        else:
            data = self._read_exactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, data

    def request(self, method: str, target: str, user: "User | None" = None,
                body: Any = None) -> tuple[int, Any]:
        raw = None if body is None else json.dumps(body).encode()
        status, data = self.send(self.prepare(method, target, user.headers if user else None, raw))
        return status, (json.loads(data) if data else None)

    def call(self, method: str, target: str, user: "User | None" = None, body: Any = None,
             expect: int = 200) -> Any:
        status, reply = self.request(method, target, user, body)
        if status != expect:
            raise BenchError(f"{method} {target}: expected {expect}, got {status}: {reply}")
        return reply

    def register(self, localpart: str, password: str = PASSWORD) -> "User":
        body: dict[str, Any] = {
            "username": localpart, "password": password, "auth": {"type": "m.login.dummy"},
        }
        status, reply = self.request("POST", CLIENT + "/register", body=body)
        if status == 401 and isinstance(reply, dict) and "session" in reply:
            # Servers that insist on a UIA session first (as Synapse may): go round once more.
            body["auth"]["session"] = reply["session"]
            status, reply = self.request("POST", CLIENT + "/register", body=body)
        if status != 200:
            raise BenchError(f"register {localpart}: {status} {reply}")
        return User(reply["user_id"], reply["access_token"], localpart)

    def login(self, localpart: str, password: str = PASSWORD) -> "User":
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        }
        reply = self.call("POST", CLIENT + "/login", body=body)
        return User(reply["user_id"], reply["access_token"], localpart)


class RawAsyncConnection:
    """One keep-alive connection for the ``--load-client raw`` load generator: prepared
    request bytes out, a Content-Length body in. Much cheaper per request than aiohttp's
    client, so on a 2-core machine less of the CPU goes to the load generator."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.writer = None
