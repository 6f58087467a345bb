"""NumPy ``.npy`` files: parse the header statically; scan object arrays' pickled data.

An ``.npy`` file is a magic string, a version, a Python-literal header (dtype, order, shape) and
the array data. For dtypes holding Python objects the data is a pickle, which ``np.load`` runs
with ``allow_pickle=True`` (and joblib's old format loads companion ``.npy`` files that way).
The header is read with ``ast.literal_eval`` on a bounded string, as numpy does; dtypes are
interpreted by a small parser here, never by numpy.
"""

from __future__ import annotations

import ast
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from signoff.scanner.allowlist import Allowlist
from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.limits import Limits
from signoff.scanner.pickle_scan import LimitReached, PickleReader, looks_like_pickle, walk_pickle

MAGIC = b"\x93NUMPY"
RULE_MALFORMED = "npy/malformed"
RULE_OBJECT = "npy/object-array"
RULE_TRAILING = "npy/trailing-data"
RULE_LIMIT = "npy/limit"

_MAX_HEADER = 1 << 20
"""numpy itself refuses headers over 10 000 bytes unless told otherwise; this bound is looser."""

_DESCR = re.compile(r"^([<>|=]?)([?bBhHiIlLqQpPeEfdgFDGOSaUVMmuc])(\d*)(\[\w+\])?$")
# Bytes per element of a one-letter type code without an explicit size (64-bit platforms).
_CODE_SIZES = {
    "?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8, "Q": 8,
    "p": 8, "P": 8, "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32, "O": 8,
    "M": 8, "m": 8, "S": 0, "a": 0, "U": 0, "V": 0,
}  # fmt: skip
# Kinds whose explicit number is a size in bytes (U counts 4-byte characters).
_SIZED_KINDS = {"b": 1, "i": 1, "u": 1, "f": 1, "c": 1, "S": 1, "a": 1, "V": 1, "U": 4, "O": 1}
_NAMED = {
    "bool": (1, False), "int8": (1, False), "uint8": (1, False), "int16": (2, False),
    "uint16": (2, False), "int32": (4, False), "uint32": (4, False), "int64": (8, False),
    "uint64": (8, False), "float16": (2, False), "float32": (4, False), "float64": (8, False),
    "complex64": (8, False), "complex128": (16, False), "object": (8, True), "O": (8, True),
}  # fmt: skip


@dataclass(frozen=True)
class DType:
    """What the scanner needs of a dtype: bytes per element, and whether it holds objects."""

    itemsize: int
    hasobject: bool


def parse_descr(descr: object) -> DType | None:
    """A ``.npy`` ``descr`` (``'<f8'``, ``'|O'``, ``[('a', '<i4'), ...]``) as a DType, or None."""
    if isinstance(descr, str):
        return _parse_simple(descr)
    if isinstance(descr, list):
        size, objects = 0, False
        for field in descr:
            if not isinstance(field, tuple) or len(field) not in (2, 3):
                return None
            inner = parse_descr(field[1])
            count = _count(field[2]) if len(field) == 3 else 1
            if inner is None or count is None:
                return None
            size += inner.itemsize * count
            objects = objects or inner.hasobject
        return DType(size, objects)
    return None


def _parse_simple(descr: str) -> DType | None:
    if descr in _NAMED:
        return DType(*_NAMED[descr])
    match = _DESCR.match(descr)
    if match is None:
        return None
    _, code, digits, _unit = match.groups()
    if digits:
        per = _SIZED_KINDS.get(code)
        if code in "Mm":
            per = 1
        if per is None:
            return None
        return DType(int(digits) * per, code == "O")
    size = _CODE_SIZES.get(code)
    return None if size is None else DType(size, code == "O")


def _count(shape: object) -> int | None:
    """Elements in a shape (an int or a tuple of non-negative ints)."""
    if isinstance(shape, int) and not isinstance(shape, bool) and shape >= 0:
        return shape
    if isinstance(shape, tuple) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        return math.prod(shape)
    return None


def may_hold_objects(descr: object) -> bool:
    """Whether ``descr`` could mean an object dtype (fail closed on what the parser cannot read)."""
    return "O" in repr(descr) or "object" in repr(descr)


def scan_npy(
    stream: BinaryIO,
    *,
    file: str,
    member: str | None = None,
    allowlist: Allowlist,
    limits: Limits,
    base_offset: int = 0,
    deadline: float | None = None,
) -> list[ScanFinding]:
    """Findings for one ``.npy`` stream (header problems, the pickle of object arrays)."""
    reader = PickleReader(stream, base_offset)
    limit = deadline if deadline is not None else time.monotonic() + limits.max_seconds_per_file
    out: list[ScanFinding] = []

    def finding(rule: str, severity: Severity, title: str, detail: str, offset: int) -> None:
        out.append(ScanFinding(rule, severity, title, detail, file, member, offset, None))

    head = reader.read(10)
    if len(head) < 10 or not head.startswith(MAGIC):
        finding(
            RULE_MALFORMED,
            Severity.MEDIUM,
            "Not a .npy file",
            "the stream does not start with the .npy magic and version",
            base_offset,
        )
        return out
    major = head[6]
    if major == 1:
        length = int.from_bytes(head[8:10], "little")
    elif major in (2, 3):
        length = int.from_bytes(head[8:10] + reader.read(2), "little")
    else:
        finding(
            RULE_MALFORMED,
            Severity.MEDIUM,
            "Unknown .npy version",
            f"format version {major}.{head[7]} is not one numpy writes",
            base_offset + 6,
        )
        return out
    header_offset = reader.pos
    if length > min(_MAX_HEADER, limits.max_header_bytes):
        finding(
            RULE_MALFORMED,
            Severity.MEDIUM,
            "Oversized .npy header",
            f"a {length}-byte header is beyond what the scanner parses",
            header_offset,
        )
        return out
    raw = reader.read(length)
    header = _parse_header(raw, "utf-8" if major == 3 else "latin-1")
    if isinstance(header, str):
        finding(RULE_MALFORMED, Severity.MEDIUM, "Unreadable .npy header", header, header_offset)
        return out
    descr, shape = header.get("descr"), header.get("shape")
    dtype = parse_descr(descr)
    count = _count(shape)
    data_offset = reader.pos
    objects = dtype.hasobject if dtype is not None else may_hold_objects(descr)
    if objects:
        finding(
            RULE_OBJECT,
            Severity.INFO,
            "Object array: the data is a pickle",
            "np.load runs this pickle when called with allow_pickle=True; it is scanned "
            "below like any pickle",
            data_offset,
        )
        scan = walk_pickle(
            reader, file=file, member=member, allowlist=allowlist, limits=limits, deadline=limit
        )
        out.extend(scan.findings)
        if scan.complete:
            out.extend(_trailing(reader, file, member, allowlist, limits, limit))
        return out
    if dtype is None or count is None:
        finding(
            RULE_MALFORMED,
            Severity.MEDIUM,
            "Unreadable .npy dtype or shape",
            f"descr {descr!r} / shape {shape!r} cannot be interpreted, so the data that "
            "follows is not checked",
            header_offset,
        )
        if looks_like_pickle(reader.peek(2)):
            scan = walk_pickle(
                reader, file=file, member=member, allowlist=allowlist, limits=limits, deadline=limit
            )
            out.extend(scan.findings)
        return out
    nbytes = count * dtype.itemsize
    try:
        skipped = reader.skip(nbytes, limit)
    except LimitReached:
        finding(
            RULE_LIMIT,
            Severity.HIGH,
            "Scan budget exhausted",
            "the time budget ran out while skipping the array data; the rest is not checked",
            data_offset,
        )
        return out
    if skipped < nbytes:
        finding(
            RULE_MALFORMED,
            Severity.MEDIUM,
            "Truncated .npy data",
            f"the header announces {nbytes} data bytes; the file ends before them",
            data_offset,
        )
        return out
    out.extend(_trailing(reader, file, member, allowlist, limits, limit))
    return out


_SIMPLE_HEADER = re.compile(
    r"\{'descr': '([<>|=]?[A-Za-z][0-9]*)', 'fortran_order': (True|False), "
    r"'shape': \(((?:0|[1-9][0-9]*)(?:, (?:0|[1-9][0-9]*))*,?)?\), \} *\n?"
)
"""The header numpy writes for plain dtypes, read without ``ast`` (exactly what literal_eval
reads from it); anything else goes through ``ast.literal_eval``."""


def _parse_header(raw: bytes, encoding: str) -> dict[str, object] | str:
    """The header dict, or why it cannot be read."""
    simple = _SIMPLE_HEADER.fullmatch(raw.decode("latin-1"))
    if simple is not None:
        dims = simple.group(3)
        return {
            "descr": simple.group(1),
            "fortran_order": simple.group(2) == "True",
            "shape": tuple(int(d) for d in dims.split(",") if d.strip()) if dims else (),
        }
    try:
        value = ast.literal_eval(raw.decode(encoding))
    except Exception as exc:  # any failure to parse untrusted text means "unreadable"
        return f"the header is not a Python literal ({type(exc).__name__})"
    if not isinstance(value, dict) or not {"descr", "shape"} <= value.keys():
        return "the header is not a dict with 'descr' and 'shape'"
    return {str(k): v for k, v in value.items()}


def _trailing(
    reader: PickleReader,
    file: str,
    member: str | None,
    allowlist: Allowlist,
    limits: Limits,
    deadline: float,
) -> Iterable[ScanFinding]:
    """Bytes after the array: numpy ignores them, so they are reported, and scanned if a pickle."""
    start = reader.pos
    head = reader.peek(2)
    if not head:
        return []
    out = [
        ScanFinding(
            RULE_TRAILING, Severity.LOW, "Data after the array",
            "np.load ignores bytes after the array data; other readers may not. Nothing "
            "legitimate is stored there.", file, member, start, None,
        )
    ]  # fmt: skip
    if looks_like_pickle(head):
        scan = walk_pickle(
            reader, file=file, member=member, allowlist=allowlist, limits=limits, deadline=deadline
        )
        out.extend(scan.findings)
    return out
