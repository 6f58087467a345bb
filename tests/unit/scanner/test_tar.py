"""Tar archives: members scanned (random access or streaming); links and devices reported."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
from pathlib import Path

from signoff.scanner.findings import BLOCKING, ScanFinding, ScanReport, Severity
from signoff.scanner.limits import Limits
from signoff.scanner.scan import scan_path


class Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("id",))


EVIL = pickle.dumps(Payload(), protocol=4)


def build_tar(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:  # type: ignore[call-overload]
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def scan(
    tmp_path: Path, data: bytes, name: str = "model.tar", limits: Limits | None = None
) -> ScanReport:
    path = tmp_path / name
    path.write_bytes(data)
    return scan_path(path, limits=limits or Limits())


def rules(findings: list[ScanFinding]) -> set[str]:
    return {f.rule_id for f in findings}


def payload_in(findings: list[ScanFinding], member: str) -> bool:
    return any(
        f.member == member and f.severity in BLOCKING and f.rule_id.startswith("pickle/")
        for f in findings
    )


def test_clean_tar_passes(tmp_path: Path) -> None:
    data = build_tar([("model/config.json", b"{}"), ("model/w.pkl", pickle.dumps([1, 2]))])
    report = scan(tmp_path, data)
    assert report.result == "pass", report.findings
    assert report.formats == {"model.tar": "tar"}


def test_members_are_scanned(tmp_path: Path) -> None:
    report = scan(tmp_path, build_tar([("a.txt", b"hello"), ("weights.bin", EVIL)]))
    assert payload_in(report.findings, "weights.bin")


def test_compressed_tar_streams(tmp_path: Path) -> None:
    for mode, name in (("w:gz", "m.tar.gz"), ("w:bz2", "m.tar.bz2"), ("w:xz", "m.tar.xz")):
        report = scan(tmp_path, build_tar([("weights.bin", EVIL)], mode), name)
        assert payload_in(report.findings, "weights.bin"), mode
        assert report.formats[name].endswith("+tar")


def test_zip_inside_a_streamed_tar(tmp_path: Path) -> None:
    import zipfile

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("data.pkl", EVIL)
    report = scan(tmp_path, build_tar([("ckpt.zip", inner.getvalue())], "w:gz"), "m.tgz")
    assert payload_in(report.findings, "ckpt.zip!data.pkl")


def test_links_and_devices(tmp_path: Path) -> None:
    data = build_tar(
        [
            special("link", tarfile.SYMTYPE, "/etc/passwd"),
            special("hard", tarfile.LNKTYPE, "../../outside"),
            special("fifo", tarfile.FIFOTYPE),
            special("dev", tarfile.CHRTYPE),
        ]
    )
    report = scan(tmp_path, data)
    assert rules(report.findings) >= {"tar/link", "tar/special-file"}
    links = {f.member for f in report.findings if f.rule_id == "tar/link"}
    assert links == {"link", "hard"}
    assert report.result == "fail"


def test_path_traversal(tmp_path: Path) -> None:
    report = scan(tmp_path, build_tar([("../../etc/cron.d/job", b"x"), ("/abs", b"y")]))
    traversal = {f.member for f in report.findings if f.rule_id == "tar/path-traversal"}
    assert traversal == {"../../etc/cron.d/job", "/abs"}


def test_member_count_limit(tmp_path: Path) -> None:
    data = build_tar([(f"f{i}", b"x") for i in range(20)])
    report = scan(tmp_path, data, limits=Limits(max_members=5))
    limited = [f for f in report.findings if f.rule_id == "tar/too-many-members"]
    assert limited and limited[0].severity is Severity.HIGH


def test_data_after_a_damaged_header_is_reported(tmp_path: Path) -> None:
    data = bytearray(build_tar([("a", b"x" * 2000), ("b", EVIL)]))
    second = 512 + 2048  # header, then the first member's data in 512-byte blocks
    data[second + 148 : second + 156] = b"garbage!"  # tarfile stops here, GNU tar skips on
    report = scan(tmp_path, bytes(data))
    assert "tar/trailing-data" in rules(report.findings)
    assert report.result == "fail"
    streamed = scan(tmp_path, gzip.compress(bytes(data)), "m.tar.gz")
    assert "tar/trailing-data" in rules(streamed.findings)


def test_truncated_member_data(tmp_path: Path) -> None:
    data = build_tar([("a.pkl", EVIL + b"\x00" * 3000)])
    report = scan(tmp_path, data[:1200])
    assert "tar/truncated-member" in rules(report.findings)
    assert payload_in(report.findings, "a.pkl")  # what is there is still scanned
    assert "scanner/internal-error" not in rules(report.findings)


def test_pickle_in_a_tar_header(tmp_path: Path) -> None:
    # A member name that is itself a protocol 0 pickle: pickle.load(tar) would run it.
    name = "cos\nsystem\n(S'id'\ntR."
    report = scan(tmp_path, build_tar([(name, b"x")], "w"), "odd.tar")
    assert "scanner/polyglot-pickle" in rules(report.findings)
    assert report.result == "fail"
