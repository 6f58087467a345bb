"""PyTorch zip checkpoints (``torch.save`` since 1.6) and TorchScript archives.

torch reads ``<archive>/data.pkl`` where ``<archive>`` is the directory of the *first* entry, so a
scanner that trusts the name ``archive/data.pkl`` can be pointed at a decoy. Here every member is
scanned whatever its name, and members named like tensor storages (``<archive>/data/<key>``), which
are raw bytes and may be gigabytes, are only sniffed: a pickle hiding under a storage name is
scanned in full and reported.

TorchScript archives (``code/`` with ``.py`` members, ``constants.pkl``) contain code that
``torch.jit.load`` compiles and runs, which no pickle allowlist can vouch for.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from signoff.scanner.findings import Severity
from signoff.scanner.pickle_scan import looks_like_pickle
from signoff.scanner.zipread import ZipArchive, ZipEntry

if TYPE_CHECKING:
    from signoff.scanner.scan import ScanContext

_STORAGE = re.compile(r"[^/]+/(?:\.data/|data/)[^/]+")
_SNIFF_BYTES = 64
_SMALL_MEMBER = 64
_MAX_LISTED = 10


def is_torch_archive(names: list[str]) -> bool:
    """Whether a zip's member names are those of a PyTorch checkpoint or TorchScript archive."""
    return any(_base(name) in ("data.pkl", "constants.pkl") for name in names) or any(
        _is_torchscript_code(name) for name in names
    )


def scan_torch_zip(archive: ZipArchive, ctx: ScanContext, depth: int) -> None:
    """Scan a PyTorch zip: structure notes, TorchScript code, then every member."""
    _report_layout(archive)
    _report_torchscript(archive)
    _report_version(archive, ctx)
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


def _scan_storage(archive: ZipArchive, entry: ZipEntry, ctx: ScanContext, depth: int) -> None:
    # Raw tensor bytes are only sniffed (their CRC is not checked: torch never interprets them
    # as code, and reading gigabytes of weights for that would dominate the scan).
    member = archive.open(entry, ctx.charge_expanded)
    if member is None:
        return
    head = member.stream().read(_SNIFF_BYTES)
    archive.finish(member, verify=False)
    if not looks_like_pickle(head):
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


def _report_torchscript(archive: ZipArchive) -> None:
    code = [name for name in archive.names if _is_torchscript_code(name)]
    if not code and not any(_base(name) == "constants.pkl" for name in archive.names):
        return
    shown = ", ".join(code[:_MAX_LISTED]) + (" ..." if len(code) > _MAX_LISTED else "")
    archive.add(
        "torch/torchscript-code",
        Severity.HIGH,
        "TorchScript code is executed by torch.jit.load",
        f"TorchScript archive with {len(code)} code members ({shown or 'constants.pkl only'}): "
        "the code is compiled and run on load; review it or export weights only",
    )


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
