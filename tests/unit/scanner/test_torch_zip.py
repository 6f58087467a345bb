"""PyTorch zip checkpoints, built by hand the way torch.save lays them out (torch not needed)."""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.scanner import torch_zip as torch_zip_module
from signoff.scanner import zipread
from signoff.scanner.findings import BLOCKING, ScanFinding, ScanReport, Severity
from signoff.scanner.limits import Limits
from signoff.scanner.scan import scan_path


class Payload:
    """Pickles as a call of os.system (never unpickled here)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/pwned",))


EVIL = pickle.dumps(Payload(), protocol=2)


@pytest.fixture(scope="module")
def state_dict_pickle() -> bytes:
    """A data.pkl like torch.save writes: OrderedDict of _rebuild_tensor_v2 with storages by
    persistent id. Fake ``torch`` modules exist only while pickling, so the globals are named
    exactly as torch names them."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: object) -> None:
        raise AssertionError("never called")

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]

    class Storage:
        def __init__(self, key: str) -> None:
            self.key = key

    class Tensor:
        def __init__(self, key: str) -> None:
            self.storage = Storage(key)

        def __reduce__(self) -> tuple[object, tuple[object, ...]]:
            return (_rebuild_tensor_v2, (self.storage, 0, (2, 2), (2, 1), False, OrderedDict()))

    class TorchPickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", 4)
            return None

    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        buffer = io.BytesIO()
        TorchPickler(buffer, protocol=2).dump(OrderedDict(weight=Tensor("0"), bias=Tensor("1")))
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module
    return buffer.getvalue()


def torch_zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def checkpoint(data_pkl: bytes, **extra: bytes) -> dict[str, bytes]:
    members = {
        "archive/data.pkl": data_pkl,
        "archive/byteorder": b"little",
        "archive/data/0": struct.pack("<4f", 1.0, 2.0, 3.0, 4.0),
        "archive/data/1": struct.pack("<4f", 0.5, 0.5, 0.5, 0.5),
        "archive/version": b"3\n",
        "archive/.data/serialization_id": b"1234567890",
    }
    members.update({name.replace("__", "/"): data for name, data in extra.items()})
    return members


def scan_bytes(
    tmp_path: Path, data: bytes, name: str = "model.pt", limits: Limits | None = None
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


def central(data: bytes, name: str) -> int:
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + length] == name.encode():
            return at
        at = data.find(b"PK\x01\x02", at + 4)
    raise KeyError(name)


def test_clean_checkpoint_passes(tmp_path: Path, state_dict_pickle: bytes) -> None:
    report = scan_bytes(tmp_path, torch_zip(checkpoint(state_dict_pickle)))
    assert report.result == "pass", [f for f in report.findings if f.severity in BLOCKING]
    assert report.formats == {"model.pt": "pytorch-zip"}
    notes = [f for f in report.findings if f.rule_id == "torch/archive"]
    assert notes and "version 3" in notes[0].detail and "little" in notes[0].detail


def test_payload_in_data_pkl(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, torch_zip(checkpoint(EVIL)))
    assert payload_in(report.findings, "archive/data.pkl")
    assert report.result == "fail"


def test_pickle_hidden_under_a_storage_name(tmp_path: Path, state_dict_pickle: bytes) -> None:
    members = checkpoint(state_dict_pickle)
    members["archive/data/1"] = EVIL
    report = scan_bytes(tmp_path, torch_zip(members))
    assert "torch/pickle-in-storage" in rules(report.findings)
    assert payload_in(report.findings, "archive/data/1")


def test_pickle_hidden_under_other_names(tmp_path: Path, state_dict_pickle: bytes) -> None:
    members = checkpoint(state_dict_pickle, archive__extra__weights=EVIL)
    members["archive/.data/hidden"] = EVIL
    report = scan_bytes(tmp_path, torch_zip(members, zipfile.ZIP_DEFLATED))
    assert payload_in(report.findings, "archive/extra/weights")
    assert payload_in(report.findings, "archive/.data/hidden")


def test_decoy_archive_directory(tmp_path: Path, state_dict_pickle: bytes) -> None:
    # torch reads <first entry's directory>/data.pkl: put the payload there, a clean decoy after.
    members = {"evil/data.pkl": EVIL, **checkpoint(state_dict_pickle)}
    report = scan_bytes(tmp_path, torch_zip(members))
    assert "torch/several-roots" in rules(report.findings)
    assert payload_in(report.findings, "evil/data.pkl")


def test_encryption_flag_bypass(tmp_path: Path) -> None:
    data = bytearray(torch_zip(checkpoint(EVIL), zipfile.ZIP_DEFLATED))
    cd = central(bytes(data), "archive/data.pkl")
    local = struct.unpack_from("<I", data, cd + 42)[0]
    for at in (cd + 8, local + 6):
        struct.pack_into("<H", data, at, struct.unpack_from("<H", data, at)[0] | 0x1)
    report = scan_bytes(tmp_path, bytes(data))
    flags = [f for f in report.findings if f.rule_id == "zip/encryption-flag"]
    assert flags and flags[0].severity is Severity.HIGH
    assert payload_in(report.findings, "archive/data.pkl")


def test_local_central_name_mismatch(tmp_path: Path, state_dict_pickle: bytes) -> None:
    data = bytearray(torch_zip(checkpoint(state_dict_pickle, archive__evil=EVIL)))
    local = struct.unpack_from("<I", data, central(bytes(data), "archive/evil") + 42)[0]
    data[local + 30 : local + 42] = b"archive/eviL"
    report = scan_bytes(tmp_path, bytes(data))
    assert "zip/name-mismatch" in rules(report.findings)
    assert payload_in(report.findings, "archive/evil")


def test_crc_mismatch(tmp_path: Path) -> None:
    data = bytearray(torch_zip(checkpoint(EVIL)))
    struct.pack_into("<I", data, central(bytes(data), "archive/data.pkl") + 16, 0)
    report = scan_bytes(tmp_path, bytes(data))
    assert "zip/crc-mismatch" in rules(report.findings)
    assert payload_in(report.findings, "archive/data.pkl")


def test_checkpoint_inside_a_zip(tmp_path: Path) -> None:
    outer = torch_zip({"bundle/model.pt": torch_zip(checkpoint(EVIL))}, zipfile.ZIP_DEFLATED)
    report = scan_bytes(tmp_path, outer, "bundle.zip")
    assert payload_in(report.findings, "bundle/model.pt!archive/data.pkl")


def test_zip_bomb_member(tmp_path: Path, state_dict_pickle: bytes) -> None:
    path = tmp_path / "bomb.pt"
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in checkpoint(state_dict_pickle).items():
            archive.writestr(name, data)
        with archive.open("archive/extra.bin", "w", force_zip64=True) as member:
            for _ in range(1024):  # 1 GiB of zeros, never held in memory
                member.write(zeros)
    report = scan_path(path)
    bombs = [f for f in report.findings if f.rule_id == "zip/compression-bomb"]
    assert bombs and bombs[0].member == "archive/extra.bin"
    assert report.result == "fail"


def test_nested_zips_past_the_depth_limit(tmp_path: Path) -> None:
    data = torch_zip(checkpoint(EVIL))
    for level in range(5):
        data = torch_zip({f"wrap{level}/inner.pt": data})
    report = scan_bytes(tmp_path, data, limits=Limits(max_depth=3))
    assert "scanner/too-deep" in rules(report.findings)
    assert report.result == "fail"


def test_member_count_limit(tmp_path: Path, state_dict_pickle: bytes) -> None:
    members = checkpoint(state_dict_pickle)
    members.update({f"archive/data/{i}": b"\x00" * 4 for i in range(2, 40)})
    report = scan_bytes(tmp_path, torch_zip(members), limits=Limits(max_members=10))
    assert "zip/too-many-members" in rules(report.findings)
    assert report.result == "fail"


def test_torchscript_code_is_a_note_unless_dangerous(tmp_path: Path) -> None:
    # Hand-built (no torch needed); real torch.jit.save archives are in test_torchscript.py.
    members = {
        "model/data.pkl": pickle.dumps({"a": 1}, protocol=2),
        "model/code/__torch__/model.py": b"def forward(self, x):\n    return x\n",
        "model/constants.pkl": pickle.dumps((), protocol=2),
        "model/version": b"6\n",
    }
    report = scan_bytes(tmp_path, torch_zip(members), "scripted.pt")
    code = [f for f in report.findings if f.rule_id == "torch/torchscript-code"]
    assert code and code[0].severity is Severity.INFO
    assert "torch.jit.load" in code[0].title
    assert report.result == "pass"
    members["model/code/__torch__/model.py"] += b"def g(x):\n    return ops.mylib.run(x)\n"
    members["model/code/__torch__/util.py"] = b"def h(x):\n    os.system('id')\n    return x\n"
    report = scan_bytes(tmp_path, torch_zip(members), "scripted.pt")
    severities = {f.rule_id: f.severity for f in report.findings}
    assert severities["torch/torchscript-custom-ops"] is Severity.HIGH
    assert severities["torch/torchscript-python"] is Severity.CRITICAL
    assert report.result == "fail"


def test_torchscript_source_too_big_to_review_fails_closed(tmp_path: Path) -> None:
    members = {
        "model/data.pkl": pickle.dumps({"a": 1}, protocol=2),
        "model/code/__torch__/model.py": b"# padding\n" * 200,
        "model/constants.pkl": pickle.dumps((), protocol=2),
    }
    report = scan_bytes(tmp_path, torch_zip(members), limits=Limits(max_header_bytes=100))
    unreadable = [f for f in report.findings if f.rule_id == "torch/torchscript-unreadable"]
    assert unreadable and unreadable[0].severity is Severity.HIGH


def test_odd_version_is_low(tmp_path: Path, state_dict_pickle: bytes) -> None:
    members = checkpoint(state_dict_pickle)
    members["archive/byteorder"] = b"sideways"
    report = scan_bytes(tmp_path, torch_zip(members))
    notes = [f for f in report.findings if f.rule_id == "torch/archive"]
    assert notes and notes[0].severity is Severity.LOW


def test_storages_are_not_read_in_full(tmp_path: Path, state_dict_pickle: bytes) -> None:
    # A storage whose CRC is wrong is not re-read (raw tensor bytes are only sniffed).
    members = checkpoint(state_dict_pickle)
    members["archive/data/0"] = b"\x01" * 100_000
    data = bytearray(torch_zip(members))
    struct.pack_into("<I", data, central(bytes(data), "archive/data/0") + 16, 0)
    report = scan_bytes(tmp_path, bytes(data))
    assert "zip/crc-mismatch" not in rules(report.findings)
    assert report.result == "pass"


def _iter_members(data: bytes) -> Iterator[str]:
    yield from zipfile.ZipFile(io.BytesIO(data)).namelist()


def test_layout_helper_matches_torch(state_dict_pickle: bytes) -> None:
    names = list(_iter_members(torch_zip(checkpoint(state_dict_pickle))))
    assert names[0] == "archive/data.pkl" and "archive/version" in names


_SOURCE_PIECES = [
    "torch", ".", " ", "  ", "ops", "classes", "aten", "evil_ns", "_x", "os", "open", "(",
    "eval", "exec", "__import__", "subprocess", "x", "\n", "torch.ops.evil.run", "y.ops.z",
    "1", "pos", "reopen",
]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_SOURCE_PIECES), max_size=20))
def test_source_patterns_find_what_finditer_finds(pieces: list[str]) -> None:
    text = "".join(pieces)
    for pattern, starts in (
        (torch_zip_module._OPS, torch_zip_module._OPS_STARTS),
        (torch_zip_module._PYTHON, torch_zip_module._PYTHON_STARTS),
    ):
        expected = [(m.span(), m.groups()) for m in pattern.finditer(text)]
        assert [
            (m.span(), m.groups()) for m in torch_zip_module._finditer(pattern, starts, text)
        ] == expected


def test_storage_head_is_read_in_place(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps([1], protocol=2))
        archive.writestr("archive/data/0", b"\x01\x02" * 100)
        archive.writestr("archive/data/1", pickle.dumps({"x": 1}, protocol=2))
    data = buffer.getvalue()
    archive = zipread.read_archive(
        io.BytesIO(data), len(data), file="m.pt", member=None, limits=Limits()
    )
    assert archive.data is data
    storage = next(e for e in archive.entries if e.name == "archive/data/0")
    assert archive.head(storage, 64, lambda n: None) == b"\x01\x02" * 32
    path = tmp_path / "m.pt"
    path.write_bytes(data)
    assert "torch/pickle-in-storage" in {f.rule_id for f in scan_path(path).findings}
