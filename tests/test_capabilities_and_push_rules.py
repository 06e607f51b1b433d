"""GET /capabilities (spec v1.19 "Capabilities negotiation", capabilities.yaml) and the push
rules API (spec "Push Rules: API", pushrules.yaml)."""

from __future__ import annotations

from spec_schemas import assert_matches_spec

V3 = "/_matrix/client/v3"


async def test_capabilities_say_what_minihs_really_allows(hs):
    alice = await hs.register()
    body = await hs.request("GET", f"{V3}/capabilities", alice)
    assert_matches_spec(body, "capabilities.yaml", "/capabilities", "get")
    capabilities = body["capabilities"]
    assert capabilities["m.change_password"] == {"enabled": False}
    assert capabilities["m.set_displayname"] == {"enabled": True}
    assert capabilities["m.set_avatar_url"] == {"enabled": True}
    assert capabilities["m.3pid_changes"] == {"enabled": False}
    assert capabilities["m.get_login_token"] == {"enabled": False}


async def test_capabilities_list_the_supported_room_versions_and_the_default(make_homeserver):
    hs = await make_homeserver(rooms={"default_room_version": "11"})
    alice = await hs.register()
    versions = (await hs.request("GET", f"{V3}/capabilities", alice))["capabilities"]["m.room_versions"]
    assert versions == {"default": "11", "available": {"10": "stable", "11": "stable", "12": "stable"}}


async def test_capabilities_need_an_access_token(hs):
    body = await hs.request("GET", f"{V3}/capabilities", expect=401)
    assert body["errcode"] == "M_MISSING_TOKEN"


async def test_push_rules_are_the_server_default_rules_for_the_user(hs):
    alice = await hs.register()
    body = await hs.request("GET", f"{V3}/pushrules/", alice)
    assert_matches_spec(body, "pushrules.yaml", "/pushrules/", "get")
    rules = {rule["rule_id"]: rule for rule in body["global"]["override"]}
    invite = rules[".m.rule.invite_for_me"]
    assert {"kind": "event_match", "key": "state_key", "pattern": alice.user_id} in invite["conditions"]


async def test_global_push_rules_are_the_ruleset_itself(hs):
    alice = await hs.register()
    body = await hs.request("GET", f"{V3}/pushrules/global/", alice)
    assert_matches_spec(body, "pushrules.yaml", "/pushrules/global/", "get")
    assert body == (await hs.request("GET", f"{V3}/pushrules/", alice))["global"]


async def test_changing_a_push_rule_is_not_served(hs):
    alice = await hs.register()
    body = await hs.request("PUT", f"{V3}/pushrules/global/override/my.rule", alice,
                            json={"actions": []}, expect=404)
    assert body["errcode"] == "M_UNRECOGNIZED"


async def test_push_rules_and_capabilities_are_served_under_r0_too(hs):
    alice = await hs.register()
    await hs.request("GET", "/_matrix/client/r0/pushrules/", alice)
    await hs.request("GET", "/_matrix/client/r0/capabilities", alice)
