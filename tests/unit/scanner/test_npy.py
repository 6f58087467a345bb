"""NumPy .npy files: headers parsed statically, object arrays' pickles scanned."""

from __future__ import annotations

import ast
import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from test_pickle_payloads import ALLOWLIST, LIMITS, Reduce, blocking, canary_payloads

from signoff.scanner import npy as npy_module
from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.npy import (
    RULE_MALFORMED,
    RULE_OBJECT,
    RULE_TRAILING,
    DType,
    parse_descr,
    scan_npy,
)


def npy(array: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=True)
    return buffer.getvalue()


def header_file(header: str, data: bytes, version: int = 1) -> bytes:
    """A .npy file with a hand-written header (padded like numpy's)."""
    text = header.encode("latin-1")
    prefix = 10 if version == 1 else 12
    text += b" " * (-(prefix + len(text) + 1) % 64) + b"\n"
    size = struct.pack("<H", len(text)) if version == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + size + text + data


def scan(data: bytes) -> list[ScanFinding]:
    return scan_npy(io.BytesIO(data), file="a.npy", allowlist=ALLOWLIST, limits=LIMITS)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(10, dtype=np.int64),
        np.zeros((3, 4), dtype=np.float32),
        np.asfortranarray(np.ones((2, 3))),
        np.array([True, False]),
        np.array(["a", "bcd"]),
        np.array([b"x", b"yz"]),
        np.array([1 + 2j]),
        np.array(["2024-01-01"], dtype="M8[ns]"),
        np.zeros(4, dtype=[("id", "<i4"), ("score", "<f8"), ("pos", "<f4", (3,))]),
        np.zeros(0, dtype=np.float64),
        np.float64(3.0).reshape(()),
    ],
    ids=lambda a: str(a.dtype),
)
def test_plain_arrays_scan_clean(array: np.ndarray) -> None:
    for version in ((1, 0), (2, 0), (3, 0)):
        assert scan(npy(array, version)) == []


def test_object_arrays_are_noted_and_their_pickle_scanned() -> None:
    findings = scan(npy(np.array([1, "a", None, {"k": [1.5]}], dtype=object)))
    assert [(f.rule_id, f.severity) for f in findings] == [(RULE_OBJECT, Severity.INFO)]


def test_object_array_with_a_payload() -> None:
    payload = np.array([Reduce(os.system, "true")], dtype=object)
    findings = scan(npy(payload))
    assert any(
        f.rule_id == "pickle/dangerous-global" and f.severity is Severity.CRITICAL for f in findings
    )
    hit = next(f for f in findings if f.rule_id == "pickle/dangerous-global")
    assert hit.offset is not None and hit.offset > 64  # an offset in the file, after the header


def test_structured_array_with_an_object_field_is_an_object_array() -> None:
    array = np.zeros(2, dtype=[("id", "<i4"), ("obj", "O")])
    array["obj"] = [Reduce(os.system, "true"), None]
    findings = scan(npy(array))
    assert any(f.rule_id == "pickle/dangerous-global" for f in findings)


def test_canary_in_object_array_never_runs(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    for data in canary_payloads(canary).values():
        file = header_file("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data)
        assert blocking(scan(file))
    assert not canary.exists()


def test_hidden_pickle_after_plain_array_data() -> None:
    data = npy(np.arange(4, dtype=np.int64)) + pickle.dumps(Reduce(os.system, "true"), protocol=4)
    findings = scan(data)
    assert RULE_TRAILING in {f.rule_id for f in findings}
    assert any(f.rule_id == "pickle/dangerous-global" for f in findings)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x93NUMPX\x01\x00", "Not a .npy file"),
        (b"\x93NUMPY\x09\x00\x10\x00", "Unknown .npy version"),
        (header_file("{'descr': '<f8', 'shape': (2,), ", b""), "Unreadable .npy header"),
        (header_file("[1, 2]", b""), "Unreadable .npy header"),
        (
            header_file("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", b"\x00" * 8),
            "Truncated",
        ),
        (
            header_file("{'descr': 'weird', 'fortran_order': False, 'shape': (4,), }", b""),
            "dtype or shape",
        ),
        (
            header_file("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", b""),
            "dtype or shape",
        ),
        (header_file("{'descr': __import__('os'), 'shape': (1,)}", b""), "Unreadable .npy header"),
    ],
)
def test_malformed_files_are_findings(data: bytes, why: str) -> None:
    findings = scan(data)
    assert (
        findings
        and findings[0].rule_id == RULE_MALFORMED
        and why in findings[0].title + findings[0].detail
    )
    assert blocking(findings)


def test_unreadable_dtype_followed_by_a_pickle_is_scanned() -> None:
    data = header_file("{'descr': 'objectish', 'shape': (1,)}", pickle.dumps(Reduce(eval, "1"), 4))
    assert any(f.rule_id == "pickle/dangerous-global" for f in scan(data))


@pytest.mark.parametrize(
    "descr",
    ["<f8", ">i4", "|b1", "|u1", "<U10", "|S7", "|V16", "<c16", "<M8[ns]", "<m8[s]", "|O", "<f2",
     [("a", "<i4"), ("b", "<f8", (2, 3)), ("", "|V4")], [(("title", "x"), "<i8")],
     [("nested", [("a", "<i2"), ("o", "|O")])]],
)  # fmt: skip
def test_parse_descr_agrees_with_numpy(descr: object) -> None:
    expected = np.lib.format.descr_to_dtype(descr)
    assert parse_descr(descr) == DType(expected.itemsize, expected.hasobject)


def test_parse_descr_rejects_what_it_cannot_read() -> None:
    for descr in ("float128x", "<X4", 42, [("a",)], [("a", "<i4", "shape")]):
        assert parse_descr(descr) is None


@pytest.mark.parametrize(
    "array",
    [
        np.zeros(3),
        np.zeros((2, 3), order="F"),
        np.array(5),
        np.zeros((0,)),
        np.zeros((3, 4, 5), dtype="<i8"),
        np.zeros(2, dtype="U5"),
        np.zeros(2, dtype=[("a", "<f4"), ("b", "O")]),
        np.zeros(3, dtype=object),
        np.zeros(3, dtype="?"),
        np.zeros((1, 2), dtype=">c16"),
    ],
)
def test_header_read_without_ast_is_what_literal_eval_reads(array: np.ndarray) -> None:
    data = npy(array)
    raw = data[10 : 10 + struct.unpack_from("<H", data, 8)[0]]
    assert npy_module._parse_header(raw, "latin-1") == ast.literal_eval(raw.decode("latin-1"))


@pytest.mark.parametrize(
    "header",
    [
        "{'descr': '<f8', 'fortran_order': False, 'shape': (007,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1, }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
        "{'descr': '<f8', 'shape': (3,), }",
    ],
)
def test_unusual_headers_go_through_literal_eval(header: str) -> None:
    raw = (header + " \n").encode("latin-1")
    assert not npy_module._SIMPLE_HEADER.fullmatch(raw.decode("latin-1"))
    try:
        expected: object = ast.literal_eval(header)
    except SyntaxError:
        expected = "the header is not a Python literal (SyntaxError)"
    result = npy_module._parse_header(raw, "latin-1")
    assert result == expected or isinstance(result, str)
