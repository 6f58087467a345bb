"""Event leaves are RFC 8785 canonical JSON; what cannot be canonicalised is refused."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signoff.audit.canonical import canonical_json, event_leaf, sha256_hex
from signoff.errors import InvalidInputError


def test_rfc8785_section_3_2_3_example() -> None:
    # The input and output of RFC 8785, section 3.2.2 / 3.2.3.
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")


def test_event_leaf_sorts_keys_and_drops_whitespace() -> None:
    event = {"b": 1, "a": [True, None], "c": {"z": "x", "y": 2}}
    assert event_leaf(event) == b'{"a":[true,null],"b":1,"c":{"y":2,"z":"x"}}'


def test_event_leaf_accepts_any_mapping() -> None:
    event = {"action": "version.register", "seq": 7}
    assert event_leaf(MappingProxyType(event)) == event_leaf(event)


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), st.text()),
        max_size=8,
    )
)
def test_key_order_does_not_change_the_leaf(event: dict[str, Any]) -> None:
    assert event_leaf(dict(reversed(list(event.items())))) == event_leaf(event)


@pytest.mark.parametrize("bad", [["not", "an", "object"], "text", 42, None])
def test_event_must_be_an_object(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="JSON object"):
        event_leaf(bad)


@pytest.mark.parametrize(
    "bad",
    [
        {"n": 2**53},  # beyond the integers JSON numbers carry exactly
        {"x": float("nan")},
        {"x": float("inf")},
        {"s": {1, 2}},
        {1: "non-string key"},
        {"nested": MappingProxyType({"a": 1})},
        {"bytes": b"raw"},
    ],
)
def test_values_that_are_not_canonical_json_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="canonicalised"):
        event_leaf(bad)


def test_sha256_hex() -> None:
    # FIPS 180-2, appendix B.1.
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
