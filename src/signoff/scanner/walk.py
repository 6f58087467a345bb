"""The scanner's own walk of the paths it is handed: regular files are scanned, the rest reported.

The artifact digest (:mod:`signoff.artifacts.walk`) refuses symlinks and special files outright,
because a digest must not silently leave part of an artifact out. A scanner must instead *report*
them and go on scanning everything else: a symlink inside a model directory is itself the attack
in the ONNX external-data class (CVE-2026-27489: ``location`` names a file that is a symlink to
``/etc/passwd`` or a key), and refusing the whole scan would hide every other finding.

Everything is ``lstat``-based: no link is ever followed, not even at the top. The top-level git
paths the digest ignores (``.git`` ...) are ignored here too, so the scan covers the bytes that
are registered. A path that does not exist, or a directory with nothing in it, is bad input
(``ArtifactError``), not a finding.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from signoff.artifacts.walk import IGNORED_TOP_LEVEL, path_sort_key
from signoff.errors import ArtifactError

REGULAR = "file"
DIRECTORY = "directory"
SYMLINK = "symlink"

_KINDS = (
    (stat.S_ISLNK, SYMLINK),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISCHR, "character-device"),
    (stat.S_ISBLK, "block-device"),
)


@dataclass(frozen=True)
class Entry:
    """One thing found under the scanned path."""

    name: str
    """How reports name it: the path relative to the scanned directory (POSIX), or the file
    name when a single file is scanned; undecodable bytes are shown as ``\\xNN`` escapes."""
    path: Path
    """Where it is on disk (used to open regular files; never followed)."""
    kind: str
    """``file``, ``symlink``, ``socket``, ``fifo``, ``character-device``, ``block-device``,
    ``directory`` (only for a directory that cannot be listed) or ``other``."""
    size: int = 0
    target: str | None = None
    """A symlink's target as written in the link (read, never resolved)."""
    error: str | None = None
    """Why a directory could not be listed."""


def list_entries(path: Path) -> list[Entry]:
    """Every regular file and every non-regular entry under ``path``, sorted like manifests.

    Raises ``ArtifactError`` when ``path`` does not exist or cannot be inspected, or when it is
    a directory without any entry (files, links or special files) below it.
    """
    try:
        st = path.lstat()
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"path to scan does not exist: {path}", hint="check the path (moved or deleted?)"
        ) from exc
    except OSError as exc:
        raise ArtifactError(
            f"cannot inspect {path}: {exc.strerror}",
            hint="make the path and its parent directories accessible to this user",
        ) from exc
    if not stat.S_ISDIR(st.st_mode):
        return [_entry(path, _display(path.name), st)]
    try:
        entries: list[Entry] = []
        _walk(path, "", entries, top=True)
    except OSError as exc:
        raise ArtifactError(
            f"cannot read directory {path}: {exc.strerror}",
            hint="make the directory readable (and searchable) by this user",
        ) from exc
    if not entries:
        raise ArtifactError(
            f"directory to scan has no files: {path}",
            hint="point at a directory containing the model files (git metadata is ignored)",
        )
    entries.sort(key=lambda entry: path_sort_key(entry.name))
    return entries


def _walk(directory: Path, prefix: str, out: list[Entry], *, top: bool = False) -> None:
    with os.scandir(directory) as listing:  # the top directory's errors propagate
        children = list(listing)
    for child in children:
        if top and child.name in IGNORED_TOP_LEVEL:
            continue
        name = prefix + _display(child.name)
        full = directory / child.name
        try:
            st = full.lstat()
        except OSError as exc:
            out.append(Entry(name, full, "other", error=exc.strerror or str(exc)))
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                _walk(full, name + "/", out)
            except OSError as exc:
                out.append(Entry(name, full, DIRECTORY, error=exc.strerror or str(exc)))
        else:
            out.append(_entry(full, name, st))


def _entry(full: Path, name: str, st: os.stat_result) -> Entry:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return Entry(name, full, REGULAR, st.st_size)
    kind = next((kind for test, kind in _KINDS if test(mode)), "other")
    target = None
    if kind == SYMLINK:
        try:
            target = _display(str(full.readlink()))
        except OSError:
            target = "?"
    return Entry(name, full, kind, target=target)


def _display(name: str) -> str:
    """``name`` as reports can carry it (undecodable bytes escaped, not dropped)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return name
