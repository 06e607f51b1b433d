"""The server-default push rules (spec: "Push Notifications" > "Predefined Rules")."""

from __future__ import annotations

from minihs.spec.push_rules import server_default_ruleset
from spec_schemas import assert_matches_spec

ALICE = "@alice:example.org"


def rule_ids(rules):
    return [rule["rule_id"] for rule in rules]


def test_the_ruleset_matches_the_spec_schema():
    assert_matches_spec({"global": server_default_ruleset(ALICE)}, "pushrules.yaml", "/pushrules/", "get")


def test_every_server_default_rule_id_starts_with_a_dot():
    ruleset = server_default_ruleset(ALICE)
    assert all(rule_id.startswith(".") for rules in ruleset.values() for rule_id in rule_ids(rules))


def test_the_master_rule_comes_first_and_is_disabled():
    master = server_default_ruleset(ALICE)["override"][0]
    assert master["rule_id"] == ".m.rule.master"
    assert master["enabled"] is False


def test_invite_for_me_and_user_mention_name_the_user():
    override = {rule["rule_id"]: rule for rule in server_default_ruleset(ALICE)["override"]}
    invite_conditions = override[".m.rule.invite_for_me"]["conditions"]
    assert {"kind": "event_match", "key": "state_key", "pattern": ALICE} in invite_conditions
    assert override[".m.rule.is_user_mention"]["conditions"][0]["value"] == ALICE


def test_contains_user_name_matches_the_localpart():
    (content_rule,) = server_default_ruleset(ALICE)["content"]
    assert content_rule["rule_id"] == ".m.rule.contains_user_name"
    assert content_rule["pattern"] == "alice"


def test_the_rule_kinds_hold_the_spec_defaults_in_order():
    ruleset = server_default_ruleset(ALICE)
    assert rule_ids(ruleset["underride"]) == [
        ".m.rule.call",
        ".m.rule.encrypted_room_one_to_one",
        ".m.rule.room_one_to_one",
        ".m.rule.message",
        ".m.rule.encrypted",
    ]
    assert ruleset["room"] == [] and ruleset["sender"] == []
    assert len(ruleset["override"]) == 12


def test_each_user_gets_a_ruleset_of_their_own():
    mine = server_default_ruleset(ALICE)
    mine["override"][0]["enabled"] = True
    assert server_default_ruleset(ALICE)["override"][0]["enabled"] is False
