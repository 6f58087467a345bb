"""digest_path and list_files on real trees: per-file digests, order, ignores, progress."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from artifact_trees import write_tree

from signoff.artifacts import FileDigest, digest_path, list_files
from signoff.artifacts.hashing import BATCH_BYTES, CHUNK_SIZE


def test_per_file_digests_equal_hashlib(model_dir: Path) -> None:
    manifest = digest_path(model_dir)
    assert manifest.files
    for entry in manifest.files:
        data = (model_dir / entry.path).read_bytes()
        assert entry == FileDigest(entry.path, len(data), hashlib.sha256(data).hexdigest())
    assert manifest.total_size == sum(f.size for f in manifest.files)


def test_root_digest_is_sha256_of_raw_digests_in_path_order(model_dir: Path) -> None:
    manifest = digest_path(model_dir)
    concatenated = b"".join(bytes.fromhex(f.sha256) for f in manifest.files)
    assert manifest.root_digest == hashlib.sha256(concatenated).hexdigest()


def test_files_sorted_by_path_components(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "m",
        {"a-c": b"1", "a": {"b": b"2", "c": {"d": b"3"}}, "B": b"4", "a.txt": b"5", "é": b"6"},
    )
    expected = ["B", "a/b", "a/c/d", "a-c", "a.txt", "é"]
    assert [p for p, _ in list_files(root)] == expected
    assert [f.path for f in digest_path(root).files] == expected


def test_git_paths_ignored_only_at_top_level(model_dir: Path) -> None:
    paths = {p for p, _ in list_files(model_dir)}
    assert not {p for p in paths if p.split("/")[0] in {".git", ".github"}}
    assert ".gitattributes" not in paths and ".gitignore" not in paths
    assert {"sub/.gitignore", "sub/.git/x"} <= paths


def test_ignored_git_file_forms(tmp_path: Path) -> None:
    # A ".git" *file* (a worktree pointer) is ignored like the directory.
    root = write_tree(tmp_path / "m", {".git": b"gitdir: ../x\n", ".gitmodules": b"kept"})
    assert list_files(root) == [(".gitmodules", 4)]


def test_single_file_is_named_dot(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights")
    assert list_files(path) == [(".", 7)]
    manifest = digest_path(path)
    assert manifest.files == (FileDigest(".", 7, hashlib.sha256(b"weights").hexdigest()),)
    assert manifest.root_digest == hashlib.sha256(hashlib.sha256(b"weights").digest()).hexdigest()


def test_list_files_sizes_and_total(model_dir: Path) -> None:
    listing = list_files(model_dir)
    assert all(size == (model_dir / p).stat().st_size for p, size in listing)
    assert sum(size for _, size in listing) == digest_path(model_dir).total_size


def test_worker_counts_agree(tmp_path: Path) -> None:
    # Files larger than the read buffer, so every worker streams several chunks.
    tree = {f"shard-{i}.bin": bytes([i]) * (CHUNK_SIZE * 2 + i * 4099) for i in range(5)}
    root = write_tree(tmp_path / "m", {**tree, "small.json": b"{}"})
    manifests = {digest_path(root, workers=n) for n in (1, 2, 3, 8)}
    assert len(manifests) == 1


def test_progress_reports_every_byte_once(tmp_path: Path) -> None:
    tree = {f"part-{i}.bin": bytes([i]) * (CHUNK_SIZE + 12345 * i) for i in range(4)}
    root = write_tree(tmp_path / "m", {**tree, "empty": b"", "cfg.json": b"{}"})
    calls: list[int] = []
    threads: set[str] = set()

    def progress(nbytes: int) -> None:
        calls.append(nbytes)
        threads.add(threading.current_thread().name)

    manifest = digest_path(root, workers=2, progress=progress)
    assert sum(calls) == manifest.total_size == sum(size for _, size in list_files(root))
    assert all(n > 0 for n in calls)
    assert len(calls) > len(manifest.files)  # streamed in chunks, not once per file
    assert threading.current_thread().name not in threads  # called from the worker threads


def test_many_small_files_in_batches(tmp_path: Path) -> None:
    # More files than one batch holds, mixed with files big enough to be hashed alone.
    tree: dict[str, bytes] = {f"f{i:03d}.bin": bytes([i % 251]) * (i * 37) for i in range(300)}
    tree |= {"big-1.bin": b"\x01" * (BATCH_BYTES + 1), "big-2.bin": b"\x02" * CHUNK_SIZE * 5}
    root = write_tree(tmp_path / "m", tree)
    for workers in (1, 2, 5):
        manifest = digest_path(root, workers=workers)
        assert {f.path: f.sha256 for f in manifest.files} == {
            name: hashlib.sha256(data).hexdigest() for name, data in tree.items()
        }
