"""Digesting a path into a ``Manifest`` and verifying a path against one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from signoff.artifacts.hashing import hash_files
from signoff.artifacts.manifest import FileDigest, Manifest, build_manifest
from signoff.artifacts.walk import SINGLE_FILE_NAME, list_files, path_sort_key


def digest_path(
    path: Path,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Manifest:
    """Digest a file or directory into a ``Manifest`` (files hashed in parallel threads).

    The root digest equals the in-toto subject digest of OpenSSF model signing with the "files"
    serialization. ``workers`` defaults to ``os.cpu_count()``; ``progress`` is called with the
    number of bytes just hashed (``sum(size for _, size in list_files(path))`` in total).
    Raises ``ArtifactError`` for anything ``list_files`` refuses or a file that cannot be read.
    """
    listing = list_files(path)
    targets = [(path if rel == SINGLE_FILE_NAME else path / rel, size) for rel, size in listing]
    digests = hash_files(targets, workers=workers, progress=progress)
    return build_manifest(
        FileDigest(path=rel, size=size, sha256=raw.hex())
        for (rel, size), raw in zip(listing, digests, strict=True)
    )


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of ``verify``: what differs between a path and a manifest (paths sorted)."""

    root_digest: str
    """Root digest of the files found at the path."""
    expected_root_digest: str
    """Root digest of the manifest."""
    changed: tuple[str, ...]
    """Listed and present, but with other content."""
    missing: tuple[str, ...]
    """Listed but not present."""
    extra: tuple[str, ...]
    """Present but not listed."""

    @property
    def ok(self) -> bool:
        """True when the path holds exactly the manifest's files and bytes."""
        return (
            not (self.changed or self.missing or self.extra)
            and self.root_digest == self.expected_root_digest
        )


def verify(
    path: Path,
    manifest: Manifest,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Digest ``path`` and compare it file by file with ``manifest``.

    Every file at the path is hashed (so the actual root digest can be reported), including
    extra ones. Raises ``ArtifactError`` like ``digest_path`` (a missing path or an empty
    directory is an error, not a list of missing files).
    """
    actual = digest_path(path, workers=workers, progress=progress)
    expected = {f.path: f for f in manifest.files}
    found = {f.path: f for f in actual.files}
    changed = [p for p, f in found.items() if p in expected and expected[p] != f]
    missing = [p for p in expected if p not in found]
    extra = [p for p in found if p not in expected]
    return VerifyResult(
        root_digest=actual.root_digest,
        expected_root_digest=manifest.root_digest,
        changed=_sorted(changed),
        missing=_sorted(missing),
        extra=_sorted(extra),
    )


def _sorted(paths: list[str]) -> tuple[str, ...]:
    return tuple(sorted(paths, key=path_sort_key))
