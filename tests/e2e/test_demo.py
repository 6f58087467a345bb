"""`signoff demo` runs offline on a real scikit-learn model and leaves a usable registry."""

from __future__ import annotations

import json
from pathlib import Path

import joblib  # noqa: F401 - the demo saves with joblib; fail early if it is missing
import pytest

from signoff.artifacts import digest_path
from signoff.cli.app import run
from signoff.registry import Registry


def test_demo_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo", "--dir", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out)
    assert summary["verified"] is True
    assert [v["number"] for v in summary["versions"]] == [1, 2]
    assert summary["versions"][1]["lineage"]["parents"] == ["tumor-classifier@1"]
    assert all(0.85 < acc <= 1.0 for acc in summary["accuracies"].values())
    with Registry.open(summary["registry"]) as registry:
        champion = registry.get_version("tumor-classifier@champion")
        assert champion.lineage.datasets[0].sha256 == summary["dataset"]["sha256"]
        assert len(champion.lineage.code.commit) >= 40 if champion.lineage.code else False
        on_disk = digest_path(tmp_path / f"model-v{champion.number}")
        assert on_disk.root_digest == champion.artifact.root_digest


def test_demo_human_output_and_rerun(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):  # a rerun in the same directory starts over cleanly
        assert run(["demo", "--dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert "registered tumor-classifier@2" in out
        assert "verified the bytes on disk" in out and "OK" in out
