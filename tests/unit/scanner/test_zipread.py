"""The lenient zip reader: parser differentials become findings; every member is scanned."""

from __future__ import annotations

import io
import os
import pickle
import random
import struct
import time
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signoff.scanner.allowlist import Allowlist
from signoff.scanner.findings import BLOCKING, ScanFinding, ScanReport, Severity
from signoff.scanner.limits import Limits
from signoff.scanner.scan import ScanContext, scan_path, scan_stream
from signoff.scanner.zipread import read_archive


class Payload:
    """Pickles as a call of os.system (never unpickled here)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


EVIL = pickle.dumps(Payload(), protocol=4)
CLEAN = pickle.dumps({"weights": [1.0, 2.0]}, protocol=4)


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def central_offset(data: bytes, name: str) -> int:
    """Offset of the central directory record of ``name``."""
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == name.encode():
            return at
        at = data.find(b"PK\x01\x02", at + 4)
    raise KeyError(name)


def local_offset(data: bytes, name: str) -> int:
    result: int = struct.unpack_from("<I", data, central_offset(data, name) + 42)[0]
    return result


def set_flags(data: bytes, name: str, bits: int) -> bytes:
    out = bytearray(data)
    for at in (central_offset(data, name) + 8, local_offset(data, name) + 6):
        struct.pack_into("<H", out, at, struct.unpack_from("<H", out, at)[0] | bits)
    return bytes(out)


def save(tmp_path: Path, data: bytes, name: str = "archive.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def archive_rules(data: bytes, limits: Limits | None = None) -> set[str]:
    archive = read_archive(
        io.BytesIO(data), len(data), file="a.zip", member=None, limits=limits or Limits()
    )
    return {f.rule_id for f in archive.findings}


def rules(findings: list[ScanFinding]) -> set[str]:
    return {f.rule_id for f in findings}


def payload_found(findings: list[ScanFinding], member: str) -> bool:
    return any(
        f.member == member and f.severity in BLOCKING and f.rule_id.startswith("pickle/")
        for f in findings
    )


def test_clean_zip_passes(tmp_path: Path) -> None:
    data = make_zip({"a.pkl": CLEAN, "notes.txt": b"hello", "dir/b.txt": b"x" * 1000})
    assert archive_rules(data) == set()
    report = scan_path(save(tmp_path, data))
    assert report.result == "pass", report.findings
    assert report.formats == {"archive.zip": "zip"}


METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


@pytest.mark.parametrize("method", METHODS)
def test_pickle_under_any_name_is_scanned(tmp_path: Path, method: int) -> None:
    data = make_zip({"README.txt": b"hi", "notes.txt": EVIL}, method)
    report = scan_path(save(tmp_path, data))
    assert payload_found(report.findings, "notes.txt")
    assert report.result == "fail"
    unusual = method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
    assert ("zip/unusual-method" in rules(report.findings)) == unusual


def safetensors_bytes() -> bytes:
    header = b'{"w":{"dtype":"F32","shape":[256],"data_offsets":[0,1024]}}'
    return struct.pack("<Q", len(header)) + header + struct.pack("<256f", *range(256))


@pytest.mark.parametrize("method", METHODS)
def test_clean_bundle_passes_with_every_zipfile_method(tmp_path: Path, method: int) -> None:
    # zipfile.ZIP_LZMA (method 14) was once "unsupported" (high): a false alarm on a clean zip.
    config = b'{"architectures": ["Tiny"], "hidden_size": 16}'
    data = make_zip(
        {"model/config.json": config, "model/model.safetensors": safetensors_bytes()}, method
    )
    report = scan_path(save(tmp_path, data))
    assert report.result == "pass", report.findings
    assert not [f for f in report.findings if f.severity is not Severity.INFO]


def test_lzma_member_is_decompressed_like_zipfile(tmp_path: Path) -> None:
    body = pickle.dumps(list(range(20_000)), protocol=4)
    data = make_zip({"big.pkl": body, "evil.pkl": EVIL}, zipfile.ZIP_LZMA)
    assert zipfile.ZipFile(io.BytesIO(data)).read("big.pkl") == body
    report = scan_path(save(tmp_path, data))
    assert payload_found(report.findings, "evil.pkl")
    assert not {"zip/crc-mismatch", "zip/size-mismatch", "zip/corrupt-data"} & rules(
        report.findings
    )


def test_lzma_bomb_is_not_expanded(tmp_path: Path) -> None:
    data = make_zip({"zeros.bin": b"\x00" * (64 << 20)}, zipfile.ZIP_LZMA)
    report = scan_path(save(tmp_path, data))
    bombs = [f for f in report.findings if f.rule_id == "zip/compression-bomb"]
    assert bombs and bombs[0].severity is Severity.HIGH


def test_lzma_member_lying_about_its_size_is_cut_at_that_size(tmp_path: Path) -> None:
    data = bytearray(make_zip({"a.pkl": CLEAN + b"\x00" * 5000}, zipfile.ZIP_LZMA))
    at = central_offset(bytes(data), "a.pkl")
    struct.pack_into("<I", data, at + 24, len(CLEAN))  # claims fewer bytes than it expands to
    report = scan_path(save(tmp_path, bytes(data)))
    assert "zip/size-mismatch" in rules(report.findings)
    assert report.result == "fail"


@pytest.mark.parametrize("damage", ["properties", "stream", "truncated-header"])
def test_corrupt_lzma_member_is_a_finding(tmp_path: Path, damage: str) -> None:
    data = bytearray(make_zip({"a.pkl": CLEAN * 50}, zipfile.ZIP_LZMA))
    start = local_offset(bytes(data), "a.pkl") + 30 + len("a.pkl")
    if damage == "properties":
        data[start + 4] = 0xFF  # lc/lp/pb byte out of range
    elif damage == "stream":
        data[start + 9 + 10 : start + 9 + 40] = b"\xff" * 30
    else:
        struct.pack_into("<H", data, start + 2, 60_000)  # properties longer than the member
    report = scan_path(save(tmp_path, bytes(data)))
    assert {"zip/corrupt-data", "zip/crc-mismatch", "zip/size-mismatch"} & rules(report.findings)
    assert report.result == "fail"


def test_encryption_flag_is_reported_and_data_still_scanned(tmp_path: Path) -> None:
    data = set_flags(make_zip({"model.pkl": EVIL}), "model.pkl", 0x0001)
    with pytest.raises(RuntimeError, match="encrypted"):  # what other scanners trip on
        zipfile.ZipFile(io.BytesIO(data)).read("model.pkl")
    report = scan_path(save(tmp_path, data))
    assert "zip/encryption-flag" in rules(report.findings)
    assert payload_found(report.findings, "model.pkl")


class _Unseekable(io.BytesIO):
    def seekable(self) -> bool:
        return False

    def seek(self, *args: object) -> int:
        raise io.UnsupportedOperation("seek")


def test_data_descriptors_are_normal(tmp_path: Path) -> None:
    out = _Unseekable()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as writer:
        writer.writestr("evil.pkl", EVIL)  # a streamed write: sizes go in a data descriptor
    data = out.getvalue()
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("evil.pkl").flag_bits & 0x08
    archive = read_archive(io.BytesIO(data), len(data), file="a", member=None, limits=Limits())
    assert [(f.rule_id, f.severity) for f in archive.findings] == [
        ("zip/data-descriptor", Severity.INFO)
    ]
    assert payload_found(scan_path(save(tmp_path, data)).findings, "evil.pkl")


def _streamed_zip(members: dict[str, bytes], method: int) -> bytes:
    out = _Unseekable()
    with zipfile.ZipFile(out, "w", method) as writer:
        for name, data in members.items():
            writer.writestr(name, data)  # a streamed write: sizes go in a data descriptor
    return out.getvalue()


def _descriptor_offset(data: bytes, name: str) -> int:
    at = local_offset(data, name)
    name_len, extra_len = struct.unpack_from("<2H", data, at + 26)
    csize = struct.unpack_from("<I", data, central_offset(data, name) + 20)[0]
    return int(at + 30 + name_len + extra_len + csize)


@pytest.mark.parametrize(("method", "severity"), [(0, Severity.MEDIUM), (8, Severity.LOW)])
@pytest.mark.parametrize("field", [4, 8, 12])  # CRC, compressed size, size
def test_data_descriptor_disagreeing_with_directory(
    method: int, severity: Severity, field: int
) -> None:
    data = bytearray(_streamed_zip({"a.pkl": CLEAN, "b.txt": b"hello"}, method))
    at = _descriptor_offset(bytes(data), "a.pkl")
    assert data[at : at + 4] == b"PK\x07\x08"
    struct.pack_into("<I", data, at + field, 0x0BAD)
    archive = read_archive(
        io.BytesIO(bytes(data)), len(data), file="a", member=None, limits=Limits()
    )
    found = [f for f in archive.findings if f.rule_id == "zip/data-descriptor"]
    assert [f.severity for f in found] == [severity]
    assert "'a.pkl'" in found[0].detail and "'b.txt'" not in found[0].detail


def test_stored_members_with_matching_descriptors_are_info(tmp_path: Path) -> None:
    data = _streamed_zip({"a.pkl": CLEAN, "b.txt": b"hello"}, zipfile.ZIP_STORED)
    report = scan_path(save(tmp_path, data))
    assert report.result == "pass", report.findings
    assert [(f.rule_id, f.severity) for f in report.findings] == [
        ("zip/data-descriptor", Severity.INFO)
    ]


def test_descriptor_without_signature_and_zip64_sizes_agree() -> None:
    # The signature is optional, and ZIP64 descriptors carry 8-byte sizes.
    data = bytearray(_streamed_zip({"a.pkl": CLEAN}, zipfile.ZIP_STORED))
    at = _descriptor_offset(bytes(data), "a.pkl")
    crc, csize, size = struct.unpack_from("<3I", data, at + 4)
    for record in (struct.pack("<3I", crc, csize, size), struct.pack("<I2Q", crc, csize, size)):
        patched = bytes(data[:at]) + record + bytes(data[at + 16 :])
        shift = len(record) - 16
        out = bytearray(patched)
        eocd = out.rfind(b"PK\x05\x06")
        cd = struct.unpack_from("<I", out, eocd + 16)[0]
        struct.pack_into("<I", out, eocd + 16, cd + shift)
        archive = read_archive(
            io.BytesIO(bytes(out)), len(out), file="a", member=None, limits=Limits()
        )
        assert [(f.rule_id, f.severity) for f in archive.findings] == [
            ("zip/data-descriptor", Severity.INFO)
        ]


def test_real_torch_save_is_clean_not_warn(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(4, 2).state_dict(), path)
    report = scan_path(path)
    assert report.result == "pass", report.findings
    descriptor = [f for f in report.findings if f.rule_id == "zip/data-descriptor"]
    assert [f.severity for f in descriptor] == [Severity.INFO]


def test_local_central_name_mismatch() -> None:
    data = bytearray(make_zip({"data.pkl": CLEAN}))
    at = local_offset(bytes(data), "data.pkl") + 30
    data[at : at + 8] = b"evil.pkl"
    assert "zip/name-mismatch" in archive_rules(bytes(data))


def test_crc_mismatch(tmp_path: Path) -> None:
    data = bytearray(make_zip({"a.pkl": CLEAN}))
    struct.pack_into("<I", data, central_offset(bytes(data), "a.pkl") + 16, 0xDEADBEEF)
    report = scan_path(save(tmp_path, bytes(data)))
    crc = [f for f in report.findings if f.rule_id == "zip/crc-mismatch"]
    assert crc and crc[0].severity is Severity.MEDIUM and crc[0].member == "a.pkl"


def test_duplicate_names_are_both_scanned(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it is asked to write
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("model.pkl", EVIL)
            archive.writestr("model.pkl", CLEAN)
    report = scan_path(save(tmp_path, buffer.getvalue()))
    assert "zip/duplicate-names" in rules(report.findings)
    assert payload_found(report.findings, "model.pkl")


@pytest.mark.parametrize("name", ["../evil.pkl", "/etc/cron.d/x", "a/../../b", "C:\\x", "..\\y"])
def test_path_traversal_names(name: str) -> None:
    assert "zip/path-traversal" in archive_rules(make_zip({name: b"x"}))


def test_unsupported_method_fails_closed(tmp_path: Path) -> None:
    data = bytearray(make_zip({"a.pkl": EVIL}, zipfile.ZIP_DEFLATED))
    for at in (central_offset(bytes(data), "a.pkl") + 10, local_offset(bytes(data), "a.pkl") + 8):
        struct.pack_into("<H", data, at, 93)  # zstd, which Python 3.14's zipfile reads
    report = scan_path(save(tmp_path, bytes(data)))
    unsupported = [f for f in report.findings if f.rule_id == "zip/unsupported-method"]
    assert unsupported and unsupported[0].severity is Severity.HIGH


def test_overlapping_members() -> None:
    data = bytearray(make_zip({"a": b"A" * 100, "b": b"B" * 100}, zipfile.ZIP_STORED))
    struct.pack_into("<I", data, central_offset(bytes(data), "b") + 42, 0)  # b -> a's bytes
    found = archive_rules(bytes(data))
    assert {"zip/overlapping-members", "zip/name-mismatch"} <= found


def test_member_outside_the_file() -> None:
    data = bytearray(make_zip({"a": b"x" * 10}))
    struct.pack_into("<I", data, central_offset(bytes(data), "a") + 42, 10_000_000)
    assert "zip/member-out-of-file" in archive_rules(bytes(data))
    data = bytearray(make_zip({"a": b"x" * 10}, zipfile.ZIP_STORED))
    struct.pack_into("<I", data, central_offset(bytes(data), "a") + 20, 10_000_000)  # csize
    assert "zip/member-out-of-file" in archive_rules(bytes(data))


def test_data_prepended_to_a_zip(tmp_path: Path) -> None:
    data = b"this is not a zip\n" * 500 + make_zip({"inner.pkl": EVIL})
    report = scan_path(save(tmp_path, data, "model.bin"))
    assert {"scanner/polyglot-zip", "zip/prefixed-data"} <= rules(report.findings)
    assert payload_found(report.findings, "inner.pkl")


def test_zip64_archives_are_read() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as writer:
        for index in range(0x10000 + 5):  # more entries than the classic end record can count
            writer.writestr(f"f{index}", b"")
    data = buffer.getvalue()
    assert data.find(b"PK\x06\x06") > 0
    archive = read_archive(io.BytesIO(data), len(data), file="a", member=None, limits=Limits())
    assert len(archive.entries) == 0x10000 + 5
    assert archive.findings == []


def test_zip_without_central_directory_is_walked_by_local_headers(tmp_path: Path) -> None:
    data = make_zip({"a.txt": b"hello", "evil.pkl": EVIL})
    truncated = data[: data.find(b"PK\x01\x02")]
    report = scan_path(save(tmp_path, truncated))
    assert "zip/no-central-directory" in rules(report.findings)
    assert payload_found(report.findings, "evil.pkl")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A member of 1 GiB of zeros (about 1 MiB deflated), written streaming."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.pkl", EVIL)
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            for _ in range(1024):
                member.write(zeros)
    return path


def test_zip_bomb_is_not_expanded(bomb: Path) -> None:
    started = time.monotonic()
    report = scan_path(bomb)
    assert time.monotonic() - started < 10
    bombs = [f for f in report.findings if f.rule_id == "zip/compression-bomb"]
    assert bombs and bombs[0].severity is Severity.HIGH and bombs[0].member == "zeros.bin"
    assert payload_found(report.findings, "model.pkl")


def test_member_expanding_past_its_declared_size(tmp_path: Path) -> None:
    data = bytearray(make_zip({"zeros.bin": bytes(10 << 20)}))
    struct.pack_into("<I", data, central_offset(bytes(data), "zeros.bin") + 24, 1000)  # usize
    report = scan_path(save(tmp_path, bytes(data)))
    assert "zip/size-mismatch" in rules(report.findings)


def test_total_expansion_budget(tmp_path: Path) -> None:
    noise = random.Random(1).randbytes(2 << 20)
    data = make_zip({"a.bin": noise, "b.pkl": EVIL})
    report = scan_path(save(tmp_path, data), limits=Limits(max_expanded_bytes=1 << 20))
    assert "scanner/expansion-limit" in rules(report.findings)
    assert report.result == "fail"


def test_member_count_limit(tmp_path: Path) -> None:
    data = make_zip({f"f{i}.txt": b"x" for i in range(10)})
    assert "zip/too-many-members" in archive_rules(data, Limits(max_members=5))
    report = scan_path(save(tmp_path, data), limits=Limits(max_members=5))
    assert report.result == "fail"


def test_zip_in_zip(tmp_path: Path) -> None:
    inner = make_zip({"evil.pkl": EVIL})
    outer = make_zip({"readme.txt": b"hi", "inner.zip": inner})
    report = scan_path(save(tmp_path, outer))
    assert payload_found(report.findings, "inner.zip!evil.pkl")


def test_nesting_deeper_than_the_limit(tmp_path: Path) -> None:
    data = make_zip({"evil.pkl": EVIL})
    for level in range(6):
        data = make_zip({f"level{level}.zip": data})
    report = scan_path(save(tmp_path, data), limits=Limits(max_depth=4))
    deep = [f for f in report.findings if f.rule_id == "scanner/too-deep"]
    assert deep and deep[0].severity is Severity.HIGH
    assert report.result == "fail"
    roomy = scan_path(save(tmp_path, data, "again.zip"), limits=Limits(max_depth=10))
    assert any(f.severity in BLOCKING and f.rule_id.startswith("pickle/") for f in roomy.findings)


def _fuzz_sample() -> bytes:
    return make_zip({"a.pkl": CLEAN, "b/c.txt": b"hello" * 20, "d.zip": make_zip({"e": b"f"})})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 2000),
)
def test_fuzz_mutated_zips_are_handled(edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_fuzz_sample())
    for position, value in edits:
        data[position % len(data)] = value
    data = data[: max(cut, 22)]
    report = ScanReport(root="fuzz")
    ctx = ScanContext(Allowlist.default(), Limits(), report)
    started = time.monotonic()
    scan_stream(io.BytesIO(bytes(data)), len(data), file="f.zip", member=None, depth=0, ctx=ctx)
    assert time.monotonic() - started < 5
    assert "scanner/internal-error" not in rules(report.findings), report.findings
