"""The dispatcher: directories, mixed formats, names that lie, budgets, failing closed."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import random
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import joblib
import numpy as np
import pytest

from signoff.errors import ArtifactError
from signoff.scanner import scan as scan_module
from signoff.scanner import zipread
from signoff.scanner.findings import BLOCKING, ScanFinding, Severity
from signoff.scanner.limits import Limits
from signoff.scanner.scan import scan_path
from signoff.scanner.sniff import Format


class Payload:
    """Pickles as a call of os.system (never unpickled here)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


EVIL = pickle.dumps(Payload(), protocol=4)


def safetensors_bytes() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\x00" * 8


def gguf_bytes() -> bytes:
    key = b"general.name"
    kv = struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 1) + b"m"
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv


def rules(findings: list[ScanFinding]) -> set[str]:
    return {f.rule_id for f in findings}


def blocking(findings: list[ScanFinding], file: str) -> list[ScanFinding]:
    return [f for f in findings if f.file == file and f.severity in BLOCKING]


def test_directory_of_mixed_formats(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "model.safetensors").write_bytes(safetensors_bytes())
    (tmp_path / "model.gguf").write_bytes(gguf_bytes())
    (tmp_path / "README.md").write_text("This model is great. Some text, Indeed.\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 8)
    np.save(tmp_path / "arr.npy", np.arange(10))
    joblib.dump({"coef": np.ones(3)}, tmp_path / "sub" / "clf.joblib")
    with zipfile.ZipFile(tmp_path / "sub" / "ckpt.pt", "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2))
        archive.writestr("archive/version", "3\n")
    (tmp_path / "sub" / "evil.pkl").write_bytes(EVIL)
    report = scan_path(tmp_path)
    assert report.formats == {
        "README.md": "text",
        "arr.npy": "numpy",
        "blob.bin": "unknown",
        "empty.txt": "empty",
        "model.gguf": "gguf",
        "model.safetensors": "safetensors",
        "sub/ckpt.pt": "pytorch-zip",
        "sub/clf.joblib": "joblib",
        "sub/evil.pkl": "pickle",
    }
    assert report.files == sorted(report.formats)
    assert report.bytes_scanned == sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    failing = {f.file for f in report.findings if f.severity in BLOCKING}
    assert failing == {"sub/evil.pkl"}, [f for f in report.findings if f.severity in BLOCKING]
    assert "scanner/unknown-format" in rules(report.findings)
    assert report.result == "fail"


@pytest.mark.parametrize("name", ["model.safetensors", "model.onnx", "model.gguf", "config.json"])
def test_a_pickle_with_any_name_is_scanned_as_a_pickle(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(EVIL)
    report = scan_path(tmp_path / name)
    assert report.formats == {name: "pickle"}
    assert blocking(report.findings, name)


def test_formats_follow_content_not_names(tmp_path: Path) -> None:
    (tmp_path / "weights.pkl").write_bytes(safetensors_bytes())
    (tmp_path / "model.json").write_bytes(gguf_bytes())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.txt", "hello")
    (tmp_path / "data.safetensors").write_bytes(buffer.getvalue())
    report = scan_path(tmp_path)
    assert report.formats == {
        "data.safetensors": "zip",
        "model.json": "gguf",
        "weights.pkl": "safetensors",
    }
    assert report.result == "pass"


def test_single_file_is_named_by_its_file_name(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors_bytes())
    report = scan_path(path)
    assert report.files == ["m.safetensors"]
    assert report.root == str(path)


def test_analyser_crash_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> list[ScanFinding]:
        raise RuntimeError("analyser bug")

    # Patched in the dispatch table: a compiled scanner calls its analysers directly otherwise.
    monkeypatch.setitem(scan_module._FLAT_ANALYSERS, Format.NUMPY, explode)
    np.save(tmp_path / "a.npy", np.arange(3))
    (tmp_path / "b.pkl").write_bytes(EVIL)
    report = scan_path(tmp_path)
    errors = [f for f in report.findings if f.rule_id == "scanner/internal-error"]
    assert errors and errors[0].severity is Severity.HIGH and errors[0].file == "a.npy"
    assert "analyser bug" in errors[0].detail
    assert blocking(report.findings, "b.pkl")  # the other files are still scanned
    assert report.result == "fail"


def test_time_budget_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(list(range(1000))))
    report = scan_path(tmp_path / "m.pkl", limits=Limits(max_seconds_per_file=-1.0))
    assert rules(report.findings) == {"scanner/time-budget"}
    assert report.result == "fail"


def test_compressed_joblib_and_pickles(tmp_path: Path) -> None:
    joblib.dump({"coef": np.ones(3)}, tmp_path / "clf.joblib", compress=3)
    joblib.dump(Payload(), tmp_path / "evil.joblib.gz", compress=("gzip", 3))
    (tmp_path / "evil.pkl.xz").write_bytes(__import__("lzma").compress(EVIL))
    report = scan_path(tmp_path)
    assert report.formats["clf.joblib"] == "zlib+joblib"
    assert report.formats["evil.joblib.gz"] == "gzip+pickle"
    assert report.formats["evil.pkl.xz"] == "xz+pickle"
    assert not blocking(report.findings, "clf.joblib")
    assert blocking(report.findings, "evil.joblib.gz")
    assert blocking(report.findings, "evil.pkl.xz")


def test_gzip_bomb_is_stopped(tmp_path: Path) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    with (tmp_path / "bomb.gz").open("wb") as out:
        for _ in range(256):
            out.write(compressor.compress(zeros))
        out.write(compressor.flush())
    report = scan_path(tmp_path / "bomb.gz")
    bombs = [f for f in report.findings if f.rule_id == "scanner/compression-bomb"]
    assert bombs and bombs[0].severity is Severity.HIGH


def test_nested_compression_depth(tmp_path: Path) -> None:
    data = EVIL
    for _ in range(6):
        data = gzip.compress(data)
    (tmp_path / "deep.gz").write_bytes(data)
    report = scan_path(tmp_path / "deep.gz", limits=Limits(max_depth=3))
    assert "scanner/too-deep" in rules(report.findings)
    assert report.result == "fail"
    assert blocking(scan_path(tmp_path / "deep.gz").findings, "deep.gz")


def test_lz4_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "m.joblib.lz4").write_bytes(b"\x04\x22\x4d\x18" + b"\x00" * 64)
    report = scan_path(tmp_path / "m.joblib.lz4")
    assert [f.severity for f in report.findings] == [Severity.HIGH]


def test_unknown_binary_is_info_but_pickle_like_is_scanned(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(random.Random(3).randbytes(5000).replace(b"\x80", b"\x81"))
    assert scan_path(tmp_path / "a.bin").result == "pass"
    (tmp_path / "b.bin").write_bytes(b"\x80\x04" + random.Random(4).randbytes(5000))
    report = scan_path(tmp_path / "b.bin")
    assert report.formats == {"b.bin": "pickle"}
    assert report.result == "fail"


def test_text_that_starts_like_a_pickle_does_not_alarm(tmp_path: Path) -> None:
    for index, text in enumerate(
        [
            "This model card",
            "Some notes\n" * 500,
            "I like (this)",
            "License: MIT\n",
            "cat\ndog\n",
            "]]]",
        ]
    ):
        path = tmp_path / f"t{index}.md"
        path.write_text(text)
        report = scan_path(path)
        assert report.result == "pass", (text, report.findings)


def test_protocol_0_pickle_in_a_text_file(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    report = scan_path(tmp_path / "notes.md")
    assert report.formats == {"notes.md": "pickle"}
    assert blocking(report.findings, "notes.md")


def test_pickle_with_text_prefix_decoy(tmp_path: Path) -> None:
    # Valid opcodes that pickletools refuses (INT in hex) still lead to a pickle scan.
    (tmp_path / "x.txt").write_bytes(b"I0x10\n0cos\nsystem\n(S'id'\ntR.")
    report = scan_path(tmp_path / "x.txt")
    assert blocking(report.findings, "x.txt")


def test_symlinks_are_findings_not_errors(tmp_path: Path) -> None:
    # Symlinks are reported, never followed; the regular files are still scanned (walk tests in
    # test_walk.py).
    (tmp_path / "a.pkl").write_bytes(EVIL)
    (tmp_path / "link.pkl").symlink_to(tmp_path / "a.pkl")
    report = scan_path(tmp_path)
    assert report.formats["link.pkl"] == "symlink"
    assert "scanner/symlink" in rules(report.findings)
    assert blocking(report.findings, "a.pkl")


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError):
        scan_path(tmp_path / "nope")


def test_progress_reports_every_byte(tmp_path: Path) -> None:
    (tmp_path / "a.safetensors").write_bytes(safetensors_bytes() + b"\x00" * 100_000)
    (tmp_path / "b.pkl").write_bytes(pickle.dumps(list(range(50_000))))
    seen: list[int] = []
    report = scan_path(tmp_path, progress=seen.append)
    assert sum(seen) == report.bytes_scanned
    assert all(step > 0 for step in seen)


def test_memory_stays_bounded_on_large_members(tmp_path: Path) -> None:
    path = tmp_path / "big.zip"
    chunk = random.Random(5).randbytes(1 << 20)
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("stored.bin", "w", force_zip64=True) as member:
            for _ in range(192):
                member.write(chunk)
        archive.writestr("x.npy", b"")
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("deflated.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(48):
            member.write(chunk)
    tracemalloc.start()
    try:
        report = scan_path(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, peak
    assert "scanner/internal-error" not in rules(report.findings)


def _legacy_checkpoint(sys_info: object) -> bytes:
    magic = 0x1950A86A20F9469CFC6C
    parts: tuple[object, ...] = (magic, 1001, sys_info, {"epoch": 3}, [])
    return b"".join(pickle.dumps(part, protocol=2) for part in parts)


def test_legacy_torch_checkpoints(tmp_path: Path) -> None:
    clean = tmp_path / "old.pt"
    clean.write_bytes(_legacy_checkpoint({"protocol_version": 1001, "little_endian": True}))
    report = scan_path(clean)
    assert report.formats == {"old.pt": "pytorch-legacy"}
    assert report.result == "pass", report.findings
    evil = tmp_path / "evil.pt"
    evil.write_bytes(_legacy_checkpoint(Payload()))
    assert blocking(scan_path(evil).findings, "evil.pt")


def _artifacts(tmp_path: Path) -> list[Path]:
    """Files whose scan reads members, expands streams and steps over array data."""
    made = tmp_path / "artifacts"
    made.mkdir()
    (made / "evil.pkl").write_bytes(EVIL)
    (made / "evil.pkl.gz").write_bytes(gzip.compress(EVIL))
    joblib.dump({"w": np.arange(5000.0), "x": Payload()}, made / "model.joblib", compress=3)
    with zipfile.ZipFile(made / "bundle.zip", "w") as archive:
        archive.writestr("a/data.pkl", pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
        archive.writestr("a/evil.pkl", EVIL, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("a/st.safetensors", safetensors_bytes())
        archive.writestr("a/inner.zip", _zip_of({"x.pkl": EVIL}))
    bad_crc = bytearray(_zip_of({"archive/data.pkl": pickle.dumps([1, 2], protocol=2)}))
    bad_crc[bad_crc.index(b"archive/data.pkl") + 16 + 5] ^= 0xFF  # a byte of the member's data
    (made / "bad-crc.pt").write_bytes(bytes(bad_crc))
    (made / "bomb.gz").write_bytes(gzip.compress(b"\x00" * (8 << 20)))
    (made / "cut.gz").write_bytes(gzip.compress(EVIL * 50)[:-30])
    return sorted(made.iterdir())


def _zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _outcome(path: Path) -> tuple[object, ...]:
    report = scan_path(path)
    findings = sorted(
        (f.rule_id, f.severity.value, f.member or "", f.offset or -1) for f in report.findings
    )
    return report.result, report.formats, findings


def test_scans_from_memory_find_what_streamed_scans_find(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _artifacts(tmp_path)
    in_memory = [_outcome(path) for path in paths]
    monkeypatch.setattr(scan_module, "IN_MEMORY_BYTES", -1)  # every file and stream streamed
    monkeypatch.setattr(zipread, "MEMBER_IN_MEMORY", -1)  # every member streamed
    streamed = [_outcome(path) for path in paths]
    for path, fast, slow in zip(paths, in_memory, streamed, strict=True):
        assert fast == slow, path.name
    assert {result for result, _, _ in in_memory} == {"fail"}


def test_bomb_expanded_in_memory_is_expanded_again_as_a_stream(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(EVIL + b"\x00" * (16 << 20)))
    report = scan_path(path)
    assert {"scanner/compression-bomb", "pickle/dangerous-global"} <= rules(report.findings)
