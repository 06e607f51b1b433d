"""What minihs does not serve answers 404 M_UNRECOGNIZED at once (README: "What minihs does not
serve"), so a client sees a missing feature, not a failure."""

from __future__ import annotations

import pytest

NOT_SERVED = [
    ("POST", "/_matrix/client/v3/keys/upload"),
    ("POST", "/_matrix/client/v3/keys/query"),
    ("PUT", "/_matrix/client/v3/sendToDevice/m.room_key_request/1"),
    ("GET", "/_matrix/client/v3/devices"),
    ("GET", "/_matrix/client/v3/room_keys/version"),
    ("GET", "/_matrix/media/v3/config"),
    ("GET", "/_matrix/client/v1/media/config"),
    ("GET", "/_matrix/federation/v1/version"),
    ("GET", "/_matrix/key/v2/server"),
    ("PUT", "/_matrix/client/v3/rooms/!r:localhost/redact/$e/1"),
    ("GET", "/_matrix/client/v1/rooms/!r:localhost/relations/$e"),
    ("POST", "/_matrix/client/v3/search"),
    ("GET", "/_matrix/client/v3/publicRooms"),
    ("PUT", "/_matrix/client/v3/pushrules/global/override/mine"),
    ("GET", "/_matrix/client/v3/pushers"),
    ("POST", "/_matrix/client/v3/knock/!r:localhost"),
    ("GET", "/_matrix/client/v3/voip/turnServer"),
]


@pytest.mark.parametrize(("method", "path"), NOT_SERVED)
async def test_an_endpoint_outside_the_slice_is_404_unrecognized(hs, method, path):
    alice = await hs.register()
    body = await hs.request(method, path, alice, expect=404)
    assert body["errcode"] == "M_UNRECOGNIZED"
