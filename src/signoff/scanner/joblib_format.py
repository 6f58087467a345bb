"""joblib files: a pickle with numpy array bytes written inline, possibly compressed as a whole.

``joblib.dump`` pickles a ``NumpyArrayWrapper`` (shape, dtype, order, alignment) in place of each
array and writes the array bytes right after that object's BUILD opcode; ``joblib.load`` reads
them there, then resumes unpickling. Object arrays are written as a complete nested pickle at
that point instead. :func:`numpy_array_hook` teaches the pickle walker the same convention, so
the walk resumes exactly where joblib's loader does, and the skipped bytes are also checked the
way a plain ``pickle.load`` would read them (a payload can hide as "array data").

Compressed files (zlib, gzip, bz2, xz, lzma, joblib's old ``ZF`` files) are inflated as a stream
in bounded steps under the expansion and ratio budgets.
"""

from __future__ import annotations

import bz2
import io
import lzma
import pickletools
import re
import time
import zlib
from typing import TYPE_CHECKING, BinaryIO

from signoff.scanner.allowlist import Allowlist
from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.limits import Limits
from signoff.scanner.npy import DType, parse_descr
from signoff.scanner.pickle_scan import (
    RULE_DANGEROUS,
    RULE_UNLISTED,
    Broken,
    LimitReached,
    PickleReader,
    PickleWalker,
    Result,
    SymDict,
    opcode_run,
    scan_pickles,
    walk_pickle,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

RULE_COMPANION = "joblib/companion-file"
RULE_ARRAY_AS_PICKLE = "joblib/array-bytes-pickle"
RULE_UNANALYSABLE = "joblib/unanalysable"

_ARRAY_WRAPPERS = frozenset(
    {
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
    }
)
_COMPANION_WRAPPERS = frozenset(
    (prefix + module, name)
    for prefix in ("", "sklearn.externals.")
    for module in ("joblib.numpy_pickle", "joblib.numpy_pickle_compat")
    for name in ("NDArrayWrapper", "ZNDArrayWrapper")
)
_SHADOW_BYTES = 1 << 16
"""Array bytes re-read as pickle opcodes, as a plain ``pickle.load`` would see them."""
_SHADOW_LIMITS = Limits(max_opcodes=_SHADOW_BYTES)
"""(Opcodes take a byte at least: the walk of ``_SHADOW_BYTES`` never hits this.)"""
_SHADOW_RUN = 1000
"""Valid opcodes in a row that no real array data produces."""
_SHADOW_IMPORTS = frozenset({RULE_DANGEROUS, RULE_UNLISTED})
_IDENTIFIER_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_STEP = 1 << 16
_OPCODES = frozenset(ord(opcode.code) for opcode in pickletools.opcodes)
"""Bytes that are pickle opcodes (protocols 0-5)."""
_ZFILE_HEADER = 2 + 19
"""``ZF`` plus the hex length joblib <= 0.9 wrote before its zlib data."""


def numpy_array_hook(walker: PickleWalker, target: object, state: object, offset: int) -> None:
    """After a BUILD: step over the array data joblib wrote behind a NumpyArrayWrapper."""
    if type(target) is not Result or target.callee is None:
        return
    name = target.callee.key
    if name in _ARRAY_WRAPPERS:
        _array_data(walker, state, offset)
    elif name in _COMPANION_WRAPPERS:
        _companion(walker, state, offset)


def dtype_of(value: object) -> DType | None:
    """The dtype a pickled ``numpy.dtype(...)`` call builds (args and BUILD state), if readable.

    Parsed once per pickled dtype object (pickles share one dtype among many arrays by memo):
    the result is kept on the object with the state it was parsed from.
    """
    if type(value) is not Result:
        return None
    cached = value.cache
    if cached is not None and cached[0] is value.state:
        parsed = cached[1]
        return parsed if isinstance(parsed, DType) else None
    dtype = _parse_dtype(value)
    value.cache = (value.state, dtype)
    return dtype


def _parse_dtype(value: Result) -> DType | None:
    if value.callee is None or type(value.args) is not tuple:
        return None
    if value.callee.key != ("numpy", "dtype") or not value.args:
        return None
    descr = value.args[0]
    parsed = parse_descr(descr) if isinstance(descr, str) else None
    if parsed is None:
        return None
    itemsize, objects = parsed.itemsize, parsed.hasobject
    state = value.state
    if type(state) is tuple and len(state) >= 6:
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if type(state[5]) is int and state[5] > 0:
            itemsize = state[5]
        subarray, fields = state[2], state[4]
        if type(subarray) is tuple and subarray:
            inner = dtype_of(subarray[0])
            objects = objects or inner is None or inner.hasobject
        if isinstance(fields, dict):
            for field in fields.values():
                inner = dtype_of(field[0]) if type(field) is tuple and field else None
                objects = objects or inner is None or inner.hasobject
    return DType(itemsize, objects)


def _array_data(walker: PickleWalker, state: object, offset: int) -> None:
    if type(state) is not SymDict:
        raise Broken(f"the NumpyArrayWrapper at offset {offset} has no readable state")
    shape, dtype = state.get("shape"), dtype_of(state.get("dtype"))
    count = _elements(shape)
    if dtype is None or count is None:
        raise Broken(
            f"the NumpyArrayWrapper at offset {offset} has a dtype or shape the scanner cannot "
            "read, so the array bytes that follow cannot be located"
        )
    reader = walker.reader
    if dtype.hasobject:
        # joblib unpickles object arrays with a fresh Unpickler reading the same file.
        inner = walk_pickle(
            reader,
            file=walker.file,
            member=walker.member,
            allowlist=walker.allowlist,
            limits=walker.limits,
            deadline=walker.deadline,
            depth=walker.depth + 1,
        )
        for finding in inner.findings:
            walker.add_finding(finding)
        if not inner.complete:
            raise Broken(f"the object array pickled after offset {offset} is broken")
        return
    nbytes = count * dtype.itemsize
    buf, i = reader.buf, reader.i
    padded = state.get("numpy_array_alignment_bytes") is not None
    # Usually the padding and the data are in the reader's buffer already: step over them there
    # (what reader.read/peek/skip do, without their calls; the walk checks its byte budget at
    # its next refill).
    if padded and i < len(buf):
        i += 1 + buf[i]
    if (not padded or i > reader.i) and i + nbytes <= len(buf):
        if nbytes and buf[i] in _OPCODES:  # else a plain load stops at once: nothing to check
            _shadow(walker, buf[i : i + min(nbytes, _SHADOW_BYTES)], reader.start + i, nbytes)
        reader.i = i + nbytes
        return
    if padded:
        padding = reader.read(1)
        if not padding or reader.skip(padding[0]) < padding[0]:
            raise Broken(f"the array padding after offset {offset} is truncated")
    first = reader.peek(1) if nbytes else b""
    if first and first[0] in _OPCODES:
        _shadow(walker, reader.peek(min(nbytes, _SHADOW_BYTES)), reader.pos, nbytes)
    if reader.skip(nbytes, walker.deadline) < nbytes:
        raise Broken(f"the {nbytes} bytes of array data after offset {offset} are truncated")
    walker.check_bytes()


def _elements(shape: object) -> int | None:
    if type(shape) is not tuple:
        return None
    count = 1
    for d in shape:
        if type(d) is not int or d < 0:
            return None
        count *= d
    return count


def _shadow(walker: PickleWalker, data: bytes, offset: int, nbytes: int) -> None:
    """Report array bytes that a plain ``pickle.load`` would execute as opcodes."""
    if not data or data[0] not in _OPCODES:
        return  # the walk would stop at its first byte: nothing to report (most array data)
    run = opcode_run(data, _SHADOW_RUN)
    if run.opcodes + 1 < _SHADOW_RUN and not run.imports:
        return  # a short run without an import: the walk below would report nothing
    shadow = PickleWalker(
        PickleReader(io.BytesIO(data), offset),
        file=walker.file,
        member=walker.member,
        allowlist=walker.allowlist,
        limits=_SHADOW_LIMITS,
        deadline=walker.deadline,
        depth=walker.depth + 1,
    )
    scan = shadow.walk()
    # Imports by name are what a payload needs; random bytes readily produce EXT codes, calls
    # on garbage or broken STACK_GLOBALs, but not two identifier lines after a GLOBAL.
    suspicious = [
        f
        for f in scan.findings
        if f.rule_id in _SHADOW_IMPORTS and _IDENTIFIER_PATH.match(f.construct or "")
    ]
    # Real array data breaks the opcode parser within a few opcodes; a long valid run is crafted
    # (e.g. harmless opcodes padding a payload beyond the bytes checked here).
    long_run = shadow.opcodes >= _SHADOW_RUN
    if not suspicious and not long_run:
        return
    walker.add(
        RULE_ARRAY_AS_PICKLE,
        Severity.HIGH,
        "Array data is also pickle code",
        f"The {nbytes} bytes joblib reads as array data at offset {offset} also parse as pickle "
        f"opcodes ({shadow.opcodes} in a row): plain "
        "pickle.load would run them, joblib.load would not. A payload hidden from scanners that "
        "follow joblib's format looks exactly like this.",
        offset,
        f"array bytes@{offset}",
    )
    for finding in suspicious:
        walker.add_finding(finding)


def _companion(walker: PickleWalker, state: object, offset: int) -> None:
    """Old joblib (< 0.10) arrays live in companion files, loaded with allow_pickle=True."""
    filename = state.get("filename") if type(state) is SymDict else None
    if type(filename) is not str:
        return
    escapes = (
        filename.startswith(("/", "\\")) or ":" in filename or ".." in re.split(r"[/\\]", filename)
    )
    walker.add(
        RULE_COMPANION,
        Severity.HIGH if escapes else Severity.INFO,
        "Array stored in another file" + (" outside the artifact" if escapes else ""),
        f"joblib loads {filename!r} relative to this file with np.load(allow_pickle=True), so "
        + (
            "a file outside the artifact directory would be unpickled."
            if escapes
            else "that file's pickles run too; it is scanned as its own file."
        ),
        offset,
        filename,
    )


def compression_of(head: bytes) -> str | None:
    """The whole-file compression joblib may have used, from the first bytes."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head.startswith(b"ZF"):
        return "zfile"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    if len(head) >= 13 and head[0] == 0x5D:
        # The legacy .lzma header: properties 0x5D, then a power-of-two dictionary size.
        dict_size = int.from_bytes(head[1:5], "little")
        if dict_size >= 4096 and dict_size & (dict_size - 1) == 0:
            return "lzma"
    return None


class Inflated(io.RawIOBase):
    """A decompressed view of ``reader`` that stops at the expansion and ratio budgets."""

    def __init__(self, reader: PickleReader, kind: str, limits: Limits, deadline: float) -> None:
        self.reader = reader
        self.kind = kind
        self.limits = limits
        self.deadline = deadline
        self.expanded = 0
        self.consumed = 0
        self.pending = b""
        self.done = False
        self.deflate = kind in ("zlib", "gzip", "zfile")
        self._new_decoder()

    def _new_decoder(self) -> None:
        if self.deflate:
            self.zdecoder = zlib.decompressobj(31 if self.kind == "gzip" else 15)
        else:
            self.decoder = bz2.BZ2Decompressor() if self.kind == "bz2" else lzma.LZMADecompressor()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        want = len(view)
        while not self.done:
            if time.monotonic() > self.deadline:
                raise LimitReached("time")
            out = self._step(want)
            if out:
                self._charge(len(out))
                view[: len(out)] = out
                return len(out)
        return 0

    def _step(self, want: int) -> bytes:
        """Up to ``want`` decompressed bytes (possibly none while input is consumed)."""
        if self.deflate:
            zdecoder = self.zdecoder
            data = zdecoder.unconsumed_tail or self._input()
            try:
                out = zdecoder.decompress(data, want)
            except zlib.error as exc:
                raise Broken(f"the {self.kind} data is corrupt ({exc})") from None
            finished, rest = zdecoder.eof, zdecoder.unused_data
        else:
            decoder = self.decoder
            data = self._input() if decoder.needs_input else b""
            try:
                out = decoder.decompress(data, want)
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise Broken(f"the {self.kind} data is corrupt ({exc})") from None
            finished = decoder.eof
            rest = decoder.unused_data if finished else b""
            if not out and not data and not finished:
                raise Broken(f"the {self.kind} data ends before its end marker")
        if finished:
            if rest and self.kind in ("gzip", "bz2", "xz"):
                # Multi-member files (concatenated gzip/bz2/xz) continue with a fresh decoder.
                self._new_decoder()
                self.pending = rest + self.pending
            else:
                self.done = True
        return out

    def _input(self) -> bytes:
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        data = self.reader.read(_STEP)
        self.consumed += len(data)
        if not data:
            raise Broken(f"the {self.kind} data ends before its end marker")
        return data

    def _charge(self, produced: int) -> None:
        self.expanded += produced
        if self.expanded > self.limits.max_expanded_bytes:
            raise LimitReached(
                f"more than {self.limits.max_expanded_bytes} decompressed bytes "
                "(max_expanded_bytes)"
            )
        if self.expanded > (1 << 20) and self.expanded > self.limits.max_compression_ratio * max(
            self.consumed, 1
        ):
            raise LimitReached(
                f"a compression ratio over {self.limits.max_compression_ratio} "
                "(max_compression_ratio): a decompression bomb"
            )


def scan_joblib(
    stream: BinaryIO,
    *,
    file: str,
    member: str | None = None,
    allowlist: Allowlist,
    limits: Limits,
    base_offset: int = 0,
    deadline: float | None = None,
) -> list[ScanFinding]:
    """Findings for a joblib file, compressed or not (offsets of compressed content are relative
    to the decompressed stream, named ``member[kind]``)."""
    limit = deadline if deadline is not None else time.monotonic() + limits.max_seconds_per_file
    reader = PickleReader(stream, base_offset)
    kind = compression_of(reader.peek(16))
    if kind is None:
        reader.release()
        scans = scan_pickles(
            stream,
            file=file,
            member=member,
            allowlist=allowlist,
            limits=limits,
            base_offset=base_offset,
            deadline=limit,
        )
        return [finding for scan in scans for finding in scan.findings]
    inner_member = f"{member or ''}[{kind}]"
    if kind == "lz4":
        return [
            ScanFinding(
                RULE_UNANALYSABLE,
                Severity.HIGH,
                "LZ4-compressed joblib file cannot be analysed",
                "joblib loads LZ4-compressed pickles when the lz4 package is installed; the "
                "scanner does not decompress LZ4, so the content is unchecked.",
                file,
                member,
                base_offset,
                "lz4",
            )
        ]
    if kind == "zfile":
        reader.skip(_ZFILE_HEADER)
        if reader.peek(1) == b" ":  # joblib <= 0.8.4 wrote one more padding character
            reader.skip(1)
    inflated = io.BufferedReader(Inflated(reader, kind, limits, limit), _STEP)
    scans = scan_pickles(
        inflated,
        file=file,
        member=inner_member,
        allowlist=allowlist,
        limits=limits,
        deadline=limit,
    )
    return [finding for scan in scans for finding in scan.findings]
