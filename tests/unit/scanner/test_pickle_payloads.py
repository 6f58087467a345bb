"""Builders for hand-made pickles (attack corpus and edge cases), shared by the scanner tests.

Everything here only *builds* bytes: opcodes written by hand, or ``pickle.dumps`` of harmless
objects whose ``__reduce__`` names a dangerous callable. Nothing is ever unpickled.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import struct
from pathlib import Path
from typing import Any

from signoff.scanner.allowlist import Allowlist
from signoff.scanner.findings import BLOCKING, ScanFinding
from signoff.scanner.limits import Limits
from signoff.scanner.pickle_scan import PickleScan, scan_pickle, scan_pickles

ALLOWLIST = Allowlist.default()
LIMITS = Limits()


class Reduce:
    """Pickles as ``func(*args)``; building such a pickle calls nothing."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def dumps(obj: Any, protocol: int = 4) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def global_op(module: str, name: str) -> bytes:
    """GLOBAL (protocols 0-3 spelling)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def short_unicode(text: str) -> bytes:
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def binunicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def binunicode8(text: str) -> bytes:
    data = text.encode()
    return b"\x8d" + struct.pack("<Q", len(data)) + data


def unicode0(text: str) -> bytes:
    return b"V" + text.encode("raw-unicode-escape") + b"\n"


def string0(text: str) -> bytes:
    return b"S" + repr(text).encode() + b"\n"


def call_tail(arg: str = "true") -> bytes:
    """Push one string argument, build a 1-tuple, REDUCE, STOP."""
    return short_unicode(arg) + b"\x85R."


def proto(n: int = 4) -> bytes:
    return b"\x80" + bytes([n])


def canary_payloads(canary: Path) -> dict[str, bytes]:
    """Pickles that would create ``canary`` if they were ever loaded."""
    path = str(canary)
    return {
        "open-p2": dumps(Reduce(open, path, "w"), 2),
        "open-p4": dumps(Reduce(open, path, "w"), 4),
        "system-p0": dumps(Reduce(os.system, f"touch {path}"), 0),
        "system-p5": dumps(Reduce(os.system, f"touch {path}"), 5),
        "exec-p3": dumps(Reduce(exec, f"open({path!r}, 'w').close()"), 3),
        "stack-global-memo": proto()
        + short_unicode("builtins")
        + b"\x94"
        + short_unicode("open")
        + b"\x94"
        + b"h\x00h\x01\x93"
        + short_unicode(path)
        + short_unicode("w")
        + b"\x86R.",
    }


def findings_of(
    data: bytes, *, allowlist: Allowlist = ALLOWLIST, limits: Limits = LIMITS
) -> list[ScanFinding]:
    scans = scan_pickles(io.BytesIO(data), file="t.pkl", allowlist=allowlist, limits=limits)
    return [f for scan in scans for f in scan.findings]


def scan_one(data: bytes, **kwargs: Any) -> PickleScan:
    kwargs.setdefault("allowlist", ALLOWLIST)
    kwargs.setdefault("limits", LIMITS)
    return scan_pickle(io.BytesIO(data), file="t.pkl", **kwargs)


def rules(findings: list[ScanFinding]) -> set[str]:
    return {f.rule_id for f in findings}


def constructs(findings: list[ScanFinding]) -> set[str | None]:
    return {f.construct for f in findings}


def blocking(findings: list[ScanFinding]) -> list[ScanFinding]:
    return [f for f in findings if f.severity in BLOCKING]


# -- the builders build what they claim (checked with pickletools, which only parses) --------


def test_builders_write_the_opcodes_they_name() -> None:
    data = proto() + global_op("os", "system") + call_tail()
    names = [op.name for op, _, _ in pickletools.genops(data)]
    assert names == ["PROTO", "GLOBAL", "SHORT_BINUNICODE", "TUPLE1", "REDUCE", "STOP"]
    for build, name in [
        (binunicode, "BINUNICODE"),
        (binunicode8, "BINUNICODE8"),
        (unicode0, "UNICODE"),
        (string0, "STRING"),
    ]:
        ops = list(pickletools.genops(build("os") + b"."))
        assert ops[0][0].name == name
        assert ops[0][1] == "os"


def test_canary_payloads_are_complete_pickles(tmp_path: Path) -> None:
    for data in canary_payloads(tmp_path / "canary").values():
        assert [op.name for op, _, _ in pickletools.genops(data)][-1] == "STOP"
    assert not (tmp_path / "canary").exists()
