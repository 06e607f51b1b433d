"""The domain: the state a homeserver keeps and the rules that change it.

Accounts and their tokens, rooms and their events, the membership rules, room creation, the
joined-room index and the Mutual Rooms API, gathered by :class:`~minihs.domain.homeserver.Homeserver`.
Nothing here knows HTTP (import-linter keeps aiohttp out); SQL lives in :mod:`minihs.store`.
"""
