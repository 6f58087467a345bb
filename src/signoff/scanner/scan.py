"""The scanner's entry point and dispatcher: every file, member and decompressed stream is sniffed
and handed to the analyser of its format, recursively.

Fail closed: an analyser that raises yields a ``scanner/internal-error`` finding (high), a budget
that runs out (time, depth, expansion) yields a high finding, and nothing is ever skipped because
of its name. Memory stays bounded: files are read through buffered streams, archive members
through windows and decompressors that work in 64 KiB steps; a stream that must be seekable
(a zip or HDF5 inside a compressed member) is spooled to a temporary file, not to memory.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from signoff.scanner import keras_scan, zipread
from signoff.scanner.allowlist import Allowlist
from signoff.scanner.findings import ScanFinding, ScanReport, Severity
from signoff.scanner.gguf_scan import scan_gguf
from signoff.scanner.joblib_format import scan_joblib
from signoff.scanner.limits import Limits
from signoff.scanner.npy import scan_npy
from signoff.scanner.onnx_scan import scan_onnx
from signoff.scanner.pickle_scan import PickleScan, looks_like_pickle, scan_pickles
from signoff.scanner.safetensors_scan import scan_safetensors
from signoff.scanner.sniff import HDF5_MAGIC, HEAD_BYTES, Format, hdf5_probe_offsets, sniff
from signoff.scanner.tarread import scan_tar
from signoff.scanner.torch_legacy import is_torch_legacy, scan_torch_legacy
from signoff.scanner.torch_zip import is_torch_archive, scan_torch_zip
from signoff.scanner.walk import DIRECTORY, REGULAR, SYMLINK, Entry, list_entries
from signoff.scanner.zipread import CHUNK, ExpansionLimit, Inflater, ZipArchive, buffered

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_CONTAINERS = frozenset({Format.ZIP, Format.TAR, Format.HDF5})
"""Formats not probed for an HDF5 superblock further in (their members are scanned)."""
_NOT_PICKLES = frozenset(
    {Format.PICKLE, Format.JOBLIB, Format.TORCH_LEGACY, Format.EMPTY, Format.ZIP}
)
"""Formats never walked as a pickle too (zips: loaders check the zip magic first)."""
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
IN_MEMORY_BYTES = 8 << 20
"""Top-level files up to this size are read into memory whole; larger ones are streamed."""
_INFLATE_KINDS = {
    Format.GZIP: "gzip",
    Format.BZ2: "bzip2",
    Format.XZ: "xz",
    Format.LZMA: "xz",
    Format.ZLIB: "zlib",
}


@dataclass
class ScanContext:
    """State shared by the analysers during one scan: budgets, findings, the recursion hook."""

    allowlist: Allowlist
    limits: Limits
    report: ScanReport
    deadline: float = math.inf
    expanded: int = 0
    formats: list[str] = field(default_factory=list)
    """Formats of the current top-level file and its compression layers, outermost first."""
    torchscript_depth: int = -1
    """Depth of the members of the TorchScript archive being scanned (-1: none)."""

    def allowlist_at(self, depth: int) -> Allowlist:
        """The allowlist for content at ``depth``: TorchScript's for a TorchScript archive's
        own members (what ``torch.jit.load`` unpickles), the scan's everywhere else."""
        if depth == self.torchscript_depth:
            return self.allowlist.for_torchscript()
        return self.allowlist

    def add(self, finding: ScanFinding) -> None:
        self.report.findings.append(finding)

    def check_time(self) -> None:
        """Raise ``TimeoutError`` once the current file's time budget is spent."""
        if time.monotonic() > self.deadline:
            raise TimeoutError(
                f"time budget of {self.limits.max_seconds_per_file:g} s per file exhausted"
            )

    def charge_expanded(self, count: int) -> None:
        """Count decompressed bytes; raise ``ExpansionLimit`` past the per-file budget."""
        self.expanded += count
        self.check_time()  # expansion is where a scan spends its time
        if self.expanded > self.limits.max_expanded_bytes:
            raise ExpansionLimit(
                f"more than {self.limits.max_expanded_bytes} bytes expanded from one file"
            )

    def nested(
        self, stream: BinaryIO, size: int, *, file: str, member: str | None, depth: int
    ) -> None:
        """Scan a stream found inside another (an archive member, a decompressed stream)."""
        scan_stream(stream, size, file=file, member=member, depth=depth, ctx=self)


def scan_path(
    path: Path,
    *,
    allowlist: Allowlist | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
    progress: Callable[[int], None] | None = None,
) -> ScanReport:
    """Scan a file or every file of a directory; ``progress`` gets the bytes read as they go.

    Symlinks, devices, sockets and FIFOs found are findings (never followed or opened); every
    regular file is scanned. Raises ``ArtifactError`` only for bad input: a path that does not
    exist or cannot be inspected, or a directory with nothing in it.
    """
    entries = list_entries(path)
    report = ScanReport(root=str(path))
    ctx = ScanContext(allowlist or Allowlist.default(), limits, report)
    for entry in entries:
        name = entry.name
        report.files.append(name)
        if entry.kind != REGULAR:
            report.formats[name] = entry.kind
            ctx.add(_not_regular(entry))
            continue
        ctx.deadline = time.monotonic() + limits.max_seconds_per_file
        ctx.expanded = 0
        ctx.formats = []
        _scan_file(entry.path, entry.size, name, ctx, progress)
        report.formats[name] = "+".join(ctx.formats) or Format.UNKNOWN.value
        report.bytes_scanned += entry.size
    return report


def _not_regular(entry: Entry) -> ScanFinding:
    if entry.kind == SYMLINK:
        return _finding(
            "symlink",
            Severity.CRITICAL,
            "Symlink in the artifact",
            f"{entry.name} -> {entry.target}: a symlink can point a loader at any file, e.g. "
            "ONNX external data outside the model (CVE-2026-27489 class); not followed, "
            "replace it with the file itself",
            entry.name,
        )
    if entry.error is not None:
        return _finding(
            "unreadable",
            Severity.HIGH,
            "Directory cannot be read" if entry.kind == DIRECTORY else "Entry cannot be read",
            f"{entry.error}; what it holds is not scanned",
            entry.name,
        )
    return _finding(
        "special-file",
        Severity.HIGH,
        "Special file in the artifact",
        f"a {entry.kind.replace('-', ' ')}, not a regular file: reading it can block, return "
        "endless or changing data, or reach a device; not opened",
        entry.name,
    )


def _scan_file(
    full: Path, size: int, name: str, ctx: ScanContext, progress: Callable[[int], None] | None
) -> None:
    full_size = size
    reader = _Progress(progress)
    try:
        # A small file is read whole and scanned from memory: the analysers' many small reads
        # and seeks are then memory accesses, not system calls. A larger one (or one that grew
        # since it was listed) is streamed.
        data = _read_small(full, size) if size <= IN_MEMORY_BYTES else None
        if data is not None:
            reader.advance(len(data))
            scan_stream(io.BytesIO(data), len(data), file=name, member=None, depth=0, ctx=ctx)
        else:
            with (
                full.open("rb", buffering=0) as raw,
                io.BufferedReader(reader.wrap(raw), CHUNK) as stream,
            ):
                scan_stream(stream, size, file=name, member=None, depth=0, ctx=ctx)
    except TimeoutError as exc:
        ctx.add(
            _finding(
                "time-budget",
                Severity.HIGH,
                "Scan time budget exhausted",
                f"{exc}; the rest of the file is not scanned",
                name,
            )
        )
    except ExpansionLimit as exc:
        ctx.add(
            _finding(
                "expansion-limit",
                Severity.HIGH,
                "Decompression budget exhausted",
                f"{exc}; the rest of the file is not scanned",
                name,
            )
        )
    except OSError as exc:
        ctx.add(_finding("unreadable", Severity.HIGH, "File cannot be read", str(exc), name))
    finally:
        reader.finish(full_size)  # skipped-over and unread bytes count as done


def _read_small(full: Path, size: int) -> bytes | None:
    """The whole content of a file listed with ``size`` bytes, or None if it has grown since."""
    fd = os.open(full, _OPEN_FLAGS)  # (os-level calls: the fewest system calls per file)
    try:
        data = os.read(fd, size + 1)
        while len(data) < size:  # a short read that is not the end of the file
            more = os.read(fd, size + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(fd)
    return data if len(data) <= size else None


def scan_stream(
    stream: BinaryIO, size: int, *, file: str, member: str | None, depth: int, ctx: ScanContext
) -> None:
    """Sniff ``stream`` (``size`` bytes, or at most that many when decompressed) and analyse it.

    Errors inside an analyser become findings; only budget exhaustion (``TimeoutError``,
    ``ExpansionLimit``) propagates, to end the whole file.
    """
    if depth > ctx.limits.max_depth:
        ctx.add(
            _finding(
                "too-deep",
                Severity.HIGH,
                "Nesting too deep",
                f"containers nested more than {ctx.limits.max_depth} deep; this one is not scanned",
                file,
                member,
            )
        )
        return
    ctx.check_time()
    try:
        _dispatch(stream, size, file, member, depth, ctx)
    except (TimeoutError, ExpansionLimit):
        raise
    except EOFError as exc:
        ctx.add(
            _finding(
                "truncated",
                Severity.MEDIUM,
                "Truncated data",
                f"the data ends before its structure does: {exc}",
                file,
                member,
            )
        )
    except Exception as exc:  # fail closed: any analyser bug is a finding, never a pass
        ctx.add(
            _finding(
                "internal-error",
                Severity.HIGH,
                "Scanner internal error",
                f"{type(exc).__name__}: {exc}; the content was not fully analysed",
                file,
                member,
            )
        )


def _dispatch(
    stream: BinaryIO, size: int, file: str, member: str | None, depth: int, ctx: ScanContext
) -> None:
    seekable = _is_seekable(stream)
    head = stream.read(min(HEAD_BYTES, size))
    if len(head) < min(HEAD_BYTES, size):
        size = len(head)  # the stream ended early: a decompressed stream shorter than its bound
    if seekable:
        stream.seek(-len(head), io.SEEK_CUR)
    else:
        stream = buffered(_Replay(head, stream))
    fmt = sniff(head, size, hint=member or file)
    # HDF5 may sit behind a user block of any power-of-two size, and h5py finds it there.
    hdf5_behind = fmt not in _CONTAINERS and seekable and _hdf5_beyond_head(stream, size)
    if hdf5_behind and fmt in (Format.UNKNOWN, Format.TEXT):
        fmt, hdf5_behind = Format.HDF5, False
    if member is None:
        ctx.formats.append(fmt.value)
    refined = _analyse(fmt, stream, head, size, file, member, depth, ctx)
    if member is None and refined is not None:
        ctx.formats[-1] = refined.value
    if fmt not in _NOT_PICKLES and looks_like_pickle(head):
        # pickle.load reads from byte 0 whatever the file claims to be (torch.load does for
        # anything but a zip): bytes that may start a pickle are also walked as one.
        if seekable:
            stream.seek(0)
        _speculative_pickle(stream if seekable else io.BytesIO(head), fmt, file, member, depth, ctx)
    if hdf5_behind:
        ctx.add(
            _finding(
                "polyglot-hdf5",
                Severity.MEDIUM,
                "HDF5 data behind another format",
                f"valid {fmt.value} with an HDF5 superblock further in (h5py opens it); "
                "scanned as HDF5 too",
                file,
                member,
            )
        )
        stream.seek(0)
        _analyse(Format.HDF5, stream, head, size, file, member, depth, ctx)
    if fmt not in (Format.ZIP, Format.TAR) and seekable and size > HEAD_BYTES:
        # (A tar ending with a zip member is not a polyglot: that zip is scanned as a member.)
        _appended_zip(stream, size, file, member, depth, ctx)


_FLAT_ANALYSERS = {Format.JOBLIB: scan_joblib, Format.NUMPY: scan_npy}
"""Formats analysed in one call over the stream, with the same arguments."""


def _analyse(
    fmt: Format,
    stream: BinaryIO,
    head: bytes,
    size: int,
    file: str,
    member: str | None,
    depth: int,
    ctx: ScanContext,
) -> Format | None:
    """Run the analyser of ``fmt``; returns a refined format (pytorch-zip, keras ...) if any."""
    limits = ctx.limits
    if fmt is Format.PICKLE and is_torch_legacy(head):
        _extend(
            ctx,
            scan_torch_legacy(
                stream,
                file=file,
                member=member,
                allowlist=ctx.allowlist_at(depth),
                limits=limits,
                deadline=ctx.deadline,
            ),
        )
        return Format.TORCH_LEGACY
    if fmt is Format.PICKLE:
        return _scan_pickle(stream, file, member, depth, ctx)
    if fmt in _FLAT_ANALYSERS:
        analyse = _FLAT_ANALYSERS[fmt]
        _extend(
            ctx,
            analyse(
                stream,
                file=file,
                member=member,
                allowlist=ctx.allowlist_at(depth),
                limits=limits,
                deadline=ctx.deadline,
            ),
        )
    elif fmt is Format.ZIP:
        return _with_seekable(
            stream, size, ctx, lambda s, n: _scan_zip(s, n, file, member, depth, ctx)
        )
    elif fmt is Format.TAR:
        scan_tar(stream, size, file=file, member=member, depth=depth, ctx=ctx)
    elif fmt is Format.SAFETENSORS:
        _extend(ctx, scan_safetensors(stream, size, file=file, member=member, limits=limits))
    elif fmt is Format.GGUF:
        _extend(ctx, scan_gguf(stream, size, file=file, member=member, limits=limits))
    elif fmt is Format.ONNX:
        _extend(ctx, scan_onnx(stream, size, file=file, member=member, deadline=ctx.deadline))
    elif fmt is Format.HDF5:
        _with_seekable(
            stream,
            size,
            ctx,
            lambda s, _n: _extend(ctx, keras_scan.scan_hdf5(s, file=file, member=member)),
        )
    elif fmt in _INFLATE_KINDS:
        _decompress(stream, size, _INFLATE_KINDS[fmt], file, member, depth, ctx)
    elif fmt is Format.LZ4:
        ctx.add(
            _finding(
                "unanalysable",
                Severity.HIGH,
                "LZ4 stream cannot be analysed here",
                "joblib loads LZ4-compressed pickles when lz4 is installed; this "
                "scanner does not decompress LZ4, so the content is unchecked",
                file,
                member,
            )
        )
    elif fmt is Format.UNKNOWN:
        ctx.add(
            _finding(
                "unknown-format",
                Severity.INFO,
                "Unrecognised format",
                f"no analyser for these bytes (starting {head[:16].hex()})",
                file,
                member,
            )
        )
    return None


def _scan_pickle(
    stream: BinaryIO, file: str, member: str | None, depth: int, ctx: ScanContext
) -> Format:
    results = _pickles(stream, file, member, depth, ctx)
    for result in results:
        _extend(ctx, result.findings)
    joblib = any(_is_joblib(module) for result in results for module, _, _ in result.globals)
    return Format.JOBLIB if joblib else Format.PICKLE


def _speculative_pickle(
    stream: BinaryIO, fmt: Format, file: str, member: str | None, depth: int, ctx: ScanContext
) -> None:
    # Text and other formats often start with a byte a protocol 0/1 pickle may start with (a
    # labels file "cat\ndog\n..." reads as GLOBAL at.dog). Such a walk counts when it names a
    # known-dangerous global, or when it is a whole pickle (up to STOP) naming any global.
    results = _pickles(stream, file, member, depth, ctx)
    relevant = any(result.complete and result.globals for result in results) or any(
        finding.severity is Severity.CRITICAL for result in results for finding in result.findings
    )
    if not relevant:
        return
    ctx.add(
        _finding(
            "polyglot-pickle",
            Severity.MEDIUM,
            "Content is also a pickle",
            f"sniffed as {fmt.value}, but the bytes also unpickle and name globals; "
            "scanned as a pickle too",
            file,
            member,
        )
    )
    for result in results:
        _extend(ctx, result.findings)


def _pickles(
    stream: BinaryIO, file: str, member: str | None, depth: int, ctx: ScanContext
) -> list[PickleScan]:
    return scan_pickles(
        stream,
        file=file,
        member=member,
        allowlist=ctx.allowlist_at(depth),
        limits=ctx.limits,
        deadline=ctx.deadline,
    )


def _is_joblib(module: str) -> bool:
    return module.startswith(("joblib.", "sklearn.externals.joblib."))


def _scan_zip(
    stream: BinaryIO, size: int, file: str, member: str | None, depth: int, ctx: ScanContext
) -> Format:
    archive = zipread.read_archive(stream, size, file=file, member=member, limits=ctx.limits)
    archive.tick = ctx.check_time
    try:
        names = set(archive.names)
        if {"config.json", "metadata.json"} <= names:
            _scan_keras_archive(archive, ctx)
            zipread.scan_members(archive, ctx, depth)
            return Format.KERAS
        if is_torch_archive(archive.names):
            scan_torch_zip(archive, ctx, depth)
            return Format.TORCH
        zipread.scan_members(archive, ctx, depth)
        return Format.ZIP
    finally:
        _extend(ctx, archive.findings)


def _scan_keras_archive(archive: ZipArchive, ctx: ScanContext) -> None:
    cap = ctx.limits.max_header_bytes
    for entry in archive.entries:
        if entry.name not in ("config.json", "metadata.json"):
            continue
        data = archive.read_small(entry, cap, ctx.charge_expanded)
        path = archive.member_path(entry)
        if data is None:
            ctx.add(
                _finding(
                    "unanalysable",
                    Severity.HIGH,
                    "Keras config cannot be analysed",
                    f"{entry.name} is unreadable or larger than {cap} bytes",
                    archive.file,
                    path,
                )
            )
        elif entry.name == "config.json":
            _extend(
                ctx,
                keras_scan.scan_keras_config(
                    data, file=archive.file, member=path, source=entry.name
                ),
            )
        else:
            _extend(ctx, keras_scan.scan_keras_metadata(data, file=archive.file, member=path))


def _decompress(
    stream: BinaryIO,
    size: int,
    kind: str,
    file: str,
    member: str | None,
    depth: int,
    ctx: ScanContext,
) -> None:
    inflater = Inflater(
        stream,
        kind,
        compressed_size=size,
        charge=ctx.charge_expanded,
        ratio=ctx.limits.max_compression_ratio,
    )
    try:
        expanded = _expand_small(stream, inflater, ctx)
        if expanded is not None:
            ctx.nested(
                io.BytesIO(expanded), len(expanded), file=file, member=member, depth=depth + 1
            )
        else:
            inflater = Inflater(
                stream,
                kind,
                compressed_size=size,
                charge=ctx.charge_expanded,
                ratio=ctx.limits.max_compression_ratio,
            )
            # The expanded size is unknown until the end: the budget is its upper bound.
            ctx.nested(
                buffered(inflater),
                ctx.limits.max_expanded_bytes,
                file=file,
                member=member,
                depth=depth + 1,
            )
            inflater.drain()
    except ExpansionLimit as exc:
        if "expands more than" not in str(exc):
            raise
        ctx.add(
            _finding(
                "compression-bomb",
                Severity.HIGH,
                "Compression bomb",
                f"{exc}; expansion stopped, content not fully scanned",
                file,
                member,
            )
        )
        return
    if inflater.error is not None:
        ctx.add(
            _finding(
                "corrupt-compression",
                Severity.MEDIUM,
                "Corrupt compressed data",
                inflater.error,
                file,
                member,
            )
        )


def _expand_small(stream: BinaryIO, inflater: Inflater, ctx: ScanContext) -> bytes | None:
    """All that ``inflater`` expands, when ``stream`` is in memory and that fits in memory too
    (then scanned from memory, seekable, like a small file); else ``None``, with ``stream`` and
    the expansion budget as they were, to expand it again as a stream.

    A stream that runs into a budget is expanded again as a stream too: the scan of what comes
    before that point, and the finding, are then exactly those of the streamed scan.
    """
    if type(stream) is not io.BytesIO:
        return None
    start, charged = stream.tell(), ctx.expanded
    parts = []
    produced = 0
    try:
        while produced <= IN_MEMORY_BYTES and (part := inflater.read(CHUNK)):
            parts.append(part)
            produced += len(part)
    except ExpansionLimit:
        produced = IN_MEMORY_BYTES + 1
    if produced > IN_MEMORY_BYTES:
        stream.seek(start)
        ctx.expanded = charged
        return None
    return b"".join(parts)


def _with_seekable(
    stream: BinaryIO,
    size: int,
    ctx: ScanContext,
    analyse: Callable[[BinaryIO, int], Format | None],
) -> Format | None:
    """Run ``analyse`` on a seekable stream: ``stream`` itself or a spooled temporary copy."""
    if _is_seekable(stream):
        return analyse(stream, size)
    with tempfile.TemporaryFile() as spool:
        copied = 0
        while chunk := stream.read(CHUNK):
            spool.write(chunk)
            copied += len(chunk)
            if copied % (64 * CHUNK) < CHUNK:
                ctx.check_time()
        spool.seek(0)
        return analyse(spool, copied)


def _hdf5_beyond_head(stream: BinaryIO, size: int) -> bool:
    found = False
    for offset in hdf5_probe_offsets(size):
        stream.seek(offset)
        if stream.read(len(HDF5_MAGIC)) == HDF5_MAGIC:
            found = True
            break
    stream.seek(0)
    return found


def _appended_zip(
    stream: BinaryIO, size: int, file: str, member: str | None, depth: int, ctx: ScanContext
) -> None:
    # Python's zipfile (Keras, numpy) finds a zip by its end record, wherever it starts: a zip
    # appended to another format is a second reading of the same file.
    eocd = zipread.find_eocd(stream, size)
    stream.seek(0)
    if eocd is None:
        return
    ctx.add(
        _finding(
            "polyglot-zip",
            Severity.MEDIUM,
            "Zip archive appended to another format",
            f"a zip end record at offset {eocd}: zip readers see an archive here; "
            "scanned as one too",
            file,
            member,
        )
    )
    _scan_zip(stream, size, file, member, depth, ctx)


def _is_seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, OSError, ValueError):
        return False  # tarfile's streaming members have no seekable() of their own


def _extend(ctx: ScanContext, findings: list[ScanFinding]) -> None:
    for finding in findings:
        ctx.add(finding)


def _finding(
    rule: str, severity: Severity, title: str, detail: str, file: str, member: str | None = None
) -> ScanFinding:
    return ScanFinding(f"scanner/{rule}", severity, title, detail, file, member)


class _Replay(io.RawIOBase):
    """A non-seekable stream whose first bytes (already read to sniff it) are served again."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._rest = rest
        self._pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos < len(self._head):
            data = self._head[self._pos : self._pos + len(view)]
        else:
            data = self._rest.read(len(view))
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


class _Progress:
    """Reports how far into a top-level file the scan has read (when asked to)."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self._progress = progress
        self._reported = 0

    def advance(self, end: int) -> None:
        """The scan has read up to offset ``end``."""
        if self._progress is not None and end > self._reported:
            self._progress(end - self._reported)
            self._reported = end

    def wrap(self, raw: io.FileIO) -> io.RawIOBase:
        """``raw`` itself, or a stream that reports its reads when progress is wanted."""
        return raw if self._progress is None else _Counted(raw, self)

    def finish(self, size: int) -> None:
        """Report the rest of the file as done (parts that analysers skipped over)."""
        self.advance(size)


class _Counted(io.RawIOBase):
    """A top-level file that reports how far into it the scan has read."""

    def __init__(self, raw: io.FileIO, progress: _Progress):
        super().__init__()
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._raw.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def readinto(self, buffer: WriteableBuffer) -> int:
        count = self._raw.readinto(buffer) or 0
        self._progress.advance(self._raw.tell())
        return count
