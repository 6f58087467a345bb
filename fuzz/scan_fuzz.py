"""Coverage-guided fuzzing of the artifact scanner with atheris (libFuzzer).

Run: ``.venv/bin/python fuzz/scan_fuzz.py -runs=100000 -max_len=65536`` (it fuzzes the
pure-Python scanner; see below). Every input goes through
the full dispatcher (sniffing, containers, every format analyser). The harness fails on any
exception escaping the scanner, on a scan over its time budget, and if the canary file appears
(which would mean something in an input was executed).
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import time
import zipfile
from pathlib import Path

import atheris

# atheris guides itself by the coverage of Python bytecode, which a mypyc-compiled module has
# none of: fuzz the scanner's source (SIGNOFF_PURE_PYTHON=0 fuzzes the compiled build, unguided).
# tests/unit/scanner/test_compiled_build.py checks that both builds report the same.
os.environ.setdefault("SIGNOFF_PURE_PYTHON", "1")

with atheris.instrument_imports():
    from signoff.scanner.allowlist import Allowlist
    from signoff.scanner.findings import ScanReport
    from signoff.scanner.limits import Limits
    from signoff.scanner.scan import ScanContext, scan_stream

CANARY = Path(os.environ.get("SIGNOFF_FUZZ_CANARY", "/tmp/signoff-fuzz-canary"))
LIMITS = Limits(max_seconds_per_file=5.0, max_expanded_bytes=64 << 20, max_opcodes=200_000)
ALLOWLIST = Allowlist.default()
MAX_SECONDS = 10.0


class _Canary:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {CANARY}",))


def seeds() -> list[bytes]:
    """Small valid inputs of each kind, for libFuzzer to mutate."""
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": [1.0]}, protocol=2))
        archive.writestr("archive/data/0", b"\x00" * 16)
    header = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    return [pickle.dumps({"a": [1, 2, (3, "x")]}, protocol=p) for p in range(6)] + [
        pickle.dumps(_Canary(), protocol=4),
        zipped.getvalue(),
        len(header).to_bytes(8, "little") + header + b"\x00" * 8,
        b"GGUF" + (3).to_bytes(4, "little") + bytes(16),
        b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
        + b" " * 60
        + b"\n"
        + pickle.dumps([1], protocol=2),
    ]


def test_one_input(data: bytes) -> None:
    """Scan ``data`` as a file; anything but a clean return is a bug."""
    report = ScanReport(root="fuzz")
    ctx = ScanContext(ALLOWLIST, LIMITS, report)
    ctx.deadline = time.monotonic() + LIMITS.max_seconds_per_file
    started = time.monotonic()
    scan_stream(io.BytesIO(data), len(data), file="fuzz", member=None, depth=0, ctx=ctx)
    if time.monotonic() - started > MAX_SECONDS:
        raise RuntimeError(f"scan took {time.monotonic() - started:.1f}s on {len(data)} bytes")
    if CANARY.exists():
        raise RuntimeError("the canary file appeared: something in the input was executed")


def main() -> None:
    """libFuzzer entry point; writes the seed corpus on first use."""
    corpus = Path(os.environ.get("SIGNOFF_FUZZ_CORPUS", "bench/.data/fuzz-corpus"))
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds()):
        (corpus / f"seed-{index}").write_bytes(seed)
    atheris.Setup([*sys.argv, str(corpus)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
