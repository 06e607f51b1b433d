"""Account data (spec v1.19, Client-Server API "Client Config", account-data.yaml), and the
account_data sections a sync delivers (``AccountData.account_data_since``)."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import quote, test_config
from spec_schemas import assert_matches_spec

V3 = "/_matrix/client/v3"
GLOBAL_PATH = "/user/{userId}/account_data/{type}"
ROOM_PATH = "/user/{userId}/rooms/{roomId}/account_data/{type}"


def global_path(user_id: str, data_type: str) -> str:
    return f"{V3}/user/{quote(user_id)}/account_data/{quote(data_type)}"


def room_path(user_id: str, room_id: str, data_type: str) -> str:
    return f"{V3}/user/{quote(user_id)}/rooms/{quote(room_id)}/account_data/{quote(data_type)}"


async def test_global_account_data_is_read_back_as_set(hs):
    alice = await hs.register()
    content = {"@bob:localhost": ["!room:localhost"]}
    body = await hs.request("PUT", global_path(alice.user_id, "m.direct"), alice, json=content)
    assert body == {}
    assert_matches_spec(body, "account-data.yaml", GLOBAL_PATH, "put")
    body = await hs.request("GET", global_path(alice.user_id, "m.direct"), alice)
    assert body == content
    assert_matches_spec(body, "account-data.yaml", GLOBAL_PATH, "get")


async def test_setting_again_replaces_the_content(hs):
    alice = await hs.register()
    await hs.request("PUT", global_path(alice.user_id, "org.example"), alice, json={"a": 1})
    await hs.request("PUT", global_path(alice.user_id, "org.example"), alice, json={"b": 2})
    assert await hs.request("GET", global_path(alice.user_id, "org.example"), alice) == {"b": 2}


async def test_an_unset_type_is_404_not_found(hs):
    alice = await hs.register()
    body = await hs.request("GET", global_path(alice.user_id, "m.direct"), alice, expect=404)
    assert body["errcode"] == "M_NOT_FOUND"


async def test_room_account_data_is_separate_from_global(hs):
    alice = await hs.register()
    room = "!abc:localhost"
    await hs.request("PUT", room_path(alice.user_id, room, "m.tag"), alice, json={"tags": {}})
    body = await hs.request("GET", room_path(alice.user_id, room, "m.tag"), alice)
    assert body == {"tags": {}}
    assert_matches_spec(body, "account-data.yaml", ROOM_PATH, "get")
    await hs.request("GET", global_path(alice.user_id, "m.tag"), alice, expect=404)
    await hs.request("GET", room_path(alice.user_id, "!other:localhost", "m.tag"), alice, expect=404)


async def test_room_account_data_with_a_malformed_room_id_is_400_invalid_param(hs):
    alice = await hs.register()
    body = await hs.request("PUT", room_path(alice.user_id, "not-a-room", "m.tag"), alice,
                            json={}, expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"
    body = await hs.request("GET", room_path(alice.user_id, "not-a-room", "m.tag"), alice,
                            expect=400)
    assert body["errcode"] == "M_INVALID_PARAM"


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_another_users_account_data_is_403(hs, method):
    alice, bob = await hs.register(), await hs.register()
    body = await hs.request(method, global_path(bob.user_id, "m.direct"), alice,
                            json={} if method == "PUT" else None, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"
    body = await hs.request(method, room_path(bob.user_id, "!r:localhost", "m.tag"), alice,
                            json={} if method == "PUT" else None, expect=403)
    assert body["errcode"] == "M_FORBIDDEN"


@pytest.mark.parametrize("data_type", ["m.fully_read", "m.push_rules"])
async def test_server_managed_types_are_refused_with_405_bad_json(hs, data_type):
    alice = await hs.register()
    body = await hs.request("PUT", global_path(alice.user_id, data_type), alice,
                            json={"event_id": "$x"}, expect=405)
    assert body["errcode"] == "M_BAD_JSON"
    body = await hs.request("PUT", room_path(alice.user_id, "!r:localhost", data_type), alice,
                            json={"event_id": "$x"}, expect=405)
    assert body["errcode"] == "M_BAD_JSON"


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"12", b"null", b"{"])
async def test_content_that_is_not_a_json_object_is_400(hs, raw):
    alice = await hs.register()
    body = await hs.request("PUT", global_path(alice.user_id, "org.example"), alice, data=raw,
                            headers={"Content-Type": "application/json"}, expect=400)
    assert body["errcode"] in ("M_BAD_JSON", "M_NOT_JSON")


async def test_m_push_rules_reads_as_the_server_default_rules(hs):
    alice = await hs.register()
    body = await hs.request("GET", global_path(alice.user_id, "m.push_rules"), alice)
    assert [rule["rule_id"] for rule in body["global"]["override"]][0] == ".m.rule.master"


async def test_account_data_needs_an_access_token(hs):
    alice = await hs.register()
    body = await hs.request("GET", global_path(alice.user_id, "m.direct"), expect=401)
    assert body["errcode"] == "M_MISSING_TOKEN"


async def test_account_data_survives_a_restart(tmp_path, make_homeserver):
    config = test_config()
    config.database = dataclasses.replace(config.database, path=str(tmp_path / "hs.db"))
    first = await make_homeserver(config)
    alice = await first.register("alice")
    await first.request("PUT", global_path(alice.user_id, "m.direct"), alice, json={"k": "v"})
    await first.http.close()
    second = await make_homeserver(config)
    assert await second.request("GET", global_path(alice.user_id, "m.direct"), alice) == {"k": "v"}


# --- delivery in sync ----------------------------------------------------------------------------


async def test_initial_sync_account_data_has_everything_and_the_push_rules(hs):
    alice = await hs.register()
    await hs.request("PUT", global_path(alice.user_id, "m.direct"), alice, json={"k": 1})
    await hs.request("PUT", room_path(alice.user_id, "!r:localhost", "m.tag"), alice,
                     json={"tags": {"u.work": {}}})
    section = await hs.homeserver.account_data.account_data_since(alice.user_id, None)
    assert [event["type"] for event in section["global"]] == ["m.push_rules", "m.direct"]
    assert section["global"][1] == {"type": "m.direct", "content": {"k": 1}}
    assert section["rooms"] == {"!r:localhost": [{"type": "m.tag", "content": {"tags": {"u.work": {}}}}]}


async def test_incremental_sync_account_data_has_only_what_changed_since(hs):
    alice = await hs.register()
    account_data = hs.homeserver.account_data
    await hs.request("PUT", global_path(alice.user_id, "m.direct"), alice, json={"k": 1})
    since = hs.homeserver.stream.position
    assert await account_data.account_data_since(alice.user_id, since) == {"global": [], "rooms": {}}
    await hs.request("PUT", global_path(alice.user_id, "org.example"), alice, json={"x": True})
    section = await account_data.account_data_since(alice.user_id, since)
    assert section == {"global": [{"type": "org.example", "content": {"x": True}}], "rooms": {}}
    assert hs.homeserver.stream.position > since


async def test_sync_account_data_is_only_the_users_own(hs):
    alice, bob = await hs.register(), await hs.register()
    await hs.request("PUT", global_path(bob.user_id, "m.direct"), bob, json={"k": 1})
    section = await hs.homeserver.account_data.account_data_since(alice.user_id, 0)
    assert section == {"global": [], "rooms": {}}


async def test_an_account_data_change_concerns_its_owner_only(hs):
    alice, bob = await hs.register(), await hs.register()
    stream = hs.homeserver.stream
    before = stream.position
    await hs.request("PUT", global_path(alice.user_id, "m.direct"), alice, json={})
    assert stream.changed_since(alice.user_id, before)
    assert not stream.changed_since(bob.user_id, before)
