"""The pickle walker's mechanics: offsets, streams, budgets, values, hooks."""

from __future__ import annotations

import datetime
import io
import pickle
import struct
import time
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from test_pickle_payloads import (
    ALLOWLIST,
    LIMITS,
    Reduce,
    dumps,
    findings_of,
    global_op,
    proto,
    rules,
    scan_one,
    short_unicode,
)

from signoff.scanner.allowlist import Allowlist
from signoff.scanner.findings import Severity
from signoff.scanner.limits import Limits
from signoff.scanner.pickle_scan import (
    RULE_LIMIT,
    RULE_MALFORMED,
    RULE_UNLISTED,
    PickleReader,
    PickleWalker,
    Result,
    SymDict,
    SymList,
    looks_like_pickle,
    scan_pickle,
    scan_pickles,
    walk_pickle,
)


class CountingRaw(io.RawIOBase):
    """A file stream that counts the bytes actually read (and can pretend not to seek)."""

    def __init__(self, path: Path, seekable: bool = True) -> None:
        self.file = path.open("rb", buffering=0)
        self.can_seek = seekable
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.can_seek

    def readinto(self, buffer: Any) -> int:
        n = self.file.readinto(buffer)
        self.bytes_read += n or 0
        return n or 0

    def seek(self, offset: int, whence: int = 0) -> int:
        if not self.can_seek:
            raise io.UnsupportedOperation("seek")
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def close(self) -> None:
        self.file.close()
        super().close()


def test_complete_pickle_reports_its_end() -> None:
    data = dumps({"a": [1, 2.5, "x"]})
    scan = scan_one(data)
    assert scan.complete and scan.findings == [] and scan.end_offset == len(data)


def test_offsets_are_absolute_with_base_offset_and_stream_is_left_after_stop() -> None:
    payload = proto(2) + global_op("mypkg", "Thing") + b")R."
    stream = io.BytesIO(b"HEADER" + payload + b"TRAILER")
    stream.seek(6)
    scan = scan_pickle(stream, file="f", allowlist=ALLOWLIST, limits=LIMITS, base_offset=6)
    assert scan.end_offset == 6 + len(payload)
    assert stream.tell() == 6 + len(payload)
    assert [f.offset for f in scan.findings] == [8]
    assert scan.globals == [("mypkg", "Thing", 8)]


def test_back_to_back_pickles_until_something_else() -> None:
    first, second = dumps([1, 2]), dumps({"k": "v"}, 2)
    stream = io.BytesIO(first + second + b"\x00\x01raw tensor bytes")
    scans = scan_pickles(stream, file="f", allowlist=ALLOWLIST, limits=LIMITS)
    assert [s.end_offset for s in scans] == [len(first), len(first) + len(second)]
    assert stream.tell() == len(first) + len(second)


def test_looks_like_pickle() -> None:
    assert looks_like_pickle(b"\x80\x04")
    assert looks_like_pickle(b"\x80\x05\x95")
    assert looks_like_pickle(b"(dp0")
    assert looks_like_pickle(b"cos\nsystem\n")
    assert looks_like_pickle(b"I0x10\n0cos\nsystem\n(S'id'\ntR.")  # INT is read with base 0
    assert not looks_like_pickle(b"Introduction\n")
    assert not looks_like_pickle(b"(c) 2024 ACME")
    assert not looks_like_pickle(b"\x80\x09")
    assert not looks_like_pickle(b"\x00\x00")
    assert not looks_like_pickle(b"PK\x03\x04")
    assert not looks_like_pickle(b"")


def test_symbolic_values() -> None:
    assert scan_one(dumps(1001, 2)).value == 1001
    assert scan_one(dumps(0x1950A86A20F9469CFC6C, 2)).value == 0x1950A86A20F9469CFC6C
    keys = scan_one(dumps(["1", "22"], 2)).value
    assert isinstance(keys, SymList) and list(keys) == ["1", "22"]
    info = scan_one(dumps({"protocol_version": 1001, "little_endian": True}, 2)).value
    assert isinstance(info, SymDict) and info["protocol_version"] == 1001
    assert scan_one(b"I01\n.").value is True
    assert scan_one(b"L123L\n.").value == 123
    assert scan_one(b"I0x10\n.").value == 16
    assert scan_one(b"I012\n.").value == 10


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_value_types_of_every_protocol(protocol: int) -> None:
    obj = {
        "ints": [0, 255, 65535, -1, 2**31, 2**70, -(2**70)],
        "floats": [1.5, float("inf")],
        "text": ["", "é", "x" * 300, "y" * 70000],
        "bytes": [b"", b"\x00" * 300, bytearray(b"ab")],
        "sets": [{1, 2}, frozenset({3})],
        "misc": [None, True, False, (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), complex(1, 2)],
    }
    scan = scan_one(dumps(obj, protocol))
    assert scan.complete and scan.findings == []


def test_out_of_band_buffers() -> None:
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(
        [pickle.PickleBuffer(b"abc"), pickle.PickleBuffer(bytearray(b"xy"))],
        protocol=5,
        buffer_callback=buffers.append,
    )
    assert b"\x97" in data
    scan = scan_one(data)
    assert scan.complete and scan.findings == []


def test_getattr_of_allowlisted_method_is_a_dotted_import() -> None:
    when = datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("UTC"))
    data = dumps(when)
    assert b"getattr" in data
    assert scan_one(data).findings == []
    numpy_only = Allowlist.from_profiles(["numpy"])
    assert "zoneinfo.ZoneInfo._unpickle" in {
        f.construct for f in scan_one(data, allowlist=numpy_only).findings
    }


def test_repeated_findings_are_counted_once() -> None:
    data = proto(2) + (global_op("mypkg", "Thing") + b"0") * 3 + b"N."
    findings = findings_of(data)
    assert len(findings) == 1 and "seen 3 times" in findings[0].detail


def test_malformed_semantics_keep_walking() -> None:
    # A memo read before any write, then a dangerous import: both reported.
    data = proto(2) + b"h\x07" + b"0" + global_op("os", "system") + b"N."
    findings = findings_of(data)
    assert rules(findings) >= {RULE_MALFORMED, "pickle/dangerous-global"}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80",
        b"\x80\x06N.",
        b"\x80\x02J\x01\x02",
        b"\x80\x02X\xff\xff\xff\x7fabc",
        b"\x80\x02T\xff\xff\xff\xffabc.",
        b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"x.",
        b"(lp0\nI1\naI2",
        b"\x80\x02cos\nsys",
    ],
)
def test_broken_streams_are_malformed_not_errors(data: bytes) -> None:
    scan = scan_one(data)
    assert not scan.complete and scan.end_offset is None
    assert RULE_MALFORMED in rules(scan.findings)
    assert all(f.severity is not Severity.INFO for f in scan.findings)


def test_opcode_budget() -> None:
    data = dumps(list(range(50_000)), 2)
    scan = scan_one(data, limits=Limits(max_opcodes=1000))
    assert not scan.complete
    limit = [f for f in scan.findings if f.rule_id == RULE_LIMIT]
    assert limit and limit[0].severity is Severity.HIGH and "max_opcodes" in limit[0].detail


def test_byte_budget() -> None:
    data = dumps([b"\x00" * 100_000], 4)
    scan = scan_one(data, limits=Limits(max_pickle_bytes=10_000))
    assert not scan.complete
    assert "max_pickle_bytes" in next(f.detail for f in scan.findings if f.rule_id == RULE_LIMIT)


def test_time_budget() -> None:
    data = dumps(list(range(40_000)), 2)
    scan = scan_one(data, deadline=time.monotonic() - 1)
    assert not scan.complete
    assert "max_seconds_per_file" in next(
        f.detail for f in scan.findings if f.rule_id == RULE_LIMIT
    )


def test_big_payloads_are_skipped_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    with path.open("wb") as f:
        pickle.dump(
            {"w1": bytes(32 << 20), "w2": bytearray(32 << 20), "name": "net"}, f, protocol=5
        )
    raw = CountingRaw(path)
    with io.BufferedReader(raw) as stream:
        scans = scan_pickles(stream, file="big.pkl", allowlist=ALLOWLIST, limits=LIMITS)
    assert scans[0].complete and scans[0].findings == []
    assert scans[0].end_offset == path.stat().st_size
    assert raw.bytes_read < 1 << 20


def test_big_payloads_on_a_stream_that_cannot_seek(tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    with path.open("wb") as f:
        pickle.dump([bytes(8 << 20), "tail"], f, protocol=4)
    with io.BufferedReader(CountingRaw(path, seekable=False)) as stream:
        scan = scan_pickle(stream, file="big.pkl", allowlist=ALLOWLIST, limits=LIMITS)
    assert scan.complete and scan.findings == []


def test_truncated_big_payload(tmp_path: Path) -> None:
    path = tmp_path / "cut.pkl"
    path.write_bytes(dumps(bytes(1 << 20))[: 1 << 19])
    with path.open("rb") as stream:
        scan = scan_pickle(stream, file="cut.pkl", allowlist=ALLOWLIST, limits=LIMITS)
    assert not scan.complete and RULE_MALFORMED in rules(scan.findings)


def test_long_protocol0_lines_are_skipped() -> None:
    data = b"S'" + b"a" * 200_000 + b"'\np0\n0" + global_op("mypkg", "X") + b"."
    scan = scan_one(data)
    assert scan.complete and [f.construct for f in scan.findings] == ["mypkg.X"]


def test_hooks_see_builds_and_persistent_ids() -> None:
    builds: list[tuple[object, object]] = []
    pids: list[object] = []

    def on_build(walker: PickleWalker, target: object, state: object, offset: int) -> None:
        builds.append((target, state))

    def on_pid(walker: PickleWalker, pid: object, offset: int) -> None:
        pids.append(pid)

    data = (
        proto(2)
        + global_op("collections", "OrderedDict")
        + b")R}"
        + short_unicode("k")
        + b"K\x01sb"
        + short_unicode("storage")
        + short_unicode("0")
        + b"\x86Q\x86."
    )
    scan = walk_pickle(
        PickleReader(io.BytesIO(data)),
        file="f",
        allowlist=ALLOWLIST,
        limits=LIMITS,
        build_hook=on_build,
        persistent_hook=on_pid,
    )
    assert scan.complete and scan.findings == []
    target, state = builds[0]
    assert isinstance(target, Result) and target.callee is not None
    assert target.callee.dotted == "collections.OrderedDict"
    assert state == {"k": 1}
    assert pids == [("storage", "0")]


def test_allowlist_extension_silences_an_unlisted_global() -> None:
    data = proto(2) + global_op("mypkg.layers", "Custom") + b")R."
    assert rules(findings_of(data)) == {RULE_UNLISTED}
    extended = ALLOWLIST.with_extra(["mypkg.layers.Custom"])
    assert findings_of(data, allowlist=extended) == []
    wildcard = ALLOWLIST.with_extra(["mypkg.layers.*"])
    assert findings_of(data, allowlist=wildcard) == []


def test_user_allowlist_cannot_allow_a_dangerous_import() -> None:
    data = dumps(Reduce(eval, "1"))
    assert "pickle/dangerous-global" in rules(
        findings_of(data, allowlist=ALLOWLIST.with_extra(["builtins.eval"]))
    )
