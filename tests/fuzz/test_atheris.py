"""A bounded atheris (libFuzzer) run over the scanner, as part of the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_scanner_survives_coverage_guided_fuzzing(tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    canary = tmp_path / "canary"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / "scan_fuzz.py"),
            "-runs=4000",
            "-max_len=8192",
            "-timeout=20",
            "-seed=1",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "SIGNOFF_FUZZ_CANARY": str(canary),
            "SIGNOFF_FUZZ_CORPUS": str(tmp_path / "corpus"),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done 4000 runs" in result.stderr
    assert not canary.exists()
