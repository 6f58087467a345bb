"""The manifest of an artifact: per-file digests and the root digest over them.

The root digest is SHA-256 over the raw 32-byte per-file digests, concatenated in path order
(component-wise, see ``walk.path_sort_key``). That is exactly the in-toto subject digest of an
OpenSSF model signing (``model_signing``) signature made with the "files" serialization, so a
version registered here can be matched against a model signature without re-hashing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from signoff.artifacts.walk import IGNORED_TOP_LEVEL, SINGLE_FILE_NAME, path_sort_key
from signoff.errors import InvalidInputError

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FileDigest:
    """One file of an artifact: relative POSIX path, size in bytes, SHA-256 as lowercase hex."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """Every file of an artifact (sorted by path) with the root digest and total size."""

    files: tuple[FileDigest, ...]
    root_digest: str
    total_size: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; ``Manifest.from_dict`` reads it back."""
        return {
            "root_digest": self.root_digest,
            "total_size": self.total_size,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Rebuild a manifest from ``to_dict`` output, checking it thoroughly.

        Rejects (``InvalidInputError``) a wrong shape, unknown keys, bad paths (absolute, ``..``,
        duplicates, git-ignored), bad sizes or digests, a total size that is not the sum, and a
        root digest that does not match the files: a tampered manifest never loads.
        """
        if not isinstance(data, Mapping):
            raise _invalid("manifest must be a JSON object")
        _check_keys(data, {"root_digest", "total_size", "files"}, "manifest")
        entries = data["files"]
        if not isinstance(entries, list | tuple) or not entries:
            raise _invalid("manifest 'files' must be a non-empty list")
        files = [_file_from_dict(entry) for entry in entries]
        _check_paths([f.path for f in files])
        manifest = build_manifest(files)
        total_size = data["total_size"]
        if not _is_size(total_size) or total_size != manifest.total_size:
            raise _invalid(
                f"manifest total_size {total_size!r} is not the sum of its file sizes "
                f"({manifest.total_size})"
            )
        root = data["root_digest"]
        if not isinstance(root, str) or not _SHA256_HEX.fullmatch(root):
            raise _invalid(f"manifest root_digest is not a lowercase hex SHA-256: {root!r}")
        if root != manifest.root_digest:
            raise _invalid(
                f"manifest root_digest {root} does not match its files ({manifest.root_digest})"
            )
        return manifest


def build_manifest(files: Iterable[FileDigest]) -> Manifest:
    """Sort ``files`` by path and compute the root digest and total size."""
    ordered = tuple(sorted(files, key=lambda f: path_sort_key(f.path)))
    return Manifest(
        files=ordered,
        root_digest=root_digest(bytes.fromhex(f.sha256) for f in ordered),
        total_size=sum(f.size for f in ordered),
    )


def root_digest(raw_digests: Iterable[bytes]) -> str:
    """SHA-256 (hex) over raw per-file digests, already in path order."""
    hasher = hashlib.sha256()
    for raw in raw_digests:
        hasher.update(raw)
    return hasher.hexdigest()


def _file_from_dict(entry: Any) -> FileDigest:
    if not isinstance(entry, Mapping):
        raise _invalid("each manifest file entry must be a JSON object")
    _check_keys(entry, {"path", "size", "sha256"}, "manifest file entry")
    path, size, sha256 = entry["path"], entry["size"], entry["sha256"]
    if not isinstance(path, str):
        raise _invalid(f"manifest file path must be a string, got {path!r}")
    if not _is_size(size):
        raise _invalid(f"size of {path!r} must be a non-negative integer, got {size!r}")
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise _invalid(f"sha256 of {path!r} is not a lowercase hex SHA-256: {sha256!r}")
    return FileDigest(path=path, size=size, sha256=sha256)


def _check_paths(paths: list[str]) -> None:
    if paths == [SINGLE_FILE_NAME]:
        return  # the manifest of a single file
    for path in paths:
        parts = path.split("/")
        if path == SINGLE_FILE_NAME:
            raise _invalid("manifest path '.' names a single-file artifact: it must be alone")
        if any(part in ("", ".", "..") for part in parts) or "\0" in path:
            raise _invalid(f"manifest path {path!r} is not a normalized relative POSIX path")
        if parts[0] in IGNORED_TOP_LEVEL:
            raise _invalid(f"manifest path {path!r} is under an ignored git path")
    seen = set(paths)
    if len(seen) != len(paths):
        raise _invalid("manifest lists a path more than once")
    for path in paths:
        # A path cannot be both a file and a directory of another listed file.
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in seen:
                raise _invalid(f"manifest path {path!r} lies below another listed file")


def _check_keys(data: Mapping[str, Any], expected: set[str], what: str) -> None:
    keys = set(data)
    if keys != expected:
        problems = []
        if expected - keys:
            problems.append("missing " + ", ".join(sorted(expected - keys)))
        if keys - expected:
            problems.append("unknown " + ", ".join(sorted(str(k) for k in keys - expected)))
        raise _invalid(f"{what} has the wrong keys ({'; '.join(problems)})")


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _invalid(message: str) -> InvalidInputError:
    return InvalidInputError(
        message, hint="use a manifest produced by signoff (signoff artifact digest --json)"
    )
