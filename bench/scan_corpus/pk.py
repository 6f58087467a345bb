"""A tiny pickle opcode assembler: the attack pickles are written byte by byte, never by pickling
live objects, so nothing of them is ever executed (not even ``__reduce__`` on the build side).

Each helper returns the bytes of one opcode (or a short, common sequence). Names follow
``pickletools``: ``GLOBAL`` is protocol 0's text import, ``STACK_GLOBAL`` protocol 4's.
"""

from __future__ import annotations

import struct

MARK = b"("
STOP = b"."
POP = b"0"
REDUCE = b"R"
BUILD = b"b"
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
EMPTY_TUPLE = b")"
EMPTY_LIST = b"]"
EMPTY_DICT = b"}"
APPEND = b"a"
APPENDS = b"e"
SETITEM = b"s"
SETITEMS = b"u"
DICT = b"d"
NONE = b"N"
NEWTRUE = b"\x88"
NEWFALSE = b"\x89"
STACK_GLOBAL = b"\x93"
MEMOIZE = b"\x94"
OBJ = b"o"
NEWOBJ = b"\x81"


def proto(n: int) -> bytes:
    """PROTO n (protocol 2+; protocols 0 and 1 have no header)."""
    return b"\x80" + bytes([n])


def frame(body: bytes) -> bytes:
    """Protocol 4 FRAME around ``body``."""
    return b"\x95" + struct.pack("<Q", len(body)) + body


def global_(module: str, name: str) -> bytes:
    """GLOBAL (text form, every protocol)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def inst(module: str, name: str) -> bytes:
    """INST: call module.name with the items above the last MARK (protocol 0)."""
    return b"i" + module.encode() + b"\n" + name.encode() + b"\n"


def string0(text: str) -> bytes:
    """STRING, protocol 0 (a quoted repr)."""
    return b"S" + repr(text).encode() + b"\n"


def unicode0(text: str) -> bytes:
    """UNICODE, protocol 0 (raw-unicode-escape, no newline inside)."""
    return b"V" + text.encode("raw_unicode_escape") + b"\n"


def binunicode(text: str) -> bytes:
    """BINUNICODE (protocol 1+)."""
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def short_binunicode(text: str) -> bytes:
    """SHORT_BINUNICODE (protocol 4+)."""
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def binbytes(data: bytes) -> bytes:
    """SHORT_BINBYTES / BINBYTES (protocol 3+)."""
    if len(data) < 256:
        return b"C" + bytes([len(data)]) + data
    return b"B" + struct.pack("<I", len(data)) + data


def bytearray8(data: bytes) -> bytes:
    """BYTEARRAY8 (protocol 5)."""
    return b"\x96" + struct.pack("<Q", len(data)) + data


def int0(value: int) -> bytes:
    """INT, protocol 0."""
    return b"I" + str(value).encode() + b"\n"


def binint(value: int) -> bytes:
    """BININT1 / BININT2 / BININT."""
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def long1(value: int) -> bytes:
    """LONG1 (protocol 2+), for torch's legacy magic number."""
    data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def put(index: int) -> bytes:
    """PUT, protocol 0."""
    return b"p" + str(index).encode() + b"\n"


def get(index: int) -> bytes:
    """GET, protocol 0."""
    return b"g" + str(index).encode() + b"\n"


def binput(index: int) -> bytes:
    return b"q" + bytes([index])


def binget(index: int) -> bytes:
    return b"h" + bytes([index])


def binpersid() -> bytes:
    return b"Q"


def text(value: str, protocol: int) -> bytes:
    """The usual string opcode of ``protocol``."""
    if protocol == 0:
        return unicode0(value)
    if protocol >= 4 and len(value.encode()) < 256:
        return short_binunicode(value)
    return binunicode(value)


def import_(module: str, name: str, protocol: int) -> bytes:
    """Import ``module.name`` as pickle does at ``protocol`` (GLOBAL or STACK_GLOBAL)."""
    if protocol >= 4:
        return text(module, protocol) + MEMOIZE + text(name, protocol) + MEMOIZE + STACK_GLOBAL
    return global_(module, name)


def args(values: list[object], protocol: int) -> bytes:
    """A tuple of str / int / bytes / None / list-of-str values."""
    out = MARK
    for value in values:
        out += value_(value, protocol)
    return out + TUPLE


def value_(value: object, protocol: int) -> bytes:
    """One simple value."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return (NEWTRUE if value else NEWFALSE) if protocol >= 2 else int0(int(value))
    if isinstance(value, int):
        return int0(value) if protocol == 0 else binint(value)
    if isinstance(value, str):
        return text(value, protocol)
    if isinstance(value, bytes):
        return binbytes(value)
    if isinstance(value, list):
        out = EMPTY_LIST if protocol else b"(l"
        if protocol == 0:
            return b"(" + b"".join(value_(v, 0) for v in value) + b"l"
        if value:
            out += MARK + b"".join(value_(v, protocol) for v in value) + APPENDS
        return out
    if isinstance(value, tuple):
        return args(list(value), protocol)
    if isinstance(value, dict):
        out = EMPTY_DICT if protocol else b"(d"
        for key, item in value.items():
            out += value_(key, protocol) + value_(item, protocol) + SETITEM
        return out
    raise TypeError(f"unsupported value {value!r}")


def call(module: str, name: str, values: list[object], protocol: int) -> bytes:
    """``module.name(*values)`` through REDUCE: the classic ``__reduce__`` payload."""
    return import_(module, name, protocol) + args(values, protocol) + REDUCE


def whole(body: bytes, protocol: int) -> bytes:
    """A complete pickle: header, ``body`` (which leaves one value), STOP."""
    head = proto(protocol) if protocol >= 2 else b""
    return head + body + STOP
