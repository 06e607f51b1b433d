"""Password hashing: argon2id (argon2-cffi) for new passwords; scrypt hashes still verify.

argon2id is OWASP's first recommendation for password storage; scrypt (stdlib) was minihs's
first choice and stays available (``password_hashing.algorithm: scrypt``). Each stored form
carries its own parameters, so changing the configured cost applies to new hashes only:

- argon2id: the PHC string ``$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>``;
- scrypt: ``scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`` (base64).

Hashing takes tens to hundreds of milliseconds and tens of MiB by design, so it runs in a
thread, and no more hashes run at once than there are cores: more would only add memory and
make each one slower.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import os
import secrets
import threading
from typing import TYPE_CHECKING

from minihs.config import PasswordHashingConfig

if TYPE_CHECKING:
    import argon2

_SALT_BYTES = 16
_KEY_BYTES = 32
_HASHING_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@functools.lru_cache(maxsize=8)
def _argon2id(memory_kib: int, time_cost: int, parallelism: int) -> "argon2.PasswordHasher":
    # Imported on first use: argon2-cffi takes ~15 ms to import, a twentieth of a cold start.
    import argon2

    return argon2.PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=parallelism,
        hash_len=_KEY_BYTES,
        salt_len=_SALT_BYTES,
        type=argon2.Type.ID,
    )


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    # OpenSSL refuses above its default 32 MiB unless told how much memory it may use.
    maxmem = 128 * r * n * p + 2 * 1024 * 1024
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=_KEY_BYTES
    )


def hash_password_sync(password: str, cost: PasswordHashingConfig) -> str:
    with _HASHING_SLOTS:
        if cost.algorithm == "scrypt":
            salt = secrets.token_bytes(_SALT_BYTES)
            key = _scrypt(password, salt, cost.scrypt_log2_n, cost.scrypt_r, 1)
            return f"scrypt${cost.scrypt_log2_n}${cost.scrypt_r}$1${_b64(salt)}${_b64(key)}"
        hasher = _argon2id(cost.argon2_memory_kib, cost.argon2_time_cost, cost.argon2_parallelism)
        return hasher.hash(password)


def verify_password_sync(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; False for a stored form that cannot be read."""
    with _HASHING_SLOTS:
        if stored.startswith("$argon2id$"):
            return _verify_argon2id(password, stored)
        if stored.startswith("scrypt$"):
            return _verify_scrypt(password, stored)
        return False


def _verify_argon2id(password: str, stored: str) -> bool:
    import argon2

    # Any hasher verifies with the parameters stored in the hash; its own do not matter.
    verifier = _argon2id(8, 1, 1)
    try:
        return verifier.verify(stored, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, log2_n, r, p, salt, key = stored.split("$")
        expected = base64.b64decode(key)
        actual = _scrypt(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str, cost: PasswordHashingConfig) -> bool:
    """Whether ``stored`` is weaker than what ``cost`` would make now, so that a login should
    replace it: a scrypt hash once argon2id is configured, or a hash of the configured algorithm
    with less memory or fewer passes (and no more of the other). Never a downgrade: a server
    run with cheaper settings (the testing profile) leaves stronger hashes as they are."""
    if cost.algorithm == "argon2id":
        if stored.startswith("scrypt$"):
            return True
        made = _argon2_parameters(stored)
        wanted = (cost.argon2_memory_kib, cost.argon2_time_cost)
    else:
        made = _scrypt_parameters(stored)
        wanted = (cost.scrypt_log2_n, cost.scrypt_r)
    if made is None:
        return False  # another algorithm, or unreadable: nothing to compare with
    return made != wanted and made[0] <= wanted[0] and made[1] <= wanted[1]


def _argon2_parameters(stored: str) -> tuple[int, int] | None:
    """(memory KiB, passes) of a PHC string ``$argon2id$v=19$m=..,t=..,p=..$salt$hash``."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[1] != "argon2id":
        return None
    try:
        fields = dict(item.split("=", 1) for item in parts[3].split(","))
        return int(fields["m"]), int(fields["t"])
    except (ValueError, KeyError):
        return None


def _scrypt_parameters(stored: str) -> tuple[int, int] | None:
    """(log2 N, r) of ``scrypt$<log2 N>$<r>$<p>$<salt>$<hash>``."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        return int(parts[1]), int(parts[2])
    except ValueError:
        return None


async def hash_password(password: str, cost: PasswordHashingConfig) -> str:
    return await asyncio.to_thread(hash_password_sync, password, cost)


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, stored)
