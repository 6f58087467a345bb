"""Content sniffing: which analyser reads a stream, decided from its first bytes, never its name.

``sniff`` looks only at magic numbers and structure. The one use of a name is ``hint`` for ONNX,
whose protobuf bytes have no magic: a ``.onnx`` name may pick the ONNX analyser for bytes that are
plausibly ONNX but whose graph field lies beyond the head. A name never makes the scanner skip
anything: a pickle called ``model.safetensors`` is sniffed, and scanned, as a pickle.

Refinements are decided later, by the dispatcher: ``KERAS`` and ``TORCH`` from a zip's member
list, ``TORCH_LEGACY`` from a pickle's first opcodes, ``JOBLIB`` from a pickle's globals (except
joblib's old ``ZF`` compressed files, whose magic ``sniff`` knows).
"""

from __future__ import annotations

import io
import pickletools
import struct
from collections.abc import Iterator
from enum import StrEnum

from signoff.scanner.pickle_scan import looks_like_pickle

HEAD_BYTES = 4096
"""How many leading bytes the dispatcher hands to ``sniff``."""


class Format(StrEnum):
    """What a stream is."""

    EMPTY = "empty"
    PICKLE = "pickle"
    JOBLIB = "joblib"
    ZIP = "zip"
    TORCH = "pytorch-zip"
    TORCH_LEGACY = "pytorch-legacy"
    KERAS = "keras"
    TAR = "tar"
    NUMPY = "numpy"
    SAFETENSORS = "safetensors"
    GGUF = "gguf"
    ONNX = "onnx"
    HDF5 = "hdf5"
    GZIP = "gzip"
    BZ2 = "bz2"
    XZ = "xz"
    LZMA = "lzma"
    ZLIB = "zlib"
    LZ4 = "lz4"
    TEXT = "text"
    UNKNOWN = "unknown"


COMPRESSED = frozenset({Format.GZIP, Format.BZ2, Format.XZ, Format.LZMA, Format.ZLIB, Format.LZ4})
"""Whole-stream compressions (joblib's compressors, ``.tar.gz``...): scanned after expansion."""

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_LOCAL = b"PK\x03\x04"
ZIP_EMPTY = b"PK\x05\x06"
ZIP_SPANNED = b"PK\x07\x08"
_ZLIB_LEVEL_FLAGS = frozenset({0x01, 0x5E, 0x9C, 0xDA})
_ONNX_MODEL_FIELDS = {
    # ModelProto field number -> wire type (0 varint, 2 length-delimited).
    1: 0,  # ir_version
    2: 2,  # producer_name
    3: 2,  # producer_version
    4: 2,  # domain
    5: 0,  # model_version
    6: 2,  # doc_string
    7: 2,  # graph
    8: 2,  # opset_import
    14: 2,  # metadata_props
    20: 2,  # training_info
    25: 2,  # functions
    26: 2,  # configuration
}
_ONNX_MAX_IR_VERSION = 64
_TEXT_SPACES = str.maketrans("", "", "\t\r\n\f")
"""Whitespace that text has and ``str.isprintable`` refuses."""


def sniff(head: bytes, size: int, *, hint: str = "") -> Format:
    """The format of a stream of ``size`` bytes that starts with ``head`` (at most its size).

    ``hint`` is the file or member name, used only to choose ONNX for bytes that already look
    like the start of an ONNX ``ModelProto``.
    """
    if size == 0 or not head:
        return Format.EMPTY
    magic = _magic(head)
    if magic is not None:
        return magic
    if _is_tar(head):
        return Format.TAR
    if _is_safetensors(head, size):
        return Format.SAFETENSORS
    if is_pickle(head, size):
        return Format.PICKLE
    onnx = _onnx_evidence(head, size)
    if onnx == "model" or (onnx == "prefix" and hint.lower().endswith(".onnx")):
        return Format.ONNX
    if _is_text(head):
        return Format.TEXT
    return Format.UNKNOWN


def is_pickle(head: bytes, size: int) -> bool:
    """Whether ``head`` starts a pickle: a PROTO opcode, or protocol 0/1 opcodes that decode.

    ``looks_like_pickle`` accepts any first byte a protocol 0/1 pickle can start with, which
    includes letters that begin most text; here those must also decode as opcodes (statically,
    with ``pickletools``) up to STOP or to the end of the head. The dispatcher still tries a pickle
    scan on anything ``looks_like_pickle`` accepts, so a decoder difference cannot hide a payload.
    """
    if not looks_like_pickle(head):
        return False
    if head[0] == 0x80:
        return True
    decoded = 0
    try:
        for opcode, _arg, _pos in pickletools.genops(io.BytesIO(head)):
            if opcode.name == "STOP":
                return True
            decoded += 1
    except ValueError as exc:
        # Running out of bytes at the end of the head is fine when the stream goes on; an
        # unknown opcode or a bad argument is not (that is text, or no pickle a loader reads).
        message = str(exc)
        truncated = any(word in message for word in ("remain", "newline", "exhausted"))
        return truncated and decoded >= 2 and size > len(head)
    except Exception:
        return False
    return False


def hdf5_probe_offsets(size: int) -> Iterator[int]:
    """Where an HDF5 superblock may start beyond the head: 512, 1024, 2048, ... below ``size``.

    HDF5 allows a user block of any power-of-two size >= 512 before the superblock, so a Keras
    ``.h5`` file can hide its signature past the first few KiB; the dispatcher probes these.
    """
    offset = HEAD_BYTES
    while offset + len(HDF5_MAGIC) <= size:
        yield offset
        offset *= 2


def _magic(head: bytes) -> Format | None:
    # Order matters only where magics could collide; none of these prefixes overlap.
    if head.startswith(b"\x93NUMPY"):
        return Format.NUMPY
    if head.startswith(b"GGUF"):
        return Format.GGUF
    at = head.find(HDF5_MAGIC)
    while at >= 0:  # HDF5's superblock may sit behind a user block of 512 * 2**k bytes
        if at % 512 == 0:
            return Format.HDF5
        at = head.find(HDF5_MAGIC, at + 1)
    if head.startswith((ZIP_LOCAL, ZIP_EMPTY, ZIP_SPANNED)):
        return Format.ZIP
    if head.startswith(b"\x1f\x8b"):
        return Format.GZIP
    if len(head) >= 10 and head.startswith(b"BZh") and head[4:10] == b"1AY&SY":
        return Format.BZ2
    if head.startswith(b"\xfd7zXZ\x00"):
        return Format.XZ
    if head.startswith(b"\x04\x22\x4d\x18"):
        return Format.LZ4
    if head.startswith(b"ZF0x"):
        return Format.JOBLIB  # joblib < 0.10 "zfile": a zlib stream behind a hex length
    if _is_zlib(head):
        return Format.ZLIB
    if _is_lzma_alone(head):
        return Format.LZMA
    return None


def _is_zlib(head: bytes) -> bool:
    # RFC 1950: CM=8 (deflate), window <= 32 KiB, header checksum; FLG restricted to the four
    # values zlib itself writes so that text starting with "x" is not mistaken for zlib.
    if len(head) < 2:
        return False
    cmf, flg = head[0], head[1]
    return cmf == 0x78 and flg in _ZLIB_LEVEL_FLAGS and (cmf * 256 + flg) % 31 == 0


def _is_lzma_alone(head: bytes) -> bool:
    # The legacy .lzma header joblib writes: properties 0x5D, a power-of-two dictionary size, then
    # an 8-byte uncompressed size (all ones when unknown).
    if len(head) < 13 or head[0] != 0x5D:
        return False
    dict_size: int = struct.unpack_from("<I", head, 1)[0]
    return dict_size >= 4096 and dict_size & (dict_size - 1) == 0


def _is_tar(head: bytes) -> bool:
    if len(head) < 512:
        return False
    block = head[:512]
    if block[257:262] == b"ustar":
        return True
    # V7 tar has no magic: accept a header whose checksum field matches its bytes.
    try:
        stored = int(block[148:156].split(b"\x00")[0].strip() or b"-1", 8)
    except ValueError:
        return False
    computed = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
    return stored == computed and block[0] not in (0, 0x20)


def _is_safetensors(head: bytes, size: int) -> bool:
    # An 8-byte little-endian header length followed by "{". Implausible lengths (beyond the file
    # or the limit) still go to the safetensors analyser, which reports them; only the brace and
    # a length below 2**48 are required here so that random bytes rarely qualify.
    if len(head) < 10 or size < 10 or head[8:9] != b"{":
        return False
    length: int = struct.unpack_from("<Q", head)[0]
    return 2 <= length < 1 << 48


def _onnx_evidence(head: bytes, size: int) -> str | None:
    """``"model"``: head parses as ModelProto fields up to a graph; ``"prefix"``: consistent
    ModelProto fields but no graph seen within the head; ``None``: not ONNX."""
    if not head.startswith(b"\x08"):
        return None
    pos = 0
    seen: set[int] = set()
    while pos < len(head):
        parsed = _varint(head, pos)
        if parsed is None:
            break
        key, pos = parsed
        number, wire = key >> 3, key & 7
        if _ONNX_MODEL_FIELDS.get(number) != wire:
            return None
        value = _varint(head, pos)
        if value is None:
            break
        amount, pos = value
        if number == 1 and not 1 <= amount <= _ONNX_MAX_IR_VERSION:
            return None
        if wire == 2:
            if amount > size:
                return None
            pos += amount
        seen.add(number)
        if number == 7 and 1 in seen:
            return "model"
    return "prefix" if 1 in seen else None


def _varint(data: bytes, pos: int) -> tuple[int, int] | None:
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            return None
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    return None


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the head is still text.
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    if text.translate(_TEXT_SPACES).isprintable():
        return True  # the usual case, decided in C
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\t\r\n\f")
    return printable >= 0.95 * max(len(text), 1)
