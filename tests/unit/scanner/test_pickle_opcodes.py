"""The hand-rolled opcode readers against ``pickletools.genops``: the walker's loop and the
argument-length skeleton (``opcode_run``) read the same opcodes, on every protocol, and stop where
genops stops on cut streams. Nothing is ever unpickled."""

from __future__ import annotations

import collections
import datetime
import io
import math
import pickletools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pickle_payloads import ALLOWLIST, LIMITS, dumps

from signoff.scanner.limits import Limits
from signoff.scanner.pickle_scan import (
    _NOTHING_ALLOWED,
    _SNIFF_LIMITS,
    RULE_MALFORMED,
    PickleReader,
    PickleWalker,
    _walks_as_pickle,
    opcode_run,
    scan_pickles,
)

OBJECTS: list[Any] = [
    None,
    {"weights": [1.5, -2.5, 3], "name": "model", "ids": list(range(300))},
    [b"\x00" * 300, bytearray(b"x"), {1, 2}, frozenset({3}), 2**80, -(2**70), 1.0e300],
    ("text", "é€😀", "x" * 70_000, b"y" * 70_000),
    collections.OrderedDict(a=1, b=[{"c": (1, 2, 3)}] * 3),
    [datetime.date(2024, 1, 2), complex(1, 2), True, False, 0, 255, 65535, 2**31],
]


def genops_count(data: bytes) -> tuple[int, int | None]:
    """Opcodes genops decodes (STOP included), and the offset after STOP (None: it raised)."""
    count = 0
    try:
        for opcode, _arg, pos in pickletools.genops(io.BytesIO(data)):
            count += 1
            if opcode.name == "STOP":
                return count, pos + 1
    except ValueError:
        pass
    return count, None


def walk(data: bytes, limits: Limits = LIMITS) -> PickleWalker:
    walker = PickleWalker(
        PickleReader(io.BytesIO(data)),
        file="t.pkl",
        member=None,
        allowlist=ALLOWLIST,
        limits=limits,
        deadline=math.inf,
    )
    walker.walk()
    return walker


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("index", range(len(OBJECTS)))
def test_walker_reads_the_opcodes_genops_reads(protocol: int, index: int) -> None:
    data = dumps(OBJECTS[index], protocol)
    count, end = genops_count(data)
    scan = scan_pickles(io.BytesIO(data), file="t.pkl", allowlist=ALLOWLIST, limits=LIMITS)[0]
    assert scan.complete and scan.end_offset == end == len(data)
    assert walk(data).opcodes == count
    run = opcode_run(data, 1 << 20, to_import=False)
    assert run.opcodes == count and not run.broken


@pytest.mark.parametrize("protocol", range(6))
def test_cut_streams_stop_where_genops_stops(protocol: int) -> None:
    data = dumps(OBJECTS[1], protocol)
    for cut in range(1, len(data)):
        part = data[:cut]
        count, end = genops_count(part)
        assert end is None
        walker = walk(part)
        scan_findings = walker.findings()
        assert walker.truncated, cut
        assert RULE_MALFORMED in {f.rule_id for f in scan_findings}
        # The walker counts the opcode it could not read; genops counts what it decoded.
        assert walker.opcodes == count + 1, cut
        assert opcode_run(part, 1 << 20, to_import=False).opcodes >= walker.opcodes - 1


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=400))
def test_opcode_run_never_stops_before_the_walker(data: bytes) -> None:
    walker = walk(data, Limits(max_opcodes=2000))
    run = opcode_run(data, 2000, to_import=False)
    assert walker.opcodes <= run.opcodes + 1
    if run.broken:
        assert not walker.truncated
        assert walker.findings() and RULE_MALFORMED in {f.rule_id for f in walker.findings()}
    early = opcode_run(data, 2000)
    assert early.opcodes <= run.opcodes and early.imports == run.imports


def _walks_as_pickle_by_walking(first: bytes) -> bool:
    """What looks_like_pickle decided before the opcode_run shortcut: a walk of the sample."""
    walker = PickleWalker(
        PickleReader(io.BytesIO(first[:512])),
        file="",
        member=None,
        allowlist=_NOTHING_ALLOWED,
        limits=_SNIFF_LIMITS,
        deadline=math.inf,
    )
    scan = walker.walk()
    malformed = sum(f.rule_id == RULE_MALFORMED for f in scan.findings)
    if scan.complete:
        return not malformed
    return walker.truncated and malformed == 1 and (walker.opcodes >= 3 or bool(scan.globals))


_PICKLISH = st.lists(
    st.sampled_from(list(b"(]}),NILFGSVJKMTUXcabdeilpqrstuhgoR0123456789 \n.'\"_\x80\x02\x94")),
    max_size=80,
).map(bytes)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_PICKLISH, st.binary(max_size=80)))
def test_sniff_shortcut_decides_like_the_walk(data: bytes) -> None:
    assert _walks_as_pickle(data) == _walks_as_pickle_by_walking(data)


def test_walk_stops_reading_the_stream_at_its_end() -> None:
    class Counting(io.BytesIO):
        reads = 0

        def read(self, size: int | None = -1, /) -> bytes:
            Counting.reads += 1
            return super().read(size)

    data = dumps({"a": [1, 2, 3]}, 4)
    stream = Counting(data)
    scans = scan_pickles(stream, file="t.pkl", allowlist=ALLOWLIST, limits=LIMITS)
    assert scans[0].complete
    # One read for the data, one that finds the end: not one per opcode near the end.
    assert Counting.reads <= 4


_MEMO_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("memoize"), st.just(0)),
        st.tuples(st.sampled_from(["put", "binput", "long_binput"]), st.integers(0, 6)),
        st.tuples(st.sampled_from(["get", "binget", "long_binget"]), st.integers(0, 6)),
        st.tuples(st.just("push"), st.integers(0, 9)),
        st.tuples(st.just("pop"), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=1500, deadline=None)
@given(_MEMO_OPS)
def test_memo_reads_what_a_dict_memo_holds(ops: list[tuple[str, int]]) -> None:
    # The walker keeps the memo in a list while its keys are 0, 1, 2 ...: whatever mix of
    # MEMOIZE and PUT keys a pickle uses, every read must see what the unpickler's dict holds.
    memo: dict[int, str | None] = {}  # None: a missing entry was read and memoized again
    stack: list[str | None] = []
    data = b"\x80\x04"
    for op, arg in ops:
        if op == "push":
            data += b"\x8c\x02m" + str(arg).encode()
            stack.append(f"m{arg}")
            continue
        if not stack:
            continue
        if op == "pop":
            data += b"0"
            stack.pop()
        elif op == "memoize":
            data += b"\x94"
            memo[len(memo)] = stack[-1]
        elif op.endswith("put"):
            data += {"put": b"p%d\n" % arg, "binput": b"q" + bytes([arg])}.get(
                op, b"r" + arg.to_bytes(4, "little")
            )
            memo[arg] = stack[-1]
        else:
            data += {"get": b"g%d\n" % arg, "binget": b"h" + bytes([arg])}.get(
                op, b"j" + arg.to_bytes(4, "little")
            )
            stack.append(memo.get(arg))
    expected = [s for s in stack[-2:] if s is not None]
    if len(stack) < 2 or len(expected) < 2:
        return
    data += b"\x93."  # STACK_GLOBAL of the two values on top, then STOP
    scan = scan_pickles(io.BytesIO(data), file="t.pkl", allowlist=ALLOWLIST, limits=LIMITS)[0]
    assert (expected[0], expected[1]) in {(module, name) for module, name, _ in scan.globals}
