"""Deterministic zip and tar writers, with the knobs the zip attacks need.

The zip writer is hand-rolled (not ``zipfile``) so that a member's general-purpose flags, its CRC
and the name in its local header can differ from what a well-formed archive would hold: exactly
the malformations that made Python's ``zipfile`` (and so picklescan / modelscan) give up on
archives that PyTorch's own reader still loads.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

DOS_TIME = 0  # 00:00:00
DOS_DATE = (2026 - 1980) << 9 | 1 << 5 | 1  # 2026-01-01
STORED, DEFLATED = 0, 8


@dataclass
class Member:
    """One zip member, plus optional lies about it."""

    name: str
    data: bytes | None = None
    method: int = STORED
    flags: int = 0
    """General-purpose bit flags written to both headers (bit 0: "encrypted")."""
    crc: int | None = None
    """CRC-32 to record instead of the real one."""
    local_name: str | None = None
    """Name for the local header (the central directory keeps ``name``)."""
    chunks: Iterable[bytes] | None = None
    """Streamed content (stored only): for members too large to hold in memory."""


def write_zip(out: BinaryIO, members: Iterable[Member], *, comment: bytes = b"") -> None:
    """Write a zip archive of ``members`` to a seekable ``out`` (no zip64: members < 4 GiB)."""
    central = []
    for m in members:
        offset = out.tell()
        name = m.name.encode()
        local = (m.local_name or m.name).encode()
        if m.chunks is not None:
            header_at = out.tell()
            out.write(_local_header(local, m.flags, STORED, 0, 0, 0))
            crc, size = 0, 0
            for chunk in m.chunks:
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                out.write(chunk)
            end = out.tell()
            crc = m.crc if m.crc is not None else crc
            out.seek(header_at)
            out.write(_local_header(local, m.flags, STORED, crc, size, size))
            out.seek(end)
            comp_size = size
        else:
            data = m.data or b""
            size = len(data)
            payload = data
            if m.method == DEFLATED:
                compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
                payload = compressor.compress(data) + compressor.flush()
            crc = m.crc if m.crc is not None else zlib.crc32(data)
            comp_size = len(payload)
            out.write(_local_header(local, m.flags, m.method, crc, comp_size, size))
            out.write(payload)
        central.append(
            struct.pack(
                "<4s6H3I5H2I",
                b"PK\x01\x02",
                20,
                20,
                m.flags,
                m.method,
                DOS_TIME,
                DOS_DATE,
                crc,
                comp_size,
                size,
                len(name),
                0,
                0,
                0,
                0,
                0o644 << 16,
                offset,
            )
            + name
        )
    cd_start = out.tell()
    for record in central:
        out.write(record)
    cd_size = out.tell() - cd_start
    out.write(
        struct.pack(
            "<4s4H2IH",
            b"PK\x05\x06",
            0,
            0,
            len(central),
            len(central),
            cd_size,
            cd_start,
            len(comment),
        )
        + comment
    )


def _local_header(name: bytes, flags: int, method: int, crc: int, comp: int, size: int) -> bytes:
    return (
        struct.pack(
            "<4s5H3I2H",
            b"PK\x03\x04",
            20,
            flags,
            method,
            DOS_TIME,
            DOS_DATE,
            crc,
            comp,
            size,
            len(name),
            0,
        )
        + name
    )


def zip_bytes(members: Iterable[Member]) -> bytes:
    buf = io.BytesIO()
    write_zip(buf, members)
    return buf.getvalue()


def tar_bytes(files: Iterable[tuple[str, bytes]], *, fmt: int = tarfile.GNU_FORMAT) -> bytes:
    """An uncompressed tar of ``(name, data)`` with fixed metadata."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1767225600  # 2026-01-01
            info.mode = 0o644
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zeros(total: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """``total`` zero bytes in chunks."""
    block = bytes(chunk)
    while total > 0:
        yield block[: min(chunk, total)]
        total -= chunk
