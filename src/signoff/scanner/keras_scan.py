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
import io
import json
import struct
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
    if type(stream) is io.BytesIO and cannot_hold_config(stream.getvalue()):
        return out.findings  # what the h5py reading below would conclude, known without it
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
        attributes = _root_attributes(h5py, stream, ("model_config", "training_config"))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        out.add("malformed-hdf5", Severity.MEDIUM, "Malformed HDF5 file", f"h5py: {exc}")
        return out.findings
    for name, value in attributes.items():
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
        out.findings += scan_keras_config(raw, file=file, member=member, source=f"attr {name}")
    return out.findings


_CONFIG_NAMES = (b"model_config", b"training_config")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_UNDEFINED = 0xFFFFFFFFFFFFFFFF


def cannot_hold_config(data: bytes) -> bool:
    """Whether these HDF5 bytes (in memory) certainly have no root attribute ``model_config`` or
    ``training_config`` that h5py would read, and a sound start, known without opening them.

    Opening an HDF5 file costs far more than reading it here. HDF5 stores an attribute's name as
    plain bytes in an object header, in a fractal heap block, or in a heap id inside a B-tree
    node; only a fractal heap with I/O filters can store it compressed. So bytes without either
    name, and without a filtered heap, cannot hold a Keras config. The superblock (version 0 or 1,
    as h5py writes unless asked for newer formats) and the start of the root object header are
    checked as HDF5 checks them when it opens the file; anything else (newer superblocks,
    extensions, a driver block, a file not closed cleanly, a truncated file) is left to h5py.
    """
    if any(name in data for name in _CONFIG_NAMES):
        return False
    at = data.find(b"FRHP")  # fractal heap header: signature, version, heap id length, filters
    while at >= 0:
        if data[at + 7 : at + 9] != b"\x00\x00":
            return False
        at = data.find(b"FRHP", at + 1)
    base = 0  # HDF5 looks for its signature at 0, 512, 1024, 2048 ...
    while base + 8 <= len(data) and data[base : base + 8] != _HDF5_SIGNATURE:
        base = 512 if base == 0 else base * 2
    head = data[base : base + 28]
    if len(head) < 28 or head[8] > 1 or head[9:13] != b"\x00\x00\x00\x00":
        return False  # not a version 0/1 superblock
    offsets, lengths = head[13], head[14]
    leaf_k, internal_k, flags = struct.unpack_from("<HHI", head, 16)
    if offsets != 8 or lengths not in (4, 8) or not leaf_k or not internal_k or flags:
        return False
    at = base + (28 if head[8] == 1 else 24)
    fields = data[at : at + 6 * 8]  # base, free space, end of file, driver block; root entry
    if len(fields) < 48:
        return False
    stored_base, _free, end, driver, _name, root = struct.unpack("<6Q", fields)
    if stored_base != base or driver != _UNDEFINED or end > len(data):
        return False
    return _object_header_sound(data, base + root)


def _object_header_sound(data: bytes, at: int) -> bool:
    """Whether an object header starts at ``at`` whose first chunk is whole (and, for version 2,
    whose checksum is right): what HDF5 reads when it opens the file's root group."""
    if data[at : at + 2] == b"\x01\x00":  # version 1: version, reserved, count, refs, size
        size = int.from_bytes(data[at + 8 : at + 12], "little")
        return size > 0 and at + 16 + size <= len(data)
    if data[at : at + 5] != b"OHDR\x02" or len(data) < at + 6:
        return False
    flags = data[at + 5]
    if flags & 0xC0:
        return False  # reserved bits
    pos = at + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
    width = 1 << (flags & 3)
    size = int.from_bytes(data[pos : pos + width], "little")
    end = pos + width + size
    if len(data) < end + 4:
        return False
    return lookup3(data[at:end]) == int.from_bytes(data[end : end + 4], "little")


def lookup3(data: bytes) -> int:
    """Bob Jenkins' lookup3 ``hashlittle`` with seed 0: HDF5's metadata checksum.

    Written out here (as in HDF5's ``H5checksum.c``) since no standard library module has it.
    """
    mask = 0xFFFFFFFF
    a = b = c = (0xDEADBEEF + len(data)) & mask
    if not data:
        return c
    padded = data + bytes(-len(data) % 12)
    words: tuple[int, ...] = struct.unpack(f"<{len(padded) // 4}I", padded)
    for k in range(0, len(words) - 3, 3):  # every 12-byte block but the last
        a = (a + words[k]) & mask
        b = (b + words[k + 1]) & mask
        c = (c + words[k + 2]) & mask
        a = (a - c) & mask
        a ^= ((c << 4) | (c >> 28)) & mask
        c = (c + b) & mask
        b = (b - a) & mask
        b ^= ((a << 6) | (a >> 26)) & mask
        a = (a + c) & mask
        c = (c - b) & mask
        c ^= ((b << 8) | (b >> 24)) & mask
        b = (b + a) & mask
        a = (a - c) & mask
        a ^= ((c << 16) | (c >> 16)) & mask
        c = (c + b) & mask
        b = (b - a) & mask
        b ^= ((a << 19) | (a >> 13)) & mask
        a = (a + c) & mask
        c = (c - b) & mask
        c ^= ((b << 4) | (b >> 28)) & mask
        b = (b + a) & mask
    a = (a + words[-3]) & mask
    b = (b + words[-2]) & mask
    c = (c + words[-1]) & mask
    c ^= b
    c = (c - ((b << 14) | (b >> 18))) & mask
    a ^= c
    a = (a - ((c << 11) | (c >> 21))) & mask
    b ^= a
    b = (b - ((a << 25) | (a >> 7))) & mask
    c ^= b
    c = (c - ((b << 16) | (b >> 16))) & mask
    a ^= c
    a = (a - ((c << 4) | (c >> 28))) & mask
    b ^= a
    b = (b - ((a << 14) | (a >> 18))) & mask
    c ^= b
    c = (c - ((b << 24) | (b >> 8))) & mask
    return c


def _root_attributes(h5py: Any, stream: BinaryIO, names: tuple[str, ...]) -> dict[str, Any]:
    """The root group's attributes of these names that exist, read with h5py's low-level API.

    This is what ``h5py.File(stream).attrs.get(name)`` reads, without what the high-level
    ``File`` adds for writing and for keeping objects open (property lists, creation order,
    closing every open object on exit), which costs more than reading the attributes does.
    """
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_fclose_degree(h5py.h5f.CLOSE_STRONG)  # closing the file closes the root group
    fapl.set_fileobj_driver(h5py.h5fd.fileobj_driver, stream)
    # h5py names a file object by its repr too: HDF5 tells open files apart by name.
    fid = h5py.h5f.open(repr(stream).encode("ascii", "replace"), h5py.h5f.ACC_RDONLY, fapl=fapl)
    try:
        root = h5py.h5g.open(fid, b"/")
        attrs = h5py.AttributeManager(h5py.Group(root))
        return {name: attrs[name] for name in names if h5py.h5a.exists(root, name.encode())}
    finally:
        fid.close()


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
    inside_lambda = bool(out.lambda_paths) and any(
        path.startswith(seen + ".") for seen in out.lambda_paths
    )
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


_CONTAINERS = (dict, list)


def _objects(value: Any, path: str, depth: int) -> Iterator[tuple[dict[str, Any], str]]:
    """Every JSON object below ``value`` with its JSONPath-like location, depth first in
    document order (a loop over a stack: no generator per value, no path for scalars)."""
    if not isinstance(value, _CONTAINERS):
        return
    todo: list[tuple[Any, str, int]] = [(value, path, depth)]
    while todo:
        value, path, depth = todo.pop()
        if depth > _MAX_DEPTH:
            continue
        depth += 1
        if isinstance(value, dict):
            yield value, path
            children = [
                (child, f"{path}.{key}", depth)
                for key, child in value.items()
                if isinstance(child, _CONTAINERS)
            ]
        else:  # a list
            children = [
                (child, f"{path}[{index}]", depth)
                for index, child in enumerate(value)
                if isinstance(child, _CONTAINERS)
            ]
        children.reverse()
        todo.extend(children)


def _excerpt(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("config", value)
        if isinstance(value, dict):
            value = value.get("code", value)
    if isinstance(value, list) and value:
        value = value[0]
    text = str(value)
    return text[:80] + ("..." if len(text) > 80 else "")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # a key came twice: name the first one
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _strict_json(data: bytes) -> Any:
    # NaN and Infinity stay allowed: Keras writes configs with json.dumps, which emits them.
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
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
