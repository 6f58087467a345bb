"""ONNX: a hand-written, streaming protobuf wire reader over ModelProto, graphs, nodes and tensors.

Why not ``onnx.load``: it runs the protobuf C++ parser and onnx's checker on hostile bytes,
materialises every initializer in memory (models reach 2 GiB), and may follow external data
paths, which is the very thing to check. The wire format is simple: a walk that keeps only the
few fields that matter and skips the rest (``raw_data`` included) needs no library and bounded
memory.

What is reported: external data whose ``location`` is absolute, contains ``..`` or escapes the
model directory (onnx's loaders have read and written arbitrary files this way, CVE-2024-27318);
and nodes in operator domains outside the standard ones, which runtimes resolve through native
custom-op libraries.
"""

from __future__ import annotations

import math
import posixpath
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

from signoff.scanner.findings import ScanFinding, Severity

STANDARD_DOMAINS = frozenset(
    {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training", "com.microsoft"}
)
MAX_NESTING = 64
"""Message nesting (graphs in attributes in nodes in graphs ...) walked before giving up."""
MAX_STRING = 64 << 10
"""Strings kept (names, domains, external data entries); longer ones are reported."""
_CHUNK = 1 << 16
_TIME_CHECK_EVERY = 1 << 16
_MAX_LISTED = 10

# Wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class _Malformed(ValueError):
    """The bytes are not a well-formed protobuf message."""


class _Wire:
    """Buffered, position-tracking reader of protobuf wire data from a stream."""

    def __init__(self, stream: BinaryIO, size: int, deadline: float) -> None:
        self.stream = stream
        self.size = size
        self.deadline = deadline
        self.pos = 0  # absolute offset of buf[index]
        self.buf = b""
        self.index = 0
        self.tags = 0

    def at_end(self, end: int) -> bool:
        return self.pos >= end

    def _fill(self) -> None:
        # Called when buf is consumed; index == len(buf).
        chunk = self.stream.read(min(_CHUNK, max(self.size - self.pos, 0)))
        if not chunk:
            raise _Malformed(f"unexpected end of data at offset {self.pos}")
        self.buf, self.index = chunk, 0

    def byte(self) -> int:
        if self.index >= len(self.buf):
            self._fill()
        value = self.buf[self.index]
        self.index += 1
        self.pos += 1
        return value

    def varint(self) -> int:
        index = self.index
        if index < len(self.buf) and self.buf[index] < 0x80:  # one byte: most tags and lengths
            self.index = index + 1
            self.pos += 1
            return self.buf[index]
        value = 0
        for shift in range(0, 70, 7):
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise _Malformed(f"varint longer than 10 bytes at offset {self.pos}")

    def tag(self) -> tuple[int, int]:
        self.tags += 1
        if self.tags % _TIME_CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise TimeoutError("ONNX walk exceeded the time budget")
        key = self.varint()
        if key >> 3 == 0:
            raise _Malformed(f"field number 0 at offset {self.pos}")
        return key >> 3, key & 7

    def read(self, count: int) -> bytes:
        parts: list[bytes] = []
        while count:
            if self.index >= len(self.buf):
                self._fill()
            take = self.buf[self.index : self.index + count]
            parts.append(take)
            self.index += len(take)
            self.pos += len(take)
            count -= len(take)
        return b"".join(parts)

    def skip(self, count: int) -> None:
        buffered = len(self.buf) - self.index
        if count <= buffered:
            self.index += count
            self.pos += count
            return
        count -= buffered
        self.pos += buffered
        self.buf, self.index = b"", 0
        if self.pos + count > self.size:
            raise _Malformed(f"field runs past the end of the data at offset {self.pos}")
        if self.stream.seekable():
            self.stream.seek(count, 1)
        else:
            left = count
            while left:
                chunk = self.stream.read(min(left, 1 << 20))
                if not chunk:
                    raise _Malformed("unexpected end of data")
                left -= len(chunk)
        self.pos += count

    def length(self, end: int) -> int:
        """A length prefix, checked against the enclosing message's end; returns the field end."""
        count = self.varint()
        if self.pos + count > end:
            raise _Malformed(f"field of {count} bytes at offset {self.pos} overruns its message")
        return self.pos + count

    def skip_value(self, wire: int, end: int) -> None:
        if wire == _VARINT:
            self.varint()
        elif wire == _I64:
            self.skip(8)
        elif wire == _I32:
            self.skip(4)
        elif wire == _LEN:
            self.skip(self.length(end) - self.pos)
        else:
            raise _Malformed(f"unsupported wire type {wire} at offset {self.pos}")

    def string(self, end: int) -> str | None:
        """A length-delimited string, or ``None`` (skipped) when longer than ``MAX_STRING``."""
        stop = self.length(end)
        if stop - self.pos > MAX_STRING:
            self.skip(stop - self.pos)
            return None
        return self.read(stop - self.pos).decode("utf-8", "replace")


@dataclass
class _Walk:
    wire: _Wire
    file: str
    member: str | None
    findings: list[ScanFinding] = field(default_factory=list)
    node_domains: Counter[tuple[str, str]] = field(default_factory=Counter)
    local_functions: set[tuple[str, str]] = field(default_factory=set)
    external: list[str] = field(default_factory=list)

    def add(self, rule: str, severity: Severity, title: str, detail: str, offset: int) -> None:
        self.findings.append(
            ScanFinding(f"onnx/{rule}", severity, title, detail, self.file, self.member, offset)
        )

    def expect(self, wire: int, wanted: int) -> None:
        if wire != wanted:
            raise _Malformed(f"wire type {wire} where {wanted} was expected at {self.wire.pos}")

    # ModelProto: 7 graph, 20 training_info, 25 functions.
    def model(self, end: int) -> None:
        while not self.wire.at_end(end):
            number, wire = self.wire.tag()
            if number == 7:
                self.expect(wire, _LEN)
                self.graph(self.wire.length(end), 1)
            elif number == 20:
                self.expect(wire, _LEN)
                self.training_info(self.wire.length(end), 1)
            elif number == 25:
                self.expect(wire, _LEN)
                self.function(self.wire.length(end), 1)
            else:
                self.wire.skip_value(wire, end)

    # TrainingInfoProto: 1 initialization, 2 algorithm (both graphs).
    def training_info(self, end: int, depth: int) -> None:
        self.nested(depth)
        while not self.wire.at_end(end):
            number, wire = self.wire.tag()
            if number in (1, 2):
                self.expect(wire, _LEN)
                self.graph(self.wire.length(end), depth + 1)
            else:
                self.wire.skip_value(wire, end)

    # FunctionProto: 1 name, 7 node, 10 domain.
    def function(self, end: int, depth: int) -> None:
        self.nested(depth)
        name = domain = ""
        while not self.wire.at_end(end):
            number, wire = self.wire.tag()
            if number in (1, 10):
                self.expect(wire, _LEN)
                text = self.wire.string(end) or ""
                name, domain = (text, domain) if number == 1 else (name, text)
            elif number == 7:
                self.expect(wire, _LEN)
                self.node(self.wire.length(end), depth + 1)
            else:
                self.wire.skip_value(wire, end)
        self.local_functions.add((domain, name))

    # GraphProto: 1 node, 5 initializer, 15 sparse_initializer.
    def graph(self, end: int, depth: int) -> None:
        self.nested(depth)
        while not self.wire.at_end(end):
            number, wire = self.wire.tag()
            if number == 1:
                self.expect(wire, _LEN)
                self.node(self.wire.length(end), depth + 1)
            elif number == 5:
                self.expect(wire, _LEN)
                self.tensor(self.wire.length(end), depth + 1)
            elif number == 15:
                self.expect(wire, _LEN)
                self.sparse(self.wire.length(end), depth + 1)
            else:
                self.wire.skip_value(wire, end)

    # NodeProto: 4 op_type, 5 attribute, 7 domain.
    def node(self, end: int, depth: int) -> None:
        self.nested(depth)
        op_type = domain = ""
        while not self.wire.at_end(end):
            number, wire = self.wire.tag()
            if number in (4, 7):
                self.expect(wire, _LEN)
                text = self.wire.string(end)
                if text is None:
                    text = "<over-long name>"
                op_type, domain = (text, domain) if number == 4 else (op_type, text)
            elif number == 5:
                self.expect(wire, _LEN)
                self.attribute(self.wire.length(end), depth + 1)
            else:
                self.wire.skip_value(wire, end)
        if domain not in STANDARD_DOMAINS:
            self.node_domains[(domain, op_type)] += 1

    # AttributeProto: 5 t, 6 g, 10 tensors, 11 graphs, 22 sparse_tensor, 23 sparse_tensors.
    def attribute(self, end: int, depth: int) -> None:
        self.nested(depth)
        while not self.wire.at_end(end):
            number, wire = self.wire.tag()
            if number in (5, 10):
                self.expect(wire, _LEN)
                self.tensor(self.wire.length(end), depth + 1)
            elif number in (6, 11):
                self.expect(wire, _LEN)
                self.graph(self.wire.length(end), depth + 1)
            elif number in (22, 23):
                self.expect(wire, _LEN)
                self.sparse(self.wire.length(end), depth + 1)
            else:
                self.wire.skip_value(wire, end)

    # SparseTensorProto: 1 values, 2 indices (both tensors).
    def sparse(self, end: int, depth: int) -> None:
        self.nested(depth)
        while not self.wire.at_end(end):
            number, wire = self.wire.tag()
            if number in (1, 2):
                self.expect(wire, _LEN)
                self.tensor(self.wire.length(end), depth + 1)
            else:
                self.wire.skip_value(wire, end)

    # TensorProto: 8 name, 13 external_data (StringStringEntryProto: 1 key, 2 value).
    def tensor(self, end: int, depth: int) -> None:
        self.nested(depth)
        name = ""
        locations: list[tuple[str | None, int]] = []
        while not self.wire.at_end(end):
            number, wire = self.wire.tag()
            if number == 8:
                self.expect(wire, _LEN)
                name = self.wire.string(end) or "<over-long name>"
            elif number == 13:
                self.expect(wire, _LEN)
                offset = self.wire.pos
                key, value = self.entry(self.wire.length(end))
                if key == "location":
                    locations.append((value, offset))
            else:
                self.wire.skip_value(wire, end)
        for location, offset in locations:
            self.check_location(name, location, offset)

    def entry(self, end: int) -> tuple[str | None, str | None]:
        key: str | None = None
        value: str | None = None
        while not self.wire.at_end(end):
            number, wire = self.wire.tag()
            if number in (1, 2):
                self.expect(wire, _LEN)
                text = self.wire.string(end)
                key, value = (text, value) if number == 1 else (key, text)
            else:
                self.wire.skip_value(wire, end)
        return key, value

    def nested(self, depth: int) -> None:
        if depth > MAX_NESTING:
            raise _Malformed(f"messages nested more than {MAX_NESTING} deep")

    def check_location(self, tensor: str, location: str | None, offset: int) -> None:
        problem = external_location_problem(location)
        if problem is None:
            self.external.append(location or "")
            return
        self.add(
            "external-data-path",
            Severity.CRITICAL,
            "ONNX external data path escapes the model directory",
            f"tensor {tensor!r}: location {location!r} {problem}; loading reads (and "
            "converting can write) files outside the artifact",
            offset,
        )


_DRIVE = re.compile(r"^[A-Za-z]:")


def external_location_problem(location: str | None) -> str | None:
    """Why an external data ``location`` is unsafe, or ``None`` when it stays in the model dir."""
    if location is None:
        return f"is longer than {MAX_STRING} bytes"
    if "\x00" in location:
        return "contains a NUL byte"
    path = location.replace("\\", "/")
    if path.startswith("/") or _DRIVE.match(path):
        return "is absolute"
    if ".." in path.split("/"):
        return "contains '..'"
    normal = posixpath.normpath(posixpath.join("model", path))
    if normal != "model" and not normal.startswith("model/"):
        return "resolves outside the model directory"
    return None


def scan_onnx(
    stream: BinaryIO,
    size: int,
    *,
    file: str,
    member: str | None,
    deadline: float = math.inf,
) -> list[ScanFinding]:
    """Findings for an ONNX ``ModelProto`` stream of ``size`` bytes, read from its start."""
    walk = _Walk(_Wire(stream, size, deadline), file, member)
    try:
        walk.model(size)
    except _Malformed as exc:
        walk.add(
            "malformed",
            Severity.MEDIUM,
            "Malformed ONNX model",
            f"cannot be analysed completely: {exc}",
            walk.wire.pos,
        )
    _report_domains(walk)
    if walk.external:
        listed = ", ".join(sorted(set(walk.external))[:_MAX_LISTED])
        walk.add(
            "external-data",
            Severity.INFO,
            "ONNX tensors stored in external files",
            f"{len(walk.external)} tensors read data from: {listed}",
            0,
        )
    return walk.findings


def _report_domains(walk: _Walk) -> None:
    domains: dict[str, list[str]] = {}
    for (domain, op_type), _count in sorted(walk.node_domains.items()):
        if (domain, op_type) in walk.local_functions:
            continue  # a function defined in the model itself, expanded by the runtime
        domains.setdefault(domain, []).append(op_type)
    for domain, ops in domains.items():
        walk.add(
            "custom-op-domain",
            Severity.MEDIUM,
            "Custom op domain loads native code",
            f"nodes in domain {domain!r} ({', '.join(ops[:_MAX_LISTED])}) need a custom-op "
            "library registered with the runtime: native code outside the model's review",
            0,
        )
