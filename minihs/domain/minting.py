"""Where every random ID minihs mints comes from: the system's CSPRNG, or a seed.

Access tokens, device IDs, room IDs, UIA session IDs, nonces and sync-token epochs are all drawn
here. With ``deterministic.seed`` set, they come from a PRNG seeded with it, so two runs of the
same test give the same bytes (event IDs, hashes of the event, follow). A seeded server is for
tests only: its tokens are guessable by anyone who knows the seed, which is the point.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
from typing import Any, Sequence, TypeVar

T = TypeVar("T")


class IdSource:
    def __init__(self, seed: str = "") -> None:
        self.seed = seed
        self._rng: random.Random | None = None
        self.restart()

    @property
    def deterministic(self) -> bool:
        return self._rng is not None

    def restart(self) -> None:
        """Back to the seed's first draw (a reset: the fresh server a new run would be)."""
        self._rng = random.Random(self.seed) if self.seed else None

    def token_bytes(self, nbytes: int) -> bytes:
        if self._rng is None:
            return secrets.token_bytes(nbytes)
        return self._rng.randbytes(nbytes)

    def token_hex(self, nbytes: int) -> str:
        return self.token_bytes(nbytes).hex()

    def token_urlsafe(self, nbytes: int) -> str:
        """As ``secrets.token_urlsafe``: ``nbytes`` bytes, base64url without padding."""
        return base64.urlsafe_b64encode(self.token_bytes(nbytes)).rstrip(b"=").decode("ascii")

    def choices(self, population: Sequence[T], k: int) -> list[T]:
        if self._rng is None:
            return [secrets.choice(population) for _ in range(k)]
        return self._rng.choices(population, k=k)

    def randint(self, low: int, high: int) -> int:
        if self._rng is None:
            return low + secrets.randbelow(high - low + 1)
        return self._rng.randint(low, high)

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose``: derived from the seed when seeded, so it is the same
        on every run and after every reset (and draws nothing, so the IDs after it do not
        depend on when it was asked for); else random."""
        if self._rng is None:
            return secrets.token_bytes(32)
        return hashlib.sha256(f"minihs {purpose}\0{self.seed}".encode("utf-8")).digest()

    # --- snapshots ------------------------------------------------------------------------

    def saved(self) -> Any:
        """The PRNG's state (None when not seeded), for :meth:`restore_saved`."""
        return None if self._rng is None else self._rng.getstate()

    def restore_saved(self, saved: Any) -> None:
        if self._rng is not None and saved is not None:
            self._rng.setstate(saved)
