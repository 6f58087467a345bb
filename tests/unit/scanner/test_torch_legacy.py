"""PyTorch legacy checkpoints: all five pickles are scanned and the storage area is checked.

Files are assembled by hand (torch is not needed): magic, protocol, sys_info, model and
storage-key pickles, then per storage an int64 element count and the raw bytes.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from pathlib import Path

import pytest
from test_pickle_payloads import (
    ALLOWLIST,
    LIMITS,
    Reduce,
    binunicode,
    blocking,
    canary_payloads,
    global_op,
)

from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.pickle_scan import RULE_PERSISTENT, scan_pickles
from signoff.scanner.torch_legacy import (
    MAGIC_NUMBER,
    PROTOCOL_VERSION,
    RULE_LAYOUT,
    RULE_TRAILING,
    is_torch_legacy,
    scan_torch_legacy,
)
from signoff.scanner.torch_legacy import (
    RULE_PERSISTENT as TORCH_PERSISTENT,
)

SYS_INFO = {
    "protocol_version": 1001,
    "little_endian": True,
    "type_sizes": {"short": 2, "int": 4, "long": 4},
}


def storage_pid(key: str, storage: str = "FloatStorage", numel: int = 6) -> bytes:
    """BINPERSID of ('storage', torch.<storage>, key, 'cpu', numel, None)."""
    return (
        b"("
        + binunicode("storage")
        + global_op("torch", storage)
        + binunicode(key)
        + binunicode("cpu")
        + b"K"
        + bytes([numel])
        + b"NtQ"
    )


def tensor(key: str, storage: str = "FloatStorage", numel: int = 6) -> bytes:
    return (
        global_op("torch._utils", "_rebuild_tensor_v2")
        + b"("
        + storage_pid(key, storage, numel)
        + b"K\x00K\x02K\x03\x86K\x03K\x01\x86\x89"
        + global_op("collections", "OrderedDict")
        + b")RtR"
    )


def state_dict(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return b"\x80\x02" + global_op("collections", "OrderedDict") + b")R" + body + b"."


def legacy(
    model: bytes | None = None,
    keys: list[str] | None = None,
    storages: list[tuple[int, int]] | None = None,
    pickles: dict[int, bytes] | None = None,
) -> bytes:
    model = model or state_dict(
        binunicode("weight") + tensor("0") + b"s",
        binunicode("bias") + tensor("1", "DoubleStorage", 3) + b"s",
    )
    keys = ["0", "1"] if keys is None else keys
    storages = [(6, 4), (3, 8)] if storages is None else storages
    parts = [
        pickle.dumps(MAGIC_NUMBER, protocol=2),
        pickle.dumps(PROTOCOL_VERSION, protocol=2),
        pickle.dumps(SYS_INFO, protocol=2),
        model,
        pickle.dumps(keys, protocol=2),
    ]
    for index, replacement in (pickles or {}).items():
        parts[index] = replacement
    data = b"".join(parts)
    for numel, size in storages:
        data += (
            struct.pack("<q", numel)
            + bytes(range(256)) * (numel * size // 256)
            + bytes(numel * size % 256)
        )
    return data


def scan(data: bytes) -> list[ScanFinding]:
    return scan_torch_legacy(io.BytesIO(data), file="model.pt", allowlist=ALLOWLIST, limits=LIMITS)


def dangerous(findings: list[ScanFinding]) -> list[ScanFinding]:
    return [f for f in findings if f.rule_id == "pickle/dangerous-global"]


def test_benign_checkpoint_scans_clean() -> None:
    data = legacy()
    assert is_torch_legacy(data[:32])
    assert scan(data) == []


def test_plain_pickle_scan_of_a_legacy_file_sees_all_five_pickles() -> None:
    # What the dispatcher does with a file sniffed as a pickle: it stops at the storage bytes.
    scans = scan_pickles(io.BytesIO(legacy()), file="model.pt", allowlist=ALLOWLIST, limits=LIMITS)
    assert len(scans) == 5 and all(s.complete for s in scans)
    assert {f.rule_id for s in scans for f in s.findings} == {RULE_PERSISTENT}


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_payload_in_any_of_the_pickles(index: int) -> None:
    payload = pickle.dumps(Reduce(os.system, "true"), protocol=2)
    if index == 3:
        payload = state_dict(
            binunicode("weight") + tensor("0") + b"s", binunicode("x") + payload[2:-1] + b"s"
        )
        data = legacy(model=payload, keys=["0"], storages=[(6, 4)])
    else:
        data = legacy(pickles={index: payload})
    findings = scan(data)
    hit = dangerous(findings)
    assert hit and hit[0].severity is Severity.CRITICAL
    if index != 3:
        assert RULE_LAYOUT in {f.rule_id for f in findings}


def test_wrong_magic_number() -> None:
    findings = scan(legacy(pickles={0: pickle.dumps(12345, protocol=2)}))
    assert [f.title for f in findings if f.rule_id == RULE_LAYOUT] == [
        "Unexpected magic number pickle"
    ]


def test_storage_sizes_must_match_the_model() -> None:
    findings = scan(legacy(storages=[(6, 4), (4, 8)]))
    assert [f.title for f in findings] == ["Storage size mismatch"]
    assert blocking(findings)
    findings = scan(legacy(keys=["0", "1", "2"]))
    assert [f.rule_id for f in findings] == [RULE_LAYOUT]
    assert scan(legacy()[:-5])[0].title == "Storage size mismatch"


def test_pickle_after_the_storages() -> None:
    findings = scan(legacy() + pickle.dumps(Reduce(os.system, "true"), protocol=2))
    assert RULE_TRAILING in {f.rule_id for f in findings}
    assert dangerous(findings)


def test_unexpected_persistent_ids() -> None:
    odd = b"(" + binunicode("shell") + binunicode("rm -rf") + b"tQ"
    model = state_dict(binunicode("weight") + tensor("0") + b"s", binunicode("odd") + odd + b"s")
    findings = scan(legacy(model=model, keys=["0"], storages=[(6, 4)]))
    assert [(f.rule_id, f.severity) for f in findings] == [(TORCH_PERSISTENT, Severity.MEDIUM)]


def test_module_persistent_ids_are_accepted() -> None:
    module = (
        b"("
        + binunicode("module")
        + global_op("torch.nn.modules.linear", "Linear")
        + binunicode("linear.py")
        + binunicode("class Linear: ...")
        + b"tQ"
    )
    model = state_dict(binunicode("weight") + tensor("0") + b"s", binunicode("cls") + module + b"s")
    assert scan(legacy(model=model, keys=["0"], storages=[(6, 4)])) == []


def test_is_torch_legacy() -> None:
    assert is_torch_legacy(pickle.dumps(MAGIC_NUMBER, protocol=2))
    assert is_torch_legacy(pickle.dumps(MAGIC_NUMBER, protocol=4))
    assert is_torch_legacy(pickle.dumps(MAGIC_NUMBER, protocol=0))
    assert not is_torch_legacy(pickle.dumps(1234, protocol=2))
    assert not is_torch_legacy(b"PK\x03\x04")


def test_canary_in_any_pickle_never_runs(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    for payload in canary_payloads(canary).values():
        for index in (1, 2, 4):
            assert blocking(scan(legacy(pickles={index: payload})))
    assert not canary.exists()
