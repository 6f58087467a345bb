"""PyTorch's legacy (non-zip) checkpoint format: five pickles, then raw storage bytes.

``torch.save(..., _use_new_zipfile_serialization=False)`` (and every release before 1.6) writes:
the magic-number pickle, the protocol-version pickle, a sys_info pickle, the model pickle (tensor
storages are persistent ids ``('storage', <type>, key, location, numel, view)``), the sorted list
of storage keys as a pickle, then for each key an 8-byte element count and the storage's bytes.
``torch.load`` unpickles all five, so a payload may sit in any of them: every one is walked.
The storage area is then checked against the counts the model pickle announced, so nothing can
hide there, and whatever follows it is reported (and scanned when it is a pickle).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import BinaryIO

from signoff.scanner.allowlist import Allowlist
from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.limits import Limits
from signoff.scanner.pickle_scan import (
    Global,
    LimitReached,
    PickleReader,
    PickleScan,
    PickleWalker,
    SymDict,
    SymList,
    looks_like_pickle,
    walk_pickle,
)

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
RULE_LAYOUT = "torch/legacy-layout"
RULE_PERSISTENT = "torch/persistent-id"
RULE_TRAILING = "torch/trailing-data"

_MAGIC_BYTES = MAGIC_NUMBER.to_bytes(10, "little")
# Bytes per element of the legacy storage classes (torch/_utils.py _element_size).
_ELEMENT_SIZES = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
    "BoolStorage": 1, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16, "QUInt8Storage": 1,
    "QInt8Storage": 1, "QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1,
    "UntypedStorage": 1,
}  # fmt: skip
_PICKLES = ("magic number", "protocol version", "sys_info", "model", "storage keys")


def is_torch_legacy(head: bytes) -> bool:
    """Whether a stream starting with ``head`` is a legacy torch checkpoint (magic pickle)."""
    if head.startswith(b"\x80") and len(head) >= 2:
        body = head[2:]
        if body.startswith(b"\x95"):  # protocol 4+ FRAME
            body = body[9:]
        return body.startswith(b"\x8a\x0a" + _MAGIC_BYTES)
    return head.startswith(b"L%dL\n" % MAGIC_NUMBER) or head.startswith(b"L%d\n" % MAGIC_NUMBER)


class _Storages:
    """Storage keys and sizes announced by the model pickle's persistent ids."""

    def __init__(self) -> None:
        self.sizes: dict[str, tuple[int, int] | None] = {}
        """key: (elements, bytes per element), None when the id does not say."""

    def hook(self, walker: PickleWalker, pid: object, offset: int) -> None:
        """Persistent-id hook: record storages, report ids ``torch.load`` would not accept."""
        kind = pid[0] if type(pid) is tuple and pid else None
        if kind == "storage" and type(pid) is tuple and len(pid) >= 5:
            storage_type, key, numel = pid[1], pid[2], pid[4]
            if type(key) is str:
                name = storage_type.name if type(storage_type) is Global else ""
                size = _ELEMENT_SIZES.get(name)
                if type(numel) is int and numel >= 0 and size is not None:
                    self.sizes[key] = (numel, size)
                else:
                    self.sizes[key] = None
                return
        elif kind == "module" and type(pid) is tuple and len(pid) == 4:
            return  # (module, class, source file, source): torch compares the source, runs nothing
        walker.add(
            RULE_PERSISTENT,
            Severity.MEDIUM,
            "Unexpected persistent id",
            f"torch.load accepts ('storage', ...) and ('module', ...) persistent ids; this one is "
            f"{_kind(pid)}. torch.load refuses it, but a loader with its own persistent_load "
            "may do anything with it.",
            offset,
            "persistent id",
        )


def _kind(value: object) -> str:
    if type(value) is tuple:
        return f"a {len(value)}-tuple starting with {value[0]!r}" if value else "an empty tuple"
    if type(value) is str:
        return f"the string {value[:40]!r}"
    return f"a {type(value).__name__} value"


def scan_torch_legacy(
    stream: BinaryIO,
    *,
    file: str,
    member: str | None = None,
    allowlist: Allowlist,
    limits: Limits,
    base_offset: int = 0,
    deadline: float | None = None,
) -> list[ScanFinding]:
    """Findings for a legacy torch checkpoint: its five pickles and its storage layout."""
    limit = deadline if deadline is not None else time.monotonic() + limits.max_seconds_per_file
    reader = PickleReader(stream, base_offset)
    storages = _Storages()
    out: list[ScanFinding] = []

    def layout(title: str, detail: str, offset: int, severity: Severity = Severity.MEDIUM) -> None:
        out.append(ScanFinding(RULE_LAYOUT, severity, title, detail, file, member, offset, None))

    scans: list[PickleScan] = []
    for index, what in enumerate(_PICKLES):
        offset = reader.pos
        scan = walk_pickle(
            reader,
            file=file,
            member=member,
            allowlist=allowlist,
            limits=limits,
            deadline=limit,
            persistent_hook=storages.hook if what == "model" else None,
        )
        scans.append(scan)
        out.extend(scan.findings)
        if not scan.complete:
            return out
        problem = _check_value(index, scan.value)
        if problem:
            layout(f"Unexpected {what} pickle", problem, offset)
    keys = scans[4].value
    if type(keys) is not SymList or keys.overflow or any(type(k) is not str for k in keys):
        layout(
            "Storage keys cannot be read",
            "the storage-key pickle is not a list of strings, so the raw storage area that "
            "follows cannot be checked",
            reader.pos,
        )
        return out
    try:
        if not _check_storages(reader, [str(k) for k in keys], storages, layout, limit):
            return out
    except LimitReached:
        layout(
            "Scan budget exhausted", "time ran out in the storage area", reader.pos, Severity.HIGH
        )
        return out
    if not reader.at_eof():
        start = reader.pos
        out.append(
            ScanFinding(
                RULE_TRAILING,
                Severity.LOW,
                "Data after the storages",
                "torch.load stops after the last storage; bytes after it serve no purpose.",
                file,
                member,
                start,
                None,
            )
        )
        if looks_like_pickle(reader.peek(2)):
            tail = walk_pickle(
                reader, file=file, member=member, allowlist=allowlist, limits=limits, deadline=limit
            )
            out.extend(tail.findings)
    return out


def _check_value(index: int, value: object) -> str | None:
    if index == 0 and value != MAGIC_NUMBER:
        return "the first pickle is not torch's magic number"
    if index == 1 and value != PROTOCOL_VERSION:
        return f"protocol version {value!r}, not {PROTOCOL_VERSION}"
    if index == 2 and type(value) is not SymDict:
        return "sys_info is not a dict"
    return None


Report = Callable[[str, str, int], None]


def _check_storages(
    reader: PickleReader, keys: list[str], storages: _Storages, report: Report, deadline: float
) -> bool:
    """Step over each storage (8-byte element count, then the bytes), checking announced sizes."""
    for key in keys:
        offset = reader.pos
        head = reader.read(8)
        if len(head) < 8:
            report("Truncated storage area", f"the file ends before storage {key!r}", offset)
            return False
        numel = int.from_bytes(head, "little", signed=True)
        announced = storages.sizes.get(key)
        if announced is None:
            report(
                "Storage area does not match the model",
                f"storage {key!r} is not described by the model pickle (or its element size is "
                "unknown), so where its bytes end cannot be checked",
                offset,
            )
            return False
        elements, size = announced
        if numel != elements or reader.skip(numel * size, deadline) < numel * size:
            report(
                "Storage size mismatch",
                f"storage {key!r} holds {numel} elements where the model pickle announced "
                f"{elements}, or the file ends before its {numel * size} bytes",
                offset,
            )
            return False
    return True
