"""Profiles: a user's display name and avatar URL, and carrying them into their rooms.

Spec: Client-Server API, "Profiles". A change is written first, then a new join -> join member
event with the new profile is sent in each room the user is joined to (as Synapse does), so the
other members see it in their timelines.
"""

from __future__ import annotations

from typing import Any

from minihs.domain.rooms import Rooms
from minihs.spec.errors import forbidden, invalid_param, not_found
from minihs.spec.ids import is_valid_user_id
from minihs.store.profiles import ProfileStore, StoredProfile

# Synapse's limits (synapse/handlers/profile.py): longer values are refused, not cut.
MAX_LENGTHS = {"displayname": 256, "avatar_url": 1000}


def profile_fields(profile: StoredProfile) -> dict[str, str]:
    """The fields that are set: unset ones are left out, as the spec's profile says."""
    fields = {"displayname": profile.displayname, "avatar_url": profile.avatar_url}
    return {key: value for key, value in fields.items() if value is not None}


# How many users' profiles the join path keeps at hand (about 200 bytes each).
MEMBER_PROFILE_CACHE_SIZE = 100_000


class Profiles:
    def __init__(self, store: ProfileStore, rooms: Rooms) -> None:
        self._store = store
        self._rooms = rooms
        # user_id -> the fields a join carries. Every join reads it: kept in memory, a join costs
        # no extra database round trip. Written on registration and on every change.
        self._member_profiles: dict[str, dict[str, str]] = {}

    def clear_caches(self) -> None:
        self._member_profiles.clear()

    def _remember(self, user_id: str, fields: dict[str, str]) -> None:
        cache = self._member_profiles
        cache.pop(user_id, None)
        if len(cache) >= MEMBER_PROFILE_CACHE_SIZE:
            del cache[next(iter(cache))]  # the least recently written
        cache[user_id] = fields

    def registered(self, user_id: str) -> None:
        """A new account's profile, as registration wrote it: the localpart as display name."""
        self._remember(user_id, {"displayname": user_id[1:].partition(":")[0]})

    async def _stored(self, user_id: str) -> StoredProfile:
        if not is_valid_user_id(user_id):
            raise invalid_param("Invalid user id")
        profile = await self._store.profile_of(user_id)
        if profile is None:
            raise not_found("Profile was not found")
        return profile

    async def profile(self, user_id: str) -> dict[str, str]:
        """GET /profile/{userId}: 404 for an unknown user or one with nothing set (as Synapse)."""
        fields = profile_fields(await self._stored(user_id))
        if not fields:
            raise not_found("Profile was not found")
        return fields

    async def field(self, user_id: str, name: str) -> dict[str, str]:
        """GET /profile/{userId}/{keyName}: 404 when the field is not set (spec: "There is no
        profile field with this key for this user")."""
        value = profile_fields(await self._stored(user_id)).get(name)
        if value is None:
            raise not_found(f"The user has no {name}")
        return {name: value}

    async def member_profile(self, user_id: str) -> dict[str, str]:
        """What a join puts into the member event: the fields that are set."""
        fields = self._member_profiles.get(user_id)
        if fields is None:
            profile = await self._store.profile_of(user_id)
            fields = {} if profile is None else profile_fields(profile)
            if profile is not None:
                self._remember(user_id, fields)
        return dict(fields)

    @staticmethod
    def check_settable(requester: str, user_id: str, name: str) -> None:
        """May ``requester`` set field ``name`` of ``user_id``'s profile?"""
        if not is_valid_user_id(user_id):
            raise invalid_param("Invalid user id")
        if user_id != requester:
            raise forbidden(f"Cannot set another user's {name}")
        if name not in MAX_LENGTHS:
            raise forbidden(f"Profile field {name!r} cannot be set here")

    async def set_field(self, requester: str, user_id: str, name: str, value: Any) -> None:
        """PUT /profile/{userId}/{keyName}, then the member event in every joined room."""
        self.check_settable(requester, user_id, name)
        # Spec: "Servers MAY reject null values"; Synapse does, and so does minihs.
        if not isinstance(value, str):
            raise invalid_param(f"'{name}' must be a string")
        limit = MAX_LENGTHS[name]
        if len(value) > limit:
            raise invalid_param(f"'{name}' is too long (max {limit})")
        if name == "displayname":
            value = value.strip()
        # An empty value clears the field, as Synapse treats it.
        await self._store.set_field(user_id, name, value or None)
        profile = await self._store.profile_of(user_id)
        fields = {} if profile is None else profile_fields(profile)
        self._remember(user_id, fields)
        await self._rooms.update_profile_in_rooms(user_id, dict(fields))
