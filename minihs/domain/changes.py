"""Telling whoever waits for changes (the sync waiters) which users and rooms a change concerns.

Profile, account data, presence, typing and receipts each report their committed changes here;
the sync assembler adds a listener that wakes the pending ``/sync`` of every user concerned: a
user named in ``users``, or joined to a room named in ``rooms``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    users: frozenset[str] = field(default_factory=frozenset)
    rooms: frozenset[str] = field(default_factory=frozenset)


Listener = Callable[[Change], None]


class ChangeListeners:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def notify(self, *, users: frozenset[str] | set[str] = frozenset(),
               rooms: frozenset[str] | set[str] = frozenset()) -> None:
        change = Change(frozenset(users), frozenset(rooms))
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # one broken listener must not stop the others, nor the change
                logger.exception("Error in a change listener")
