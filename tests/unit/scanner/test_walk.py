"""The scanner's walk: symlinks and special files are findings, every regular file is scanned.

The ONNX external-data symlink (CVE-2026-27489 class) is a directory whose model names a
"weights" file that is really a symlink to a file outside the model: the scan must say so, not
give up on the directory.
"""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path

import pytest

from signoff.errors import ArtifactError
from signoff.scanner.findings import BLOCKING, Severity
from signoff.scanner.scan import scan_path
from signoff.scanner.walk import list_entries


class Payload:
    """Pickles as a call of os.system (never unpickled here)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


EVIL = pickle.dumps(Payload(), protocol=4)
CLEAN = pickle.dumps({"weights": [1.0, 2.0]}, protocol=4)


def onnx_with_external_data(directory: Path, location: str) -> None:
    """A real ONNX model whose initializer's data lives in ``location`` (external data)."""
    onnx = pytest.importorskip("onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    import numpy as np

    weight = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "64")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
        initializer=[weight],
    )
    (directory / "model.onnx").write_bytes(helper.make_model(graph).SerializeToString())


def test_onnx_external_data_symlink_is_critical(tmp_path: Path) -> None:
    onnx_with_external_data(tmp_path, "weights.bin")
    (tmp_path / "weights.bin").symlink_to("/etc/passwd")
    report = scan_path(tmp_path)
    assert report.result == "fail"
    assert report.formats == {"model.onnx": "onnx", "weights.bin": "symlink"}
    links = [f for f in report.findings if f.rule_id == "scanner/symlink"]
    assert len(links) == 1 and links[0].severity is Severity.CRITICAL
    assert links[0].file == "weights.bin" and "/etc/passwd" in links[0].detail
    assert "CVE-2026-27489" in links[0].detail
    assert report.bytes_scanned == (tmp_path / "model.onnx").stat().st_size  # link not read


def test_every_regular_file_is_still_scanned(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "evil.pkl").write_bytes(EVIL)
    (tmp_path / "clean.pkl").write_bytes(CLEAN)
    (tmp_path / "sub" / "dir-link").symlink_to(tmp_path / "sub")  # a loop if it were followed
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    report = scan_path(tmp_path)
    assert report.files == ["clean.pkl", "dangling", "sub/dir-link", "sub/evil.pkl"]
    assert {f.file for f in report.findings if f.rule_id == "scanner/symlink"} == {
        "dangling",
        "sub/dir-link",
    }
    assert any(f.file == "sub/evil.pkl" and f.severity in BLOCKING for f in report.findings)


def test_symlink_to_a_clean_file_still_fails(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(CLEAN)
    (tmp_path / "alias.pkl").symlink_to("model.pkl")
    report = scan_path(tmp_path)
    assert report.result == "fail"
    assert [f.file for f in report.findings if f.severity in BLOCKING] == ["alias.pkl"]


def test_top_level_symlink_is_reported_not_followed(tmp_path: Path) -> None:
    (tmp_path / "evil.pkl").write_bytes(EVIL)
    link = tmp_path / "model.pkl"
    link.symlink_to(tmp_path / "evil.pkl")
    report = scan_path(link)
    assert report.formats == {"model.pkl": "symlink"}
    assert [f.rule_id for f in report.findings] == ["scanner/symlink"]
    assert report.bytes_scanned == 0


def test_fifo_is_high_and_never_opened(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(CLEAN)
    os.mkfifo(tmp_path / "pipe")  # opening it for reading would block the scan forever
    report = scan_path(tmp_path)
    special = [f for f in report.findings if f.rule_id == "scanner/special-file"]
    assert len(special) == 1 and special[0].severity is Severity.HIGH
    assert special[0].file == "pipe" and "fifo" in special[0].detail
    assert report.formats["pipe"] == "fifo"


def test_socket_is_high(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(CLEAN)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "sock"))
    except OSError:  # path too long for AF_UNIX on some systems
        pytest.skip("cannot bind a unix socket here")
    try:
        report = scan_path(tmp_path)
    finally:
        server.close()
    special = [f for f in report.findings if f.rule_id == "scanner/special-file"]
    assert [(f.file, f.severity) for f in special] == [("sock", Severity.HIGH)]


def test_device_is_high() -> None:
    report = scan_path(Path("/dev/null"))
    assert report.formats == {"null": "character-device"}
    assert [(f.rule_id, f.severity) for f in report.findings] == [
        ("scanner/special-file", Severity.HIGH)
    ]


def test_bad_input_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        scan_path(tmp_path / "missing")
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    with pytest.raises(ArtifactError, match="no files"):
        scan_path(tmp_path / "empty")


def test_git_metadata_is_ignored_like_the_digest(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD-link").symlink_to("/etc/passwd")
    (tmp_path / "model.pkl").write_bytes(CLEAN)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("*.tmp\n")  # only top-level ones are ignored
    assert [e.name for e in list_entries(tmp_path)] == ["model.pkl", "sub/.gitignore"]
    assert scan_path(tmp_path).result == "pass"


def test_unreadable_subdirectory_is_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "model.pkl").write_bytes(CLEAN)
    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path: Path) -> object:  # root reads any directory: refuse this one by hand
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr("signoff.scanner.walk.os.scandir", scandir)
    report = scan_path(tmp_path)
    unreadable = [f for f in report.findings if f.rule_id == "scanner/unreadable"]
    assert [(f.file, f.severity) for f in unreadable] == [("locked", Severity.HIGH)]
    assert report.result == "fail"
    with pytest.raises(ArtifactError, match="cannot read directory"):
        scan_path(tmp_path / "locked")


def test_undecodable_name_is_scanned_and_shown_escaped(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/bad-\xff.pkl"
    with open(raw, "wb") as handle:
        handle.write(EVIL)
    report = scan_path(tmp_path)
    assert report.files == ["bad-\\xff.pkl"]
    assert any(f.file == "bad-\\xff.pkl" and f.severity in BLOCKING for f in report.findings)
