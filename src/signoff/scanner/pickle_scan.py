"""Static pickle analysis: walk the opcodes symbolically and check every import and call.

Nothing is ever unpickled. A hand-written opcode reader (protocols 0-5) runs a symbolic stack and
memo, so ``STACK_GLOBAL`` operands are resolved exactly as the unpickler would resolve them (memo
included, ``PUT`` and ``MEMOIZE`` mixed), and every callable a load would call (``REDUCE``,
``NEWOBJ``, ``NEWOBJ_EX``, ``OBJ``, ``INST``) must be an imported global that the allowlist accepts.
Values built while loading (call results, persistent objects) can never be vouched for: importing
or calling through them is critical. Broken streams and exhausted budgets are findings (fail
closed), and what was seen before the break is still reported.

Large payloads (tensor bytes) are skipped with seeks or bounded reads, never copied, so the walk
stays streaming and its memory bounded whatever the file size.
"""

from __future__ import annotations

import codecs
import io
import math
import pickletools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import BinaryIO, NamedTuple, TypeAlias

from mypy_extensions import mypyc_attr

from signoff.scanner.allowlist import Allowlist, py3_name
from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.limits import Limits

RULE_DANGEROUS = "pickle/dangerous-global"
RULE_UNLISTED = "pickle/unlisted-global"
RULE_UNRESOLVABLE = "pickle/unresolvable-global"
RULE_CALL = "pickle/unresolvable-call"
RULE_MUTATION = "pickle/global-mutation"
RULE_MALFORMED = "pickle/malformed"
RULE_LIMIT = "pickle/limit"
RULE_NESTED = "pickle/nested-pickle"
RULE_PERSISTENT = "pickle/persistent-id"
RULE_INTERNAL = "pickle/internal-error"

HOW_TO_ALLOW = "If this import is expected, add it to the registry allowlist: "
HIGHEST_PROTOCOL = 5

_CHUNK = 1 << 16
"""Read size of the buffered reader."""
_SKIP_CHUNK = 1 << 20
"""Read-and-discard size when skipping on a stream that cannot seek."""
_KEEP_TEXT = 1 << 10
"""Strings up to this many bytes are kept as values (module and attribute names are short)."""
_KEEP_BYTES = 1 << 12
"""Byte strings kept in memory for nested-pickle checks; larger ones are re-read by offset."""
_MAX_LINE = 1 << 16
"""Protocol-0 text arguments longer than this are skipped rather than decoded."""
_MAX_ITEMS = 1 << 16
"""Containers keep at most this many items symbolically (enough for storage-key lists)."""
_MAX_MEMO = 20_000_000
"""Memo entries before the walk stops (bounds memory on pathological pickles)."""
_MAX_FINDINGS = 500
_MAX_NESTED_BYTES = 64 << 20
"""Embedded pickles larger than this are not re-read (the loader call is reported regardless)."""

# Modules and names pickle loads that deserialise their argument: scan that argument too.
_NESTED_LOADERS = frozenset(
    {
        ("pickle", "loads"),
        ("pickle", "load"),
        ("pickle", "_loads"),
        ("pickle", "_load"),
        ("_pickle", "loads"),
        ("_pickle", "load"),
        ("dill", "loads"),
        ("dill", "load"),
        ("cloudpickle", "loads"),
        ("cloudpickle", "load"),
        ("torch", "load"),
        ("torch.serialization", "load"),
        ("torch.storage", "_load_from_bytes"),
        ("joblib", "load"),
        ("numpy", "load"),
        ("pandas", "read_pickle"),
    }
)
_BYTES_WRAPPERS = frozenset(
    {("io", "BytesIO"), ("_io", "BytesIO"), ("builtins", "bytes"), ("builtins", "bytearray")}
)
_GETATTR = ("builtins", "getattr")
_QUIET = frozenset({"unresolved import", "missing", "missing memo entry", "undecodable string"})
"""Placeholders whose cause was already reported: calling them adds no second finding."""
_OCTAL = re.compile(rb"\s*[-+]?0[0-7]+\s*")
_SNIFF_BYTES = 512
"""Bytes of a protocol 0/1 candidate walked to decide whether it is a pickle."""
_PROTO01_STARTS = frozenset(b"(]}),NILFGSVJKMTUXc")
"""First opcodes of protocol 0/1 pickles as pickle writes them (not PERSID: "PK" is a zip)."""
_FIXED_ARGS = {
    0x80: 1, 0x72: 4, 0x6A: 4, 0x42: 4, 0x8E: 8, 0x96: 8, 0x8D: 8, 0x54: 4, 0x55: 1, 0x8A: 1,
    0x8B: 4, 0x82: 1, 0x83: 2, 0x84: 4, 0x43: 1, 0x58: 4,
}  # fmt: skip
"""Bytes of fixed-size argument of the less frequent opcodes (length prefixes included)."""


class Global:
    """A global the pickle imports (``module.name``), or an attribute reached from one."""

    __slots__ = ("getattr", "key", "loader", "module", "name", "offset")

    def __init__(self, module: str, name: str, offset: int) -> None:
        self.module = module
        self.name = name
        self.offset = offset
        key = py3_name(module, name)
        self.key = key
        """The Python 3 spelling the unpickler imports (computed once, not at every call)."""
        self.getattr = key == _GETATTR
        self.loader = key in _NESTED_LOADERS
        """Whether calling it deserialises its argument (``pickle.loads`` & co.)."""

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


class Result:
    """An object a load builds by calling something; its callee, small args and BUILD state."""

    __slots__ = ("args", "cache", "callee", "offset", "state")

    def __init__(self, callee: Global | None, args: object, offset: int) -> None:
        self.callee = callee
        self.args = args
        self.offset = offset
        self.state: object = None
        self.cache: tuple[object, object] | None = None
        """What a format hook derived from this object, with the state it derived it from."""


class Opaque:
    """A value the scanner cannot know: persistent objects, buffers, broken-stream placeholders."""

    __slots__ = ("kind", "offset")

    def __init__(self, kind: str, offset: int) -> None:
        self.kind = kind
        self.offset = offset


class Blob:
    """A bytes or text payload; ``data`` is kept only when small, else re-read by offset."""

    __slots__ = ("data", "length", "offset", "text")

    def __init__(self, offset: int, length: int, data: bytes | None, text: bool) -> None:
        self.offset = offset
        self.length = length
        self.data = data
        self.text = text


@mypyc_attr(native_class=False)  # (compiled: a list subclass must stay a Python class)
class SymList(list[object]):
    """A list value, items kept up to ``_MAX_ITEMS``."""

    overflow = False


@mypyc_attr(native_class=False)
class SymDict(dict[object, object]):
    """A dict value with string keys, kept up to ``_MAX_ITEMS`` entries."""

    overflow = False


Symbolic: TypeAlias = object
"""A value on the symbolic stack. (An alias, not ``object`` itself, in dataclass fields: mypyc
resolves their annotations among the module's names, where builtins are not.)"""

FLOAT = Opaque("float", -1)
OTHER = Opaque("value", -1)
"""Shared placeholders for values whose content never matters (floats, sets, big ints)."""


@dataclass
class PickleScan:
    """What one pickle stream names and what is wrong with it."""

    findings: list[ScanFinding]
    globals: list[tuple[str, str, int]]
    """Every distinct (module, name) imported, with the offset of its first import."""
    end_offset: int | None
    """Absolute offset just after STOP; None when the stream broke or a budget ran out."""
    complete: bool
    value: Symbolic = field(default=None, repr=False)
    """Symbolic value left by STOP (ints, strings, SymList/SymDict...): for format checks."""


class Broken(Exception):
    """The byte stream cannot be read further as a pickle."""


class Truncated(Broken):
    """The stream ended in the middle of the pickle."""


class LimitReached(Exception):
    """A scan budget ran out."""


class PickleReader:
    """Buffered, position-tracking reads over a binary stream, shared by walkers and format hooks.

    ``pos`` is the absolute file offset of the next unread byte (``base_offset`` is the offset of
    the stream's current position). Skips seek when the stream can, else read and discard.
    """

    def __init__(self, stream: BinaryIO, base_offset: int = 0) -> None:
        self.stream = stream
        self.buf = b""
        self.i = 0
        self.start = base_offset
        """Absolute offset of ``buf[0]``."""
        self.end: int | None = None
        """Absolute end of the stream when known (seekable streams)."""
        self.seekable = False
        self.eof = False
        """Whether a read came back empty: reads from here on are not tried again."""
        self._origin = 0
        try:
            if stream.seekable():
                here = stream.tell()
                size = stream.seek(0, io.SEEK_END)
                stream.seek(here)
                self._origin = here - base_offset
                self.end = base_offset + max(size - here, 0)
                self.seekable = True
        except (OSError, ValueError, AttributeError):
            self.seekable = False

    @property
    def pos(self) -> int:
        return self.start + self.i

    def fill(self, need: int) -> None:
        """Make ``need`` bytes available from ``i`` when the stream has them."""
        have = len(self.buf) - self.i
        if have >= need or self.eof:
            return
        parts = [self.buf[self.i :]]
        self.start += self.i
        self.i = 0
        while have < need:
            chunk = self.stream.read(max(_CHUNK, need - have))
            if not chunk:
                self.eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        self.buf = b"".join(parts)

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at end of stream)."""
        self.fill(n)
        data = self.buf[self.i : self.i + n]
        self.i += len(data)
        return data

    def peek(self, n: int) -> bytes:
        self.fill(n)
        return self.buf[self.i : self.i + n]

    def at_eof(self) -> bool:
        return not self.peek(1)

    def skip(self, n: int, deadline: float | None = None) -> int:
        """Skip ``n`` bytes without keeping them; returns how many existed."""
        buffered = len(self.buf) - self.i
        if n <= buffered:
            self.i += n
            return n
        remaining = n - buffered
        self.start += len(self.buf)
        self.buf = b""
        self.i = 0
        if self.seekable and self.end is not None:
            step = min(remaining, max(self.end - self.start, 0))
            self.stream.seek(step, io.SEEK_CUR)
            self.start += step
            return buffered + step
        skipped = 0
        while skipped < remaining:
            if deadline is not None and time.monotonic() > deadline:
                raise LimitReached("time")
            chunk = self.stream.read(min(_SKIP_CHUNK, remaining - skipped))
            if not chunk:
                self.eof = True
                break
            skipped += len(chunk)
        self.start += skipped
        return buffered + skipped

    def read_at(self, offset: int, length: int) -> bytes | None:
        """Bytes at an absolute offset (seekable streams only); the position is unchanged."""
        if not self.seekable:
            return None
        here = self.stream.tell()
        try:
            self.stream.seek(self._origin + offset)
            return self.stream.read(length)
        finally:
            self.stream.seek(here)

    def release(self) -> None:
        """Leave the underlying stream at ``pos`` (seekable streams), dropping the read-ahead."""
        if self.seekable:
            self.stream.seek(self._origin + self.pos)
            self.start = self.pos
            self.buf = b""
            self.i = 0
            self.eof = False


BuildHook = Callable[["PickleWalker", object, object, int], None]
"""Called after each BUILD of a value built by a call (a :class:`Result`) with (walker, target,
state, offset); may read from ``walker.reader``."""
PersistentHook = Callable[["PickleWalker", object, int], None]
"""Called for each persistent id with (walker, pid, offset) instead of the default note."""


def looks_like_pickle(first_bytes: bytes) -> bool:
    """Whether a stream starting with these bytes plausibly is a pickle.

    Protocol 2+ pickles start with PROTO. Protocol 0/1 pickles have no magic (protocol 0 is
    text), so their first bytes must also walk cleanly: "Introduction..." is not a pickle.
    """
    global _last_sniff
    if not first_bytes:
        return False
    if first_bytes[0] == 0x80:
        return len(first_bytes) < 2 or first_bytes[1] <= HIGHEST_PROTOCOL
    if first_bytes[0] not in _PROTO01_STARTS:
        return False
    last = _last_sniff
    if last[0] is first_bytes:  # the dispatcher asks twice about one head: sniff, then itself
        return last[1]
    result = _walks_as_pickle(first_bytes)
    _last_sniff = (first_bytes, result)  # one assignment: safe with threads
    return result


_last_sniff: tuple[bytes, bool] = (b"", False)
_SNIFF_LIMITS = Limits(max_opcodes=_SNIFF_BYTES)


def _argument_kinds() -> dict[int, int]:
    """Opcode -> how its argument is laid out: bytes (>= 0), lines (-1, -2) or a length prefix
    (``pickletools``' TAKEN_FROM_ARGUMENT* codes, -2 to -5, shifted to -12 to -15)."""
    kinds = {}
    for opcode in pickletools.opcodes:
        arg = opcode.arg
        if arg is None:
            kind = 0
        elif arg.n >= 0:
            kind = arg.n
        elif arg.n == pickletools.UP_TO_NEWLINE:
            kind = -2 if opcode.name in ("GLOBAL", "INST") else -1
        else:
            kind = arg.n - 10
        kinds[ord(opcode.code)] = kind
    return kinds


_ARGUMENTS = _argument_kinds()
_PREFIX_SIZES = {-12: 1, -13: 4, -14: 4, -15: 8}
_IMPORT_OPCODES = frozenset(b"ci\x93")  # GLOBAL, INST, STACK_GLOBAL


class OpcodeRun(NamedTuple):
    """How far a walk of some bytes can get: see :func:`opcode_run`."""

    opcodes: int
    """Opcodes read, the one the run stops at included (a walk that runs out of data counts
    one more: the opcode it finds missing)."""
    imports: bool
    """Whether an import opcode (GLOBAL, INST, STACK_GLOBAL) is among them."""
    broken: bool
    """Whether the run stops at an unknown opcode or a negative length (where a walk stops
    with a broken stream, not with the end of the data or STOP)."""


def opcode_run(data: bytes, limit: int, *, to_import: bool = True) -> OpcodeRun:
    """The opcodes of ``data`` up to where a walk stops, or ``limit`` of them; with
    ``to_import``, only up to the first import.

    Hand-rolled, not ``pickletools.genops``: only argument lengths are read (no values, no
    tuple per opcode), and the run stops exactly where the walker stops, or later (it does not
    check protocol numbers). Format checks use it to learn cheaply that bytes are no pickle
    a walk could report anything about; tests check it against genops and the walker.
    """
    end = len(data)
    i = 0
    count = 0
    imports = broken = False
    while i < end and count < limit:
        op = data[i]
        i += 1
        count += 1
        kind = _ARGUMENTS.get(op)
        if kind is None:
            broken = True
            break
        if op == 0x2E:  # STOP
            break
        if op in _IMPORT_OPCODES:
            imports = True
            if to_import:
                break
        if kind >= 0:
            i += kind
        elif kind >= -2:  # one or two lines
            for _ in range(-kind):
                line_end = data.find(b"\n", i)
                i = end + 1 if line_end < 0 else line_end + 1
        else:
            size = _PREFIX_SIZES[kind]
            length = int.from_bytes(data[i : i + size], "little", signed=kind == -13)
            if i + size > end:
                break
            if length < 0:
                broken = True
                break
            i += size + length
    return OpcodeRun(count, imports, broken)


def _walks_as_pickle(first_bytes: bytes) -> bool:
    sample = first_bytes[:_SNIFF_BYTES]
    if opcode_run(sample, _SNIFF_BYTES, to_import=False).broken:
        return False  # the walk below breaks on it too: neither complete nor cut by the end
    walker = PickleWalker(
        PickleReader(io.BytesIO(sample)),
        file="",
        member=None,
        allowlist=_NOTHING_ALLOWED,
        limits=_SNIFF_LIMITS,
        deadline=math.inf,
    )
    scan = walker.walk()
    malformed = sum(f.rule_id == RULE_MALFORMED for f in scan.findings)
    if scan.complete:
        return not malformed
    # Cut short by the end of the sample: a real pickle has walked a few opcodes or an import
    # by then; text like "Some text" breaks inside its first argument.
    return walker.truncated and malformed == 1 and (walker.opcodes >= 3 or bool(scan.globals))


def _describe(value: object) -> str:
    """A value as a reviewer should read it in a finding."""
    if isinstance(value, Result):
        who = value.callee.dotted if value.callee else "a computed callable"
        return f"the result of calling {who} (offset {value.offset})"
    if isinstance(value, Opaque):
        return f"a {value.kind} value" + (f" (offset {value.offset})" if value.offset >= 0 else "")
    if isinstance(value, Global):
        return f"the imported object {value.dotted}"
    if isinstance(value, Blob):
        return "a long string" if value.text else "a byte string"
    if isinstance(value, str):
        return f"the string {value[:60]!r}"
    return f"a {type(value).__name__.removeprefix('Sym').lower()} value"


@dataclass
class _Counted:
    finding: ScanFinding
    count: int = 1


class PickleWalker:
    """One symbolic walk over one pickle stream. Use :func:`scan_pickle` / :func:`scan_pickles`."""

    def __init__(
        self,
        reader: PickleReader,
        *,
        file: str,
        member: str | None,
        allowlist: Allowlist,
        limits: Limits,
        deadline: float,
        depth: int = 0,
        build_hook: BuildHook | None = None,
        persistent_hook: PersistentHook | None = None,
    ) -> None:
        self.reader = reader
        self.file = file
        self.member = member
        self.allowlist = allowlist
        self.limits = limits
        self.deadline = deadline
        self.depth = depth
        self.build_hook = build_hook
        self.persistent_hook = persistent_hook
        self.stack: list[object] = []
        self.marks: list[int] = []
        self.memo: list[object] | dict[int, object] = []
        """The unpickler's memo: a list while its keys are 0, 1, 2 ... (what picklers write:
        MEMOIZE, or PUT of the next key; appending is cheaper than a dict insert), a dict from
        the first PUT that skips ahead."""
        self.globals: list[tuple[str, str, int]] = []
        self._seen: dict[tuple[str, str], bool] = {}
        self._findings: dict[tuple[str, str], _Counted] = {}
        self._suppressed = 0
        self._getattr_pushed = 0
        self._getattr_resolved = 0
        self._nested: list[tuple[Blob, int, str]] = []
        """(payload, offset of the loader call, loader) to scan after the walk."""
        self.start = reader.pos
        self.opcodes = 0
        """Opcodes walked (set when the walk ends)."""
        self.truncated = False
        """Whether the walk stopped because the stream ended mid-pickle."""

    # -- findings ---------------------------------------------------------------------------

    def add(
        self,
        rule: str,
        severity: Severity,
        title: str,
        detail: str,
        offset: int | None,
        construct: str | None = None,
    ) -> None:
        """Record a finding (one per rule and construct; repeats are counted)."""
        key = (rule, construct or title)
        counted = self._findings.get(key)
        if counted is not None:
            counted.count += 1
            return
        if len(self._findings) >= _MAX_FINDINGS:
            self._suppressed += 1
            return
        self._findings[key] = _Counted(
            ScanFinding(rule, severity, title, detail, self.file, self.member, offset, construct)
        )

    def add_finding(self, finding: ScanFinding) -> None:
        """Record a finding produced elsewhere (nested or inline pickles)."""
        key = (finding.rule_id, f"{finding.construct or finding.title}@{finding.offset}")
        if key not in self._findings and len(self._findings) < _MAX_FINDINGS:
            self._findings[key] = _Counted(finding)

    def findings(self) -> list[ScanFinding]:
        out = []
        for counted in self._findings.values():
            f = counted.finding
            if counted.count > 1:
                f = replace(f, detail=f"{f.detail} (seen {counted.count} times; first shown)")
            out.append(f)
        if self._suppressed:
            out.append(
                ScanFinding(
                    RULE_LIMIT,
                    Severity.HIGH,
                    "Too many findings",
                    f"{self._suppressed} further findings were not recorded.",
                    self.file,
                    self.member,
                    None,
                    None,
                )
            )
        return out

    def malformed(self, what: str, offset: int | None) -> None:
        self.add(
            RULE_MALFORMED,
            Severity.MEDIUM,
            "Malformed pickle stream",
            f"{what}. A loader stops or misbehaves here; anything seen before this point may "
            "already have run, and a tampered stream is a common way to hide a payload from "
            "scanners. Re-export the artifact from its source.",
            offset,
            what,
        )

    # -- globals ----------------------------------------------------------------------------

    def check_global(self, module: str, name: str, offset: int, via: str) -> Global:
        """Record an import and report it unless the allowlist accepts it."""
        value = Global(module, name, offset)
        key = (module, name)
        if key not in self._seen:
            self._seen[key] = True
            self.globals.append((module, name, offset))
        if value.getattr:
            # Judged where it is called: getattr(<allowed global>, "<constant>") is checked as
            # the dotted import it amounts to (zoneinfo pickles ZoneInfo._unpickle that way).
            self._getattr_pushed += 1
            return value
        self.judge(module, name, offset, via)
        return value

    def judge(self, module: str, name: str, offset: int, via: str) -> None:
        # TorchScript classes and value builders, in a TorchScript archive's pickle, come back
        # allowed without a danger.
        found, allowed = self.allowlist.decision(module, name)
        if allowed:
            return
        dotted = f"{module}.{name}"
        if found is not None:
            self.add(
                RULE_DANGEROUS,
                found.severity,
                f"Dangerous import: {dotted}",
                f"{via} imports {dotted} ({found.reason}; matches {found.rule}). Loading this "
                "pickle gives it that power. No model needs it: treat the artifact as malicious "
                "unless its producer can explain it.",
                offset,
                dotted,
            )
        else:
            self.add(
                RULE_UNLISTED,
                Severity.HIGH,
                f"Import not on the allowlist: {dotted}",
                f"{via} imports {dotted}, which no allowlist profile "
                f"({', '.join(self.allowlist.profiles) or 'none'}) or registry entry covers; "
                f"loading would import it and may call it. {HOW_TO_ALLOW}"
                f"signoff policy allowlist add {dotted}",
                offset,
                dotted,
            )

    def unresolvable(self, what: str, offset: int, construct: str) -> Opaque:
        self.add(
            RULE_UNRESOLVABLE,
            Severity.CRITICAL,
            "Import that cannot be resolved statically",
            f"{what}. The import is computed while loading, so no allowlist can vouch for it; "
            "this is how payloads hide their imports from scanners.",
            offset,
            construct,
        )
        return Opaque("unresolved import", offset)

    # -- calls ------------------------------------------------------------------------------

    def call(self, callee: object, args: object, offset: int, via: str) -> object:
        """What a load pushes after calling ``callee(*args)``; reports what it cannot vouch for."""
        if type(callee) is Global:
            if callee.getattr:
                return self._getattr(args, offset)
            if callee.loader:
                self._note_nested(callee, args, offset)
            return Result(callee, args if type(args) is tuple and len(args) <= 8 else None, offset)
        if type(callee) is Opaque and callee.kind in _QUIET:
            return Result(None, None, offset)  # already reported where it was produced
        if isinstance(callee, (Result, Opaque)):
            self.add(
                RULE_CALL,
                Severity.CRITICAL,
                "Call through a value built while loading",
                f"{via} calls {_describe(callee)}. Only imported, allowlisted callables can be "
                "vouched for; calling a computed object is how payloads chain gadgets "
                "(e.g. getattr(__import__('os'), 'system')).",
                offset,
                f"{via} on {_describe(callee)}",
            )
        else:
            self.malformed(f"{via} calls {_describe(callee)}, which is not callable", offset)
        return Result(None, None, offset)

    def _getattr(self, args: object, offset: int) -> object:
        if (
            type(args) is tuple
            and len(args) in (2, 3)
            and type(args[0]) is Global
            and not args[0].getattr
            and type(args[1]) is str
        ):
            target: Global = args[0]
            self._getattr_resolved += 1
            return self.check_global(
                target.module, f"{target.name}.{args[1]}", offset, "builtins.getattr"
            )
        operands = (
            ", ".join(_describe(a) for a in args[:2]) if type(args) is tuple else _describe(args)
        )
        return self.unresolvable(
            f"builtins.getattr is called on {operands}", offset, f"getattr({operands})"
        )

    def _note_nested(self, callee: Global, args: object, offset: int) -> None:
        first = args[0] if type(args) is tuple and args else None
        if type(first) is Result and first.callee is not None and type(first.args) is tuple:
            inner = first.args[0] if first.args else None
            name = first.callee.key
            if name == ("_codecs", "encode") and type(inner) in (str, Blob):
                # Protocol 0-2 bytes are _codecs.encode(text, "latin1"); text is kept as a Blob.
                first = inner if type(inner) is Blob else Blob(first.offset, 0, None, True)
                if type(inner) is str:
                    first = Blob(first.offset, len(inner), inner.encode("latin-1", "replace"), True)
            elif name in _BYTES_WRAPPERS:
                first = inner
        if type(first) is Blob:
            self._nested.append((first, offset, callee.dotted))

    # -- nested pickles ---------------------------------------------------------------------

    def scan_nested(self) -> None:
        """Scan payloads handed to pickle.loads & co. as pickles of their own."""
        for blob, offset, loader in self._nested:
            data = blob.data
            if data is None and blob.length <= _MAX_NESTED_BYTES:
                data = self.reader.read_at(blob.offset, blob.length)
                if data is not None and blob.text:
                    # A protocol 0-2 byte string: UTF-8 text whose code points are the bytes.
                    data = data.decode("utf-8", "replace").encode("latin-1", "replace")
            if not data:
                continue
            if self.depth + 1 > self.limits.max_depth:
                self.add(
                    RULE_LIMIT,
                    Severity.HIGH,
                    "Nesting limit reached",
                    f"An embedded pickle at offset {blob.offset} was not scanned: nesting deeper "
                    f"than {self.limits.max_depth}.",
                    blob.offset,
                    "nesting",
                )
                continue
            inner = scan_pickles(
                io.BytesIO(data),
                file=self.file,
                member=self.member,
                allowlist=self.allowlist,
                limits=self.limits,
                base_offset=blob.offset,
                deadline=self.deadline,
                depth=self.depth + 1,
            )
            inner_findings = [f for scan in inner for f in scan.findings]
            self.add(
                RULE_NESTED,
                Severity.CRITICAL,
                f"Embedded pickle loaded by {loader}",
                f"{loader} is called at offset {offset} on a {blob.length}-byte payload at offset "
                f"{blob.offset}, which is itself a pickle; its own scan reported "
                f"{len(inner_findings)} finding(s), listed with their offsets.",
                offset,
                f"{loader}@{blob.offset}",
            )
            for finding in inner_findings:
                self.add_finding(finding)

    # -- the walk ---------------------------------------------------------------------------

    def walk(self) -> PickleScan:
        end: int | None = None
        value: object = None
        try:
            value = self._run()
            end = self.reader.pos
        # (One name per except clause: compiled, a name keeps the type of its first clause.)
        except Broken as broken:
            self.truncated = isinstance(broken, Truncated)
            self.malformed(str(broken), self.reader.pos)
        except IndexError:
            self.malformed("an opcode argument is truncated", self.reader.pos)
        except LimitReached as limit:
            self._limit(str(limit))
        except Exception as exc:  # fail closed: an analyser error is a finding, never a pass
            self.add(
                RULE_INTERNAL,
                Severity.HIGH,
                "Pickle could not be analysed",
                f"The scanner stopped with {type(exc).__name__}: {exc}. The stream was not fully "
                "analysed, so the scan fails closed.",
                self.reader.pos,
                type(exc).__name__,
            )
        if self._getattr_pushed > self._getattr_resolved:
            self.add(
                RULE_DANGEROUS,
                Severity.HIGH,
                "Dangerous import: builtins.getattr",
                "builtins.getattr is imported but not only used as getattr(<allowlisted import>, "
                "'<constant>'); used otherwise it reaches arbitrary attributes (call/attribute "
                "gadget).",
                next((o for m, n, o in self.globals if py3_name(m, n) == _GETATTR), None),
                "builtins.getattr",
            )
        if self._nested:
            self.scan_nested()
        complete = end is not None
        return PickleScan(self.findings(), self.globals, end, complete, value if complete else None)

    def _limit(self, which: str) -> None:
        budgets = {
            "opcodes": f"more than {self.limits.max_opcodes} opcodes (max_opcodes)",
            "bytes": f"more than {self.limits.max_pickle_bytes} bytes (max_pickle_bytes)",
            "time": f"more than {self.limits.max_seconds_per_file}s (max_seconds_per_file)",
            "memo": f"more than {_MAX_MEMO} memo entries",
        }
        self.add(
            RULE_LIMIT,
            Severity.HIGH,
            "Scan budget exhausted",
            f"The pickle walk stopped after {budgets.get(which, which)}; the rest of the stream "
            "was not analysed, so the scan fails closed. Raise the limit only for trusted sources.",
            self.reader.pos,
            which,
        )

    def _line(self) -> bytes | None:
        """A protocol-0 text argument without its newline; None when too long to keep."""
        r = self.reader
        while True:
            j = r.buf.find(b"\n", r.i)
            if j >= 0:
                line = r.buf[r.i : j]
                r.i = j + 1
                return line if len(line) <= _MAX_LINE else None
            have = len(r.buf) - r.i
            if have > _MAX_LINE:
                # Too long to keep: drop what is buffered and keep looking (budget-bounded).
                r.i = len(r.buf)
                self.check_bytes()
                have = 0
            r.fill(have + 1)
            if len(r.buf) - r.i == have:
                raise Truncated("a text argument runs past the end of the stream")

    def check_bytes(self) -> None:
        """Stop once this pickle spans more than ``max_pickle_bytes``."""
        if self.reader.pos - self.start > self.limits.max_pickle_bytes:
            raise LimitReached("bytes")

    def _payload(self, length: int, keep: int, text: bool) -> Blob:
        """A length-prefixed payload at the reader's position (kept when at most ``keep`` bytes)."""
        r = self.reader
        offset = r.pos
        if length <= keep:
            r.fill(length)
            if len(r.buf) - r.i < length:
                raise Truncated(f"a {length}-byte payload at offset {offset} is truncated")
            data = r.buf[r.i : r.i + length]
            r.i += length
            return Blob(offset, length, data, text)
        if r.end is not None and offset + length > r.end:
            raise Broken(
                f"a {length}-byte payload at offset {offset} runs past the end of the file"
            )
        if offset + length - self.start > self.limits.max_pickle_bytes:
            raise LimitReached("bytes")
        if r.skip(length, self.deadline) < length:
            raise Truncated(f"a {length}-byte payload at offset {offset} is truncated")
        return Blob(offset, length, None, text)

    def _text(self, length: int) -> object:
        blob = self._payload(length, _KEEP_TEXT, True)
        if blob.data is None:
            return blob
        try:
            return blob.data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            self.malformed("a string is not valid UTF-8", blob.offset)
            return Opaque("undecodable string", blob.offset)

    def _pop(self, offset: int) -> object:
        stack = self.stack
        floor = self.marks[-1] if self.marks else 0
        if len(stack) > floor:
            return stack.pop()
        self.malformed("stack underflow", offset)
        return Opaque("missing", offset)

    def _pop_mark(self, offset: int) -> list[object]:
        if not self.marks:
            self.malformed("an opcode needs a MARK that was never pushed", offset)
            items = self.stack[:]
            self.stack.clear()
            return items
        k = self.marks.pop()
        items = self.stack[k:]
        del self.stack[k:]
        return items

    def _top(self, offset: int) -> object:
        floor = self.marks[-1] if self.marks else 0
        if len(self.stack) > floor:
            return self.stack[-1]
        self.malformed("stack underflow", offset)
        return Opaque("missing", offset)

    def _mutates(self, target: object, opcode: str, offset: int) -> None:
        if type(target) is Global:
            self.add(
                RULE_MUTATION,
                Severity.CRITICAL,
                f"{opcode} modifies an imported object",
                f"{opcode} at offset {offset} changes {target.dotted} itself (its attributes, "
                "items or state), not an object built from it: a known way to plant names that "
                "a later import then picks up.",
                offset,
                f"{opcode} on {target.dotted}",
            )

    def _memo_get(self, key: int, offset: int) -> object:
        memo = self.memo
        if isinstance(memo, list):
            value: object = memo[key] if 0 <= key < len(memo) else self
        else:
            value = memo.get(key, self)
        if value is self:
            self.malformed(f"memo key {key} is read before it is written", offset)
            return Opaque("missing memo entry", offset)
        if type(value) is Global and value.getattr:
            self._getattr_pushed += 1
        return value

    def _memo_put(self, key: int, offset: int) -> None:
        memo = self.memo
        if isinstance(memo, list):
            if key < len(memo):
                memo[key] = self._top(offset)
                return
            if key > len(memo):  # a gap: the keys are no longer 0, 1, 2 ...
                memo = self.memo = dict(enumerate(memo))
        if key not in memo and len(memo) >= _MAX_MEMO:
            raise LimitReached("memo")
        if isinstance(memo, list):
            memo.append(self._top(offset))
        else:
            memo[key] = self._top(offset)

    def _run(self) -> object:
        # Hand-rolled rather than pickletools.genops: genops builds a tuple and decodes the
        # argument of every opcode (a generator step each), knows no stack, and reads skipped
        # payloads; this one flat loop costs less per opcode, and the per-opcode cost is what
        # bounds scan speed (tests check it against genops on every protocol and on cut streams).
        #
        # The buffer, position and mark floor live in locals. Past ``lim`` fewer than 9 bytes
        # (the longest fixed-size opcode) are buffered: only there does the loop refill, check
        # its budgets (time, bytes, memo: so at least once per 64 KiB buffer) and watch for an
        # opcode that ran past the end of the data (it is reported there, before the next
        # opcode is read). Anything that reads the stream itself gets the position first
        # (``r.i = i``) and the locals are reloaded after it.
        r = self.reader
        stack = self.stack
        pop = stack.pop
        marks = self.marks
        memo = self.memo
        memo_list = memo if isinstance(memo, list) else None  # (see self.memo)
        hook = self.build_hook
        deadline = self.deadline
        max_bytes = self.limits.max_pickle_bytes
        floor = marks[-1] if marks else 0  # stack items below it belong to an open MARK
        getattrs = self._getattr_pushed != 0  # builtins.getattr imported: memo reads count it
        buf = r.buf
        i = r.i
        n = len(buf)
        lim = n - 9
        start = r.start
        op = 0
        count = 0
        try:
            for count in range(1, self.limits.max_opcodes + 1):  # (kept for self.opcodes)
                if i > lim:
                    if i > n:  # the previous opcode ran past the data: it is the last one read
                        r.i = n
                        count -= 1
                        raise Truncated(f"opcode 0x{op:02x} at offset {start + n} is truncated")
                    r.i = i
                    if not r.eof:
                        if time.monotonic() > deadline:
                            raise LimitReached("time")
                        if len(memo) > _MAX_MEMO:
                            raise LimitReached("memo")
                        if start + i - self.start > max_bytes:
                            raise LimitReached("bytes")
                        r.fill(9)
                        buf, i, n, start = r.buf, r.i, len(r.buf), r.start
                    # At the end of the stream only an opcode that ran past it (or its absence)
                    # needs this branch.
                    lim = n - 1 if r.eof else n - 9
                    if i >= n:
                        if r.pos == self.start:
                            raise Broken("the stream is empty where a pickle should start")
                        raise Truncated("the stream ends before STOP")
                op = buf[i]
                # Most frequent opcodes first, in two halves (a comparison per opcode tried is
                # a good part of the cost); fixed-size arguments come straight from buf.
                if op == 0x68:  # BINGET
                    try:
                        value = memo[buf[i + 1]]
                    except LookupError:
                        value = self._memo_get(buf[i + 1], start + i)  # reports the miss
                    else:
                        if getattrs:
                            value = self._memo_get(buf[i + 1], start + i)  # counts getattr
                    stack.append(value)
                    i += 2
                elif op > 0x7F:  # protocol 2+ opcodes: MEMOIZE, SHORT_BINUNICODE, TUPLE1-3 ...
                    if op == 0x94:  # MEMOIZE
                        if len(stack) <= floor:
                            self.malformed("MEMOIZE on an empty stack", start + i)
                        elif memo_list is not None:
                            memo_list.append(stack[-1])
                        else:
                            memo[len(memo)] = stack[-1]
                        i += 1
                    elif op == 0x8C:  # SHORT_BINUNICODE
                        end = i + 2 + buf[i + 1]
                        if end <= n:
                            try:
                                stack.append(buf[i + 2 : end].decode("utf-8", "surrogatepass"))
                                i = end
                                continue
                            except UnicodeDecodeError:
                                pass
                        r.i = i + 2
                        stack.append(self._text(buf[i + 1]))
                        buf, i, n, start = r.buf, r.i, len(r.buf), r.start
                        lim = n - 9
                    elif op == 0x86:  # TUPLE2
                        if len(stack) - floor >= 2:
                            b = pop()
                            stack[-1] = (stack[-1], b)
                        else:
                            b = self._pop(start + i)
                            stack.append((self._pop(start + i), b))
                        i += 1
                    elif op == 0x85:  # TUPLE1
                        if len(stack) > floor:
                            stack[-1] = (stack[-1],)
                        else:
                            stack.append((self._pop(start + i),))
                        i += 1
                    elif op == 0x87:  # TUPLE3
                        if len(stack) - floor >= 3:
                            c = pop()
                            b = pop()
                            stack[-1] = (stack[-1], b, c)
                        else:
                            c = self._pop(start + i)
                            b = self._pop(start + i)
                            stack.append((self._pop(start + i), b, c))
                        i += 1
                    elif op == 0x88:  # NEWTRUE
                        stack.append(True)
                        i += 1
                    elif op == 0x81:  # NEWOBJ
                        if len(stack) - floor >= 2:
                            args = pop()
                            func = stack[-1]
                            if type(func) is Global and not func.getattr and not func.loader:
                                # What call() returns for an imported callable, without the call.
                                if type(args) is not tuple or len(args) > 8:
                                    args = None
                                stack[-1] = Result(func, args, start + i)
                            else:
                                stack[-1] = self.call(func, args, start + i, "NEWOBJ")
                        else:
                            args = self._pop(start + i)
                            func = self._pop(start + i)
                            stack.append(self.call(func, args, start + i, "NEWOBJ"))
                        i += 1
                    elif (
                        op == 0x95
                    ):  # FRAME: framing only groups opcodes; the walk reads through it
                        i += 9
                    elif op == 0x89:  # NEWFALSE
                        stack.append(False)
                        i += 1
                    elif op == 0x93:  # STACK_GLOBAL
                        name = self._pop(start + i)
                        stack.append(self.stack_global(self._pop(start + i), name, start + i))
                        getattrs = self._getattr_pushed != 0
                        i += 1
                    else:
                        r.i = i + 1
                        if self._rare(op, start + i, n - i):
                            return stack[-1] if stack else None
                        buf, i, n, start = r.buf, r.i, len(r.buf), r.start
                        lim = n - 9
                        floor = marks[-1] if marks else 0
                        getattrs = self._getattr_pushed != 0
                        memo = self.memo
                        memo_list = memo if isinstance(memo, list) else None
                elif op == 0x4B:  # BININT1
                    stack.append(buf[i + 1])
                    i += 2
                elif op == 0x71:  # BINPUT (keys below 256: the memo cannot grow much this way)
                    key = buf[i + 1]
                    if len(stack) > floor and (memo_list is None or key < len(memo_list)):
                        memo[key] = stack[-1]
                    elif len(stack) > floor and memo_list is not None and key == len(memo_list):
                        memo_list.append(stack[-1])
                    else:  # a stack underflow, or a key that leaves a gap in the list
                        self._memo_put(key, start + i)
                        memo = self.memo
                        memo_list = memo if isinstance(memo, list) else None
                    i += 2
                elif op == 0x28:  # MARK
                    floor = len(stack)
                    marks.append(floor)
                    i += 1
                elif op == 0x29:  # EMPTY_TUPLE
                    stack.append(())
                    i += 1
                elif op == 0x7D:  # EMPTY_DICT
                    stack.append(SymDict())
                    i += 1
                elif op == 0x4E:  # NONE
                    stack.append(None)
                    i += 1
                elif op == 0x52:  # REDUCE
                    if len(stack) - floor >= 2:
                        args = pop()
                        func = stack[-1]
                        if type(func) is Global and not func.getattr and not func.loader:
                            # What call() returns for an imported callable, without the call.
                            if type(args) is not tuple or len(args) > 8:
                                args = None
                            stack[-1] = Result(func, args, start + i)
                        else:
                            stack[-1] = self.call(func, args, start + i, "REDUCE")
                    else:
                        args = self._pop(start + i)
                        func = self._pop(start + i)
                        stack.append(self.call(func, args, start + i, "REDUCE"))
                    i += 1
                elif op == 0x62:  # BUILD
                    if len(stack) - floor >= 2:
                        state = pop()
                        target = stack[-1]
                    else:
                        state = self._pop(start + i)
                        target = self._top(start + i)
                    if type(target) is Result:
                        if target.state is None:
                            target.state = state
                    else:
                        self._mutates(target, "BUILD", start + i)
                    i += 1
                    if hook is not None and type(target) is Result:
                        r.i = i
                        hook(self, target, state, start + i - 1)
                        buf, i, n, start = r.buf, r.i, len(r.buf), r.start
                        lim = n - 9
                elif op == 0x75 or op == 0x65:  # SETITEMS, APPENDS
                    if marks:
                        k = marks.pop()
                        floor = marks[-1] if marks else 0
                        items = stack[k:]
                        del stack[k:]
                        target = stack[k - 1] if k > floor else self._top(start + i)
                    else:
                        items = self._pop_mark(start + i)
                        target = self._top(start + i)
                    if op == 0x75 and type(target) is SymDict:
                        _dict_update(target, items)
                    elif op == 0x65 and type(target) is SymList:
                        _list_extend(target, items)
                    else:
                        self._mutates(target, "SETITEMS" if op == 0x75 else "APPENDS", start + i)
                    i += 1
                elif op == 0x58 and n - i >= 5:  # BINUNICODE (protocols 1-3: torch.save)
                    length = int.from_bytes(buf[i + 1 : i + 5], "little")
                    end = i + 5 + length
                    if end <= n and length <= _KEEP_TEXT:
                        try:
                            stack.append(buf[i + 5 : end].decode("utf-8", "surrogatepass"))
                            i = end
                            continue
                        except UnicodeDecodeError:
                            pass
                    r.i = i + 5
                    stack.append(self._text(length))
                    buf, i, n, start = r.buf, r.i, len(r.buf), r.start
                    lim = n - 9
                elif op == 0x74 and marks:  # TUPLE
                    k = marks.pop()
                    floor = marks[-1] if marks else 0
                    value = tuple(stack[k:])
                    del stack[k:]
                    stack.append(value)
                    i += 1
                elif op == 0x4D:  # BININT2
                    stack.append(buf[i + 1] | buf[i + 2] << 8)
                    i += 3
                elif op == 0x47:  # BINFLOAT
                    stack.append(FLOAT)
                    i += 9
                elif op == 0x4A:  # BININT
                    stack.append(int.from_bytes(buf[i + 1 : i + 5], "little", signed=True))
                    i += 5
                elif op == 0x5D:  # EMPTY_LIST
                    stack.append(SymList())
                    i += 1
                elif op == 0x43:  # SHORT_BINBYTES (numpy scalars: a dtype and 8 bytes or so)
                    end = i + 2 + buf[i + 1]
                    if end <= n:
                        stack.append(Blob(start + i + 2, end - i - 2, buf[i + 2 : end], False))
                        i = end
                    else:  # the payload goes on past the buffer
                        r.i = i + 2
                        stack.append(self._payload(buf[i + 1], _KEEP_BYTES, False))
                        buf, i, n, start = r.buf, r.i, len(r.buf), r.start
                        lim = n - 9
                elif op == 0x63:  # GLOBAL (protocols 0-2: torch.save) with both lines buffered
                    j = buf.find(b"\n", i + 1)
                    k = buf.find(b"\n", j + 1) if j >= 0 else -1
                    if k < 0 or k - i > _MAX_LINE:  # past the buffer, or too long to keep
                        r.i = i + 1
                        self._rare(op, start + i, n - i)
                        buf, i, n, start = r.buf, r.i, len(r.buf), r.start
                        lim = n - 9
                    else:
                        module, name = buf[i + 1 : j], buf[j + 1 : k]
                        stack.append(self._text_global(module, name, start + i, "GLOBAL", "utf-8"))
                        i = k + 1
                    getattrs = self._getattr_pushed != 0
                else:
                    r.i = i + 1
                    if self._rare(op, start + i, n - i):
                        return stack[-1] if stack else None
                    buf, i, n, start = r.buf, r.i, len(r.buf), r.start
                    lim = n - 9
                    floor = marks[-1] if marks else 0
                    getattrs = self._getattr_pushed != 0
                    memo = self.memo
                    memo_list = memo if isinstance(memo, list) else None
            r.i = i
            raise LimitReached("opcodes")
        except IndexError:
            r.i = min(i, len(r.buf))
            raise Truncated("an opcode argument is truncated") from None
        finally:
            self.opcodes = count

    def stack_global(self, module: object, name: object, offset: int) -> object:
        """STACK_GLOBAL: an import whose operands must be strings known before loading."""
        if type(module) is str and type(name) is str:
            return self.check_global(module, name, offset, "STACK_GLOBAL")
        return self.unresolvable(
            f"STACK_GLOBAL at offset {offset} imports a module given by {_describe(module)} "
            f"and a name given by {_describe(name)}",
            offset,
            f"STACK_GLOBAL({_describe(module)}, {_describe(name)})",
        )

    def _rare(self, op: int, offset: int, avail: int) -> bool:
        """The less frequent opcodes; True at STOP. ``reader.i`` is already past the opcode."""
        r = self.reader
        buf = r.buf
        i = r.i
        push = self.stack.append
        if avail < 1 + _FIXED_ARGS.get(op, 0):
            raise Truncated(f"opcode 0x{op:02x} at offset {offset} is truncated")
        if op == 0x2E:  # STOP
            return True
        if op == 0x80:  # PROTO
            r.i = i + 1
            if buf[i] > HIGHEST_PROTOCOL:
                raise Broken(f"unsupported pickle protocol {buf[i]}")
        elif op == 0x72:  # LONG_BINPUT
            r.i = i + 4
            self._memo_put(int.from_bytes(buf[i : i + 4], "little"), offset)
        elif op == 0x6A:  # LONG_BINGET
            r.i = i + 4
            push(self._memo_get(int.from_bytes(buf[i : i + 4], "little"), offset))
        elif op == 0x70:  # PUT
            key = _int_line(self._line())
            if key is None or key < 0:
                self.malformed("PUT has an invalid memo key", offset)
            else:
                self._memo_put(key, offset)
        elif op == 0x67:  # GET
            key = _int_line(self._line())
            if key is None:
                self.malformed("GET has an invalid memo key", offset)
                push(Opaque("missing memo entry", offset))
            else:
                push(self._memo_get(key, offset))
        elif op == 0x63:  # GLOBAL
            module = self._line()
            name = self._line()
            push(self._text_global(module, name, offset, "GLOBAL", "utf-8"))
        elif op == 0x69:  # INST
            module = self._line()
            name = self._line()
            cls = self._text_global(module, name, offset, "INST", "ascii")
            args = tuple(self._pop_mark(offset))
            push(self.call(cls, args, offset, "INST"))
        elif op == 0x6F:  # OBJ
            items = self._pop_mark(offset)
            if not items:
                self.malformed("OBJ without a class", offset)
                push(Opaque("missing", offset))
            else:
                push(self.call(items[0], tuple(items[1:]), offset, "OBJ"))
        elif op == 0x92:  # NEWOBJ_EX
            self._pop(offset)  # keyword arguments
            ex_args = self._pop(offset)
            push(self.call(self._pop(offset), ex_args, offset, "NEWOBJ_EX"))
        elif op == 0x73:  # SETITEM
            value = self._pop(offset)
            key_ = self._pop(offset)
            target = self._top(offset)
            if type(target) is SymDict:
                _dict_update(target, [key_, value])
            else:
                self._mutates(target, "SETITEM", offset)
        elif op == 0x61:  # APPEND
            value = self._pop(offset)
            target = self._top(offset)
            if type(target) is SymList:
                _list_extend(target, [value])
            else:
                self._mutates(target, "APPEND", offset)
        elif op == 0x90:  # ADDITEMS
            self._pop_mark(offset)
            self._mutates(self._top(offset), "ADDITEMS", offset)
        elif op in (0x8F, 0x91):  # EMPTY_SET, FROZENSET
            if op == 0x91:
                self._pop_mark(offset)
            push(OTHER)
        elif op == 0x74:  # TUPLE
            push(tuple(self._pop_mark(offset)))
        elif op == 0x6C:  # LIST
            lst = SymList()
            _list_extend(lst, self._pop_mark(offset))
            push(lst)
        elif op == 0x64:  # DICT
            dct = SymDict()
            _dict_update(dct, self._pop_mark(offset))
            push(dct)
        elif op == 0x30:  # POP
            floor = self.marks[-1] if self.marks else 0
            if len(self.stack) > floor:
                self.stack.pop()
            elif self.marks:
                self.marks.pop()
            else:
                self.malformed("POP on an empty stack", offset)
        elif op == 0x31:  # POP_MARK
            self._pop_mark(offset)
        elif op == 0x32:  # DUP
            top = self._top(offset)
            if type(top) is Global and top.getattr:
                self._getattr_pushed += 1
            push(top)
        elif op == 0x43:  # SHORT_BINBYTES
            r.i = i + 1
            push(self._payload(buf[i], _KEEP_BYTES, False))
        elif op == 0x58:  # BINUNICODE
            r.i = i + 4
            push(self._text(int.from_bytes(buf[i : i + 4], "little")))
        elif op in (0x42, 0x8E, 0x96):  # BINBYTES, BINBYTES8, BYTEARRAY8
            size = _FIXED_ARGS[op]
            r.i = i + size
            push(self._payload(int.from_bytes(buf[i : i + size], "little"), _KEEP_BYTES, False))
        elif op == 0x8D:  # BINUNICODE8
            r.i = i + 8
            push(self._text(int.from_bytes(buf[i : i + 8], "little")))
        elif op in (0x54, 0x55):  # BINSTRING, SHORT_BINSTRING (str under encoding='latin1')
            if op == 0x55:
                length = buf[i]
                r.i = i + 1
            else:
                length = int.from_bytes(buf[i : i + 4], "little", signed=True)
                r.i = i + 4
                if length < 0:
                    raise Broken("BINSTRING has a negative length")
            blob = self._payload(length, _KEEP_TEXT, True)
            push(blob if blob.data is None else blob.data.decode("latin-1"))
        elif op == 0x53:  # STRING
            push(_quoted(self._line(), self, offset))
        elif op == 0x56:  # UNICODE
            line = self._line()
            if line is None:
                push(Blob(offset, _MAX_LINE, None, True))
            else:
                push(str(line, "raw-unicode-escape", "replace"))
        elif op in (0x49, 0x4C):  # INT, LONG
            line = self._line()
            if line in (b"00", b"01"):
                push(line == b"01")
            else:
                number = _int_line(line.rstrip(b"L") if line is not None else None, True)
                if number is None and line is not None and len(line) <= 40:
                    self.malformed("INT or LONG argument is not a number", offset)
                push(number if number is not None else OTHER)
        elif op == 0x46:  # FLOAT
            line = self._line()
            try:
                float(line or b"")
            except ValueError:
                self.malformed("FLOAT argument is not a number", offset)
            push(FLOAT)
        elif op in (0x8A, 0x8B):  # LONG1, LONG4
            if op == 0x8A:
                length = buf[i]
                r.i = i + 1
            else:
                length = int.from_bytes(buf[i : i + 4], "little", signed=True)
                r.i = i + 4
                if length < 0:
                    raise Broken("LONG4 has a negative length")
            blob = self._payload(length, 64, False)
            push(int.from_bytes(blob.data, "little", signed=True) if blob.data else OTHER)
        elif op in (0x50, 0x51):  # PERSID, BINPERSID
            pid = self._line() if op == 0x50 else self._pop(offset)
            if isinstance(pid, bytes):
                pid = pid.decode("latin-1")
            if self.persistent_hook is not None:
                self.persistent_hook(self, pid, offset)
            else:
                self.add(
                    RULE_PERSISTENT,
                    Severity.INFO,
                    "Persistent id",
                    f"The pickle refers to an external object by persistent id ({_describe(pid)}); "
                    "the loader's persistent_load decides what it becomes, and plain pickle.load "
                    "refuses it.",
                    offset,
                    "persistent id",
                )
            push(Opaque("persistent", offset))
        elif op in (0x82, 0x83, 0x84):  # EXT1, EXT2, EXT4
            size = _FIXED_ARGS[op]
            code = int.from_bytes(buf[i : i + size], "little")
            r.i = i + size
            push(
                self.unresolvable(
                    f"extension code {code} names a global through copyreg's extension registry "
                    "of the loading process",
                    offset,
                    f"EXT {code}",
                )
            )
        elif op == 0x97:  # NEXT_BUFFER
            push(Opaque("out-of-band buffer", offset))
        elif op == 0x98:  # READONLY_BUFFER
            self._top(offset)
        else:
            raise Broken(f"unknown opcode 0x{op:02x} at offset {offset}")
        if len(r.buf) < r.i:
            raise Truncated(f"opcode 0x{op:02x} at offset {offset} is truncated")
        return False

    def _text_global(
        self, module: bytes | None, name: bytes | None, offset: int, via: str, encoding: str
    ) -> object:
        try:
            if module is None or name is None:
                raise UnicodeDecodeError(encoding, b"", 0, 1, "too long")
            return self.check_global(module.decode(encoding), name.decode(encoding), offset, via)
        except UnicodeDecodeError:
            self.malformed(f"{via} names a module or attribute that is not valid text", offset)
            return Opaque("unresolved import", offset)


def _int_line(line: bytes | None, any_base: bool = False) -> int | None:
    """A decimal memo key, or with ``any_base`` an INT/LONG literal as the unpicklers read it."""
    if line is None or len(line) > 40:
        return None
    try:
        return int(line, 0 if any_base else 10)
    except ValueError:
        pass
    if any_base and _OCTAL.fullmatch(line):
        return int(line, 8)  # C's strtol(..., 0), used by _pickle, reads "012" as octal
    return None


def _quoted(line: bytes | None, walker: PickleWalker, offset: int) -> object:
    """A protocol-0 STRING argument: a quoted, backslash-escaped literal."""
    if line is None:
        return Blob(offset, _MAX_LINE, None, True)
    if len(line) >= 2 and line[0] == line[-1] and line[:1] in (b"'", b'"'):
        try:
            return codecs.escape_decode(line[1:-1])[0].decode("latin-1")
        except ValueError:
            pass
    walker.malformed("STRING argument is not a quoted literal", offset)
    return Opaque("undecodable string", offset)


def _list_extend(target: SymList, items: list[object]) -> None:
    room = _MAX_ITEMS - len(target)
    if len(items) > room:
        target.overflow = True
        items = items[:room]
    target.extend(items)


_KEY_TYPES = frozenset({str, int})


def _dict_update(target: SymDict, items: list[object]) -> None:
    pairs = iter(items)
    if len(target) + (len(items) >> 1) <= _MAX_ITEMS:  # the usual case: no room to check
        keys = items[0::2]
        if len(items) > 32 and _KEY_TYPES.issuperset(map(type, keys)):
            # Many pairs (a vocabulary), all kept: one update in C. A last key without a value
            # is dropped, as by the loop below.
            target.update(zip(keys, items[1::2], strict=False))
            return
        for key, value in zip(pairs, pairs, strict=False):  # a last key without a value: dropped
            if type(key) is str or type(key) is int:
                target[key] = value
        return
    for key, value in zip(pairs, pairs, strict=False):
        if type(key) is str or type(key) is int:
            if len(target) >= _MAX_ITEMS:
                target.overflow = True
                return
            target[key] = value


def walk_pickle(
    reader: PickleReader,
    *,
    file: str,
    member: str | None = None,
    allowlist: Allowlist,
    limits: Limits,
    deadline: float | None = None,
    depth: int = 0,
    build_hook: BuildHook | None = None,
    persistent_hook: PersistentHook | None = None,
) -> PickleScan:
    """Walk one pickle from ``reader``'s position (for format scanners sharing a reader)."""
    walker = PickleWalker(
        reader,
        file=file,
        member=member,
        allowlist=allowlist,
        limits=limits,
        deadline=deadline
        if deadline is not None
        else time.monotonic() + limits.max_seconds_per_file,
        depth=depth,
        build_hook=build_hook,
        persistent_hook=persistent_hook,
    )
    return walker.walk()


def _joblib_hook() -> BuildHook:
    # joblib files are pickles with array bytes inline and are sniffed as pickles, so every scan
    # follows joblib's NumpyArrayWrapper convention (as joblib.load does); imported on first use
    # because joblib_format builds on this module.
    global _numpy_array_hook
    if _numpy_array_hook is None:
        from signoff.scanner.joblib_format import numpy_array_hook

        _numpy_array_hook = numpy_array_hook
    return _numpy_array_hook


_numpy_array_hook: BuildHook | None = None


def scan_pickle(
    stream: BinaryIO,
    *,
    file: str,
    member: str | None = None,
    allowlist: Allowlist,
    limits: Limits,
    base_offset: int = 0,
    deadline: float | None = None,
) -> PickleScan:
    """Scan one pickle starting at the stream's position; a seekable stream is left after STOP.

    Offsets in findings are ``base_offset`` plus the position relative to where the stream was.
    joblib's inline array data is stepped over (see :mod:`signoff.scanner.joblib_format`).
    """
    reader = PickleReader(stream, base_offset)
    scan = walk_pickle(
        reader,
        file=file,
        member=member,
        allowlist=allowlist,
        limits=limits,
        deadline=deadline,
        build_hook=_joblib_hook(),
    )
    reader.release()
    return scan


def scan_pickles(
    stream: BinaryIO,
    *,
    file: str,
    member: str | None = None,
    allowlist: Allowlist,
    limits: Limits,
    base_offset: int = 0,
    deadline: float | None = None,
    depth: int = 0,
) -> list[PickleScan]:
    """Scan pickles stored back to back until end of stream.

    The first pickle is always scanned; later ones while what follows looks like a pickle start
    (:func:`looks_like_pickle`). It stops after a broken pickle. A seekable stream is left just
    after the last complete pickle, so the caller can judge whatever follows.
    """
    reader = PickleReader(stream, base_offset)
    limit = deadline if deadline is not None else time.monotonic() + limits.max_seconds_per_file
    scans: list[PickleScan] = []
    while True:
        scan = walk_pickle(
            reader,
            file=file,
            member=member,
            allowlist=allowlist,
            limits=limits,
            deadline=limit,
            depth=depth,
            build_hook=_joblib_hook(),
        )
        scans.append(scan)
        if not scan.complete or not looks_like_pickle(reader.peek(2)):
            break
    reader.release()
    return scans


_NOTHING_ALLOWED = Allowlist(entries=frozenset(), profiles=())
