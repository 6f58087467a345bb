"""PyTorch zip checkpoints (``torch.save`` since 1.6) and TorchScript archives.

torch reads ``<archive>/data.pkl`` where ``<archive>`` is the directory of the *first* entry, so a
scanner that trusts the name ``archive/data.pkl`` can be pointed at a decoy. Here every member is
scanned whatever its name, and members named like tensor storages (``<archive>/data/<key>``), which
are raw bytes and may be gigabytes, are only sniffed: a pickle hiding under a storage name is
scanned in full and reported.

TorchScript archives (``code/`` with ``.py`` members, ``constants.pkl``) contain code that
``torch.jit.load`` compiles and runs. TorchScript is a restricted, statically typed language: it
cannot import Python modules or call Python functions, only TorchScript code of the archive and
registered operators. So the code itself is a note (``info``), unless its sources reach what
TorchScript can reach beyond tensor maths: operators of other namespaces than torch's own (native
code from whatever library registered them: ``high``), or Python's ``os``, ``subprocess``,
``open``, ``eval``/``exec``, ``__import__`` (no legitimate export contains them: ``critical``).
The archive's pickles name TorchScript classes (``__torch__.*``, compiled from ``code/``) and
TorchScript's value builders (``torch.jit._pickle.build_intlist`` ...), which are allowed in them
(see :func:`signoff.scanner.allowlist.torchscript_global`), and only in them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.pickle_scan import looks_like_pickle
from signoff.scanner.zipread import ZipArchive, ZipEntry

if TYPE_CHECKING:
    from signoff.scanner.scan import ScanContext

_STORAGE = re.compile(r"[^/]+/(?:\.data/|data/)[^/]+")
_SNIFF_BYTES = 64
_SMALL_MEMBER = 64
_MAX_LISTED = 10
_CORE_OP_NAMESPACES = frozenset({"aten", "prim", "quantized", "_caffe2"})
_OPS = re.compile(r"(?<![\w.])(?:torch\s*\.\s*)?(ops|classes)\s*\.\s*([A-Za-z_]\w*)")
_PYTHON = re.compile(r"__import__|\b(?:os\s*\.|subprocess\b|open\s*\(|eval\b|exec\b)")
_OPS_STARTS = re.compile(r"torch|ops|classes")
_PYTHON_STARTS = re.compile(r"__import__|os|subprocess|open|eval|exec")
"""Where a match of _OPS and _PYTHON can start (each begins with one of these words)."""


def _finditer(
    pattern: re.Pattern[str], starts: re.Pattern[str], text: str
) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``, for a pattern whose matches all start where ``starts`` finds
    its literal words: Python's regex engine tries a leading assertion (``\\b``, a lookbehind)
    at every position of the text, but finds literals fast; the full pattern is then tried only
    at those candidates, with finditer's rule that a match starts after the previous one ends."""
    end = 0
    for candidate in starts.finditer(text):
        if candidate.start() < end:
            continue
        found = pattern.match(text, candidate.start())
        if found is not None:
            yield found
            end = found.end()


def is_torch_archive(names: list[str]) -> bool:
    """Whether a zip's member names are those of a PyTorch checkpoint or TorchScript archive."""
    return any(_base(name) in ("data.pkl", "constants.pkl") for name in names) or any(
        _is_torchscript_code(name) for name in names
    )


def scan_torch_zip(archive: ZipArchive, ctx: ScanContext, depth: int) -> None:
    """Scan a PyTorch zip: structure notes, TorchScript code, then every member."""
    _report_layout(archive)
    torchscript = _report_torchscript(archive, ctx)
    _report_version(archive, ctx)
    outer = ctx.torchscript_depth
    if torchscript:
        ctx.torchscript_depth = depth + 1  # the archive's own pickles, as torch.jit.load reads
    try:
        for entry in archive.entries:
            ctx.check_time()
            if entry.is_dir:
                continue
            if _STORAGE.fullmatch(entry.name) and not entry.name.endswith(".pkl"):
                _scan_storage(archive, entry, ctx, depth)
                continue
            member = archive.open(entry, ctx.charge_expanded)
            if member is None:
                continue
            path = archive.member_path(entry)
            ctx.nested(member.stream(), entry.size, file=archive.file, member=path, depth=depth + 1)
            archive.finish(member)
    finally:
        ctx.torchscript_depth = outer


def _scan_storage(archive: ZipArchive, entry: ZipEntry, ctx: ScanContext, depth: int) -> None:
    # Raw tensor bytes are only sniffed (their CRC is not checked: torch never interprets them
    # as code, and reading gigabytes of weights for that would dominate the scan).
    head = archive.head(entry, _SNIFF_BYTES, ctx.charge_expanded)
    if head is None or not looks_like_pickle(head):
        return
    archive.add(
        "torch/pickle-in-storage",
        Severity.HIGH,
        "Pickle hidden under a tensor storage name",
        "storage members hold raw tensor bytes; this one is a pickle (scanned in full)",
        entry.data_offset,
        entry,
    )
    member = archive.open(entry, ctx.charge_expanded)
    if member is None:
        return
    path = archive.member_path(entry)
    ctx.nested(member.stream(), entry.size, file=archive.file, member=path, depth=depth + 1)
    archive.finish(member)


def _report_layout(archive: ZipArchive) -> None:
    prefixes = list(dict.fromkeys(name.split("/")[0] for name in archive.names if "/" in name))
    if len(prefixes) > 1:
        archive.add(
            "torch/several-roots",
            Severity.MEDIUM,
            "PyTorch archive with several top-level directories",
            f"torch reads only {prefixes[0]!r}/ (the first entry's directory); others: "
            f"{', '.join(map(repr, prefixes[1:_MAX_LISTED]))}. All are scanned",
        )


def _report_torchscript(archive: ZipArchive, ctx: ScanContext) -> bool:
    """Review a TorchScript archive's sources; whether the archive is one."""
    code = [name for name in archive.names if _is_torchscript_code(name)]
    if not code and not any(_base(name) == "constants.pkl" for name in archive.names):
        return False
    sources = [e for e in archive.entries if e.name.endswith(".py") and not e.is_dir]
    cap = ctx.limits.max_header_bytes
    flagged = False
    for entry in sources:
        ctx.check_time()
        data = archive.read_small(entry, cap, ctx.charge_expanded)
        if data is None:
            flagged = True
            archive.add(
                "torch/torchscript-unreadable",
                Severity.HIGH,
                "TorchScript source cannot be reviewed",
                f"unreadable or larger than {cap} bytes; torch.jit.load compiles and runs it",
                entry.data_offset,
                entry,
            )
            continue
        for finding in _review_source(data.decode("utf-8", "replace"), archive, entry):
            archive.findings.append(finding)
            flagged = True
    shown = ", ".join(code[:_MAX_LISTED]) + (" ..." if len(code) > _MAX_LISTED else "")
    # The code itself is a note; what in it is dangerous has findings of its own.
    archive.add(
        "torch/torchscript-code",
        Severity.INFO,
        "Contains TorchScript code, run by torch.jit.load",
        f"TorchScript archive with {len(code)} code members ({shown or 'constants.pkl only'}): "
        "torch.jit.load compiles and runs it; review its source in code/"
        + (" (see the findings on its sources)" if flagged else ""),
    )
    return True


def _review_source(text: str, archive: ZipArchive, entry: ZipEntry) -> list[ScanFinding]:
    """What in a TorchScript source reaches beyond TorchScript's own operators."""
    path = archive.member_path(entry)
    found: list[ScanFinding] = []
    custom = sorted(
        {
            f"{kind}.{namespace}"
            for kind, namespace in (found.groups() for found in _finditer(_OPS, _OPS_STARTS, text))
            if namespace not in _CORE_OP_NAMESPACES
        }
    )
    if custom:
        found.append(
            ScanFinding(
                "torch/torchscript-custom-ops",
                Severity.HIGH,
                "TorchScript calls operators outside torch's own",
                f"uses {', '.join(custom[:_MAX_LISTED])}: native code registered by some other "
                "library, run by the model's forward",
                archive.file,
                path,
                entry.data_offset,
                custom[0],
            )
        )
    python = sorted({match.group(0) for match in _finditer(_PYTHON, _PYTHON_STARTS, text)})
    if python:
        found.append(
            ScanFinding(
                "torch/torchscript-python",
                Severity.CRITICAL,
                "TorchScript source reaches Python or the system",
                f"mentions {', '.join(map(repr, python[:_MAX_LISTED]))}: no exported model needs "
                "them; treat the archive as malicious unless its producer can explain it",
                archive.file,
                path,
                entry.data_offset,
                python[0],
            )
        )
    return found


def _report_version(archive: ZipArchive, ctx: ScanContext) -> None:
    values: dict[str, str] = {}
    for entry in archive.entries:
        key = _base(entry.name)
        if key not in ("version", "byteorder") or key in values:
            continue
        data = archive.read_small(entry, _SMALL_MEMBER, ctx.charge_expanded)
        values[key] = "?" if data is None else data.decode("ascii", "replace").strip()
    version, byteorder = values.get("version"), values.get("byteorder")
    odd = (version is not None and not version.isdigit()) or byteorder not in (
        None,
        "little",
        "big",
    )
    archive.add(
        "torch/archive",
        Severity.LOW if odd else Severity.INFO,
        "PyTorch archive" + (" with unexpected version or byteorder" if odd else ""),
        f"format version {version or 'absent'}, byteorder {byteorder or 'absent (little)'}",
    )


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _is_torchscript_code(name: str) -> bool:
    parts = name.split("/")
    return name.endswith(".py") or "code" in parts[1:-1]
