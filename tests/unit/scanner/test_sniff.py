"""Content sniffing: formats come from bytes, never from names."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from signoff.scanner.sniff import HEAD_BYTES, Format, hdf5_probe_offsets, sniff


def sniffed(data: bytes, hint: str = "") -> Format:
    return sniff(data[:HEAD_BYTES], len(data), hint=hint)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickles_of_every_protocol(protocol: int) -> None:
    assert sniffed(pickle.dumps({"weights": [1.0, 2.0]}, protocol=protocol)) is Format.PICKLE


def test_zip_tar_numpy() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    assert sniffed(buffer.getvalue()) is Format.ZIP
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    assert sniffed(buffer.getvalue()) is Format.TAR
    buffer = io.BytesIO()
    np.save(buffer, np.arange(3))
    assert sniffed(buffer.getvalue()) is Format.NUMPY


def test_v7_tar_without_magic_is_recognised_by_checksum() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    block = bytearray(buffer.getvalue())
    block[257:265] = b"\x00" * 8  # drop the ustar magic, fix the checksum
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block[:512])
    assert sniffed(bytes(block)) is Format.TAR


def test_safetensors_needs_brace_after_length() -> None:
    header = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    data = struct.pack("<Q", len(header)) + header + b"\x00" * 4
    assert sniffed(data) is Format.SAFETENSORS
    # An implausible length still goes to the safetensors analyser, which reports it.
    assert sniffed(struct.pack("<Q", 1 << 40) + header) is Format.SAFETENSORS
    assert sniffed(struct.pack("<Q", len(header)) + b"[" + header[1:]) is not Format.SAFETENSORS


def test_gguf_hdf5_and_compressions() -> None:
    assert sniffed(b"GGUF\x03\x00\x00\x00" + b"\x00" * 16) is Format.GGUF
    assert sniffed(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100) is Format.HDF5
    assert sniffed(b"\x00" * 512 + b"\x89HDF\r\n\x1a\n" + b"\x00" * 100) is Format.HDF5
    payload = pickle.dumps([1, 2, 3])
    assert sniffed(gzip.compress(payload)) is Format.GZIP
    assert sniffed(bz2.compress(payload)) is Format.BZ2
    assert sniffed(lzma.compress(payload)) is Format.XZ
    assert sniffed(lzma.compress(payload, format=lzma.FORMAT_ALONE)) is Format.LZMA
    for level in (1, 6, 9):
        assert sniffed(zlib.compress(payload, level)) is Format.ZLIB
    assert sniffed(b"\x04\x22\x4d\x18" + b"\x00" * 20) is Format.LZ4


def test_text_empty_unknown() -> None:
    assert sniffed(b"") is Format.EMPTY
    assert sniffed(b'{"architectures": ["LlamaForCausalLM"]}\n') is Format.TEXT
    assert sniffed("naïve café ".encode() * 400) is Format.TEXT
    assert sniffed(bytes(range(256)) * 4) is Format.UNKNOWN
    assert sniffed(b"\x00" * 4096) is Format.UNKNOWN
    # Text starting with "x" is not zlib.
    assert sniffed(b"xylophone music\n") is Format.TEXT


def _onnx_bytes() -> bytes:
    onnx = pytest.importorskip("onnx")
    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])],
    )
    data: bytes = helper.make_model(graph).SerializeToString()
    return data


def test_onnx_by_structure_not_name() -> None:
    data = _onnx_bytes()
    assert sniffed(data) is Format.ONNX
    assert sniffed(data, hint="weights.bin") is Format.ONNX


def test_onnx_extension_only_picks_the_analyser_for_plausible_bytes() -> None:
    # ir_version then a long doc_string: the graph lies beyond the head.
    prefix = b"\x08\x08" + b"\x32" + b"\xff\xff\x03" + b"d" * 0xFFFF
    assert sniffed(prefix, hint="model.onnx") is Format.ONNX
    assert sniffed(prefix, hint="model.bin") is not Format.ONNX
    # Bytes that are not a ModelProto are never ONNX, whatever the name.
    assert sniffed(b"\x08" + bytes(range(1, 200)), hint="model.onnx") is not Format.ONNX
    assert sniffed(b"hello world", hint="model.onnx") is Format.TEXT


def test_a_name_never_beats_content() -> None:
    payload = pickle.dumps({"a": 1})
    for hint in ("model.safetensors", "model.onnx", "model.gguf", "config.json"):
        assert sniffed(payload, hint=hint) is Format.PICKLE


def test_real_safetensors_and_hdf5_files(tmp_path: Path) -> None:
    numpy_api = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "m.safetensors"
    numpy_api.save_file({"w": np.zeros((2, 2), np.float32)}, str(path))
    assert sniffed(path.read_bytes()) is Format.SAFETENSORS
    h5py = pytest.importorskip("h5py")
    h5 = tmp_path / "m.h5"
    with h5py.File(h5, "w") as handle:
        handle.attrs["x"] = 1
    assert sniffed(h5.read_bytes()) is Format.HDF5


def test_hdf5_probe_offsets_are_powers_of_two_beyond_the_head() -> None:
    assert list(hdf5_probe_offsets(40_000)) == [4096, 8192, 16384, 32768]
    assert list(hdf5_probe_offsets(100)) == []
