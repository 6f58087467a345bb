"""safetensors: validate the JSON header and the tensor byte ranges without loading any tensor.

safetensors has no code path, so what matters is that the file is what it claims: a header the
reference loader would accept (a loader and a scanner must not disagree about where tensors are),
and no bytes that no tensor accounts for (room for a payload read by something else). Only the
header is read; the data area is never touched.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, BinaryIO

from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.limits import Limits

DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}
"""The dtypes of the safetensors reference implementation (0.6+), with their widths in bits."""

_TENSOR_KEYS = frozenset({"dtype", "shape", "data_offsets"})
_MAX_REPORTED = 20  # per-tensor problems reported before summarising, so a crafted header of a
# million bad entries yields a bounded report


class _Malformed(ValueError):
    """The header is not valid JSON in the strict sense safetensors requires."""


def scan_safetensors(
    stream: BinaryIO, size: int, *, file: str, member: str | None, limits: Limits
) -> list[ScanFinding]:
    """Findings for a safetensors stream of ``size`` bytes, read from its start."""
    report = _Report(file, member)
    if size < 8:
        report.add("malformed", Severity.MEDIUM, "file shorter than the 8-byte header length")
        return report.findings
    (length,) = struct.unpack("<Q", _read_exact(stream, 8))
    if length > limits.max_header_bytes:
        report.add(
            "header-too-large",
            Severity.HIGH,
            f"header length {length} exceeds the limit of {limits.max_header_bytes} bytes "
            "(loaders allocate it up front; a classic denial of service)",
            offset=0,
        )
        return report.findings
    if length > size - 8:
        report.add(
            "header-out-of-file",
            Severity.HIGH,
            f"header length {length} runs past the end of the {size}-byte file",
            offset=0,
        )
        return report.findings
    raw = _read_exact(stream, length)
    try:
        header = _parse_header(raw)
    except _Malformed as exc:
        report.add("malformed-header", Severity.MEDIUM, f"header is not valid JSON: {exc}", 8)
        return report.findings
    _check_header(header, size - 8 - length, report)
    return report.findings


def _parse_header(raw: bytes) -> dict[str, Any]:
    # The reference loader requires UTF-8, a leading "{" and allows trailing spaces as padding.
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Malformed(f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if not text.startswith("{"):
        raise _Malformed("does not start with '{'")
    try:
        value = json.loads(
            text.rstrip(" "),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
        )
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _Malformed(str(exc)) from None
    if not isinstance(value, dict):
        raise _Malformed("top level is not an object")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys are a parser differential: loaders disagree on which one wins.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Malformed(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise _Malformed(f"non-standard constant {name}")


def _check_header(header: dict[str, Any], data_size: int, report: _Report) -> None:
    metadata = header.get("__metadata__")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        report.add("bad-metadata", Severity.MEDIUM, "__metadata__ is not a string-to-string map")
    ranges: list[tuple[int, int, str]] = []
    problems = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        problem = _check_tensor(info, data_size)
        if problem is None:
            begin, end = info["data_offsets"]
            ranges.append((begin, end, name))
            continue
        problems += 1
        if problems <= _MAX_REPORTED:
            report.add("bad-tensor", Severity.MEDIUM, f"tensor {name!r}: {problem}")
    if problems > _MAX_REPORTED:
        report.add(
            "bad-tensor",
            Severity.MEDIUM,
            f"{problems - _MAX_REPORTED} more tensors with invalid entries not listed",
        )
    _check_layout(ranges, data_size, report)


def _check_tensor(info: Any, data_size: int) -> str | None:
    """What is wrong with one tensor entry, or ``None``."""
    if not isinstance(info, dict):
        return "entry is not an object"
    if set(info) != _TENSOR_KEYS:
        return f"keys must be exactly {sorted(_TENSOR_KEYS)}, got {sorted(info)}"
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in DTYPE_BITS:
        return f"unknown dtype {dtype!r}"
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        return "shape is not a list of non-negative integers"
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        return "data_offsets is not a pair of non-negative integers"
    begin, end = offsets
    if begin > end:
        return f"data_offsets begin {begin} > end {end}"
    if end > data_size:
        return f"data_offsets end {end} is outside the {data_size}-byte data area"
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits % 8 or bits // 8 != end - begin:
        return f"{end - begin} bytes do not hold shape {shape} of {dtype}"
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_layout(ranges: list[tuple[int, int, str]], data_size: int, report: _Report) -> None:
    # The reference loader requires tensors to tile the data area exactly; overlaps alias memory
    # and gaps are bytes that no tensor explains.
    ranges.sort()
    covered = 0
    gaps = 0
    overlaps = 0
    for begin, end, name in ranges:
        if begin < covered and end > begin:
            overlaps += 1
            if overlaps <= _MAX_REPORTED:
                report.add("overlap", Severity.MEDIUM, f"tensor {name!r} overlaps another tensor")
        elif begin > covered:
            gaps += begin - covered
        covered = max(covered, end)
    if gaps:
        report.add("gap", Severity.LOW, f"{gaps} bytes between tensors belong to no tensor")
    if covered < data_size:
        report.add(
            "trailing-bytes",
            Severity.LOW,
            f"{data_size - covered} bytes after the last tensor belong to no tensor",
        )


class _Report:
    def __init__(self, file: str, member: str | None) -> None:
        self.file = file
        self.member = member
        self.findings: list[ScanFinding] = []

    def add(self, rule: str, severity: Severity, detail: str, offset: int | None = None) -> None:
        self.findings.append(
            ScanFinding(
                rule_id=f"safetensors/{rule}",
                severity=severity,
                title=_TITLES[rule],
                detail=detail,
                file=self.file,
                member=self.member,
                offset=offset,
            )
        )


_TITLES = {
    "malformed": "Malformed safetensors file",
    "header-too-large": "safetensors header length over the limit",
    "header-out-of-file": "safetensors header length beyond the end of the file",
    "malformed-header": "safetensors header is not strict JSON",
    "bad-metadata": "safetensors __metadata__ is not str -> str",
    "bad-tensor": "Invalid safetensors tensor entry",
    "overlap": "Overlapping safetensors tensors",
    "gap": "Unused bytes between safetensors tensors",
    "trailing-bytes": "Unused bytes after the last safetensors tensor",
}


def _read_exact(stream: BinaryIO, count: int) -> bytes:
    chunks: list[bytes] = []
    while count:
        chunk = stream.read(min(count, 1 << 20))
        if not chunk:
            raise EOFError("stream ended early")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)
