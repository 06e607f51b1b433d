"""What :meth:`MinihsServer.load_scenario` answers: the scenario's names, mapped to the real
IDs and access tokens; and the error it raises for a scenario the server refused."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from minihs.domain.scenarios.document import syntax_of
from minihs.testing.client import MinihsUser

@dataclass(frozen=True)
class ScenarioIds:
    """``users[name]``: a logged-in :class:`MinihsUser` (user ID, access token, device ID,
    password); ``rooms[name]``: the room ID; ``aliases[name]``: the room's alias or None;
    ``messages[name]``: the event ID (named messages only); ``raw``: the map as the admin API
    answers it."""

    users: Mapping[str, MinihsUser]
    rooms: Mapping[str, str]
    aliases: Mapping[str, str | None]
    messages: Mapping[str, str]
    raw: Mapping[str, Any]

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> "ScenarioIds":
        return cls(
            users={
                name: MinihsUser(u["user_id"], u["access_token"], u["device_id"], u["password"])
                for name, u in raw["users"].items()
            },
            rooms={name: room["room_id"] for name, room in raw["rooms"].items()},
            aliases={name: room["alias"] for name, room in raw["rooms"].items()},
            messages={name: m["event_id"] for name, m in raw["messages"].items()},
            raw=raw,
        )


class ScenarioError(Exception):
    """The server refused a scenario (and kept nothing of it). ``errcode``: the broken rule's
    Matrix errcode; ``error``: ``"<source> line N: <dotted key>: <what and which rule>"``;
    ``line``: N (None for a scenario given as a dict, which has no lines)."""

    def __init__(self, errcode: str, error: str, line: int | None) -> None:
        super().__init__(f"{errcode}: {error}")
        self.errcode = errcode
        self.error = error
        self.line = line


def read_scenario(scenario: Any) -> tuple[Any, str, str | None]:
    """(text or values, source for messages, syntax) of a path or a mapping."""
    if isinstance(scenario, Mapping):
        return scenario, "scenario", None
    if isinstance(scenario, (str, os.PathLike)):
        return Path(scenario).read_bytes(), str(scenario), syntax_of(str(scenario))
    raise TypeError(
        f"a scenario is a file's path or a mapping, not {type(scenario).__name__}"
    )
