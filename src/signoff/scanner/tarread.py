"""Tar archives: every regular member goes to the dispatcher; links and devices are findings.

``tarfile`` reads headers only (members are never extracted to disk): random access when the
stream can seek, else streaming mode (``r|``), where each member is read once, in order. Links,
devices and names that climb out of the extraction directory are what extraction tools trip on,
so they are reported; a link's target is never followed. ``tarfile`` ends an archive silently at
a damaged header while GNU tar skips to the next one, so data left after the end is reported.
"""

from __future__ import annotations

import io
import tarfile
from typing import IO, TYPE_CHECKING, BinaryIO

from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.zipread import CHUNK, Window, buffered, is_traversal

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from signoff.scanner.scan import ScanContext


def scan_tar(
    stream: BinaryIO, size: int, *, file: str, member: str | None, depth: int, ctx: ScanContext
) -> None:
    """Scan a tar archive (uncompressed: compression is peeled off by the dispatcher)."""
    seekable = stream.seekable()
    # With random access the bytes each member really has are known (its header may claim
    # more): what is there is scanned and the shortfall reported.
    walk = _Walk(stream, file, member, ctx, size if seekable else None)
    try:
        with tarfile.open(fileobj=stream, mode="r:" if seekable else "r|") as tar:
            for info in tar:
                ctx.check_time()
                if not walk.member(tar, info, depth):
                    return
            rest = _rest(stream, tar) if seekable else tar.fileobj
            if rest is not None and _has_data(rest):
                walk.add(
                    "trailing-data",
                    Severity.MEDIUM,
                    "Data after the end of the tar archive",
                    "tarfile stops at a damaged or missing header, other tar readers skip "
                    "it and read on: the rest of the file was not scanned",
                    None,
                )
    except (tarfile.TarError, EOFError) as exc:
        walk.add(
            "corrupt",
            Severity.MEDIUM,
            "Corrupt tar archive",
            f"reading stopped after {walk.count} members: {exc}",
            None,
        )


class _Walk:
    def __init__(
        self, stream: BinaryIO, file: str, member: str | None, ctx: ScanContext, size: int | None
    ) -> None:
        self.stream = stream
        self.file = file
        self.outer = member
        self.ctx = ctx
        self.size = size
        self.count = 0

    def add(self, rule: str, severity: Severity, title: str, detail: str, name: str | None) -> None:
        path = _join(self.outer, name) if name is not None else self.outer
        self.ctx.add(ScanFinding(f"tar/{rule}", severity, title, detail, self.file, path))

    def member(self, tar: tarfile.TarFile, info: tarfile.TarInfo, depth: int) -> bool:
        """Check and scan one member; ``False`` once the member budget is spent."""
        self.count += 1
        if self.count > self.ctx.limits.max_members:
            self.add(
                "too-many-members",
                Severity.HIGH,
                "Too many tar members",
                f"more than {self.ctx.limits.max_members}; the rest is not scanned",
                None,
            )
            return False
        if is_traversal(info.name):
            self.add(
                "path-traversal",
                Severity.MEDIUM,
                "Member name escapes the extraction directory",
                f"{info.name!r} is absolute or contains '..'",
                info.name,
            )
        if info.issym() or info.islnk():
            kind = "symlink" if info.issym() else "hard link"
            self.add(
                "link",
                Severity.MEDIUM,
                f"Tar {kind}",
                f"{kind} to {info.linkname!r}: extraction can write or read outside the "
                "archive; not followed",
                info.name,
            )
        elif info.ischr() or info.isblk() or info.isfifo():
            self.add(
                "special-file",
                Severity.MEDIUM,
                "Tar device or FIFO",
                "special files have no place in a model archive",
                info.name,
            )
        elif info.isreg():
            self._scan_content(tar, info, depth)
        return True

    def _scan_content(self, tar: tarfile.TarFile, info: tarfile.TarInfo, depth: int) -> None:
        path = _join(self.outer, info.name)
        if self.size is None or info.issparse():
            content = tar.extractfile(info)
            if content is not None:
                stream = buffered(_Member(content, info.size))
                self.ctx.nested(stream, info.size, file=self.file, member=path, depth=depth + 1)
            return
        # Random access: read the member's bytes directly, as far as the file really has them
        # (tarfile's reader would fail on the whole read-ahead of a truncated member).
        available = max(0, min(info.size, self.size - info.offset_data))
        if available < info.size:
            self.add(
                "truncated-member",
                Severity.MEDIUM,
                "Truncated tar member",
                f"header says {info.size} bytes, the file holds {available}",
                info.name,
            )
        window: BinaryIO
        if type(self.stream) is io.BytesIO:  # in memory: the member's bytes, sliced out
            start = info.offset_data
            window = io.BytesIO(self.stream.getvalue()[start : start + available])
        else:
            window = buffered(Window(self.stream, info.offset_data, available))
        self.ctx.nested(window, available, file=self.file, member=path, depth=depth + 1)


class _Member(io.RawIOBase):
    """A member's content, with tarfile's read errors turned into ``EOFError`` (truncation)."""

    def __init__(self, content: IO[bytes], limit: int) -> None:
        super().__init__()
        self._content = content
        self._limit = limit
        self._pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._content.read(min(len(view), self._limit - self._pos))
        except tarfile.ReadError as exc:
            raise EOFError(f"tar member data: {exc}") from None
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _rest(stream: BinaryIO, tar: tarfile.TarFile) -> BinaryIO:
    stream.seek(tar.offset)
    return stream


def _has_data(rest: object) -> bool:
    # End-of-archive blocks and record padding are zeros; anything else was not read as members.
    read = getattr(rest, "read", None)
    if read is None:
        return False
    while chunk := read(CHUNK):
        if chunk.strip(b"\x00"):
            return True
    return False


def _join(outer: str | None, name: str) -> str:
    return f"{outer}!{name}" if outer else name
