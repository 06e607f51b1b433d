"""The server-default push rules every user starts with.

Spec: Client-Server API, "Push Notifications" > "Predefined Rules" (v1.19). Each rule's
``rule_id`` starts with a dot, marking it as server-default; ``.m.rule.master`` outranks every
other rule and is off by default. minihs sends no pushes (it has no pushers), but clients read
the rules at start (matrix-js-sdk will not reach ``PREPARED`` without them) to decide what to
highlight, so they are served as the spec defines them, in the spec's order.
"""

from __future__ import annotations

from typing import Any

Rule = dict[str, Any]

NOTIFY = "notify"
SOUND_DEFAULT = {"set_tweak": "sound", "value": "default"}
SOUND_RING = {"set_tweak": "sound", "value": "ring"}
HIGHLIGHT = {"set_tweak": "highlight"}


def _rule(rule_id: str, conditions: list[dict[str, Any]], actions: list[Any], *, enabled: bool = True) -> Rule:
    return {
        "rule_id": rule_id,
        "default": True,
        "enabled": enabled,
        "conditions": conditions,
        "actions": actions,
    }


def _event_match(key: str, pattern: str) -> dict[str, str]:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _override_rules(user_id: str) -> list[Rule]:
    """"Default Override Rules", in the spec's order."""
    return [
        _rule(".m.rule.master", [], [], enabled=False),
        _rule(".m.rule.suppress_notices", [_event_match("content.msgtype", "m.notice")], []),
        _rule(
            ".m.rule.invite_for_me",
            [
                _event_match("type", "m.room.member"),
                _event_match("content.membership", "invite"),
                _event_match("state_key", user_id),
            ],
            [NOTIFY, SOUND_DEFAULT],
        ),
        _rule(".m.rule.member_event", [_event_match("type", "m.room.member")], []),
        _rule(
            ".m.rule.is_user_mention",
            # The dot inside "m.mentions" is escaped: the key names one property, not two.
            [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": user_id}],
            [NOTIFY, SOUND_DEFAULT, HIGHLIGHT],
        ),
        _rule(
            ".m.rule.contains_display_name",
            [{"kind": "contains_display_name"}],
            [NOTIFY, SOUND_DEFAULT, HIGHLIGHT],
        ),
        _rule(
            ".m.rule.is_room_mention",
            [
                {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            [NOTIFY, HIGHLIGHT],
        ),
        _rule(
            ".m.rule.roomnotif",
            [
                _event_match("content.body", "@room"),
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            [NOTIFY, HIGHLIGHT],
        ),
        _rule(
            ".m.rule.tombstone",
            [_event_match("type", "m.room.tombstone"), _event_match("state_key", "")],
            [NOTIFY, HIGHLIGHT],
        ),
        _rule(".m.rule.reaction", [_event_match("type", "m.reaction")], []),
        _rule(
            ".m.rule.room.server_acl",
            [_event_match("type", "m.room.server_acl"), _event_match("state_key", "")],
            [],
        ),
        _rule(
            ".m.rule.suppress_edits",
            [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type", "value": "m.replace"}],
            [],
        ),
    ]


def _content_rules(localpart: str) -> list[Rule]:
    """"Default Content Rules": content rules carry a ``pattern``, not ``conditions``."""
    return [
        {
            "rule_id": ".m.rule.contains_user_name",
            "default": True,
            "enabled": True,
            "pattern": localpart,
            "actions": [NOTIFY, SOUND_DEFAULT, HIGHLIGHT],
        }
    ]


def _underride_rules() -> list[Rule]:
    """"Default Underride Rules", in the spec's order."""
    one_to_one = {"kind": "room_member_count", "is": "2"}
    return [
        _rule(".m.rule.call", [_event_match("type", "m.call.invite")], [NOTIFY, SOUND_RING]),
        _rule(
            ".m.rule.encrypted_room_one_to_one",
            [one_to_one, _event_match("type", "m.room.encrypted")],
            [NOTIFY, SOUND_DEFAULT],
        ),
        _rule(
            ".m.rule.room_one_to_one",
            [one_to_one, _event_match("type", "m.room.message")],
            [NOTIFY, SOUND_DEFAULT],
        ),
        _rule(".m.rule.message", [_event_match("type", "m.room.message")], [NOTIFY]),
        _rule(".m.rule.encrypted", [_event_match("type", "m.room.encrypted")], [NOTIFY]),
    ]


def server_default_ruleset(user_id: str) -> dict[str, list[Rule]]:
    """The ``global`` ruleset of ``GET /pushrules/`` for a user with no rules of their own.

    ``user_id`` must be a valid user ID (``@localpart:server``): two rules name the user.
    """
    localpart = user_id[1:].partition(":")[0]
    return {
        "override": _override_rules(user_id),
        "content": _content_rules(localpart),
        "room": [],
        "sender": [],
        "underride": _underride_rules(),
    }
