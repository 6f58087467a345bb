"""The scanner through the CLI: `scan-file` (standalone) and `scan REF` (attached as evidence)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from signoff.cli.app import run


class Payload:
    """Would run a harmless command if unpickled; the scanner must never unpickle it."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.canary}",))


@pytest.fixture
def clean_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "clean"
    directory.mkdir()
    (directory / "weights.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0], "bias": 0.5}))
    (directory / "config.json").write_text('{"layers": 2}')
    return directory


@pytest.fixture
def evil_file(tmp_path: Path) -> tuple[Path, Path]:
    canary = tmp_path / "canary"
    path = tmp_path / "model.safetensors"  # the extension lies: content decides
    path.write_bytes(pickle.dumps({"weights": [1, 2], "hook": Payload(canary)}, protocol=4))
    return path, canary


def test_scan_file_clean_and_evil(
    clean_dir: Path, evil_file: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["scan-file", str(clean_dir)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("PASS")
    path, canary = evil_file
    assert run(["scan-file", str(path)]) == 1
    out = capsys.readouterr().out
    assert "CRITICAL" in out and "system" in out
    assert run(["scan-file", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["result"] == "fail"
    assert report["formats"][path.name] == "pickle"
    assert any(f["severity"] == "critical" for f in report["findings"])
    assert run(["scan-file", str(path), "--sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"][0]["level"] == "error"
    assert not canary.exists()  # nothing was executed


def test_scan_file_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["scan-file", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1


def test_scan_registered_version(
    tmp_path: Path,
    clean_dir: Path,
    evil_file: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = ["--db", str(tmp_path / "reg" / "registry.db"), "--as", "alice"]
    assert run(["init", *db]) == 0
    assert run(["key", "create", "alice", *db]) == 0
    assert run(["model", "create", "m", "--risk", "minimal", *db]) == 0
    assert run(["version", "register", "m", str(clean_dir), *db]) == 0
    evil_dir = tmp_path / "evil"
    evil_dir.mkdir()
    evil_path, canary = evil_file
    evil_path.rename(evil_dir / "model.safetensors")
    assert run(["version", "register", "m", str(evil_dir), *db]) == 0
    capsys.readouterr()

    assert run(["scan", "m@1", "--json", *db]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["result"] == "pass" and result["evidence_id"] > 0
    assert run(["scan", "m@2", *db]) == 1
    assert "Attached as evidence" in capsys.readouterr().out
    assert run(["evidence", "list", "m@2", "--json", *db]) == 0
    evidence = json.loads(capsys.readouterr().out)
    assert evidence[0]["kind"] == "artifact-scan" and evidence[0]["result"] == "fail"
    assert evidence[0]["trusted"] and evidence[0]["signer"] == "signoff-registry"
    assert not canary.exists()

    (clean_dir / "config.json").write_text('{"layers": 3}')  # not the registered bytes any more
    assert run(["scan", "m@1", *db]) == 1
    err = capsys.readouterr().err
    assert "does not hold the bytes registered as m@1" in err and "config.json" in err
