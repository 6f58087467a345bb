"""TorchScript archives (torch.jit.save): clean exports pass, dangerous code and pickles do not.

Real archives are written with torch when it is installed; the same checks run on hand-built
archives everywhere else.
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from signoff.scanner.allowlist import Allowlist, torchscript_global
from signoff.scanner.findings import BLOCKING, ScanFinding, ScanReport, Severity
from signoff.scanner.scan import scan_path


class Payload:
    """Pickles as a call of os.system (never unpickled here)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


EVIL = pickle.dumps(Payload(), protocol=2)


def blocking(report: ScanReport) -> list[ScanFinding]:
    return [f for f in report.findings if f.severity in BLOCKING]


def rules(report: ScanReport) -> set[str]:
    return {f.rule_id for f in report.findings}


def scan_bytes(tmp_path: Path, data: bytes, name: str = "model.pt") -> ScanReport:
    (tmp_path / name).write_bytes(data)
    return scan_path(tmp_path / name)


def rewrite(data: bytes, change: dict[str, bytes]) -> bytes:
    """The archive with some members replaced (by base name suffix) or added, stored."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        root = source.namelist()[0].split("/")[0]
        done = set()
        for info in source.infolist():
            suffix = info.filename.split("/", 1)[1]
            body = change.get(suffix, source.read(info))
            done.add(suffix)
            target.writestr(info.filename, body)
        for suffix, body in change.items():
            if suffix not in done:
                target.writestr(f"{root}/{suffix}", body)
    return out.getvalue()


def _torch() -> Any:
    torch = pytest.importorskip("torch")
    return torch


def _jit_save(torch: Any, scripted: Any) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.save is deprecated in torch 2.x
        torch.jit.save(scripted, buffer)
    return buffer.getvalue()


def _script(torch: Any, obj: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in torch 2.x
        return torch.jit.script(obj)


@pytest.fixture(scope="module")
def jit_sequential() -> bytes:
    torch = _torch()
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Linear(8, 4))
    return _jit_save(torch, _script(torch, model.eval()))


def test_real_scripted_sequential_passes(tmp_path: Path, jit_sequential: bytes) -> None:
    report = scan_bytes(tmp_path, jit_sequential)
    assert report.result == "pass", report.findings
    assert report.formats == {"model.pt": "pytorch-zip"}
    code = [f for f in report.findings if f.rule_id == "torch/torchscript-code"]
    assert len(code) == 1 and code[0].severity is Severity.INFO
    assert "torch.jit.load" in code[0].title and "code/" in code[0].detail
    descriptors = [f for f in report.findings if f.rule_id == "zip/data-descriptor"]
    assert [f.severity for f in descriptors] == [Severity.INFO]  # torch's writer always uses them


def test_real_scripted_function_passes(tmp_path: Path) -> None:
    torch = _torch()

    def scale(x: torch.Tensor, n: int) -> torch.Tensor:  # type: ignore[name-defined]
        return torch.relu(x * n + torch.ones(1))

    scripted = _script(torch, scale)
    report = scan_bytes(tmp_path, _jit_save(torch, scripted))
    assert report.result == "pass", report.findings


def test_real_traced_module_passes(tmp_path: Path) -> None:
    torch = _torch()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model.eval(), torch.randn(1, 4))
    assert scan_bytes(tmp_path, _jit_save(torch, traced)).result == "pass"


def _first_source(data: bytes) -> str:
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    return next(n for n in names if n.endswith(".py")).split("/", 1)[1]


def _append_to_source(data: bytes, text: str) -> bytes:
    suffix = _first_source(data)
    body = zipfile.ZipFile(io.BytesIO(data)).read(data_name(data, suffix))
    return rewrite(data, {suffix: body + text.encode()})


def data_name(data: bytes, suffix: str) -> str:
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    return next(n for n in names if n.endswith("/" + suffix))


@pytest.mark.parametrize(
    "code",
    [
        "def f(x: Tensor) -> Tensor:\n  return ops.evil_ns.run(x)\n",
        "def f(x: Tensor) -> Tensor:\n  return torch.ops.my_lib.spawn(x)\n",
        "def f(x: Tensor) -> Tensor:\n  y = torch.classes.my_lib.Runner()\n  return x\n",
    ],
)
def test_custom_operator_namespace_is_high(
    tmp_path: Path, jit_sequential: bytes, code: str
) -> None:
    report = scan_bytes(tmp_path, _append_to_source(jit_sequential, code))
    found = [f for f in report.findings if f.rule_id == "torch/torchscript-custom-ops"]
    assert len(found) == 1 and found[0].severity is Severity.HIGH
    assert found[0].member is not None and found[0].member.endswith(".py")
    assert report.result == "fail"


@pytest.mark.parametrize(
    "code",
    [
        "def f(x: Tensor) -> Tensor:\n  m = __import__('os')\n  return x\n",
        "def f(x: Tensor) -> Tensor:\n  os.system('id')\n  return x\n",
        "def f(x: Tensor) -> Tensor:\n  subprocess.run(['id'])\n  return x\n",
        "def f(x: Tensor) -> Tensor:\n  h = open('/etc/passwd')\n  return x\n",
        "def f(x: Tensor) -> Tensor:\n  eval('1')\n  return x\n",
        "def f(x: Tensor) -> Tensor:\n  exec('pass')\n  return x\n",
    ],
)
def test_python_reach_in_source_is_critical(
    tmp_path: Path, jit_sequential: bytes, code: str
) -> None:
    report = scan_bytes(tmp_path, _append_to_source(jit_sequential, code))
    found = [f for f in report.findings if f.rule_id == "torch/torchscript-python"]
    assert len(found) == 1 and found[0].severity is Severity.CRITICAL
    note = next(f for f in report.findings if f.rule_id == "torch/torchscript-code")
    assert note.severity is Severity.INFO and "findings on its sources" in note.detail


def test_dangerous_pickle_in_torchscript_archive_still_fails(
    tmp_path: Path, jit_sequential: bytes
) -> None:
    report = scan_bytes(tmp_path, rewrite(jit_sequential, {"data.pkl": EVIL}))
    assert any(
        f.rule_id == "pickle/dangerous-global" and f.construct in ("posix.system", "os.system")
        for f in blocking(report)
    )


def test_core_ops_and_builtins_strings_are_not_flagged(tmp_path: Path) -> None:
    # What real exports contain: ops.prim/aten/quantized, exception names, `training` flags.
    source = (
        b"def forward(self, x: Tensor) -> Tensor:\n"
        b"  if torch.ne(torch.dim(x), 4):\n"
        b'    ops.prim.RaiseException("expected 4D input", "builtins.ValueError")\n'
        b"  y = ops.aten.relu(x)\n"
        b"  z = torch.ops.quantized.add(y, y, 1.0, 0)\n"
        b"  position = self.pos_embedding\n"
        b"  return ops._caffe2.Dummy(z)\n"
    )
    members = {
        "m/data.pkl": pickle.dumps({"a": 1}, protocol=2),
        "m/code/__torch__/model.py": source,
        "m/constants.pkl": pickle.dumps((), protocol=2),
        "m/version": b"6\n",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    report = scan_bytes(tmp_path, buffer.getvalue())
    assert report.result == "pass", report.findings


def test_torchscript_globals_allowed_only_in_torchscript_archives(tmp_path: Path) -> None:
    # GLOBAL opcodes naming TorchScript's builder and a TorchScript class, in a plain pickle.
    data = (
        b"\x80\x02ctorch.jit._pickle\nbuild_intlist\n]\x85R"
        b"c__torch__.torch.nn.modules.linear\nLinear\n)\x81\x86."
    )
    plain = scan_bytes(tmp_path, data, "plain.pkl")
    assert {f.construct for f in blocking(plain)} >= {
        "torch.jit._pickle.build_intlist",
        "__torch__.torch.nn.modules.linear.Linear",
    }
    checkpoint = {"archive/data.pkl": data, "archive/version": b"3\n"}
    scripted = {**checkpoint, "archive/constants.pkl": pickle.dumps((), protocol=2)}
    for members, fails in ((checkpoint, True), (scripted, False)):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, body in members.items():
                archive.writestr(name, body)
        report = scan_bytes(tmp_path, buffer.getvalue())
        assert (report.result == "fail") is fails, report.findings


def test_nested_pickles_do_not_inherit_the_exemption(tmp_path: Path) -> None:
    inner = b"\x80\x02ctorch.jit._pickle\nbuild_intlist\n]\x85R."
    nested = io.BytesIO()
    with zipfile.ZipFile(nested, "w") as archive:
        archive.writestr("inner.pkl", inner)
    members = {
        "m/data.pkl": pickle.dumps({"a": 1}, protocol=2),
        "m/constants.pkl": pickle.dumps((), protocol=2),
        "m/extra/bundle.zip": nested.getvalue(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    report = scan_bytes(tmp_path, buffer.getvalue())
    assert any(f.member == "m/extra/bundle.zip!inner.pkl" for f in blocking(report))


def test_torchscript_global_rules() -> None:
    assert torchscript_global("torch.jit._pickle", "restore_type_tag")
    assert torchscript_global("__torch__.torch.nn.modules.conv", "Conv2d")
    assert torchscript_global("__torch__.torch.classes.quantized", "Conv2dPackedParamsBase")
    assert not torchscript_global("__torch__.torch.classes.my_lib", "Runner")
    assert not torchscript_global("__torch__.x", "__reduce__")
    assert not torchscript_global("torch.jit._pickle", "os")
    assert not torchscript_global("torch.jit", "load")
    assert not torchscript_global("__torchx__", "A")
    plain = Allowlist.default()
    assert not plain.allows("torch.jit._pickle", "build_intlist")
    assert plain.for_torchscript().allows("torch.jit._pickle", "build_intlist")
    assert not plain.for_torchscript().allows("os", "system")
