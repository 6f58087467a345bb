"""The fast canonical-JSON path (the C JSON encoder) is byte-identical to rfc8785 wherever taken."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.audit.canonical import _fast, canonical_json
from signoff.errors import InvalidInputError

SAFE = 2**53 - 1

# Characters that stress the two encoders: controls, quote, backslash, DEL, line separators,
# the last BMP characters before and after the surrogates, lone surrogates and astral ones.
TRICKY = st.sampled_from(
    [
        "\x00",
        "\x1f",
        "\x7f",
        '"',
        "\\",
        "/",
        "\b",
        "\t",
        "\u2028",
        "\ud7ff",
        "\ud800",
        "\udfff",
        "\ue000",
        "\uffff",
        "\U00010000",
        "\U0001f600",
        "é",
    ]
)
ANY_CHAR = st.one_of(TRICKY, st.characters(exclude_categories=()))
ANY_TEXT = st.text(alphabet=ANY_CHAR, max_size=6)

anything: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.sampled_from([SAFE, -SAFE, SAFE + 1, -SAFE - 1])
    | st.floats()
    | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(ANY_TEXT, children, max_size=4)
    ),
    max_leaves=16,
)

PLAIN_CHAR = st.characters(max_codepoint=0xD7FF)
PLAIN_TEXT = st.text(alphabet=st.one_of(PLAIN_CHAR, st.sampled_from(["\x00", '"', "\\"])))
plain: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-SAFE, max_value=SAFE) | PLAIN_TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children)
        | st.dictionaries(PLAIN_TEXT, children, max_size=4)
    ),
    max_leaves=16,
)


def _rfc8785(value: Any) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return None


@settings(max_examples=500)
@given(anything)
def test_the_fast_path_equals_rfc8785_or_steps_aside(value: Any) -> None:
    fast = _fast(value)
    if fast is not None:
        assert fast == rfc8785.dumps(value)


@settings(max_examples=500)
@given(anything)
def test_canonical_json_is_rfc8785(value: Any) -> None:
    expected = _rfc8785(value)
    if expected is None:
        with pytest.raises(InvalidInputError):
            canonical_json(value)
    else:
        assert canonical_json(value) == expected


@settings(max_examples=500)
@given(plain)
def test_plain_values_take_the_fast_path(value: Any) -> None:
    fast = _fast(value)
    assert fast is not None
    assert fast == rfc8785.dumps(value)


def test_keys_beyond_the_bmp_sort_by_utf16_code_units() -> None:
    # U+1F600 is the surrogate pair D83D DE00, which sorts before U+E000 in UTF-16 although
    # its code point is larger: Python's own key order would be wrong here.
    value = {"\ue000": 1, "\U0001f600": 2, "a": 3}
    assert _fast(value) is None
    assert canonical_json(value) == '{"a":3,"\U0001f600":2,"\ue000":1}'.encode()


@pytest.mark.parametrize(
    "value",
    [
        {"n": SAFE + 1},
        {"s": "\ud800"},
        {"f": 1.0},
        {"f": 1e-5},
        {"f": 1e16 + 2},
        {"f": -0.0},
        {1: "int key"},
        {"b": b"bytes"},
        [float("nan")],
    ],
)
def test_values_outside_the_subset_go_to_rfc8785(value: Any) -> None:
    assert _fast(value) is None
    expected = _rfc8785(value)
    if expected is None:
        with pytest.raises(InvalidInputError):
            canonical_json(value)
    else:
        assert canonical_json(value) == expected


def test_subclasses_go_to_rfc8785() -> None:
    class Text(str):
        pass

    class Number(int):
        pass

    value = {"t": Text("x"), "n": Number(3)}
    assert _fast(value) is None
    assert canonical_json(value) == b'{"n":3,"t":"x"}'


@settings(max_examples=2000)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_in_plain_notation_match_rfc8785(value: float) -> None:
    fast = _fast([value, {"v": value}])
    if fast is not None:
        assert fast == rfc8785.dumps([value, {"v": value}])
    if 1e-4 <= abs(value) < 1e16 and not value.is_integer():
        assert fast is not None


@pytest.mark.parametrize(
    "value", [0.1, 0.3, 1 / 3, 2 / 3, 0.93, 1234.5678, 123456789.123, 1e-4 + 1e-20, 0.000123]
)
def test_typical_metric_floats_take_the_fast_path(value: float) -> None:
    assert _fast({"accuracy": value}) == rfc8785.dumps({"accuracy": value})
