"""safetensors: header bounds, strict JSON, dtypes, shapes and byte ranges."""

from __future__ import annotations

import io
import json
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.scanner.findings import BLOCKING, ScanFinding, Severity
from signoff.scanner.limits import Limits
from signoff.scanner.safetensors_scan import scan_safetensors


def build(header: dict[str, Any] | bytes, data: bytes = b"", *, length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def scan(data: bytes, limits: Limits | None = None) -> list[ScanFinding]:
    return scan_safetensors(
        io.BytesIO(data), len(data), file="m.safetensors", member=None, limits=limits or Limits()
    )


def rules(findings: list[ScanFinding]) -> set[str]:
    return {f.rule_id for f in findings}


def tensor(dtype: str, shape: list[Any], begin: int, end: int) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def test_real_file_is_clean(tmp_path: Path) -> None:
    numpy_api = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "m.safetensors"
    numpy_api.save_file(
        {
            "w": np.ones((3, 5), np.float32),
            "b": np.arange(7, dtype=np.int64),
            "e": np.zeros((0, 4), np.float16),
            "m": np.array([True, False]),
        },
        str(path),
        metadata={"format": "pt"},
    )
    assert scan(path.read_bytes()) == []


def test_hand_built_clean_file() -> None:
    header = {
        "__metadata__": {"format": "np"},
        "a": tensor("F32", [2, 2], 0, 16),
        "b": tensor("BF16", [3], 16, 22),
        "c": tensor("F4", [4], 22, 24),
    }
    assert scan(build(header, b"\x00" * 24)) == []


def test_huge_header_length_is_not_read() -> None:
    findings = scan(build(b"{}", length=1 << 40))
    assert rules(findings) == {"safetensors/header-too-large"}
    assert findings[0].severity is Severity.HIGH
    findings = scan(build(b"{}", length=5000), Limits(max_header_bytes=100))
    assert rules(findings) == {"safetensors/header-too-large"}


def test_header_past_end_of_file() -> None:
    findings = scan(build(b'{"a": 1}', length=500))
    assert rules(findings) == {"safetensors/header-out-of-file"}


def test_too_short() -> None:
    assert rules(scan(b"\x01\x00")) == {"safetensors/malformed"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": ',
        b"[1, 2]",
        b'{"a": NaN}',
        b'{"a": 1, "a": 2}',
        b'\xff{"a": 1}',
        b'{"a": "\xff"}',
        b" {}",
    ],
)
def test_malformed_json(raw: bytes) -> None:
    findings = scan(build(raw))
    assert rules(findings) == {"safetensors/malformed-header"}
    assert all(f.severity in BLOCKING for f in findings)


def test_trailing_space_padding_is_allowed() -> None:
    assert scan(build(b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}   ', b"ab")) == []


@pytest.mark.parametrize(
    "entry",
    [
        tensor("F128", [1], 0, 16),
        tensor("F32", [-1], 0, 4),
        tensor("F32", [True], 0, 4),
        tensor("F32", [1.0], 0, 4),
        tensor("F32", [2], 0, 4),
        tensor("F32", [1], 4, 0),
        {"dtype": "F32", "shape": [1], "data_offsets": [0]},
        {"dtype": "F32", "shape": [1]},
        {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "extra": 1},
        [1, 2],
        tensor("F6_E2M3", [3], 0, 2),
    ],
)
def test_bad_tensor_entries(entry: Any) -> None:
    findings = scan(build({"t": entry}, b"\x00" * 16))
    assert "safetensors/bad-tensor" in rules(findings)
    assert any(f.severity is Severity.MEDIUM for f in findings)


def test_offsets_outside_the_data_area() -> None:
    findings = scan(build({"t": tensor("U8", [100], 0, 100)}, b"\x00" * 10))
    assert "safetensors/bad-tensor" in rules(findings)
    assert "outside" in findings[0].detail


def test_overlapping_ranges() -> None:
    header = {"a": tensor("U8", [8], 0, 8), "b": tensor("U8", [8], 4, 12)}
    findings = scan(build(header, b"\x00" * 12))
    assert "safetensors/overlap" in rules(findings)


def test_gaps_and_trailing_bytes_are_low() -> None:
    header = {"a": tensor("U8", [4], 0, 4), "b": tensor("U8", [4], 8, 12)}
    findings = scan(build(header, b"\x00" * 20))
    assert rules(findings) == {"safetensors/gap", "safetensors/trailing-bytes"}
    assert all(f.severity is Severity.LOW for f in findings)


def test_metadata_must_map_strings_to_strings() -> None:
    findings = scan(build({"__metadata__": {"epoch": 3}}))
    assert rules(findings) == {"safetensors/bad-metadata"}


def test_many_bad_entries_give_a_bounded_report() -> None:
    header = {f"t{i}": tensor("NOPE", [1], 0, 1) for i in range(500)}
    findings = scan(build(header, b"\x00"))
    assert len(findings) < 30


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 1 << 70) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    header=st.dictionaries(
        st.sampled_from(["a", "b", "__metadata__", "c"]),
        st.fixed_dictionaries(
            {
                "dtype": st.sampled_from(["F32", "U8", "BF16", "F4", "X"]),
                "shape": st.lists(st.integers(-1, 1 << 40), max_size=3),
                "data_offsets": st.lists(st.integers(-1, 1 << 40), max_size=3),
            }
        )
        | _json_values,
    ),
    data=st.binary(max_size=64),
)
def test_fuzz_headers_never_raise(header: dict[str, Any], data: bytes) -> None:
    started = time.monotonic()
    scan(build(header, data))
    assert time.monotonic() - started < 2


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=300))
def test_fuzz_raw_bytes_never_raise(raw: bytes) -> None:
    scan(raw)
    scan(build(raw, raw))
