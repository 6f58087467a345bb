"""`signoff demo` runs offline on a real scikit-learn model and leaves a usable registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signoff.artifacts import digest_path
from signoff.cli.app import run
from signoff.registry import Registry


def test_demo_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo", "--dir", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["verified"] and summary["audit_ok"] and summary["coverage_ok"]
    assert [v["number"] for v in summary["versions"]] == [1, 2, 3]
    assert [v["stage"] for v in summary["versions"]] == ["candidate", "production", "candidate"]
    assert summary["versions"][1]["lineage"]["parents"] == ["tumor-classifier@1"]
    assert summary["scans"] == {
        "tumor-classifier@1": "pass",
        "tumor-classifier@2": "pass",
        "tumor-classifier@3": "fail",
    }
    blocked = summary["blocked"]
    assert any(r.startswith("artifact-scan-passed") for r in blocked["before-evidence"])
    assert any(r.startswith("independent-approval") for r in blocked["creator-approval-only"])
    assert any(r.startswith("artifact-scan-passed") for r in blocked["tampered"])
    assert all(0.85 < acc <= 1.0 for acc in summary["accuracies"].values())
    with Registry.open(summary["registry"], home=tmp_path) as registry:
        production = registry.get_version("tumor-classifier@production")
        assert production.number == 2
        assert production.lineage.datasets[0].sha256 == summary["dataset"]["sha256"]
        assert production.lineage.code is not None and len(production.lineage.code.commit) >= 40
        on_disk = digest_path(tmp_path / "model-v2")
        assert on_disk.root_digest == production.artifact.root_digest
        kinds = {e.kind for e in registry.list_evidence("tumor-classifier@2") if e.trusted}
        assert kinds == {"artifact-scan", "evaluation", "red-team", "approval", "gate-decision"}


def test_demo_human_output_and_rerun(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):  # a rerun in the same directory starts over cleanly
        assert run(["demo", "--dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert "registered tumor-classifier@3" in out
        assert "the gate still says BLOCKED" in out
        assert "audit verify: OK" in out
