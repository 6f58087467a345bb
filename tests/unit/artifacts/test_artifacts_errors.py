"""Everything that cannot be digested is refused with an ArtifactError naming the path."""

from __future__ import annotations

import ctypes
import os
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from artifact_trees import write_tree

from signoff.artifacts import digest_path, list_files
from signoff.artifacts.hashing import hash_files
from signoff.errors import ArtifactError


def refused(path: Path) -> ArtifactError:
    """Both the listing and the digest refuse ``path``; return the error (same for both)."""
    with pytest.raises(ArtifactError) as listed:
        list_files(path)
    with pytest.raises(ArtifactError) as digested:
        digest_path(path)
    assert str(listed.value) == str(digested.value)
    error = listed.value
    assert "\n" not in error.message and error.hint
    return error


def test_missing_path(tmp_path: Path) -> None:
    error = refused(tmp_path / "nope")
    assert "does not exist" in error.message and str(tmp_path / "nope") in error.message


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "no files" in refused(tmp_path / "empty").message


def test_directory_with_only_ignored_and_empty_dirs(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "m", {".git": {"HEAD": b"x"}, ".gitignore": b"*", "d": {}})
    assert "no files" in refused(root).message


def test_symlink_to_file_inside(model_dir: Path) -> None:
    (model_dir / "a" / "link.bin").symlink_to(model_dir / "config.json")
    error = refused(model_dir)
    assert "symlink" in error.message and str(model_dir / "a" / "link.bin") in error.message


def test_symlink_to_directory_inside(model_dir: Path) -> None:
    (model_dir / "weights-link").symlink_to(model_dir / "weights", target_is_directory=True)
    assert "symlink" in refused(model_dir).message


def test_dangling_symlink_inside(model_dir: Path) -> None:
    (model_dir / "dangling").symlink_to(model_dir / "missing")
    assert "symlink" in refused(model_dir).message


def test_path_itself_a_symlink(model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "dir-link").symlink_to(model_dir, target_is_directory=True)
    (tmp_path / "file-link").symlink_to(model_dir / "config.json")
    assert "symlink" in refused(tmp_path / "dir-link").message
    assert "symlink" in refused(tmp_path / "file-link").message


def test_fifo(model_dir: Path) -> None:
    os.mkfifo(model_dir / "a" / "pipe")
    error = refused(model_dir)
    assert "FIFO" in error.message and str(model_dir / "a" / "pipe") in error.message
    assert "FIFO" in refused(model_dir / "a" / "pipe").message


def test_socket(model_dir: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(model_dir / "sock"))
        assert "socket" in refused(model_dir).message


def test_device(model_dir: Path) -> None:
    try:
        os.mknod(model_dir / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    assert "character device" in refused(model_dir).message


def test_file_changed_since_listing(model_dir: Path) -> None:
    path = model_dir / "config.json"
    with pytest.raises(ArtifactError, match="changed while being digested"):
        hash_files([(path, path.stat().st_size + 1)])


def test_non_utf8_name(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (Path(os.fsdecode(bytes(root) + b"/bad-\xff"))).write_bytes(b"x")
    assert "UTF-8" in refused(root).message


# --- unreadable files and directories -------------------------------------------------------
#
# The suite usually runs as root, and root reads a 0o000 file because it holds the
# CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH capabilities, not because of its uid. So the check
# runs in a child process that drops both from its bounding set before exec (prctl
# PR_CAPBSET_DROP; the inheritable set of root shells is empty, so the exec'd child ends up
# without them): still uid 0, owner of tmp_path, but bound by permission bits like anyone else.
# Without root nothing needs dropping. Nothing is mocked: the real open()/scandir() fail.

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2

_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from signoff.artifacts import digest_path
    from signoff.artifacts.hashing import hash_files
    from signoff.errors import ArtifactError

    path, kind = Path(sys.argv[1]), sys.argv[2]
    status = Path("/proc/self/status")
    if status.exists():
        lines = status.read_text().splitlines()
        cap_eff = next(line for line in lines if line.startswith("CapEff:"))
        if int(cap_eff.split()[1], 16) & 0b110:  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            print("CAPABILITIES KEPT")
            sys.exit(0)
    try:
        if kind == "digest":
            digest_path(path)
        else:
            hash_files([(path, 1)])
    except ArtifactError as exc:
        print(exc.message)
    else:
        print("NO ERROR")
    """
)


def _drop_dac_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_without_dac_override(path: Path, kind: str = "digest") -> str:
    """Run the digest of ``path`` in a child bound by permission bits; return its error."""
    is_root = os.geteuid() == 0
    if is_root and not sys.platform.startswith("linux"):
        pytest.skip("dropping root's file permission override needs Linux capabilities")
    try:
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), kind],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=_drop_dac_capabilities if is_root else None,
        )
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot drop CAP_DAC_OVERRIDE in a child process here: {exc}")
    if result.stdout.strip() == "CAPABILITIES KEPT":
        pytest.skip("the child kept CAP_DAC_OVERRIDE (inherited capabilities), so reads anything")
    return result.stdout.strip()


def test_unreadable_file(model_dir: Path) -> None:
    secret = model_dir / "a" / "secret.bin"
    secret.write_bytes(b"x")
    secret.chmod(0)
    message = run_without_dac_override(model_dir)
    assert message == f"cannot read file {secret}: permission denied"
    # A file that becomes unreadable after it was listed fails at open() in the hasher.
    assert run_without_dac_override(secret, "hash").startswith(f"cannot open {secret}:")


def test_unreadable_directory(model_dir: Path) -> None:
    (model_dir / "a").chmod(0)
    message = run_without_dac_override(model_dir)
    assert message.startswith(f"cannot read directory {model_dir / 'a'}:")


def test_first_error_stops_the_pool(tmp_path: Path) -> None:
    tree = {f"big-{i}.bin": bytes(3 << 20) for i in range(4)}
    root = write_tree(tmp_path / "m", {**tree, "small.bin": b"abc"})
    files = [(root / name, (root / name).stat().st_size) for name in sorted(tree)]
    files.append((root / "small.bin", 4))  # listed with the wrong size: "changed"
    with pytest.raises(ArtifactError, match=r"changed while being digested: .*small\.bin"):
        hash_files(files, workers=2)


def test_workers_must_be_positive(model_dir: Path) -> None:
    with pytest.raises(ValueError, match="workers"):
        digest_path(model_dir, workers=0)
