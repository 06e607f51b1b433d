"""The Mutual Rooms API (MSC2666, spec v1.19 "Mutual Rooms"): the rooms two users share.

Computed on request as the intersection of the two users' joined-room sets from the in-memory
index, then sorted by room ID and cut into pages. Pagination tokens are stateless: they carry
the last room ID of the page they follow, when they were issued, and a MAC binding both to
the pair of users, so a token from another pair, a forged one, or an old one is refused.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from itertools import islice
from typing import Callable

from minihs.spec.errors import invalid_param
from minihs.domain.joined_rooms import JoinedRoomsIndex

_MAC_BYTES = 16
# The opaque identifier grammar (spec appendix): [0-9A-Za-z-._~], 1 to 255 characters.
MAX_TOKEN_LENGTH = 255
# Below this many candidates per wanted room, sorting them all is as cheap as selecting.
_SELECT_ABOVE_FACTOR = 8
_SAMPLE_SIZE = 64
# Standard base64 to its URL-safe alphabet, whose characters are all in the token grammar.
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_STANDARD = bytes.maketrans(b"-_", b"+/")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    raw = text.encode("ascii")
    if raw.translate(None, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"):
        raise ValueError("not URL-safe base64")
    return binascii.a2b_base64(raw.translate(_STANDARD) + b"=" * (-len(raw) % 4))


class PaginationTokens:
    """Make and read ``next_batch`` tokens: ``<issued, hex>.<last room>.<mac>``.

    The MAC is keyed BLAKE2b (RFC 7693's keyed mode, a MAC by design) over both user IDs, the
    issue time and the room: a third of HMAC-SHA-256's cost here, for the same guarantee.
    """

    def __init__(
        self, key: bytes, lifetime_s: int, clock: Callable[[], float] = time.time
    ) -> None:
        """``clock``: seconds since 1970 (the homeserver's server clock), read at issue and at
        every read; a token's issue time is in the token itself."""
        self._key = hashlib.blake2b(key).digest()  # BLAKE2b takes keys of at most 64 bytes
        self._lifetime_s = lifetime_s
        self._clock = clock

    def _mac(self, requester: str, other: str, issued: int, last_room: bytes) -> str:
        message = b"%s\n%s\n%d\n%s" % (requester.encode(), other.encode(), issued, last_room)
        return _b64(hashlib.blake2b(message, key=self._key, digest_size=_MAC_BYTES).digest())

    def issue(self, requester: str, other: str, last_room_id: str) -> str:
        issued = int(self._clock())
        room = last_room_id.encode("utf-8")
        return f"{issued:x}.{_b64(room)}.{self._mac(requester, other, issued, room)}"

    def read(self, requester: str, other: str, token: str) -> str:
        """The room ID the token's page ended at; 400 M_INVALID_PARAM for any bad token."""
        # Spec: "The `from` token provided was invalid or expired" -> 400.
        parts = token.split(".")
        if len(token) > MAX_TOKEN_LENGTH or len(parts) != 3:
            raise invalid_param("Malformed 'from' token")
        issued_text, room_text, mac = parts
        try:
            issued = int(issued_text, 16)
            room = _unb64(room_text)
            last_room_id = room.decode("utf-8")
        except (ValueError, UnicodeError, binascii.Error):
            raise invalid_param("Malformed 'from' token") from None
        # Only the spelling issue() makes: int() and base64 also read "0x1A", "+1a", "1_a" or
        # a last character with stray low bits, which would give one token many spellings.
        if issued < 0 or issued_text != f"{issued:x}" or room_text != _b64(room):
            raise invalid_param("Malformed 'from' token")
        if not hmac.compare_digest(mac, self._mac(requester, other, issued, room)):
            raise invalid_param("Invalid 'from' token: not issued for this pair of users")
        age = self._clock() - issued
        if age > self._lifetime_s or age < -60:
            raise invalid_param("Expired 'from' token")
        return last_room_id


def smallest(rooms, count: int) -> list[str]:
    """The ``count`` smallest room IDs, sorted, without sorting all of ``rooms``.

    A page of 100 out of thousands: estimate a cut-off from an evenly spaced sample (a set's
    order has nothing to do with string order), keep what sorts at or below it, sort that.
    Exact whatever the sample: when fewer than ``count`` fall below the cut-off, sort them all.
    """
    total = len(rooms)
    if total <= count * _SELECT_ABOVE_FACTOR:
        return sorted(rooms)[:count]
    sample = sorted(islice(rooms, 0, None, total // _SAMPLE_SIZE))
    # Aim for about three pages' worth below the cut-off, so one pass nearly always suffices.
    cut = sample[min(len(sample) - 1, 3 * count * len(sample) // total + 1)]
    below = [room for room in rooms if room <= cut]
    if len(below) < count:
        below = list(rooms)
    below.sort()
    return below[:count]


@dataclass(frozen=True)
class MutualRoomsPage:
    joined: list[str]
    count: int
    next_batch: str | None


class MutualRooms:
    def __init__(
        self, index: JoinedRoomsIndex, page_size: int, tokens: PaginationTokens
    ) -> None:
        self._index = index
        self._page_size = page_size
        self._tokens = tokens

    @classmethod
    def with_key(
        cls,
        index,
        page_size: int,
        key: bytes,
        lifetime_s: int,
        clock: Callable[[], float] = time.time,
    ) -> "MutualRooms":
        return cls(index, page_size, PaginationTokens(key, lifetime_s, clock))

    def page(self, requester: str, other: str, from_token: str | None) -> MutualRoomsPage:
        """One page of the rooms where both users are joined, sorted by room ID.

        ``count`` is the total over all pages. A page resumes strictly after the room the
        previous page ended at, so memberships changing between pages never repeat a room.
        """
        after = None if from_token is None else self._tokens.read(requester, other, from_token)
        mutual = self._index.mutual_rooms(requester, other)
        remaining = mutual if after is None else [room for room in mutual if room > after]
        first = smallest(remaining, self._page_size + 1)  # one extra: does a page follow?
        joined = first[: self._page_size]
        next_batch = None
        if len(first) > self._page_size:
            next_batch = self._tokens.issue(requester, other, joined[-1])
        return MutualRoomsPage(joined, len(mutual), next_batch)
