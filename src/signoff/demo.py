"""The offline demo: a real scikit-learn model through the governed registry, in seconds.

Trains on a dataset that ships with scikit-learn (no download), saves each model with joblib,
registers versions with lineage, scans them, attaches signed evaluation and red-team evidence,
shows a blocked gate and why, shows that the creator's own approval does not count, promotes the
clean version to production with two independent approvals, catches a tampered version whose
joblib file hides a (harmless) payload, and ends with `audit verify` and `coverage` passing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from signoff.domain import CodeRef, DatasetRef, Lineage, Version
from signoff.policy import Decision
from signoff.registry import Registry

MODEL_NAME = "tumor-classifier"
CREATOR = "alice"  # data scientist: trains and registers
REVIEWERS = ("bob", "carol")  # model risk reviewers: approve
PIPELINE = "ci-bot"  # the evaluation pipeline: signs evaluation and red-team evidence
TRAIN_SCRIPT = """\
# Training code of the signoff demo (recorded as the versions' code lineage).
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import RandomForestClassifier
"""
Step = Callable[[str], None]


class HiddenPayload:
    """What an attacker slips into a model file: code that runs when the file is loaded.

    Harmless here (it would only echo a line), and never run: signoff scans without loading.
    """

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo this model was tampered with",))


@dataclass
class DemoResult:
    """What the demo did, for the CLI to print."""

    directory: Path
    registry: str
    dataset: DatasetRef
    versions: list[Version] = field(default_factory=list)
    accuracies: dict[int, float] = field(default_factory=dict)
    alias: str = "production"
    verified: bool = False
    blocked: dict[str, list[str]] = field(default_factory=dict)
    scans: dict[str, str] = field(default_factory=dict)
    audit_ok: bool = False
    coverage_ok: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "directory": str(self.directory),
            "registry": self.registry,
            "dataset": {
                "name": self.dataset.name,
                "uri": self.dataset.uri,
                "sha256": self.dataset.sha256,
            },
            "versions": [v.to_dict(with_files=False) for v in self.versions],
            "accuracies": {str(k): v for k, v in self.accuracies.items()},
            "alias": self.alias,
            "verified": self.verified,
            "blocked": self.blocked,
            "scans": self.scans,
            "audit_ok": self.audit_ok,
            "coverage_ok": self.coverage_ok,
        }


def run_demo(directory: Path, *, step: Step = lambda _: None) -> DemoResult:
    """Build a registry in ``directory`` and walk a model through it; ``step`` narrates."""
    directory.mkdir(parents=True, exist_ok=True)
    registry_path = directory / "registry.db"
    for stale in (registry_path, directory / "keys"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    registry, _ = Registry.init(str(registry_path), home=directory)  # demo keys stay in the demo
    with registry:
        for person in (CREATOR, *REVIEWERS, PIPELINE):
            registry.create_key(person, actor=person)
        step(f"keys for {CREATOR} (creator), {', '.join(REVIEWERS)} (reviewers), {PIPELINE} (CI)")
        dataset = _write_dataset(directory)
        step(f"dataset {dataset.name}: sha256:{dataset.sha256[:12]}")
        code = _commit_training_code(directory)
        step(f"training code {code.repo} @ {code.commit[:12]}")
        registry.create_model(
            MODEL_NAME,
            risk_tier="high",
            owner="ml-platform",
            team="diagnostics",
            intended_use="Decision support for tumour screening; a clinician decides.",
            description="Classifies breast tumour samples as malignant or benign.",
            tags={"domain": "healthcare"},
            actor=CREATOR,
        )
        step(f"created model {MODEL_NAME} (risk tier high)")
        result = DemoResult(directory=directory, registry=str(registry_path), dataset=dataset)
        trained = _register_versions(registry, result, code, step)
        clean = f"{MODEL_NAME}@2"

        decision = registry.gate_check(clean, "approved")
        result.blocked["before-evidence"] = _failures(decision)
        step(f"gate approved for {clean} before any evidence: BLOCKED")
        for reason in result.blocked["before-evidence"]:
            step(f"    {reason}")

        for version in result.versions:
            report, _ = registry.scan(version.ref, actor=PIPELINE)
            result.scans[version.ref] = report.result
            worst = report.findings[0].construct if report.findings else ""
            step(f"scanned {version.ref}: {report.result}{' (' + worst + ')' if worst else ''}")
        for number in (1, 2):
            _attach_evaluations(registry, directory, number, trained[number])
        step(f"{PIPELINE} signed evaluation and red-team evidence for v1 and v2")

        promotion = registry.promote(clean, "approved", actor=REVIEWERS[0])
        step(
            f"promoted {clean} to approved (signed gate decision: evidence "
            f"{promotion.decision_evidence_id})"
        )

        registry.approve(clean, stage="production", reason="I trained it", actor=CREATOR)
        decision = registry.gate_check(clean, "production")
        result.blocked["creator-approval-only"] = _failures(decision)
        step(f"{CREATOR} (the creator) approved {clean}; the gate still says BLOCKED:")
        for reason in result.blocked["creator-approval-only"]:
            step(f"    {reason}")
        for reviewer in REVIEWERS:
            registry.approve(
                clean,
                stage="production",
                reason="reviewed evaluation and red-team evidence",
                actor=reviewer,
            )
        step(f"{' and '.join(REVIEWERS)} approved {clean} for production")
        registry.promote(clean, "production", actor=REVIEWERS[1])
        registry.set_alias(MODEL_NAME, result.alias, 2, actor=REVIEWERS[1])
        step(f"promoted {clean} to production; {MODEL_NAME}@{result.alias} -> {clean}")

        tampered = f"{MODEL_NAME}@3"
        decision = registry.gate_check(tampered, "approved")
        result.blocked["tampered"] = _failures(decision)
        step(f"gate approved for {tampered} (hidden payload): BLOCKED")
        for reason in result.blocked["tampered"]:
            step(f"    {reason}")

        _, check = registry.verify_artifact(f"{MODEL_NAME}@{result.alias}", directory / "model-v2")
        result.verified = check.ok
        step(f"bytes on disk match {MODEL_NAME}@{result.alias}: {'OK' if check.ok else 'NO'}")
        audit = registry.audit_verify()
        result.audit_ok = audit.ok
        step(
            f"audit verify: {'OK' if audit.ok else 'FAILED'} ({audit.size} events, "
            f"sealed at {audit.checkpoint_size})"
        )
        result.coverage_ok = registry.coverage().ok
        verdict = "all approved/production versions in policy" if result.coverage_ok else "DRIFT"
        step(f"coverage: {verdict}")
        result.versions = registry.list_versions(MODEL_NAME)
    return result


def _failures(decision: Decision) -> list[str]:
    return [f"{r.rule_id}: {r.message}" for r in decision.blocking]


def _register_versions(
    registry: Registry, result: DemoResult, code: CodeRef, step: Step
) -> dict[int, Any]:
    directory = result.directory
    estimators: list[tuple[Any, bool]] = [
        (make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=500)), False),
        (RandomForestClassifier(n_estimators=50, random_state=0), False),
        (RandomForestClassifier(n_estimators=50, random_state=1), True),
    ]
    parents: tuple[str, ...] = ()
    trained: dict[int, Any] = {}
    for number, (estimator, tamper) in enumerate(estimators, start=1):
        artifact_dir, accuracy = _train(directory, number, estimator, tamper=tamper)
        version = registry.register_version(
            MODEL_NAME,
            artifact_dir,
            actor=CREATOR,
            lineage=Lineage(
                parents=parents,
                datasets=(result.dataset,),
                code=code,
                run_uri=f"demo://runs/{number}",
            ),
            metadata={"accuracy": f"{accuracy:.4f}", "estimator": type(estimator).__name__},
        )
        result.versions.append(version)
        result.accuracies[version.number] = accuracy
        note = " (its joblib file hides a payload)" if tamper else ""
        step(
            f"registered {version.ref}: accuracy {accuracy:.3f}, "
            f"sha256:{version.artifact.root_digest[:12]}{note}"
        )
        trained[number] = estimator
        if not tamper:
            parents = (version.ref,)
    return trained


def _write_dataset(directory: Path) -> DatasetRef:
    data = load_breast_cancer()
    path = directory / "breast_cancer.csv"
    table = np.column_stack([data.data, data.target])
    header = ",".join([*data.feature_names, "target"])
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt="%.6g")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return DatasetRef(name="breast-cancer-wisconsin", uri=path.as_uri(), sha256=digest)


def _commit_training_code(directory: Path) -> CodeRef:
    """Commit the training script to a local git repository; fall back to its content hash."""
    repo = directory / "training-code"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir()
    (repo / "train.py").write_text(TRAIN_SCRIPT)
    git = shutil.which("git")
    if git:
        env = [
            "-c",
            "user.name=signoff demo",
            "-c",
            "user.email=demo@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ]
        try:
            for args in (["init", "-q"], ["add", "train.py"], ["commit", "-q", "-m", "train"]):
                subprocess.run([git, *env, *args], cwd=repo, check=True, capture_output=True)
            commit = subprocess.run(
                [git, "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
            ).stdout.strip()
            return CodeRef(repo=repo.as_uri(), commit=commit)
        except (OSError, subprocess.CalledProcessError):
            pass
    content_id = hashlib.sha1(TRAIN_SCRIPT.encode()).hexdigest()  # noqa: S324 - an id, not security
    return CodeRef(repo=repo.as_uri(), commit=content_id)


def _split() -> tuple[Any, Any, Any, Any]:
    data = load_breast_cancer()
    split: tuple[Any, Any, Any, Any] = tuple(
        train_test_split(
            data.data, data.target, test_size=0.25, random_state=42, stratify=data.target
        )
    )
    return split


def _train(directory: Path, number: int, estimator: Any, *, tamper: bool) -> tuple[Path, float]:
    x_train, x_test, y_train, y_test = _split()
    estimator.fit(x_train, y_train)
    accuracy = float(estimator.score(x_test, y_test))
    artifact_dir = directory / f"model-v{number}"
    if artifact_dir.exists():
        shutil.rmtree(artifact_dir)
    artifact_dir.mkdir()
    if tamper:
        estimator.provenance_ = HiddenPayload()  # rides along inside the pickled estimator
    joblib.dump(estimator, artifact_dir / "model.joblib")
    (artifact_dir / "metrics.json").write_text(json.dumps({"accuracy": accuracy}, indent=2))
    return artifact_dir, accuracy


def _attach_evaluations(registry: Registry, directory: Path, number: int, model: Any) -> None:
    """Real evaluation evidence: held-out accuracy, and accuracy under adversarial-style noise.

    Evaluated on the estimator still in memory: the demo never loads a model file.
    """
    x_train, x_test, _, y_test = _split()
    accuracy = float(model.score(x_test, y_test))
    rng = np.random.default_rng(0)
    epsilon = 0.05 * x_train.std(axis=0)
    noisy = x_test + rng.choice([-1.0, 1.0], size=x_test.shape) * epsilon
    robust_accuracy = float(model.score(noisy, y_test))
    drop = accuracy - robust_accuracy
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    reports: dict[str, dict[str, Any]] = {
        "evaluation": {
            "kind": "evaluation",
            "result": "pass" if accuracy >= 0.9 else "fail",
            "metrics": {"accuracy": round(accuracy, 4), "test_samples": len(y_test)},
            "findings": [],
            "tool": {"name": "demo-eval", "version": "1.0"},
            "time": now,
        },
        "red-team": {
            "kind": "red-team",
            "result": "pass" if drop <= 0.05 else "warn",
            "metrics": {
                "accuracy_under_attack": round(robust_accuracy, 4),
                "accuracy_drop": round(drop, 4),
            },
            "findings": [],
            "tool": {"name": "demo-sign-noise-attack", "version": "1.0"},
            "time": now,
        },
    }
    for kind, content in reports.items():
        path = directory / f"{kind}-v{number}.json"
        path.write_text(json.dumps(content, indent=2))
        registry.add_evidence(f"{MODEL_NAME}@{number}", path, kind=kind, actor=PIPELINE)
