"""ONNX: external data paths, custom op domains, and a wire reader that survives hostile bytes."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.onnx_scan import external_location_problem, scan_onnx
from signoff.scanner.scan import scan_path

onnx = pytest.importorskip("onnx")
helper = onnx.helper
TensorProto = onnx.TensorProto


def initializer(name: str, location: str | None = None) -> Any:
    tensor = helper.make_tensor(name, TensorProto.FLOAT, [2], [1.0, 2.0])
    if location is not None:
        tensor.ClearField("float_data")
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", "8")):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    return tensor


def model(
    nodes: list[Any] | None = None,
    initializers: list[Any] | None = None,
    functions: list[Any] | None = None,
    opsets: list[Any] | None = None,
) -> bytes:
    graph = helper.make_graph(
        nodes or [helper.make_node("Add", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        initializers if initializers is not None else [initializer("w")],
    )
    built = helper.make_model(
        graph, functions=functions or [], opset_imports=opsets or [helper.make_opsetid("", 17)]
    )
    data: bytes = built.SerializeToString()
    return data


def scan(data: bytes) -> list[ScanFinding]:
    return scan_onnx(io.BytesIO(data), len(data), file="m.onnx", member=None)


def rules(findings: list[ScanFinding]) -> set[str]:
    return {f.rule_id for f in findings}


def test_clean_model() -> None:
    assert scan(model()) == []


def test_relative_external_data_is_only_noted() -> None:
    findings = scan(model(initializers=[initializer("w", "weights/w.bin")]))
    assert rules(findings) == {"onnx/external-data"}
    assert findings[0].severity is Severity.INFO


@pytest.mark.parametrize(
    "location",
    ["../../etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini", "a/../../b", "..\\secret"],
)
def test_escaping_external_data_is_critical(location: str) -> None:
    findings = scan(model(initializers=[initializer("w", location)]))
    escaping = [f for f in findings if f.rule_id == "onnx/external-data-path"]
    assert escaping and escaping[0].severity is Severity.CRITICAL
    assert repr(location) in escaping[0].detail


def test_external_data_in_a_subgraph_is_found() -> None:
    branch = helper.make_graph(
        [helper.make_node("Identity", ["w2"], ["z"])],
        "then",
        [],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])],
        [initializer("w2", "/etc/shadow")],
    )
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    findings = scan(model(nodes=[node]))
    assert "onnx/external-data-path" in rules(findings)


def test_custom_domain_is_medium() -> None:
    node = helper.make_node("Exploit", ["x"], ["y"], domain="com.evil")
    findings = scan(
        model(
            nodes=[node], opsets=[helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)]
        )
    )
    assert rules(findings) == {"onnx/custom-op-domain"}
    assert findings[0].severity is Severity.MEDIUM
    assert "com.evil" in findings[0].detail


@pytest.mark.parametrize("domain", ["ai.onnx.ml", "com.microsoft", "ai.onnx", ""])
def test_standard_domains_are_fine(domain: str) -> None:
    assert scan(model(nodes=[helper.make_node("Relu", ["x"], ["y"], domain=domain)])) == []


def test_model_local_functions_are_not_native_code() -> None:
    function = helper.make_function(
        "local.fn",
        "MyRelu",
        ["a"],
        ["b"],
        [helper.make_node("Relu", ["a"], ["b"])],
        [helper.make_opsetid("", 17)],
    )
    node = helper.make_node("MyRelu", ["x"], ["y"], domain="local.fn")
    data = model(
        nodes=[node],
        functions=[function],
        opsets=[helper.make_opsetid("", 17), helper.make_opsetid("local.fn", 1)],
    )
    assert scan(data) == []


def test_truncated_model_is_malformed() -> None:
    data = model()
    findings = scan(data[: len(data) - 10])
    assert rules(findings) == {"onnx/malformed"}
    assert findings[0].severity is Severity.MEDIUM


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_deep_nesting_is_bounded() -> None:
    # Encoded by hand: protobuf's own serializer is not meant for this depth.
    graph = b""
    for _ in range(200):  # graph -> node -> attribute -> graph ...
        graph = _field(1, _field(5, _field(6, graph)))
    findings = scan(b"\x08\x08" + _field(7, graph))
    assert rules(findings) == {"onnx/malformed"}
    assert "nested" in findings[0].detail


def test_dispatcher_finds_onnx_by_content(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(model(initializers=[initializer("w", "../../etc/passwd")]))
    report = scan_path(path)
    assert report.formats == {"weights.bin": "onnx"}
    assert report.result == "fail"


def test_location_rules() -> None:
    assert external_location_problem("w.bin") is None
    assert external_location_problem("sub/dir/w.bin") is None
    assert external_location_problem("./w.bin") is None
    assert external_location_problem("w\x00.bin") == "contains a NUL byte"
    assert external_location_problem(None) is not None


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 400),
)
def test_fuzz_mutated_models_never_raise(edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(model(initializers=[initializer("w", "w.bin")]))
    for position, value in edits:
        data[position % len(data)] = value
    started = time.monotonic()
    scan(bytes(data[:cut]))
    assert time.monotonic() - started < 2
