"""Scenarios: the world a test starts from, declared in a file and loaded in one step.

A scenario (YAML or JSON; the README's "Scenarios" section is its reference) declares users,
rooms with their members in each membership state, and messages. Loading it answers a map from
the file's names to the real IDs and access tokens::

    {"users": {"<name>": {"user_id", "access_token", "device_id", "password"}},
     "rooms": {"<name>": {"room_id", "alias"}},
     "messages": {"<name>": {"event_id", "room_id"}}}

Everything passes through the rules the HTTP API applies (:mod:`.apply`), so a scenario never
builds a state a real server could not reach. One that breaks a rule is refused with a 400
MatrixError carrying the rule's errcode, ``"<source> line N: <dotted key>: <what and which
rule>"`` and ``"line": N``, and leaves nothing behind: the load holds the request gate alone
(no request sees half a scenario) and, should a step fail, the server is restored to a snapshot
taken just before it.

The steps: :mod:`.document` (text to values, with lines), :mod:`.parse` (keys, types, names),
:mod:`.apply` (the domain's rules, then the writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import orjson

from minihs.domain.scenarios.apply import apply, prepare
from minihs.domain.scenarios.document import Document, Rejected, dotted, from_text
from minihs.domain.scenarios.parse import parse
from minihs.spec.errors import MatrixError

if TYPE_CHECKING:
    from minihs.domain.homeserver import Homeserver

# The snapshot a load rolls back to: an internal one, which the admin API never lists or
# reaches, so that no snapshot of a test's own can be mistaken for it or replace it.
ROLLBACK_SNAPSHOT = "scenario-rollback"

__all__ = ["ROLLBACK_SNAPSHOT", "load"]


async def load(
    hs: "Homeserver",
    data: str | bytes | Mapping[str, Any],
    *,
    source: str = "scenario",
    syntax: str | None = None,
) -> dict[str, Any]:
    """Load a scenario: its text (``syntax`` "json", "yaml", or None to tell from the text)
    or its values as a mapping. ``source`` names it in error messages (a file's path). Returns
    the ID map; raises the MatrixError of the first rule it breaks (status 400)."""
    with _no_cycle_collection():
        return await _load(hs, data, source, syntax)


async def _load(hs: "Homeserver", data: Any, source: str, syntax: str | None) -> dict[str, Any]:
    document = Document(None, source)
    try:
        if isinstance(data, (str, bytes)):
            document = from_text(data, source, syntax, hs.config.limits.max_json_depth)
        else:
            document = Document(_copy(data), source)
        prepared = prepare(hs, parse(document.data))
    except Rejected as rejected:
        raise _refusal(document, rejected) from None
    except RecursionError:  # values given as a mapping have no depth limit of their own
        raise _refusal(document, Rejected("nested too deeply")) from None
    # Once started, a load runs to its end (or its rollback) even if its caller is cancelled:
    # no half-loaded scenario, no gate left shut.
    return await asyncio.shield(asyncio.ensure_future(_load_whole(hs, prepared, document)))


async def _load_whole(hs: "Homeserver", prepared: Any, document: Document) -> dict[str, Any]:
    async with hs.gate.exclusive():
        await hs.snapshots.take(ROLLBACK_SNAPSHOT, internal=True)
        try:
            return await apply(hs, prepared)
        except BaseException as error:
            await hs.snapshots.restore(ROLLBACK_SNAPSHOT, internal=True)
            if isinstance(error, Rejected):
                raise _refusal(document, error) from None
            raise
        finally:
            hs.snapshots.delete(ROLLBACK_SNAPSHOT, internal=True)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A load allocates a million objects that all live on (events, room states, the map):
    Python's cycle collector would walk them again and again as they arrive, and find nothing
    to free (a fifth of a 1,000-room load, measured). It resumes afterwards; the load holds
    the request gate meanwhile, so nothing else of this server runs."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _copy(data: Mapping[str, Any]) -> Any:
    """The caller's values, copied: their objects must not end up inside events (nor be shared
    with the thread that gave them). JSON values copy fast through JSON; anything else (what
    the checks will name and refuse) the slow way."""
    try:
        return orjson.loads(orjson.dumps(data))
    except TypeError:  # orjson's error for a value or key it cannot write
        return copy.deepcopy(dict(data))


def _refusal(document: Document, rejected: Rejected) -> MatrixError:
    line = rejected.line if rejected.line is not None else document.line_of(rejected.path)
    where = document.source if line is None else f"{document.source} line {line}"
    about = f"{dotted(rejected.path)}: " if rejected.path else ""
    return MatrixError(
        400, rejected.errcode, f"{where}: {about}{rejected.message}", extra={"line": line}
    )
