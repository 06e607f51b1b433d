"""The Mutual Rooms API: ``GET /_matrix/client/v1/mutual_rooms`` and its unstable MSC2666 path.

Spec: Client-Server API v1.19, "Mutual Rooms" (``../shared/spec/mutual_rooms.yaml``).
"""

from __future__ import annotations

from aiohttp import web

from minihs.api.request import homeserver, query_param, requester
from minihs.spec.errors import invalid_param
from minihs.spec.ids import is_valid_user_id
from minihs.api.responses import json_response
from minihs.domain.mutual_rooms import MutualRoomsPage

STABLE_PATH = "/_matrix/client/v1/mutual_rooms"
UNSTABLE_PATH = "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms"


async def _mutual_rooms_page(request: web.Request, from_token: str | None) -> MutualRoomsPage:
    hs = homeserver(request)
    # Spec: guests are refused (403 M_GUEST_ACCESS_FORBIDDEN). minihs has no guests to refuse:
    # POST /register?kind=guest is 403, so every access token belongs to a full user.
    who = await requester(request)
    hs.ratelimits.mutual_rooms_per_user.check(who.user_id)
    # Spec 400: "the `user_id` parameter was missing, non-compliant, or was the sender's own
    # user ID". All three are M_INVALID_PARAM, as the spec's example shows.
    other = query_param(request, "user_id")
    if other is None:
        raise invalid_param("The 'user_id' query parameter is required")
    if not is_valid_user_id(other):
        raise invalid_param("The user ID provided was invalid")
    if other == who.user_id:
        raise invalid_param("You cannot request a list of mutual rooms with yourself")
    # Spec 200: "If the provided `user_id` is not a valid user, the server MUST return an empty
    # list of rooms" -- an unknown user simply has no joined rooms in the index.
    return hs.mutual_rooms.page(who.user_id, other, from_token)


async def mutual_rooms(request: web.Request) -> web.Response:
    """GET /_matrix/client/v1/mutual_rooms

    Spec: "Mutual Rooms" > GET /_matrix/client/v1/mutual_rooms (query ``user_id``, ``from``).
    """
    page = await _mutual_rooms_page(request, query_param(request, "from"))
    body: dict = {"joined": page.joined, "count": page.count}
    if page.next_batch is not None:  # "absent if there are no more results to return"
        body["next_batch"] = page.next_batch
    return json_response(body)


async def mutual_rooms_unstable(request: web.Request) -> web.Response:
    """GET /_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms

    MSC2666 before stabilisation, as matrix-js-sdk still calls it: the token comes as
    ``batch_token`` and goes back as ``next_batch_token``. Same semantics as the stable path.
    The token also goes back as the stable ``next_batch``, which ruma and tuwunel read on this
    path too, and ``count`` is on every answer (matrix-dart-sdk requires it).
    """
    batch_token = query_param(request, "batch_token")
    from_token = query_param(request, "from")
    if batch_token is not None and from_token is not None:
        raise invalid_param("Give either 'batch_token' or 'from', not both")
    page = await _mutual_rooms_page(request, batch_token if batch_token is not None else from_token)
    body: dict = {"joined": page.joined, "count": page.count}
    if page.next_batch is not None:
        body["next_batch_token"] = body["next_batch"] = page.next_batch
    return json_response(body)


ROUTES = [
    ("GET", STABLE_PATH, mutual_rooms),
    ("GET", UNSTABLE_PATH, mutual_rooms_unstable),
]
