"""joblib files: inline array data, object arrays, companions, whole-file compression."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import zlib
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from test_pickle_payloads import (
    ALLOWLIST,
    LIMITS,
    Reduce,
    blocking,
    canary_payloads,
    global_op,
    proto,
    short_unicode,
)

from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.joblib_format import (
    RULE_ARRAY_AS_PICKLE,
    RULE_COMPANION,
    RULE_UNANALYSABLE,
    compression_of,
    scan_joblib,
)
from signoff.scanner.limits import Limits
from signoff.scanner.pickle_scan import RULE_LIMIT, RULE_MALFORMED, scan_pickles

COMPRESSIONS = [0, 3, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("lzma", 3), ("xz", 3)]


class NoSeek(io.RawIOBase):
    """A write-only stream that cannot tell(): joblib then writes arrays without padding."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += bytes(b)
        return len(b)

    def tell(self) -> int:
        raise io.UnsupportedOperation("tell")


def dump(obj: Any, compress: Any = 0, protocol: int = 4) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, compress=compress, protocol=protocol)
    return buffer.getvalue()


def scan(data: bytes, limits: Limits = LIMITS) -> list[ScanFinding]:
    return scan_joblib(io.BytesIO(data), file="m.joblib", allowlist=ALLOWLIST, limits=limits)


def dangerous(findings: list[ScanFinding]) -> list[ScanFinding]:
    return [f for f in findings if f.rule_id == "pickle/dangerous-global"]


@pytest.mark.parametrize("compress", COMPRESSIONS)
def test_payload_in_the_pickle(compress: Any) -> None:
    findings = scan(dump({"w": np.arange(100.0), "x": Reduce(os.system, "true")}, compress))
    hit = dangerous(findings)
    assert hit and hit[0].severity is Severity.CRITICAL
    if compress:
        assert hit[0].member is not None and hit[0].member.startswith("[")


@pytest.mark.parametrize("compress", COMPRESSIONS)
def test_payload_in_an_object_array(compress: Any) -> None:
    array = np.array([1, Reduce(os.system, "true"), "x"], dtype=object)
    findings = scan(dump({"before": np.arange(5), "objs": array, "after": np.ones(3)}, compress))
    assert dangerous(findings)
    assert RULE_MALFORMED not in {f.rule_id for f in findings}


def test_walk_resumes_after_array_data() -> None:
    # The payload comes after several arrays: missing it would mean losing the stream position.
    data = dump([np.arange(1000.0), np.zeros((7, 3), dtype=np.int8), Reduce(os.system, "true")])
    assert dangerous(scan(data))


def test_array_bytes_that_are_pickle_code() -> None:
    # Without padding (non-seekable writer), the array bytes directly follow the wrapper's BUILD:
    # plain pickle.load would run them as opcodes; joblib.load reads them as data.
    code = proto(2) + global_op("os", "system") + short_unicode("true") + b"\x85R"
    sink = NoSeek()
    joblib.dump({"w": np.frombuffer(code, dtype=np.uint8)}, sink)
    findings = scan(bytes(sink.data))
    flagged = [f for f in findings if f.rule_id == RULE_ARRAY_AS_PICKLE]
    assert flagged and flagged[0].severity is Severity.HIGH
    assert "os.system" in {f.construct for f in findings}


def test_long_harmless_opcode_run_in_array_bytes() -> None:
    sink = NoSeek()
    joblib.dump({"w": np.frombuffer(b"N0" * 2000, dtype=np.uint8)}, sink)
    assert RULE_ARRAY_AS_PICKLE in {f.rule_id for f in scan(bytes(sink.data))}


def test_real_array_bytes_are_not_taken_for_code() -> None:
    rng = np.random.default_rng(0)
    arrays = [
        rng.normal(size=5000),
        rng.integers(0, 255, size=5000, dtype=np.uint8),
        np.arange(300),
    ]
    sink = NoSeek()
    joblib.dump(arrays, sink)
    assert scan(bytes(sink.data)) == []
    assert scan(dump(arrays)) == []


def _companion(filename: str) -> bytes:
    state = {"filename": filename, "subclass": None, "allow_mmap": True}
    return (
        proto(2)
        + global_op("joblib.numpy_pickle_compat", "NDArrayWrapper")
        + b")\x81"
        + pickle.dumps(state, protocol=2)[2:-1]
        + b"b."
    )


def test_companion_files() -> None:
    inside = scan(_companion("model.pkl_01.npy"))
    assert [(f.rule_id, f.severity) for f in inside] == [(RULE_COMPANION, Severity.INFO)]
    for escaping in ("../../secrets.npy", "/tmp/evil.npy", "C:\\evil.npy"):
        findings = scan(_companion(escaping))
        assert [(f.rule_id, f.severity) for f in findings] == [(RULE_COMPANION, Severity.HIGH)]


def test_old_zfile_format() -> None:
    body = pickle.dumps(Reduce(os.system, "true"), protocol=2)
    data = b"ZF" + hex(len(body)).encode().ljust(19) + zlib.compress(body)
    assert compression_of(data[:16]) == "zfile"
    assert dangerous(scan(data))


def test_concatenated_gzip_members() -> None:
    data = gzip.compress(pickle.dumps([1, 2])) + gzip.compress(pickle.dumps(Reduce(eval, "1")))
    assert dangerous(scan(data))


def test_lz4_is_reported_unanalysable() -> None:
    findings = scan(b"\x04\x22\x4d\x18" + b"\x00" * 20)
    assert [(f.rule_id, f.severity) for f in findings] == [(RULE_UNANALYSABLE, Severity.HIGH)]


@pytest.mark.parametrize("compress", [zlib.compress, gzip.compress, bz2.compress, lzma.compress])
def test_truncated_and_corrupt_compressed_files(compress: Any) -> None:
    data = compress(pickle.dumps(list(range(2000)), protocol=4))
    for broken in (data[: len(data) // 2], data[:8] + b"\xff" * 40 + data[48:]):
        assert blocking(scan(broken))


def test_decompression_bomb_stops_at_the_ratio_budget() -> None:
    bomb = zlib.compress(pickle.dumps(bytes(64 << 20), protocol=4), 9)
    findings = scan(bomb)
    limit = [f for f in findings if f.rule_id == RULE_LIMIT]
    assert limit and "max_compression_ratio" in limit[0].detail


def test_expansion_budget() -> None:
    data = gzip.compress(pickle.dumps(os.urandom(3 << 20), protocol=4))
    findings = scan(data, Limits(max_expanded_bytes=1 << 20))
    assert "max_expanded_bytes" in next(f.detail for f in findings if f.rule_id == RULE_LIMIT)


def test_canary_in_compressed_joblib_never_runs(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    for payload in canary_payloads(canary).values():
        for compress in (zlib.compress, gzip.compress, bz2.compress, lzma.compress):
            assert blocking(scan(compress(payload)))
    assert not canary.exists()


class Trickle(io.RawIOBase):
    """A stream that cannot seek and hands out a few bytes per read: arrays never sit whole in
    the walker's buffer, so their padding and data are read and skipped through the reader."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        part = self.data[self.pos : self.pos + min(37, len(view))]
        view[: len(part)] = part
        self.pos += len(part)
        return len(part)


@pytest.mark.parametrize("aligned", [True, False])
def test_arrays_are_stepped_over_alike_in_and_beyond_the_buffer(aligned: bool) -> None:
    code = proto(2) + global_op("os", "system") + short_unicode("true") + b"\x85R"
    objects = [np.arange(n, dtype=np.float64) for n in (0, 1, 7, 5000, 20000)]
    objects += [np.frombuffer(code, dtype=np.uint8), Reduce(os.system, "true")]
    if aligned:
        data = dump(objects)
    else:
        sink = NoSeek()
        joblib.dump(objects, sink)
        data = bytes(sink.data)
    streams = [io.BytesIO(data), io.BufferedReader(Trickle(data), 16)]
    buffered, trickled = (
        [
            (f.rule_id, f.construct, f.offset)
            for result in scan_pickles(stream, file="m.joblib", allowlist=ALLOWLIST, limits=LIMITS)
            for f in result.findings
        ]
        for stream in streams
    )
    assert RULE_ARRAY_AS_PICKLE in {rule for rule, _, _ in buffered}
    assert ("pickle/dangerous-global", "os.system") in {(r, c) for r, c, _ in buffered}
    assert buffered == trickled
