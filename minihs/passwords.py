"""Password hashing with scrypt (stdlib), a salted memory-hard KDF.

The stored form carries its own parameters, ``scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`` (base64),
so a change of the configured cost applies to new hashes without breaking old ones.
Hashing takes tens to hundreds of milliseconds by design, so it always runs in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

_SALT_BYTES = 16
_KEY_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    # OpenSSL refuses above its default 32 MiB unless told how much memory it may use.
    maxmem = 128 * r * n * p + 2 * 1024 * 1024
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=_KEY_BYTES
    )


def hash_password_sync(password: str, log2_n: int, r: int, p: int = 1) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, log2_n, r, p)
    return f"scrypt${log2_n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password_sync(password: str, stored: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = _scrypt(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


async def hash_password(password: str, log2_n: int, r: int) -> str:
    return await asyncio.to_thread(hash_password_sync, password, log2_n, r)


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, stored)
