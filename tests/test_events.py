"""Events by the room-version rules: content hash, redaction, reference hash, event and room IDs.

Spec: server-server API "Calculating the content hash for an event" and "Calculating the
reference hash for an event", the room version pages (v10, v11, v12: "Event IDs", "Redactions",
"Room IDs") and the appendix "Canonical JSON". Known-answer vectors come from the spec's
appendix ("Event Signing") and from Synapse's tests for v12 room IDs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from canonicaljson import encode_canonical_json

from minihs.spec.errors import MatrixError
from minihs.spec.events import (
    MAX_CONTENT_BYTES,
    ROOM_VERSIONS,
    build_event,
    check_content,
    content_hash,
    event_id_of,
    redact,
    reference_hash,
    room_id_from_create_event,
)

V10, V11, V12 = ROOM_VERSIONS["10"], ROOM_VERSIONS["11"], ROOM_VERSIONS["12"]
EVENT_ID = re.compile(r"\$[A-Za-z0-9_-]{43}")
V12_ROOM_ID = re.compile(r"![A-Za-z0-9_-]{43}")

# Spec appendix "Event Signing": the minimal event and its content hash.
SPEC_MINIMAL_EVENT = {
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "signatures": {},
    "hashes": {},
    "type": "X",
    "content": {},
    "prev_events": [],
    "auth_events": [],
    "depth": 3,
    "unsigned": {"age_ts": 1000000},
}
SPEC_MINIMAL_CONTENT_HASH = "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"

# Synapse rust/src/events/mod.rs, test_room_id_for_create_event_format_v4: a v12 create event.
SYNAPSE_V12_CREATE = {
    "auth_events": [],
    "prev_events": [],
    "type": "m.room.create",
    "sender": "@erikj:jki.re",
    "content": {"room_version": "12", "predecessor": {"room_id": "!VuNGkDTdbMOOxSmuDa:jki.re"}},
    "depth": 1,
    "state_key": "",
    "origin_server_ts": 1775568141481,
    "hashes": {"sha256": "qBX+glsKvogXFrvsEN0eh13pO2kpuE6o/b4yREPtOqw"},
    "signatures": {"jki.re": {"ed25519:a_key": "signatures are not covered by the hash"}},
    "unsigned": {"age_ts": 1775568141481},
}
SYNAPSE_V12_ROOM_ID = "!BeXKh925K_M46DwsuJFR0EyBpE1P7CFUDGuWW4xw55Y"


def _unpadded_b64decode(text: str, urlsafe: bool) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded) if urlsafe else base64.b64decode(padded)


# --- content hash ------------------------------------------------------------------------------


def test_content_hash_matches_the_spec_appendix_vector():
    assert content_hash(SPEC_MINIMAL_EVENT) == SPEC_MINIMAL_CONTENT_HASH


def test_content_hash_matches_synapse_for_a_v12_create_event():
    assert content_hash(SYNAPSE_V12_CREATE) == SYNAPSE_V12_CREATE["hashes"]["sha256"]


def test_content_hash_ignores_unsigned_signatures_and_hashes():
    changed = dict(SPEC_MINIMAL_EVENT, unsigned={"x": 1}, signatures={"a": {}}, hashes={"sha256": "x"})
    assert content_hash(changed) == SPEC_MINIMAL_CONTENT_HASH


def test_content_hash_covers_everything_else():
    assert content_hash(dict(SPEC_MINIMAL_EVENT, depth=4)) != SPEC_MINIMAL_CONTENT_HASH
    assert content_hash(dict(SPEC_MINIMAL_EVENT, content={"a": 1})) != SPEC_MINIMAL_CONTENT_HASH


def test_content_hash_is_unpadded_standard_base64_of_sha256_of_canonical_json():
    event = {"type": "m.room.message", "content": {"body": "\u00e9\u2603 ~~~ ???"}, "depth": 1}
    digest = hashlib.sha256(encode_canonical_json(event)).digest()
    encoded = content_hash(event)
    assert "=" not in encoded and "-" not in encoded and "_" not in encoded
    assert _unpadded_b64decode(encoded, urlsafe=False) == digest


# --- reference hash and event IDs --------------------------------------------------------------


def test_v12_room_id_matches_synapse_test_vector():
    event_id = event_id_of(V12, SYNAPSE_V12_CREATE)
    assert room_id_from_create_event(event_id) == SYNAPSE_V12_ROOM_ID


def test_v12_create_event_id_is_the_room_id_with_a_dollar_sigil():
    assert event_id_of(V12, SYNAPSE_V12_CREATE) == "$" + SYNAPSE_V12_ROOM_ID[1:]


def test_reference_hash_is_sha256_of_the_redacted_event_without_signatures_and_unsigned():
    redacted = redact(V12, SYNAPSE_V12_CREATE)
    del redacted["signatures"]
    expected = hashlib.sha256(encode_canonical_json(redacted)).digest()
    assert reference_hash(V12, SYNAPSE_V12_CREATE) == expected


def test_reference_hash_covers_the_content_hash():
    changed = dict(SYNAPSE_V12_CREATE, hashes={"sha256": "something else"})
    assert reference_hash(V12, changed) != reference_hash(V12, SYNAPSE_V12_CREATE)


def test_reference_hash_ignores_what_redaction_removes():
    member = {
        "type": "m.room.member",
        "state_key": "@a:hs",
        "sender": "@a:hs",
        "room_id": "!r:hs",
        "content": {"membership": "join", "displayname": "A"},
        "depth": 2,
        "prev_events": [],
        "auth_events": [],
        "origin_server_ts": 1,
        "hashes": {"sha256": "h"},
    }
    renamed = dict(member, content={"membership": "join", "displayname": "B"}, unsigned={"x": 1})
    for version in (V10, V11, V12):
        assert reference_hash(version, member) == reference_hash(version, renamed)


def test_event_ids_are_dollar_and_43_url_safe_base64_characters():
    for version in (V10, V11, V12):
        event = build_event(
            version,
            room_id="!r:hs" if version is not V12 else "!" + "A" * 43,
            event_type="m.room.message",
            sender="@a:hs",
            content={"body": "??>>??>>" * 20},
            state_key=None,
            prev_events=[],
            auth_events=[],
            depth=2,
            origin_server_ts=1234,
        )
        assert EVENT_ID.fullmatch(event.event_id), event.event_id
        assert _unpadded_b64decode(event.event_id[1:], urlsafe=True) == reference_hash(
            version, event.pdu
        )


def test_built_events_carry_their_content_hash_and_no_event_id():
    event = build_event(
        V11,
        room_id="!r:hs",
        event_type="m.room.topic",
        sender="@a:hs",
        content={"topic": "t"},
        state_key="",
        prev_events=["$p"],
        auth_events=["$a"],
        depth=5,
        origin_server_ts=1,
    )
    assert "event_id" not in event.pdu
    assert event.pdu["hashes"]["sha256"] == content_hash(event.pdu)
    assert set(event.pdu) == {
        "auth_events", "content", "depth", "hashes", "origin_server_ts", "prev_events",
        "room_id", "sender", "state_key", "type",
    }


def test_v12_create_event_has_no_room_id_and_derives_it():
    event = build_event(
        V12,
        room_id=None,
        event_type="m.room.create",
        sender="@a:hs",
        content={"room_version": "12"},
        state_key="",
        prev_events=[],
        auth_events=[],
        depth=1,
        origin_server_ts=1,
    )
    assert "room_id" not in event.pdu
    assert V12_ROOM_ID.fullmatch(event.room_id)
    assert ":" not in event.room_id
    assert event.room_id == "!" + event.event_id[1:]


# --- redaction, per room version ---------------------------------------------------------------

ALL_TOP_LEVEL = {
    "event_id": "$e",
    "type": "X",
    "room_id": "!r:hs",
    "sender": "@a:hs",
    "state_key": "",
    "content": {},
    "hashes": {"sha256": "h"},
    "signatures": {},
    "depth": 1,
    "prev_events": [],
    "prev_state": [],
    "auth_events": [],
    "origin": "hs",
    "origin_server_ts": 1,
    "membership": "join",
    "unsigned": {"age": 1},
    "redacts": "$x",
    "custom": 1,
}


def test_v10_redaction_keeps_the_v10_top_level_keys():
    assert set(redact(V10, ALL_TOP_LEVEL)) == {
        "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures",
        "depth", "prev_events", "prev_state", "auth_events", "origin", "origin_server_ts",
        "membership",
    }


@pytest.mark.parametrize("version", [V11, V12], ids=["v11", "v12"])
def test_v11_and_v12_redaction_drop_origin_membership_and_prev_state(version):
    assert set(redact(version, ALL_TOP_LEVEL)) == {
        "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures",
        "depth", "prev_events", "auth_events", "origin_server_ts",
    }


def _content_after_redaction(version, event_type, content):
    return redact(version, dict(ALL_TOP_LEVEL, type=event_type, content=content))["content"]


POWER_LEVELS = {
    "ban": 50, "events": {"m.room.name": 50}, "events_default": 0, "invite": 0, "kick": 50,
    "redact": 50, "state_default": 50, "users": {"@a:hs": 100}, "users_default": 0,
    "notifications": {"room": 50}, "historical": 100,
}


def test_v10_power_levels_redaction_drops_invite_and_notifications():
    kept = _content_after_redaction(V10, "m.room.power_levels", POWER_LEVELS)
    assert set(kept) == {
        "ban", "events", "events_default", "kick", "redact", "state_default", "users",
        "users_default",
    }


@pytest.mark.parametrize("version", [V11, V12], ids=["v11", "v12"])
def test_v11_and_v12_power_levels_redaction_keep_invite(version):
    kept = _content_after_redaction(version, "m.room.power_levels", POWER_LEVELS)
    assert set(kept) == {
        "ban", "events", "events_default", "invite", "kick", "redact", "state_default", "users",
        "users_default",
    }


def test_v10_create_redaction_keeps_only_creator():
    content = {"creator": "@a:hs", "room_version": "10", "m.federate": False}
    assert _content_after_redaction(V10, "m.room.create", content) == {"creator": "@a:hs"}


@pytest.mark.parametrize("version", [V11, V12], ids=["v11", "v12"])
def test_v11_and_v12_create_redaction_keep_all_content(version):
    content = {"room_version": "12", "additional_creators": ["@b:hs"], "custom": {"x": 1}}
    assert _content_after_redaction(version, "m.room.create", content) == content


@pytest.mark.parametrize("version", [V10, V11, V12], ids=["v10", "v11", "v12"])
def test_member_redaction_keeps_membership_and_join_authorisation(version):
    content = {
        "membership": "join",
        "join_authorised_via_users_server": "@b:hs",
        "displayname": "A",
        "reason": "r",
    }
    assert _content_after_redaction(version, "m.room.member", content) == {
        "membership": "join",
        "join_authorised_via_users_server": "@b:hs",
    }


def test_v10_member_redaction_drops_third_party_invite():
    content = {"membership": "invite", "third_party_invite": {"signed": {"x": 1}, "display_name": "d"}}
    assert _content_after_redaction(V10, "m.room.member", content) == {"membership": "invite"}


@pytest.mark.parametrize("version", [V11, V12], ids=["v11", "v12"])
def test_v11_and_v12_member_redaction_keep_only_signed_of_third_party_invite(version):
    content = {"membership": "invite", "third_party_invite": {"signed": {"x": 1}, "display_name": "d"}}
    assert _content_after_redaction(version, "m.room.member", content) == {
        "membership": "invite",
        "third_party_invite": {"signed": {"x": 1}},
    }


@pytest.mark.parametrize("version", [V11, V12], ids=["v11", "v12"])
def test_v11_and_v12_member_redaction_keep_an_empty_third_party_invite_without_signed(version):
    # As Synapse does: the object stays, emptied, so event IDs agree with it.
    content = {"membership": "join", "third_party_invite": {"display_name": "d"}}
    assert _content_after_redaction(version, "m.room.member", content) == {
        "membership": "join",
        "third_party_invite": {},
    }


@pytest.mark.parametrize("version", [V10, V11, V12], ids=["v10", "v11", "v12"])
def test_join_rules_and_history_visibility_redaction(version):
    join_rules = {"join_rule": "restricted", "allow": [{"type": "m.room_membership"}], "x": 1}
    assert _content_after_redaction(version, "m.room.join_rules", join_rules) == {
        "join_rule": "restricted",
        "allow": [{"type": "m.room_membership"}],
    }
    history = {"history_visibility": "shared", "x": 1}
    assert _content_after_redaction(version, "m.room.history_visibility", history) == {
        "history_visibility": "shared"
    }


def test_v10_redaction_event_content_is_emptied():
    assert _content_after_redaction(V10, "m.room.redaction", {"redacts": "$x", "reason": "r"}) == {}


@pytest.mark.parametrize("version", [V11, V12], ids=["v11", "v12"])
def test_v11_and_v12_redaction_event_keeps_redacts(version):
    kept = _content_after_redaction(version, "m.room.redaction", {"redacts": "$x", "reason": "r"})
    assert kept == {"redacts": "$x"}


@pytest.mark.parametrize("version", [V10, V11, V12], ids=["v10", "v11", "v12"])
def test_other_event_types_lose_all_content(version):
    content = {"name": "n", "body": "b", "membership": "join"}
    assert _content_after_redaction(version, "m.room.name", content) == {}


# --- content limits ----------------------------------------------------------------------------


def test_content_of_exactly_65536_bytes_is_accepted():
    padding = MAX_CONTENT_BYTES - len(encode_canonical_json({"a": ""}))
    content = {"a": "x" * padding}
    assert len(encode_canonical_json(content)) == MAX_CONTENT_BYTES
    check_content(content)


def test_content_over_65536_bytes_is_413_too_large():
    padding = MAX_CONTENT_BYTES - len(encode_canonical_json({"a": ""})) + 1
    with pytest.raises(MatrixError) as raised:
        check_content({"a": "x" * padding})
    assert (raised.value.status, raised.value.errcode) == (413, "M_TOO_LARGE")


@pytest.mark.parametrize(
    "content",
    [{"a": 1.5}, {"a": [{"b": 0.0}]}, {"a": 2**53}, {"a": -(2**53)}, {"a": float("nan")}],
    ids=["float", "nested-float", "too-big", "too-small", "nan"],
)
def test_content_that_is_not_canonical_json_is_400_bad_json(content):
    with pytest.raises(MatrixError) as raised:
        check_content(content)
    assert (raised.value.status, raised.value.errcode) == (400, "M_BAD_JSON")


# --- events as stored by the server ------------------------------------------------------------


async def _stored_events(hs) -> list[tuple[str, str, dict]]:
    rows = await hs.homeserver.db.read(
        lambda conn: conn.execute(
            "SELECT e.event_id, r.room_version, e.json FROM events e "
            "JOIN rooms r ON r.room_nid = e.room_nid ORDER BY e.stream_ordering"
        ).fetchall()
    )
    return [(event_id, version, json.loads(text)) for event_id, version, text in rows]


async def test_stored_event_ids_are_stable_under_recomputation(hs):
    alice, bob = await hs.register(), await hs.register()
    for version in ("10", "11", "12"):
        room = await hs.create_room(
            alice, room_version=version, preset="public_chat", name="n", topic="t"
        )
        await hs.join(bob, room, reason="hello")
        await hs.leave(bob, room)
    stored = await _stored_events(hs)
    assert len(stored) > 20
    for event_id, version, pdu in stored:
        assert EVENT_ID.fullmatch(event_id)
        assert pdu["hashes"]["sha256"] == content_hash(pdu)
        assert event_id_of(ROOM_VERSIONS[version], pdu) == event_id


async def test_default_room_version_room_id_is_derived_from_its_create_event(hs):
    alice = await hs.register()
    room = await hs.create_room(alice)
    assert V12_ROOM_ID.fullmatch(room)
    (_, _, create), = [e for e in await _stored_events(hs) if e[2]["type"] == "m.room.create"]
    assert "room_id" not in create
    digest = hashlib.sha256(
        encode_canonical_json(
            {k: v for k, v in create.items() if k not in ("signatures", "unsigned")}
        )
    ).digest()
    assert room == "!" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def test_v12_create_event_is_served_to_clients_with_the_room_id(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, room_version="12")
    event = await hs.request(
        "GET",
        f"/_matrix/client/v3/rooms/{room}/state/m.room.create/",
        alice,
        params={"format": "event"},
    )
    assert event["room_id"] == room
    assert event["event_id"] == "$" + room[1:]


async def test_v10_and_v11_room_ids_have_a_server_part_and_v12_none(hs):
    alice = await hs.register()
    for version in ("10", "11"):
        room = await hs.create_room(alice, room_version=version)
        assert room.startswith("!") and room.endswith(":" + hs.server_name)
    assert ":" not in await hs.create_room(alice, room_version="12")


async def test_v12_events_after_create_do_not_list_the_create_event_as_auth_event(hs):
    alice = await hs.register()
    room = await hs.create_room(alice, room_version="12")
    create_id = "$" + room[1:]
    for _, _, pdu in (await _stored_events(hs))[1:]:
        assert create_id not in pdu["auth_events"]
        assert pdu["room_id"] == room


async def test_v10_and_v11_events_after_create_list_the_create_event_as_auth_event(hs):
    alice = await hs.register()
    for version in ("10", "11"):
        await hs.create_room(alice, room_version=version)
    stored = await _stored_events(hs)
    creates = {pdu["room_id"]: eid for eid, _, pdu in stored if pdu["type"] == "m.room.create"}
    for event_id, _, pdu in stored:
        if pdu["type"] != "m.room.create":
            assert creates[pdu["room_id"]] in pdu["auth_events"]


async def test_v10_create_event_names_the_creator_and_v11_does_not(hs):
    alice = await hs.register()
    for version in ("10", "11", "12"):
        room = await hs.create_room(alice, room_version=version)
        content = await hs.state(alice, room, "m.room.create")
        assert content["room_version"] == version
        assert ("creator" in content) == (version == "10")
        if version == "10":
            assert content["creator"] == alice.user_id


async def test_events_chain_through_prev_events_and_depth(hs):
    alice = await hs.register()
    await hs.create_room(alice, name="n")
    stored = await _stored_events(hs)
    assert stored[0][2]["prev_events"] == [] and stored[0][2]["depth"] == 1
    for (previous_id, _, previous), (_, _, pdu) in zip(stored, stored[1:]):
        assert pdu["prev_events"] == [previous_id]
        assert pdu["depth"] == previous["depth"] + 1
