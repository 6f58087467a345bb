"""Keras: Lambda layers and custom modules in .keras archives and legacy .h5 files."""

from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from signoff.scanner import keras_scan
from signoff.scanner.findings import BLOCKING, ScanFinding, Severity
from signoff.scanner.keras_scan import scan_keras_config
from signoff.scanner.scan import scan_path

LAMBDA_CODE = "4wEAAAAAAAAAAAAAAAEAAAADAAAAQwAAAHMOAAAAdABkAYMBAQB8AFMAKQJO"


def layer(class_name: str, config: dict[str, Any], module: str = "keras.layers") -> dict[str, Any]:
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def dense(name: str = "dense") -> dict[str, Any]:
    return layer(
        "Dense",
        {
            "name": name,
            "units": 2,
            "activation": "relu",
            "dtype": {
                "module": "keras",
                "class_name": "DTypePolicy",
                "config": {"name": "float32"},
                "registered_name": None,
            },
            "kernel_initializer": {
                "module": "keras.initializers",
                "class_name": "GlorotUniform",
                "config": {"seed": None},
                "registered_name": None,
            },
        },
    )


def sequential(*layers: dict[str, Any]) -> dict[str, Any]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [layer("InputLayer", {"batch_shape": [None, 4], "name": "input"}), *layers],
        },
        "registered_name": None,
        "compile_config": {
            "optimizer": {
                "module": "keras.optimizers",
                "class_name": "Adam",
                "config": {"learning_rate": 0.001, "clipnorm": None},
                "registered_name": None,
            },
            "loss": "mse",
        },
    }


def keras_v3_lambda() -> dict[str, Any]:
    return layer(
        "Lambda",
        {
            "name": "lambda",
            "function": {
                "class_name": "__lambda__",
                "config": {"code": LAMBDA_CODE, "defaults": None, "closure": None},
            },
        },
    )


def write_keras(
    path: Path, config: dict[str, Any] | bytes, extra: dict[str, bytes] | None = None
) -> Path:
    raw = config if isinstance(config, bytes) else json.dumps(config).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "x"}))
        archive.writestr("config.json", raw)
        archive.writestr("model.weights.h5", _weights_h5())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def _weights_h5() -> bytes:
    h5py = pytest.importorskip("h5py")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_group("layers").create_dataset("vars/0", data=[[1.0, 2.0]])
    return buffer.getvalue()


def analyse(config: Any) -> list[ScanFinding]:
    return scan_keras_config(
        json.dumps(config).encode(), file="m.keras", member="config.json", source="config.json"
    )


def rules(findings: list[ScanFinding]) -> set[str]:
    return {f.rule_id for f in findings}


def test_clean_sequential_does_not_alarm() -> None:
    assert analyse(sequential(dense("a"), dense("b"))) == []


def test_lambda_layer_is_critical_once() -> None:
    findings = analyse(sequential(dense(), keras_v3_lambda()))
    assert [f.rule_id for f in findings] == ["keras/lambda"]
    assert findings[0].severity is Severity.CRITICAL
    assert LAMBDA_CODE[:20] in findings[0].detail
    assert "safe_mode" in findings[0].detail


def test_keras2_lambda_format() -> None:
    legacy = {
        "class_name": "Lambda",
        "config": {
            "name": "l",
            "function": [LAMBDA_CODE, None, None],
            "function_type": "lambda",
            "module": "__main__",
        },
    }
    findings = analyse({"class_name": "Sequential", "config": {"layers": [legacy]}})
    assert "keras/lambda" in rules(findings)


def test_custom_module_is_high_and_os_is_critical() -> None:
    custom = layer("MyLayer", {"name": "x"}, module="evil_pkg.layers")
    findings = analyse(sequential(custom))
    assert rules(findings) == {"keras/custom-module"}
    assert findings[0].severity is Severity.HIGH
    system = {
        "module": "os",
        "class_name": "function",
        "config": "system",
        "registered_name": "system",
    }
    findings = analyse(sequential(layer("Activation", {"activation": system})))
    assert any(f.severity is Severity.CRITICAL and "'os'" in f.detail for f in findings)


def test_registered_custom_objects_are_high() -> None:
    custom: dict[str, Any] = {
        "module": None,
        "class_name": "MyLayer",
        "config": {},
        "registered_name": "Custom>MyLayer",
    }
    assert rules(analyse(sequential(custom))) == {"keras/custom-object"}
    hub = {
        "module": "keras_hub.src.models",
        "class_name": "GemmaBackbone",
        "config": {},
        "registered_name": "keras_hub>GemmaBackbone",
    }
    assert analyse(sequential(hub)) == []


def test_tf_op_lambda() -> None:
    op = {"class_name": "TFOpLambda", "config": {"name": "t", "function": "math.add"}}
    assert [f.severity for f in analyse(sequential(op))] == [Severity.HIGH]
    io_op = {"class_name": "TFOpLambda", "config": {"name": "t", "function": "io.write_file"}}
    assert [f.severity for f in analyse(sequential(io_op))] == [Severity.CRITICAL]


@pytest.mark.parametrize("raw", [b"{", b'{"a": 1, "a": 2}', b"\xff\xfe", b"[" * 100_000])
def test_malformed_config_fails_closed(raw: bytes) -> None:
    findings = scan_keras_config(raw, file="m", member=None, source="config.json")
    assert rules(findings) == {"keras/malformed-config"}
    assert findings[0].severity in BLOCKING


def test_keras_archive_end_to_end(tmp_path: Path) -> None:
    clean = scan_path(write_keras(tmp_path / "clean.keras", sequential(dense())))
    assert clean.result == "pass", clean.findings
    assert clean.formats == {"clean.keras": "keras"}
    bad = scan_path(write_keras(tmp_path / "bad.keras", sequential(keras_v3_lambda())))
    assert bad.result == "fail"
    lambdas = [f for f in bad.findings if f.rule_id == "keras/lambda"]
    assert lambdas and lambdas[0].member == "config.json"


def test_keras_archive_named_otherwise_is_still_keras(tmp_path: Path) -> None:
    report = scan_path(write_keras(tmp_path / "model.bin", sequential(keras_v3_lambda())))
    assert report.formats == {"model.bin": "keras"}
    assert report.result == "fail"


def test_malformed_config_in_archive(tmp_path: Path) -> None:
    report = scan_path(write_keras(tmp_path / "m.keras", b'{"class_name": '))
    assert "keras/malformed-config" in rules(report.findings)
    assert report.result == "fail"


def _h5(path: Path, config: dict[str, Any] | None, userblock: int = 0) -> Path:
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=userblock) as handle:
        if config is not None:
            handle.attrs["model_config"] = json.dumps(config).encode()
            handle.attrs["keras_version"] = b"2.15.0"
        handle.create_group("model_weights").create_dataset("w", data=[1.0, 2.0])
    return path


def test_legacy_h5_lambda(tmp_path: Path) -> None:
    bad = scan_path(_h5(tmp_path / "m.h5", sequential(keras_v3_lambda())))
    assert bad.formats == {"m.h5": "hdf5"}
    assert "keras/lambda" in rules(bad.findings)
    clean = scan_path(_h5(tmp_path / "c.h5", sequential(dense())))
    assert clean.result == "pass", clean.findings
    weights_only = scan_path(_h5(tmp_path / "w.h5", None))
    assert weights_only.result == "pass"


def test_h5_behind_a_large_user_block(tmp_path: Path) -> None:
    report = scan_path(_h5(tmp_path / "m.dat", sequential(keras_v3_lambda()), userblock=16384))
    assert report.formats == {"m.dat": "hdf5"}
    assert "keras/lambda" in rules(report.findings)


def test_h5_behind_a_text_or_pickle_user_block(tmp_path: Path) -> None:
    path = _h5(tmp_path / "README.md", sequential(keras_v3_lambda()), userblock=8192)
    with path.open("r+b") as handle:
        handle.write(b"# Model card\n\nNothing to see here.\n" * 100)
    report = scan_path(path)
    assert report.formats == {"README.md": "hdf5"}
    assert "keras/lambda" in rules(report.findings)
    with path.open("r+b") as handle:
        handle.write(b"\x80\x04K\x01.")  # a tiny pickle, then the HDF5 file
    report = scan_path(path)
    assert report.formats == {"README.md": "pickle"}
    assert {"scanner/polyglot-hdf5", "keras/lambda"} <= rules(report.findings)


def test_h5_inside_a_zip_is_spooled_and_checked(tmp_path: Path) -> None:
    h5 = _h5(tmp_path / "inner.h5", sequential(keras_v3_lambda()))
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(h5, "models/inner.h5")
    report = scan_path(tmp_path / "bundle.zip")
    lambdas = [f for f in report.findings if f.rule_id == "keras/lambda"]
    assert lambdas and lambdas[0].member == "models/inner.h5"


def test_without_h5py_hdf5_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes "import h5py" raise ImportError
    path = tmp_path / "m.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    report = scan_path(path)
    assert rules(report.findings) == {"keras/hdf5-unanalysed"}
    assert "signoff[h5]" in report.findings[0].title
    assert report.result == "fail"


def test_corrupt_hdf5_is_a_finding(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    path = tmp_path / "m.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\xff" * 2000)
    report = scan_path(path)
    assert rules(report.findings) == {"keras/malformed-hdf5"}
    assert report.result == "fail"


def _h5_bytes(config: dict[str, Any] | None, **options: Any) -> bytes:
    h5py = pytest.importorskip("h5py")
    buffer = io.BytesIO()
    userblock = options.pop("userblock_size", None)
    with h5py.File(buffer, "w", userblock_size=userblock, **options) as handle:
        if config is not None:
            handle.attrs["model_config"] = json.dumps(config)
        handle.attrs["note"] = "weights"
        handle.create_group("layers").create_dataset("vars/0", data=[[1.0, 2.0]])
    return buffer.getvalue()


@pytest.mark.parametrize(
    "options",
    [{}, {"track_order": True}, {"userblock_size": 1024}],
    ids=["v1-headers", "v2-headers", "user-block"],
)
def test_hdf5_without_a_config_is_known_without_h5py(options: dict[str, Any]) -> None:
    data = _h5_bytes(None, **options)
    assert keras_scan.cannot_hold_config(data)
    assert not keras_scan.cannot_hold_config(_h5_bytes(sequential(dense()), **options))


def test_hdf5_shortcut_leaves_the_doubtful_to_h5py() -> None:
    data = _h5_bytes(None)
    assert not keras_scan.cannot_hold_config(data + b"training_config")  # a name, anywhere
    filtered_heap = b"FRHP\x00\x08\x00\x10\x00"  # a fractal heap with I/O filters
    assert not keras_scan.cannot_hold_config(data + filtered_heap)
    assert keras_scan.cannot_hold_config(data + b"FRHP\x00\x08\x00\x00\x00")
    assert not keras_scan.cannot_hold_config(_h5_bytes(None, libver="latest"))  # superblock 3
    broken = bytearray(data)
    broken[8] = 0xFF  # superblock version
    assert not keras_scan.cannot_hold_config(bytes(broken))
    assert not keras_scan.cannot_hold_config(data[: len(data) // 2])  # truncated
    assert not keras_scan.cannot_hold_config(b"\x89HDF\r\n\x1a\n" + b"\xff" * 2000)


def test_hdf5_v2_object_header_checksum_is_checked() -> None:
    data = bytearray(_h5_bytes(None, track_order=True))
    assert keras_scan.cannot_hold_config(bytes(data))
    root = struct.unpack_from("<Q", data, 64)[0]
    assert data[root : root + 4] == b"OHDR"
    data[root + 20] ^= 0x01  # a byte inside the first chunk: its checksum no longer matches
    assert not keras_scan.cannot_hold_config(bytes(data))


def test_lookup3_is_hdf5s_checksum() -> None:
    assert keras_scan.lookup3(b"") == 0xDEADBEEF
    assert keras_scan.lookup3(b"Four score and seven years ago") == 0x17770551
    data = _h5_bytes(None, libver="latest")  # superblock 3: a checksum after 44 bytes
    assert keras_scan.lookup3(data[:44]) == struct.unpack_from("<I", data, 44)[0]


def test_hdf5_findings_do_not_depend_on_the_shortcut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [
        write_keras(tmp_path / "m.keras", sequential(keras_v3_lambda())),
        _h5(tmp_path / "w.h5", None),
        _h5(tmp_path / "c.h5", sequential(dense())),
    ]
    fast = [sorted((f.rule_id, f.member or "") for f in scan_path(p).findings) for p in paths]
    monkeypatch.setattr(keras_scan, "cannot_hold_config", lambda data: False)
    slow = [sorted((f.rule_id, f.member or "") for f in scan_path(p).findings) for p in paths]
    assert fast == slow


def test_config_objects_are_listed_in_document_order() -> None:
    def recursive(value: Any, path: str, depth: int) -> Any:
        if depth > keras_scan._MAX_DEPTH:
            return
        if isinstance(value, dict):
            yield value, path
            for key, child in value.items():
                yield from recursive(child, f"{path}.{key}", depth + 1)
        elif isinstance(value, list):
            for index, child in enumerate(value):
                yield from recursive(child, f"{path}[{index}]", depth + 1)

    deep: dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["a"] = {"b": [1, {"c": 2}, [3, {"d": None}]]}
        node = node["a"]
    for config in (sequential(dense(), keras_v3_lambda()), deep, [[{"x": {}}], "s"], 5):
        expected = [(id(value), path) for value, path in recursive(config, "$", 0)]
        assert [(id(v), p) for v, p in keras_scan._objects(config, "$", 0)] == expected
