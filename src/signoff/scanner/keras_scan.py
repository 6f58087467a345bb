"""Keras: the model config of ``.keras`` archives and legacy ``.h5`` files, read as data.

Keras rebuilds a model from its JSON config, and two parts of that config run code: ``Lambda``
layers (marshalled Python bytecode, base64 in the config) and objects whose ``module`` Keras
imports to find a class or function (CVE-2025-1550 used this to bypass ``safe_mode``). Both are
reported from the JSON alone; nothing is imported or unmarshalled.

Legacy ``.h5`` files keep the same JSON in the root attribute ``model_config``. h5py reads it: h5py
only reads HDF5 structure and attribute values (it never unpickles nor imports anything); without
h5py the file cannot be analysed here and that is a blocking finding.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from signoff.scanner.findings import ScanFinding, Severity

KERAS_ROOTS = frozenset({"keras", "keras_nlp", "keras_hub", "keras_cv", "tf_keras"})
"""Top-level packages whose objects a config may name without importing foreign code."""
DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "builtins",
        "importlib",
        "runpy",
        "pickle",
        "shutil",
        "socket",
        "code",
        "codeop",
        "pty",
        "ctypes",
        "multiprocessing",
        "webbrowser",
        "__builtin__",
        "marshal",
        "types",
        "io",
        "pathlib",
        "tempfile",
        "urllib",
        "requests",
    }
)
"""Modules whose functions run commands or touch files: naming one is critical, not just high."""
_TF_OP_DANGER = ("io.", "write_file", "read_file", "py_function", "numpy_function", "py_func")
_MAX_FINDINGS = 50
_MAX_DEPTH = 256


def scan_keras_config(
    data: bytes, *, file: str, member: str | None, source: str
) -> list[ScanFinding]:
    """Findings for a Keras model config (``config.json`` or an h5 ``model_config`` attribute).

    Strict JSON here means valid UTF-8 and no duplicate keys (which loaders resolve differently).
    """
    out = _Findings(file, member)
    try:
        config = _strict_json(data)
    except ValueError as exc:
        out.add(
            "malformed-config",
            Severity.MEDIUM,
            "Malformed Keras config",
            f"{source} is not strict JSON ({exc}); it cannot be checked for code",
        )
        return out.findings
    for node, path in _objects(config, "$", 0):
        _check_object(node, path, out)
        if len(out.findings) >= _MAX_FINDINGS:
            out.add("truncated", Severity.HIGH, "Too many Keras findings", "listing stopped")
            break
    return out.findings


def scan_keras_metadata(data: bytes, *, file: str, member: str | None) -> list[ScanFinding]:
    """Findings for ``metadata.json`` of a ``.keras`` archive: it must be strict JSON."""
    out = _Findings(file, member)
    try:
        metadata = _strict_json(data)
    except ValueError as exc:
        out.add("malformed-metadata", Severity.MEDIUM, "Malformed Keras metadata", str(exc))
        return out.findings
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    out.add(
        "archive",
        Severity.INFO,
        "Keras v3 archive",
        f"saved by Keras {version!s}; Lambda layers load only with safe_mode=False",
    )
    return out.findings


def scan_hdf5(stream: BinaryIO, *, file: str, member: str | None) -> list[ScanFinding]:
    """Findings for an HDF5 file: the Keras configs in its root attributes, if any.

    ``stream`` must be seekable (HDF5 is random access).
    """
    out = _Findings(file, member)
    h5py = _h5py()
    if h5py is None:
        out.add(
            "hdf5-unanalysed",
            Severity.HIGH,
            "Cannot analyse HDF5 here (install signoff[h5])",
            "HDF5 files can hold Keras Lambda layers; without h5py they are not checked",
        )
        return out.findings
    try:
        with h5py.File(stream, "r") as h5:
            attributes = {name: h5.attrs.get(name) for name in ("model_config", "training_config")}
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        out.add("malformed-hdf5", Severity.MEDIUM, "Malformed HDF5 file", f"h5py: {exc}")
        return out.findings
    for name, value in attributes.items():
        if value is None:
            continue
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
        out.findings += scan_keras_config(raw, file=file, member=member, source=f"attr {name}")
    return out.findings


def _h5py() -> Any:
    """The h5py module, or ``None`` when it is not installed (or does not import)."""
    try:
        return importlib.import_module("h5py")
    except ImportError:
        return None


def _check_object(node: dict[str, Any], path: str, out: _Findings) -> None:
    class_name = node.get("class_name")
    raw_config = node.get("config")
    config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    inside_lambda = any(path.startswith(seen + ".") for seen in out.lambda_paths)
    if not inside_lambda and (
        class_name in ("Lambda", "__lambda__") or config.get("function_type") == "lambda"
    ):
        out.lambda_paths.append(path)
        out.add(
            "lambda",
            Severity.CRITICAL,
            "Keras Lambda layer carries Python bytecode",
            f"{path} ({config.get('name', class_name)!s}): marshalled code runs when the model "
            "is loaded; Keras 3 refuses it only with safe_mode=True, tf.keras 2.x runs it. "
            f"Code: {_excerpt(config.get('function', config.get('code')))}",
        )
    elif class_name == "TFOpLambda":
        function = str(config.get("function", ""))
        danger = any(marker in function for marker in _TF_OP_DANGER)
        out.add(
            "tf-op-lambda",
            Severity.CRITICAL if danger else Severity.HIGH,
            "TFOpLambda calls a TensorFlow function by name",
            f"{path}: calls tf.{function}",
        )
    module = node.get("module")
    if isinstance(module, str) and not _is_keras(module):
        root = module.split(".")[0]
        out.add(
            "custom-module",
            Severity.CRITICAL if root in DANGEROUS_MODULES else Severity.HIGH,
            "Custom object imports code",
            f"{path}: module {module!r} (class {class_name!s}) is imported when the model loads",
        )
    registered = node.get("registered_name")
    if isinstance(registered, str) and registered != class_name:
        package = registered.split(">")[0] if ">" in registered else registered
        if not _is_keras(package):
            out.add(
                "custom-object",
                Severity.HIGH,
                "Custom object imports code",
                f"{path}: registered object {registered!r} must be supplied as custom code",
            )


def _is_keras(module: str) -> bool:
    return module.split(".")[0] in KERAS_ROOTS


def _objects(value: Any, path: str, depth: int) -> Iterator[tuple[dict[str, Any], str]]:
    """Every JSON object below ``value`` with its JSONPath-like location."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        yield value, path
        for key, child in value.items():
            yield from _objects(child, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _objects(child, f"{path}[{index}]", depth + 1)


def _excerpt(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("config", value)
        if isinstance(value, dict):
            value = value.get("code", value)
    if isinstance(value, list) and value:
        value = value[0]
    text = str(value)
    return text[:80] + ("..." if len(text) > 80 else "")


def _strict_json(data: bytes) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = value
        return result

    # NaN and Infinity stay allowed: Keras writes configs with json.dumps, which emits them.
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


class _Findings:
    def __init__(self, file: str, member: str | None) -> None:
        self.file = file
        self.member = member
        self.findings: list[ScanFinding] = []
        self.lambda_paths: list[str] = []  # reported once, not again for their inner objects

    def add(self, rule: str, severity: Severity, title: str, detail: str) -> None:
        self.findings.append(
            ScanFinding(f"keras/{rule}", severity, title, detail, self.file, self.member)
        )
