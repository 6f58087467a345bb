"""A lenient zip reader that reads archives the way model loaders do, and says where they differ.

PyTorch (``caffe2/serialize/inline_container.cc`` over miniz), Keras and numpy (Python's
``zipfile``) all locate members through the central directory at the end of the file, not by
walking local headers. This reader does the same, then checks every local header against its
central entry, and reports (never raises on) the tricks that make one reader see something other
than another: encryption or other flag bits a scanner refuses but a loader ignores, names that
differ between local and central headers, duplicate names, overlapping or out-of-file members,
CRC mismatches, unusual compression methods. Every member is then handed to the dispatcher,
whatever its name.

Also here: the bounded streams the scanner reads members and compressed files through
(``Window`` over a byte range, ``Inflater`` for deflate/zlib/gzip/bzip2/xz with an output cap),
so a multi-GB model is never held in memory.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.limits import Limits

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from signoff.scanner.scan import ScanContext

CHUNK = 1 << 16
"""Bytes read or produced per step: bounds the memory of every stream."""
MEMBER_IN_MEMORY = 4 << 20
"""Members up to this size (compressed and expanded) are read whole (see ``ZipArchive.open``)."""
BOMB_FLOOR = 1 << 20
"""Members expanding to less than this are never called bombs, whatever their ratio."""

_EOCD = b"PK\x05\x06"
_EOCD64 = b"PK\x06\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_DESCRIPTOR = b"PK\x07\x08"
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF
_STORED, _DEFLATED, _BZIP2, _LZMA = 0, 8, 12, 14
_METHOD_KINDS = {_DEFLATED: "deflate", _BZIP2: "bzip2", _LZMA: "zip-lzma"}
"""Compression methods read here (Python's zipfile reads the same ones; miniz only deflate)."""
_LZMA_HEADER = 4
"""Zip LZMA members start with a version (2 bytes) and the size of the properties (2 bytes)."""
_FLAG_ENCRYPTED = 0x0001
_FLAG_DESCRIPTOR = 0x0008
_FLAG_UTF8 = 0x0800
_FLAGS_ENCRYPTION = 0x0001 | 0x0040 | 0x2000  # traditional, strong, masked central directory
_FLAGS_KNOWN = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0040 | 0x0800 | 0x2000
_MAX_LISTED = 20


class ExpansionLimit(Exception):
    """Decompression went past a budget (bomb ratio or total expanded bytes)."""


# --- Streams ------------------------------------------------------------------------------------


class Window(io.RawIOBase):
    """A seekable read-only view of ``length`` bytes of ``parent`` from ``start``.

    Re-seeks the parent on every read, so several windows (nested archives) can share one file.
    """

    def __init__(self, parent: BinaryIO, start: int, length: int) -> None:
        super().__init__()
        self._parent = parent
        self._start = start
        self._length = length
        self._pos = 0

    @property
    def length(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        count = min(len(view), self._length - self._pos)
        if count <= 0:
            return 0
        self._parent.seek(self._start + self._pos)
        data = self._parent.read(count)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


class Inflater(io.RawIOBase):
    """Streams the decompression of ``source`` in bounded steps, computing size and CRC-32.

    ``kind``: ``deflate`` (raw, zip members), ``zip-lzma`` (zip method 14: a small header, then
    raw LZMA1, as Python's zipfile reads it), ``zlib``, ``gzip``, ``bzip2``, ``xz`` (also .lzma).
    Whole-file formats restart after a stream ends, as their tools read concatenated streams.
    Output stops at ``max_output`` (``overflow`` is then set); ``charge`` is called with every
    produced amount and may raise ``ExpansionLimit``. Corrupt data ends the stream and sets
    ``error`` rather than raising into the analyser.
    """

    def __init__(
        self,
        source: BinaryIO,
        kind: str,
        *,
        compressed_size: int,
        max_output: int | None = None,
        charge: Callable[[int], None] | None = None,
        ratio: int | None = None,
    ) -> None:
        super().__init__()
        self._source = source
        self._kind = kind
        self._left = compressed_size
        self._max_output = max_output
        self._charge = charge
        self._ratio = ratio
        self._zlib: zlib._Decompress | None = None
        self._other: bz2.BZ2Decompressor | lzma.LZMADecompressor | None = None
        self._new()
        self._pending = b""
        self.consumed = 0
        self.produced = 0
        self.crc = 0
        self.error: str | None = None
        self.overflow = False
        self.done = False

    def _new(self) -> None:
        if self._kind == "bzip2":
            self._other = bz2.BZ2Decompressor()
        elif self._kind == "zip-lzma":
            self._other = None  # made once the header with the LZMA properties is read
        elif self._kind == "xz":
            self._other = lzma.LZMADecompressor(lzma.FORMAT_AUTO)
        else:
            self._zlib = zlib.decompressobj({"deflate": -15, "zlib": 15, "gzip": 31}[self._kind])

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.produced

    def _fetch(self) -> bytes:
        if self._left <= 0:
            return b""
        data = self._source.read(min(CHUNK, self._left))
        self._left -= len(data)
        self.consumed += len(data)
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        want = len(view)
        if self._max_output is not None:
            want = min(want, self._max_output - self.produced + 1)
        while not self.done and want > 0:
            try:
                out = self._step(min(want, CHUNK))
            except (zlib.error, OSError, lzma.LZMAError, EOFError) as exc:
                self.error = f"corrupt {self._kind} data: {exc}"
                self.done = True
                return 0
            if out:
                return self._emit(out, view)
        return 0

    def _emit(self, out: bytes, view: memoryview) -> int:
        if self._max_output is not None and self.produced + len(out) > self._max_output:
            self.overflow = True
            self.done = True
            out = out[: self._max_output - self.produced]
        self.produced += len(out)
        self.crc = zlib.crc32(out, self.crc)
        if self._ratio is not None and self.produced > max(BOMB_FLOOR, self.consumed * self._ratio):
            raise ExpansionLimit(
                f"{self._kind} stream expands more than {self._ratio} times "
                f"({self.consumed} -> {self.produced} bytes so far)"
            )
        if self._charge is not None:
            self._charge(len(out))
        view[: len(out)] = out
        return len(out)

    def _step(self, want: int) -> bytes:
        """Up to ``want`` bytes of output; ``b""`` only when more input was needed or at the end."""
        if self._zlib is not None:
            if self._zlib.eof:
                return self._next_stream(self._zlib.unused_data, want)
            if not self._pending:
                self._pending = self._fetch()
                if not self._pending:
                    return self._truncated()
            out = self._zlib.decompress(self._pending, want)
            self._pending = self._zlib.unconsumed_tail
            return out
        if self._other is None:
            return self._lzma_header()
        if self._other.eof:
            return self._next_stream(self._other.unused_data, want)
        data = b""
        if self._other.needs_input:
            data = self._pending or self._fetch()
            self._pending = b""
            if not data:
                if self._kind == "zip-lzma":
                    # Without an end marker (flag bit 1 unset) the stream just stops; the
                    # member's size and CRC are checked against the directory by the caller.
                    self.done = True
                    return b""
                return self._truncated()
        return self._other.decompress(data, want)

    def _lzma_header(self) -> bytes:
        # As CPython's zipfile.LZMADecompressor: version, properties size, properties, then a
        # raw LZMA1 stream with those properties.
        while True:
            if len(self._pending) >= _LZMA_HEADER:
                header_end = _LZMA_HEADER + int.from_bytes(self._pending[2:4], "little")
                if len(self._pending) >= header_end:
                    break
            more = self._fetch()
            if not more:
                return self._truncated()
            self._pending += more
        filters = [
            lzma._decode_filter_properties(  # type: ignore[attr-defined]
                lzma.FILTER_LZMA1, self._pending[_LZMA_HEADER:header_end]
            )
        ]
        self._other = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
        self._pending = self._pending[header_end:]
        return b""

    def _truncated(self) -> bytes:
        self.error = f"{self._kind} data ends before its stream does"
        self.done = True
        return b""

    def _next_stream(self, unused: bytes, want: int) -> bytes:
        # zip members end with their deflate stream; whole files may hold several streams.
        if self._kind in ("deflate", "zip-lzma"):
            self.done = True
            return b""
        rest = unused or self._pending or self._fetch()
        self._pending = b""
        if not rest.strip(b"\x00"):
            self.done = True  # end of data (gzip files may be padded with zeros)
            return b""
        self._new()
        if self._other is not None:
            return self._other.decompress(rest, want)
        self._pending = rest
        return b""

    def drain(self) -> None:
        """Read (and CRC) everything the analyser left unread."""
        sink = bytearray(CHUNK)
        while self.readinto(sink):
            pass


def buffered(raw: io.RawIOBase) -> BinaryIO:
    """A buffered binary stream over ``raw`` (fast small reads, ``readline``, ``peek``)."""
    return io.BufferedReader(raw, CHUNK)


# --- The archive ----------------------------------------------------------------------------


@dataclass
class ZipEntry:
    """One member, as the central directory describes it (plus what its local header says)."""

    index: int
    name: str
    raw_name: bytes
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int | None = None
    """Start of the member's data after its local header; ``None`` if the header is unusable."""

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/") and self.size == 0 and self.compressed_size == 0


@dataclass
class ZipArchive:
    """A parsed zip: its entries and the structural findings about it."""

    stream: BinaryIO
    size: int
    file: str
    member: str | None
    limits: Limits
    entries: list[ZipEntry] = field(default_factory=list)
    findings: list[ScanFinding] = field(default_factory=list)
    tick: Callable[[], None] = lambda: None
    """Called while reading long members (the dispatcher's time-budget check)."""
    data: bytes | None = None
    """The whole archive, when it is already in memory (an in-memory stream's bytes)."""
    _read: dict[int, Member] = field(default_factory=dict)
    """Members :meth:`read_small` read whole, handed out again by :meth:`open` (not re-read)."""

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]

    def member_path(self, entry: ZipEntry) -> str:
        """How findings name ``entry``: ``outer!inner`` for members of nested archives."""
        return f"{self.member}!{entry.name}" if self.member else entry.name

    def add(
        self,
        rule: str,
        severity: Severity,
        title: str,
        detail: str,
        offset: int | None = None,
        entry: ZipEntry | None = None,
    ) -> None:
        member = self.member_path(entry) if entry is not None else self.member
        rule_id = rule if "/" in rule else f"zip/{rule}"  # format readers bring their own prefix
        self.findings.append(
            ScanFinding(rule_id, severity, title, detail, self.file, member, offset)
        )

    def open(
        self, entry: ZipEntry, charge: Callable[[int], None], *, whole: bool = True
    ) -> Member | None:
        """A stream of the member's content, or ``None`` (with a finding) if it cannot be read.

        A member of at most ``MEMBER_IN_MEMORY`` bytes is read whole here (``whole``), so that it
        is scanned from memory, seekable, and its CRC is computed without reading it again;
        ``whole=False`` streams it whatever its size (to read only its first bytes).
        """
        if entry.data_offset is None:
            return None
        done = self._read.pop(entry.index, None)
        if done is not None:
            return done
        if entry.size > BOMB_FLOOR and entry.size > entry.compressed_size * (
            self.limits.max_compression_ratio
        ):
            self.add(
                "compression-bomb",
                Severity.HIGH,
                "Compression bomb",
                f"{entry.compressed_size} bytes claim to expand to {entry.size} (ratio over "
                f"{self.limits.max_compression_ratio}); not expanded, so not scanned",
                entry.header_offset,
                entry,
            )
            return None
        small = (
            whole
            and entry.compressed_size <= MEMBER_IN_MEMORY
            and (entry.size <= MEMBER_IN_MEMORY or entry.method == _STORED)
        )
        source: io.BytesIO | Window
        if small and self.data is not None:
            start = entry.data_offset
            source = io.BytesIO(self.data[start : start + entry.compressed_size])
        else:
            source = Window(self.stream, entry.data_offset, entry.compressed_size)
        if entry.method == _STORED:
            if small:
                return Member(entry, None, None, _read_all(source, entry.compressed_size))
            assert isinstance(source, Window)
            return Member(entry, source, None)
        inflater = Inflater(
            source if isinstance(source, io.BytesIO) else buffered(source),
            _METHOD_KINDS[entry.method],
            compressed_size=entry.compressed_size,
            max_output=entry.size,
            charge=charge,
        )
        if not small:
            return Member(entry, None, inflater)
        # At most entry.size bytes come out (one more tells the inflater it overflows).
        out = bytearray(entry.size + 1)
        view = memoryview(out)
        produced = 0
        while count := inflater.readinto(view[produced:]):
            produced += count
        view.release()
        del out[produced:]
        return Member(entry, None, inflater, bytes(out))

    def head(self, entry: ZipEntry, count: int, charge: Callable[[int], None]) -> bytes | None:
        """The first ``count`` bytes of a member (or fewer), without reading the rest; ``None``
        (with a finding) if it cannot be read. Its size and CRC are not checked."""
        start = entry.data_offset
        if (
            self.data is not None
            and entry.method == _STORED
            and start is not None
            and (  # (else open() reports the size as a bomb)
                entry.size <= BOMB_FLOOR
                or entry.size <= entry.compressed_size * self.limits.max_compression_ratio
            )
        ):
            return self.data[start : start + min(count, entry.compressed_size)]
        member = self.open(entry, charge, whole=False)
        if member is None:
            return None
        data = member.raw().read(count) or b""
        self.finish(member, verify=False)
        return data

    def finish(self, member: Member, *, verify: bool = True) -> None:
        """After analysis: read the rest (``verify``) and check size and CRC against the entry."""
        entry = member.entry
        if member.inflater is not None:
            inflater = member.inflater
            if verify:
                inflater.drain()
            if inflater.error is not None:
                self.add(
                    "corrupt-data",
                    Severity.MEDIUM,
                    "Corrupt compressed member",
                    inflater.error,
                    entry.data_offset,
                    entry,
                )
                return
            if not verify and not inflater.done:
                return
            produced, crc = inflater.produced, inflater.crc
            if inflater.overflow:
                produced = entry.size + 1
        elif member.data is not None and verify:
            produced, crc = len(member.data), zlib.crc32(member.data)
        elif member.window is not None and verify:
            produced, crc = _crc_of(member.window, self.tick)
        else:
            return
        if produced != entry.size:
            self.add(
                "size-mismatch",
                Severity.MEDIUM,
                "Member size differs from its header",
                f"central directory says {entry.size} bytes, data gives "
                + (f"more than {entry.size}" if produced > entry.size else str(produced)),
                entry.data_offset,
                entry,
            )
        elif crc != entry.crc:
            self.add(
                "crc-mismatch",
                Severity.MEDIUM,
                "CRC mismatch",
                f"CRC-32 {crc:08x} != {entry.crc:08x} in the central directory: some readers "
                "refuse the member, others load it",
                entry.data_offset,
                entry,
            )

    def read_small(self, entry: ZipEntry, cap: int, charge: Callable[[int], None]) -> bytes | None:
        """The content of a small member (config files), or ``None`` if absent or over ``cap``."""
        if entry.size > cap:
            return None
        member = self.open(entry, charge)
        if member is None:
            return None
        if member.data is not None:
            self._read[entry.index] = member  # scanned as a member later: not read twice
            data = member.data[: cap + 1]
        else:
            data = member.stream().read(cap + 1)
        return data if len(data) <= cap else None


@dataclass
class Member:
    """An opened member: its content read whole (``data``, small members), else a seekable
    window (stored) or an inflater (compressed) to stream it."""

    entry: ZipEntry
    window: Window | None
    inflater: Inflater | None
    data: bytes | None = None

    def stream(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        return buffered(self._unbuffered())

    def raw(self) -> io.RawIOBase | io.BytesIO:
        """The unbuffered stream: for a few bytes, where a buffer would read 64 KiB ahead."""
        if self.data is not None:
            return io.BytesIO(self.data)
        return self._unbuffered()

    def _unbuffered(self) -> io.RawIOBase:
        raw = self.window if self.window is not None else self.inflater
        assert raw is not None
        return raw


def _read_all(source: io.BytesIO | Window, length: int) -> bytes:
    parts = []
    while length > 0 and (chunk := source.read(length)):
        parts.append(chunk)
        length -= len(chunk)
    return b"".join(parts)


def _crc_of(window: Window, tick: Callable[[], None]) -> tuple[int, int]:
    window.seek(0)
    crc = size = 0
    buffer = bytearray(max(1, min(CHUNK * 16, window.length)))
    while count := window.readinto(buffer):
        crc = zlib.crc32(memoryview(buffer)[:count], crc)
        size += count
        tick()
    return size, crc


def find_eocd(stream: BinaryIO, size: int) -> int | None:
    """Offset of the end-of-central-directory record, searched from the end like miniz does."""
    span = min(size, _EOCD_SIZE + _MAX_COMMENT)
    if span < _EOCD_SIZE:
        return None
    tail = stream.getvalue() if type(stream) is io.BytesIO else b""
    if len(tail) == size:  # in memory: searched in place, not copied
        base, first = 0, size - span
    else:
        stream.seek(size - span)
        tail, base, first = stream.read(span), size - span, 0
    at = tail.rfind(_EOCD, first, len(tail) - _EOCD_SIZE + 4)
    while at >= 0:
        (comment_length,) = struct.unpack_from("<H", tail, at + 20)
        if at + _EOCD_SIZE + comment_length <= len(tail):
            return base + at
        at = tail.rfind(_EOCD, first, at)
    return None


def read_archive(
    stream: BinaryIO, size: int, *, file: str, member: str | None, limits: Limits
) -> ZipArchive:
    """Parse the directory of a zip in ``stream`` (seekable, ``size`` bytes) and check it."""
    archive = ZipArchive(stream, size, file, member, limits)
    if type(stream) is io.BytesIO:
        archive.data = stream.getvalue()  # the stream's own bytes, not a copy
    eocd = find_eocd(stream, size)
    if eocd is None:
        archive.add(
            "no-central-directory",
            Severity.MEDIUM,
            "Zip without a central directory",
            "truncated or not a zip; members are read from their local headers instead",
        )
        _walk_local_headers(archive)
    else:
        _read_central_directory(archive, eocd)
    _check_entries(archive)
    return archive


def _read_central_directory(archive: ZipArchive, eocd: int) -> None:
    stream, size = archive.stream, archive.size
    stream.seek(eocd)
    record = stream.read(_EOCD_SIZE)
    disk, cd_disk, _on_disk, total, cd_size, cd_offset, _ = struct.unpack("<4x4H2LH", record)
    records_end = eocd
    if eocd >= 20:
        stream.seek(eocd - 20)
        locator = stream.read(20)
        if locator[:4] == _EOCD64_LOCATOR:
            # Python's zipfile reads the ZIP64 record just before the locator, not at the
            # offset the locator stores; so do we (the stored offset breaks with a prefix).
            zip64 = _read_zip64(archive, eocd - 20 - 56)
            if zip64 is not None:
                total, cd_size, cd_offset = zip64
                records_end = eocd - 20 - 56
    if disk or cd_disk:
        archive.add(
            "multi-disk",
            Severity.MEDIUM,
            "Multi-disk zip",
            "spanned archives are "
            "read as one file here; loaders may refuse or read them differently",
        )
    # Like Python's zipfile: data prepended to the archive shifts every offset by ``prefix``.
    prefix = records_end - cd_size - cd_offset
    if prefix < 0 or cd_size > size:
        archive.add(
            "directory-out-of-file",
            Severity.HIGH,
            "Central directory outside the file",
            f"directory of {cd_size} bytes at {cd_offset} does not fit before offset {eocd}",
            eocd,
        )
        return
    if prefix > 0:
        archive.add(
            "prefixed-data",
            Severity.MEDIUM,
            "Data before the zip archive",
            f"{prefix} bytes precede the archive (polyglot file: other readers see that data)",
            0,
        )
    if total > archive.limits.max_members:
        archive.add(
            "too-many-members",
            Severity.HIGH,
            "Too many zip members",
            f"{total} members, limit {archive.limits.max_members}; only the first are scanned",
            eocd,
        )
    stream.seek(cd_offset + prefix)
    directory = _Cursor(stream, cd_size)
    for index in range(min(total, archive.limits.max_members)):
        entry = _central_entry(archive, directory, index, prefix)
        if entry is None:
            break
        archive.entries.append(entry)


def _read_zip64(archive: ZipArchive, offset: int) -> tuple[int, int, int] | None:
    if offset + 56 > archive.size:
        archive.add("bad-zip64", Severity.MEDIUM, "Invalid ZIP64 record", f"at {offset}", offset)
        return None
    archive.stream.seek(offset)
    record = archive.stream.read(56)
    if record[:4] != _EOCD64:
        archive.add("bad-zip64", Severity.MEDIUM, "Invalid ZIP64 record", f"at {offset}", offset)
        return None
    total, cd_size, cd_offset = struct.unpack_from("<3Q", record, 32)
    return total, cd_size, cd_offset


class _Cursor:
    """Sequential reads from a stream bounded to ``length`` bytes."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self.stream = stream
        self.left = length

    def read(self, count: int) -> bytes | None:
        if count > self.left:
            return None
        data = self.stream.read(count)
        self.left -= len(data)
        return data if len(data) == count else None


def _central_entry(
    archive: ZipArchive, directory: _Cursor, index: int, prefix: int
) -> ZipEntry | None:
    fixed = directory.read(46)
    if fixed is None or fixed[:4] != _CENTRAL:
        archive.add(
            "corrupt-directory",
            Severity.MEDIUM,
            "Corrupt central directory",
            f"entry {index} is not a central directory record; the rest is not listed",
        )
        return None
    (flags, method, crc, csize, usize, name_len, extra_len, comment_len, offset) = struct.unpack(
        "<8x2H4x3L3H8xL", fixed
    )
    tail = directory.read(name_len + extra_len + comment_len)
    if tail is None:
        archive.add(
            "corrupt-directory",
            Severity.MEDIUM,
            "Corrupt central directory",
            f"entry {index} runs past the directory",
        )
        return None
    raw_name, extra = tail[:name_len], tail[name_len : name_len + extra_len]
    name = raw_name.decode("utf-8" if flags & _FLAG_UTF8 else "cp437", "replace")
    alternate = None
    if extra:  # (most members have none: no field to look for)
        usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
        alternate = _unicode_path(extra)
    entry = ZipEntry(index, name, raw_name, flags, method, crc, csize, usize, offset + prefix)
    if alternate is not None and alternate != name:
        archive.add(
            "alternate-name",
            Severity.MEDIUM,
            "Member has two names",
            f"unicode-path extra field says {alternate!r}",
            None,
            entry,
        )
    return entry


def _extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(extra):
        header_id, length = struct.unpack_from("<2H", extra, pos)
        yield header_id, extra[pos + 4 : pos + 4 + length]
        pos += 4 + length


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    if 0xFFFFFFFF not in (usize, csize, offset):
        return usize, csize, offset  # nothing for a ZIP64 field to replace
    for header_id, data in _extra_fields(extra):
        if header_id != 0x0001:
            continue
        values = list(struct.unpack_from(f"<{len(data) // 8}Q", data))
        if usize == 0xFFFFFFFF and values:
            usize = values.pop(0)
        if csize == 0xFFFFFFFF and values:
            csize = values.pop(0)
        if offset == 0xFFFFFFFF and values:
            offset = values.pop(0)
    return usize, csize, offset


def _unicode_path(extra: bytes) -> str | None:
    if b"up" not in extra:
        return None  # no field can have the id 0x7075 ("up", little-endian)
    for header_id, data in _extra_fields(extra):
        if header_id == 0x7075 and len(data) > 5:
            return data[5:].decode("utf-8", "replace")
    return None


def _walk_local_headers(archive: ZipArchive) -> None:
    # Lenient fallback for archives without a directory: follow local headers while their sizes
    # are known (a data descriptor hides the size; the walk stops there).
    offset = 0
    stream = archive.stream
    while len(archive.entries) < archive.limits.max_members and offset + 30 <= archive.size:
        stream.seek(offset)
        fixed = stream.read(30)
        if fixed[:4] != _LOCAL:
            break
        flags, method, crc, csize, usize, name_len, extra_len = struct.unpack("<6x2H4x3L2H", fixed)
        raw_name = stream.read(name_len)
        extra = stream.read(extra_len)
        usize, csize, _ = _zip64_extra(extra, usize, csize, 0)
        name = raw_name.decode("utf-8" if flags & _FLAG_UTF8 else "cp437", "replace")
        index = len(archive.entries)
        archive.entries.append(
            ZipEntry(index, name, raw_name, flags, method, crc, csize, usize, offset)
        )
        if flags & _FLAG_DESCRIPTOR:
            break
        offset += 30 + name_len + extra_len + csize


def _check_entries(archive: ZipArchive) -> None:
    for entry in archive.entries:
        _check_local_header(archive, entry)
        _check_entry(archive, entry)
    duplicates = [name for name, count in Counter(archive.names).items() if count > 1]
    if duplicates:
        archive.add(
            "duplicate-names",
            Severity.MEDIUM,
            "Duplicate member names",
            f"{_listed(duplicates)}: readers disagree on which copy they load (all are scanned)",
        )
    _check_overlaps(archive)
    _check_descriptors(archive)


def _check_descriptors(archive: ZipArchive) -> None:
    # With a data descriptor the local header has no sizes: readers that use the central
    # directory (torch, zipfile) agree, streaming readers must find the member's end themselves,
    # which for a stored member means searching for the descriptor. PyTorch's writer always
    # works this way; what matters is whether each descriptor, where the central directory says
    # the data ends, repeats the central CRC and sizes (the data's own CRC is checked when the
    # member is read). One that does not is what a reader-confusion trick looks like.
    described = [entry for entry in archive.entries if entry.flags & _FLAG_DESCRIPTOR]
    if not described:
        return
    odd = [entry for entry in described if not _descriptor_agrees(archive, entry)]
    if not odd:
        archive.add(
            "data-descriptor",
            Severity.INFO,
            "Member sizes in data descriptors",
            f"{len(described)} members keep their sizes after their data; every descriptor "
            "matches the central directory",
        )
        return
    stored = [entry.name for entry in odd if entry.method == _STORED]
    archive.add(
        "data-descriptor",
        Severity.MEDIUM if stored else Severity.LOW,
        "Data descriptors disagree with the central directory",
        f"{len(odd)} of {len(described)} members have no data descriptor matching their central "
        f"CRC and sizes where their data ends ({_listed([entry.name for entry in odd])})"
        + (
            f"; stored ones ({_listed(stored)}) end elsewhere for streaming readers"
            if stored
            else ""
        ),
    )


def _descriptor_agrees(archive: ZipArchive, entry: ZipEntry) -> bool:
    if entry.data_offset is None:
        return True  # unusable member: reported on its own
    at = entry.data_offset + entry.compressed_size
    archive.stream.seek(at)
    record = archive.stream.read(24)
    if record[:4] == _DESCRIPTOR:
        record = record[4:]
    expected = (entry.crc, entry.compressed_size, entry.size)
    if len(record) >= 12 and struct.unpack_from("<3L", record) == expected:
        return True
    return len(record) >= 20 and struct.unpack_from("<L2Q", record) == expected


def _check_entry(archive: ZipArchive, entry: ZipEntry) -> None:
    if entry.flags & _FLAGS_ENCRYPTION:
        archive.add(
            "encryption-flag",
            Severity.HIGH,
            "Member flagged as encrypted",
            f"flags {entry.flags:#06x}: Python's zipfile refuses the member while PyTorch's "
            "reader ignores the flag (a known scanner bypass); its data is scanned as plain",
            entry.header_offset,
            entry,
        )
    elif entry.flags & ~_FLAGS_KNOWN:
        archive.add(
            "unusual-flags",
            Severity.LOW,
            "Unusual general-purpose flags",
            f"flags {entry.flags:#06x}",
            entry.header_offset,
            entry,
        )
    if entry.method != _STORED and entry.method not in _METHOD_KINDS:
        archive.add(
            "unsupported-method",
            Severity.HIGH,
            "Member compressed with an unsupported method",
            f"method {entry.method}: the member cannot be analysed here",
            entry.header_offset,
            entry,
        )
        entry.data_offset = None
    elif entry.method in (_BZIP2, _LZMA):
        archive.add(
            "unusual-method",
            Severity.INFO,
            f"Member compressed with {'bzip2' if entry.method == _BZIP2 else 'LZMA'}",
            "Python's zipfile (Keras, numpy) reads it, PyTorch's reader cannot; scanned",
            entry.header_offset,
            entry,
        )
    elif entry.method == _STORED and entry.size != entry.compressed_size:
        archive.add(
            "size-mismatch",
            Severity.MEDIUM,
            "Member size differs from its header",
            f"stored member with size {entry.size} but {entry.compressed_size} bytes of data",
            entry.header_offset,
            entry,
        )
    if is_traversal(entry.name):
        archive.add(
            "path-traversal",
            Severity.MEDIUM,
            "Member name escapes the extraction directory",
            f"{entry.name!r} is absolute or contains '..'",
            entry.header_offset,
            entry,
        )


def is_traversal(name: str) -> bool:
    """Whether an archive member name is absolute or climbs out with ``..`` (either slash)."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    return ".." in name and ".." in name.replace("\\", "/").split("/")


def _check_local_header(archive: ZipArchive, entry: ZipEntry) -> None:
    stream = archive.stream
    if entry.header_offset + 30 > archive.size:
        _outside(archive, entry, "local header")
        return
    stream.seek(entry.header_offset)
    fixed = stream.read(30)
    if fixed[:4] != _LOCAL:
        archive.add(
            "bad-local-header",
            Severity.HIGH,
            "Missing local header",
            "the central directory points at something else; loaders that walk local "
            "headers see other content",
            entry.header_offset,
            entry,
        )
        return
    flags, method, name_len, extra_len = struct.unpack("<6x2H16x2H", fixed)
    local_name = stream.read(name_len)
    if local_name != entry.raw_name:
        archive.add(
            "name-mismatch",
            Severity.HIGH,
            "Local and central names differ",
            f"local header names it {local_name.decode('utf-8', 'replace')!r}: readers that "
            "use local headers see another file",
            entry.header_offset,
            entry,
        )
    if method != entry.method or (flags ^ entry.flags) & _FLAGS_ENCRYPTION:
        archive.add(
            "header-mismatch",
            Severity.HIGH,
            "Local and central headers disagree",
            f"method {method}/{entry.method}, flags {flags:#06x}/{entry.flags:#06x}",
            entry.header_offset,
            entry,
        )
    data_offset = entry.header_offset + 30 + name_len + extra_len
    if data_offset + entry.compressed_size > archive.size:
        _outside(archive, entry, "data")
        return
    entry.data_offset = data_offset


def _outside(archive: ZipArchive, entry: ZipEntry, what: str) -> None:
    archive.add(
        "member-out-of-file",
        Severity.HIGH,
        "Member outside the file",
        f"its {what} lies beyond the end of the {archive.size}-byte archive; not scanned",
        entry.header_offset,
        entry,
    )


def _check_overlaps(archive: ZipArchive) -> None:
    spans = sorted(
        (entry.header_offset, entry.data_offset + entry.compressed_size, entry.name)
        for entry in archive.entries
        if entry.data_offset is not None
    )
    overlapping: list[str] = []
    end = -1
    previous = ""
    for start, stop, name in spans:
        if start < end:
            overlapping.append(f"{previous} / {name}")
        if stop > end:
            end, previous = stop, name
    if overlapping:
        archive.add(
            "overlapping-members",
            Severity.HIGH,
            "Overlapping members",
            f"{_listed(overlapping)} share bytes (the non-recursive zip bomb construction, "
            "or two readings of the same data)",
        )


def _listed(items: list[str]) -> str:
    shown = ", ".join(repr(item) for item in items[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


# --- Generic member walk ----------------------------------------------------------------------


def scan_members(
    archive: ZipArchive,
    ctx: ScanContext,
    depth: int,
    *,
    skip: Callable[[ZipEntry], bool] | None = None,
) -> None:
    """Hand every member (but directories and those ``skip`` takes) to the dispatcher."""
    for entry in archive.entries:
        ctx.check_time()
        if entry.is_dir or (skip is not None and skip(entry)):
            continue
        member = archive.open(entry, ctx.charge_expanded)
        if member is None:
            continue
        ctx.nested(
            member.stream(),
            entry.size,
            file=archive.file,
            member=archive.member_path(entry),
            depth=depth + 1,
        )
        archive.finish(member)
