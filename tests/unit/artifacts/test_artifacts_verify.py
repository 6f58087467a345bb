"""verify names every changed, missing and extra file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from signoff.artifacts import VerifyResult, digest_path, verify
from signoff.errors import ArtifactError


def test_unchanged_is_ok(model_dir: Path) -> None:
    manifest = digest_path(model_dir)
    result = verify(model_dir, manifest)
    assert result == VerifyResult(manifest.root_digest, manifest.root_digest, (), (), ())
    assert result.ok


def test_copy_elsewhere_is_ok(model_dir: Path, tmp_path: Path) -> None:
    # The directory name is not part of the digest; moving a model does not break it.
    copy = shutil.copytree(model_dir, tmp_path / "elsewhere" / "other-name")
    assert verify(copy, digest_path(model_dir)).ok


def test_changes_are_named(model_dir: Path) -> None:
    manifest = digest_path(model_dir)
    (model_dir / "config.json").write_bytes(b'{"hidden_size": 9}\n')  # same size, new bytes
    (model_dir / "a" / "b").write_bytes(b"grown inside a")
    (model_dir / "a-c").unlink()
    shutil.rmtree(model_dir / "weights")
    (model_dir / "a" / "new.bin").write_bytes(b"new")
    (model_dir / "zzz.txt").write_bytes(b"")
    (model_dir / ".git" / "ORIG_HEAD").write_bytes(b"ignored, not extra")

    result = verify(model_dir, manifest)
    assert not result.ok
    assert result.changed == ("a/b", "config.json")
    assert result.missing == ("a-c", "weights/shard-00001.safetensors", "weights/shard-00002.bin")
    assert result.extra == ("a/new.bin", "zzz.txt")
    assert result.expected_root_digest == manifest.root_digest
    assert result.root_digest == digest_path(model_dir).root_digest != manifest.root_digest


def test_single_file_against_directory_manifest(model_dir: Path) -> None:
    manifest = digest_path(model_dir / "config.json")
    result = verify(model_dir, manifest)
    assert result.missing == (".",)
    assert len(result.extra) == len(digest_path(model_dir).files)
    assert not result.ok


def test_missing_path_is_an_error(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        verify(tmp_path / "gone", digest_path(model_dir))


def test_progress_during_verify(model_dir: Path) -> None:
    seen: list[int] = []
    manifest = digest_path(model_dir)
    assert verify(model_dir, manifest, workers=3, progress=seen.append).ok
    assert sum(seen) == manifest.total_size
