"""minihs's canonical JSON encoder writes the bytes Synapse's (the canonicaljson package) writes.

Event IDs and content hashes are SHA-256 of these bytes: one byte apart and every event ID
would differ from the one another server computes for the same event.
"""

from __future__ import annotations

import pytest
from canonicaljson import encode_canonical_json
from hypothesis import given, settings
from hypothesis import strategies as st

from minihs.spec.events import canonical_json

# What event content can hold: strings (any code point but lone surrogates), integers within
# the spec's range, booleans, null, and arrays and objects of them.
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None)
@given(_VALUES)
def test_canonical_json_is_byte_for_byte_what_canonicaljson_writes(value):
    assert canonical_json(value) == encode_canonical_json(value)


@pytest.mark.parametrize(
    "text",
    ["\x00\x1f\x7f", '"\\', "\b\f\n\r\t", "\u2028\u2029", "é中😀\U0010ffff", "\ufeff"],
)
def test_canonical_json_escapes_strings_as_canonicaljson_does(text):
    value = {text: text, "k": [text]}
    assert canonical_json(value) == encode_canonical_json(value)


def test_canonical_json_sorts_keys_by_code_point_not_by_utf16():
    # U+E000 sorts before U+1F600 by code point, after it by UTF-16 code unit.
    value = {"\U0001f600": 1, "\ue000": 2, "a": 3}
    assert canonical_json(value) == encode_canonical_json(value) == (
        '{"a":3,"\ue000":2,"\U0001f600":1}'.encode("utf-8")
    )


@pytest.mark.parametrize("value", [{"a": "\ud800"}, {1: "not a string key"}, {"a": 2**64}])
def test_canonical_json_refuses_what_is_not_canonical_json(value):
    with pytest.raises(TypeError):
        canonical_json(value)
