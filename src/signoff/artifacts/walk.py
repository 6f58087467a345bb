"""Listing and validating the files of an artifact before anything is hashed.

The rules mirror OpenSSF model signing's "files" serialization (``model_signing`` 1.x) so that
our root digest equals its in-toto subject digest:

* a directory contributes every regular file below it, named by its POSIX path relative to the
  directory; a single file is named ``"."`` (``model_signing`` names it
  ``path.relative_to(path)``);
* ``.git``, ``.gitattributes``, ``.github`` and ``.gitignore`` are ignored **only directly
  under the artifact directory** (``model_signing`` ignores ``model_path / name`` and everything
  below it; ``sub/.gitignore`` is hashed);
* symlinks, sockets, FIFOs and devices are refused rather than skipped: a digest that silently
  leaves out part of what was handed in would certify something other than the artifact.

One deliberate difference: we never look inside an ignored entry, while ``model_signing``
type-checks it before ignoring it. So ``.git/fsmonitor--daemon.ipc`` (a socket Git creates) makes
``model_signing`` fail but not us; the digests of everything we accept are identical.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from signoff.errors import ArtifactError

IGNORED_TOP_LEVEL: frozenset[str] = frozenset({".git", ".gitattributes", ".github", ".gitignore"})
"""Names ignored directly under an artifact directory (``model_signing``'s git defaults)."""

SINGLE_FILE_NAME = "."
"""The relative path of the only entry when the artifact is a single file."""


def path_sort_key(relative_path: str) -> tuple[str, ...]:
    """Sort key for relative paths: component-wise, as ``PurePosixPath`` orders them.

    ``model_signing`` sorts its manifest by ``PurePosixPath``, which compares path components, not
    whole strings: ``a/b`` sorts before ``a-c`` because ``"a" < "a-c"``, although the string
    ``"a-c"`` is smaller (``-`` is below ``/``). The root digest depends on this order.
    """
    return tuple(relative_path.split("/"))


def list_files(path: Path) -> list[tuple[str, int]]:
    """List the regular files of an artifact as ``(relative posix path, size)``, sorted.

    ``path`` is a file or a directory. Raises ``ArtifactError`` if it is missing, is or contains a
    symlink or a special file, contains a file or directory we cannot read, or has no files left
    after ignoring the git paths. Cheap (no file content is read), so callers can use it to learn
    the total size before hashing.
    """
    st = _lstat(path)
    if stat.S_ISREG(st.st_mode):
        _check_readable(path)
        return [(SINGLE_FILE_NAME, st.st_size)]
    if not stat.S_ISDIR(st.st_mode):
        raise _refused(path, st.st_mode)
    files: list[tuple[str, int]] = []
    _walk(path, "", files)
    if not files:
        raise ArtifactError(
            f"artifact directory has no files: {path}",
            hint="point at a directory containing the model files (git metadata is ignored)",
        )
    files.sort(key=lambda item: path_sort_key(item[0]))
    return files


def _walk(directory: Path, prefix: str, out: list[tuple[str, int]]) -> None:
    """Append the regular files below ``directory`` to ``out``; ``prefix`` is its relative path."""
    try:
        with os.scandir(directory) as entries:
            children = list(entries)
    except OSError as exc:
        raise ArtifactError(
            f"cannot read directory {directory}: {exc.strerror}",
            hint="make the directory readable (and searchable) by this user",
        ) from exc
    for entry in children:
        if not prefix and entry.name in IGNORED_TOP_LEVEL:
            continue
        child = directory / entry.name
        _check_name(child, entry.name)
        relative = f"{prefix}{entry.name}"
        st = _lstat(child)  # lstat: a symlink is seen as one and never followed
        if stat.S_ISDIR(st.st_mode):
            _walk(child, relative + "/", out)
        elif stat.S_ISREG(st.st_mode):
            _check_readable(child)
            out.append((relative, st.st_size))
        else:
            raise _refused(child, st.st_mode)


def _lstat(path: Path) -> os.stat_result:
    try:
        return path.lstat()
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"artifact path does not exist: {path}",
            hint="check the path (it may have been moved or deleted)",
        ) from exc
    except OSError as exc:
        raise ArtifactError(
            f"cannot inspect {path}: {exc.strerror}",
            hint="make the path and its parent directories accessible to this user",
        ) from exc


def _check_readable(path: Path) -> None:
    # Fail before hashing gigabytes of other files. access() honours capabilities, so it agrees
    # with open() for root too; the hasher still handles an open() that fails later.
    if not os.access(path, os.R_OK):
        raise ArtifactError(
            f"cannot read file {path}: permission denied",
            hint="make the file readable by this user (e.g. chmod u+r)",
        )


def _check_name(path: Path, name: str) -> None:
    # Manifests are JSON; a name that is not valid UTF-8 could not be stored or compared faithfully.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ArtifactError(
            f"file name is not valid UTF-8: {path!s}",
            hint="rename the file to a UTF-8 name",
        ) from exc


_KINDS = (
    (stat.S_ISLNK, "a symlink", "replace it with the file or directory it points to"),
    (stat.S_ISSOCK, "a socket", "remove it from the artifact"),
    (stat.S_ISFIFO, "a FIFO (named pipe)", "remove it from the artifact"),
    (stat.S_ISCHR, "a character device", "remove it from the artifact"),
    (stat.S_ISBLK, "a block device", "remove it from the artifact"),
)


def _refused(path: Path, mode: int) -> ArtifactError:
    for test, kind, hint in _KINDS:
        if test(mode):
            return ArtifactError(f"refusing {kind} in artifact: {path}", hint=hint)
    return ArtifactError(
        f"refusing {path}: not a regular file or directory", hint="remove it from the artifact"
    )
