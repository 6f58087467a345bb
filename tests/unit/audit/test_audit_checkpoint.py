"""Checkpoint bodies (c2sp.org/tlog-checkpoint): one checkpoint, one text, and back."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signoff.audit.checkpoint import Checkpoint
from signoff.errors import InvalidInputError

ROOT = bytes(range(32))
ROOT64 = base64.b64encode(ROOT).decode()  # ends "...Hh8=": the "8" leaves two spare bits
URLSAFE64 = base64.urlsafe_b64encode(b"\xff" * 32).decode()

# The example of c2sp.org/tlog-checkpoint (github.com/C2SP/C2SP, tlog-checkpoint.md).
C2SP_EXAMPLE = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def test_c2sp_example() -> None:
    checkpoint = Checkpoint.parse(C2SP_EXAMPLE)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.body() == C2SP_EXAMPLE


def test_body_with_extension_lines() -> None:
    checkpoint = Checkpoint("log.example/a", 0, ROOT, ("ext one", "two"))
    assert checkpoint.body() == f"log.example/a\n0\n{ROOT64}\next one\ntwo\n"
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


lines = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\n"), min_size=1
).filter(lambda s: not any(ord(c) < 0x20 for c in s))


@given(
    lines,
    st.integers(min_value=0, max_value=2**64 - 1),
    st.binary(min_size=32, max_size=32),
    st.lists(lines, max_size=3).map(tuple),
)
def test_body_round_trips(origin: str, size: int, root: bytes, extensions: tuple[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


@pytest.mark.parametrize(
    "text",
    [
        f"log\n1\n{ROOT64}",  # no final newline
        "log\n1\n",  # no root line
        f"log\n{ROOT64}\n",
        f"\n1\n{ROOT64}\n",  # empty origin
        f"log\n01\n{ROOT64}\n",  # leading zero
        f"log\n-1\n{ROOT64}\n",
        f"log\n+1\n{ROOT64}\n",
        f"log\n 1\n{ROOT64}\n",
        f"log\n\u0661\n{ROOT64}\n",  # a non-ASCII digit, which int() would take
        f"log\n{2**64}\n{ROOT64}\n",
        f"log\n1\n{ROOT64.rstrip('=')}\n",  # unpadded
        f"log\n1\n{URLSAFE64}\n",  # URL-safe alphabet
        f"log\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31 bytes
        f"log\n1\n{ROOT64[:-2]}9=\n",  # the same bytes, non-canonically: a spare bit set
        f"log\n1\n{ROOT64}\n\n",  # empty extension line
        f"log\n1\n{ROOT64}\nbad\tline\n",  # control character
    ],
)
def test_malformed_bodies_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("origin", ""),
        ("origin", "two\nlines"),
        ("origin", "tab\there"),
        ("size", -1),
        ("size", 2**64),
        ("size", True),
        ("size", 1.0),
        ("root", ROOT[:31]),
        ("root", ROOT64),
        ("extensions", ("",)),
        ("extensions", ["list"]),
    ],
)
def test_invalid_fields_are_refused(field: str, value: Any) -> None:
    fields: dict[str, Any] = {"origin": "log", "size": 1, "root": ROOT, "extensions": ()}
    fields[field] = value
    with pytest.raises(InvalidInputError):
        Checkpoint(**fields)
