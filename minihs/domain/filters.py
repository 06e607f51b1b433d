"""Filters: uploading, reading back, and resolving the ``filter`` parameter of ``/sync`` and
``/messages`` (spec: "Filtering"). Definitions are stored as the client sent them (canonical
JSON) and parsed again when used; parsed ones are cached per (user, ID)."""

from __future__ import annotations

import json
from typing import Any

from minihs.spec.errors import MatrixError, bad_json, forbidden, not_found
from minihs.spec.filters import DEFAULT_FILTER, Filter, decode_filter_json, parse_filter
from minihs.spec.json_codec import dumps
from minihs.store.filters import FilterStore

_MAX_FILTER_ID = 2**62
# The deepest a filter goes is four levels (room > timeline > types > a string).


class Filters:
    def __init__(self, store: FilterStore) -> None:
        self._store = store
        self._parsed: dict[tuple[str, int], Filter] = {}

    async def upload(self, requester: str, user_id: str, body: dict[str, Any]) -> str:
        """POST /user/{userId}/filter: store a definition, return its ID (a string)."""
        if requester != user_id:
            raise forbidden("Cannot create filters for other users")
        parse_filter(body)  # refuse what the schema refuses, before storing it
        filter_id = await self._store.add(user_id, dumps(body).decode("utf-8"))
        return str(filter_id)

    async def definition(self, requester: str, user_id: str, filter_id: str) -> dict[str, Any]:
        """GET /user/{userId}/filter/{filterId}: the definition as uploaded."""
        if requester != user_id:
            raise forbidden("Cannot get filters for other users")
        text = await self._stored(user_id, filter_id)
        return json.loads(text)

    async def _stored(self, user_id: str, filter_id: str) -> str:
        number = self._number(filter_id)
        text = None if number is None else await self._store.get(user_id, number)
        if text is None:
            raise not_found("No such filter")
        return text

    @staticmethod
    def _number(filter_id: str) -> int | None:
        if not filter_id.isascii() or not filter_id.isdigit() or len(filter_id) > 18:
            return None
        number = int(filter_id)
        return number if number < _MAX_FILTER_ID else None

    async def resolve(self, user_id: str, value: str | None) -> Filter:
        """The ``filter`` query parameter: absent, a filter ID, or an inline JSON definition
        (spec: it is JSON when it starts with ``{``)."""
        if value is None:
            return DEFAULT_FILTER
        if value.lstrip().startswith("{"):
            return parse_filter(decode_filter_json(value))
        number = self._number(value)
        if number is None:
            raise bad_json("'filter' must be a filter ID or a JSON filter definition")
        cached = self._parsed.get((user_id, number))
        if cached is None:
            text = await self._store.get(user_id, number)
            if text is None:
                # Synapse answers 400 M_UNKNOWN here; the ID is a parameter that names nothing.
                raise MatrixError(400, "M_INVALID_PARAM", f"No filter {value} for this user")
            cached = self._parsed[(user_id, number)] = parse_filter(json.loads(text))
        return cached

    def clear_caches(self) -> None:
        self._parsed.clear()
