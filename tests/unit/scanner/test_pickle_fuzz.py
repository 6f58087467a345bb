"""Fuzzing: random and mutated pickles never crash the walker, never escape the budgets and
never execute anything (the canary file stays absent)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pickle_payloads import ALLOWLIST, Reduce, canary_payloads, dumps

from signoff.scanner.limits import Limits
from signoff.scanner.pickle_scan import RULE_INTERNAL, scan_pickles

CANARY = Path(os.environ.get("TMPDIR", "/tmp")) / f"signoff-fuzz-canary-{os.getpid()}"
LIMITS = Limits(max_opcodes=20_000, max_pickle_bytes=1 << 20, max_seconds_per_file=5.0)
SEEDS = [
    *canary_payloads(CANARY).values(),
    dumps({"weights": [1.5, 2.5], "name": "model", "ids": list(range(40))}, 2),
    dumps({"weights": [1.5, 2.5], "name": "model", "nested": {"a": (1, 2, 3)}}, 5),
    dumps([b"\x00" * 300, bytearray(b"x"), {1, 2}, frozenset({3}), 2**80], 4),
    dumps(Reduce(os.system, "true"), 0),
    b"(lp0\nI1\naS'two'\np1\nag1\na.",
]
FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _scan(data: bytes) -> None:
    started = time.monotonic()
    scans = scan_pickles(io.BytesIO(data), file="fuzz.pkl", allowlist=ALLOWLIST, limits=LIMITS)
    assert time.monotonic() - started < LIMITS.max_seconds_per_file + 1
    assert scans
    for scan in scans:
        assert RULE_INTERNAL not in {f.rule_id for f in scan.findings}
        assert (scan.end_offset is None) == (not scan.complete)


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes(data: bytes) -> None:
    _scan(data)
    _scan(b"\x80\x04" + data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "splice":
            data[at:at] = draw(st.sampled_from(SEEDS))[: draw(st.integers(1, 40))]
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_pickles(data: bytes) -> None:
    _scan(data)
    assert not CANARY.exists()


def test_seeds_cannot_create_the_canary() -> None:
    for seed in SEEDS:
        _scan(seed)
    assert not CANARY.exists()
