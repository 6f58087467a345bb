"""The offline demo: a real scikit-learn model through the registry, in seconds.

Trains on a dataset that ships with scikit-learn (no download), saves each model with joblib,
and registers two versions with lineage and an alias. Later issues extend it with scanning,
gates, approvals and evidence export.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
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
from signoff.registry import Registry

MODEL_NAME = "tumor-classifier"
DEMO_ACTOR = "alice"
TRAIN_SCRIPT = """\
# Training code of the signoff demo (recorded as the versions' code lineage).
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import RandomForestClassifier
"""


@dataclass
class DemoResult:
    """What the demo did, for the CLI to print."""

    directory: Path
    registry: str
    dataset: DatasetRef
    versions: list[Version] = field(default_factory=list)
    accuracies: dict[int, float] = field(default_factory=dict)
    alias: str = "champion"
    verified: bool = False

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
        }


def run_demo(directory: Path, *, step: Callable[[str], None] = lambda _: None) -> DemoResult:
    """Build a registry in ``directory`` and walk a model through it; ``step`` narrates."""
    directory.mkdir(parents=True, exist_ok=True)
    registry_path = directory / "registry.db"
    if registry_path.exists():
        registry_path.unlink()
    registry, _ = Registry.init(str(registry_path))
    with registry:
        dataset = _write_dataset(directory)
        step(f"dataset {dataset.name}: {dataset.uri} sha256:{dataset.sha256[:12]}")
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
            actor=DEMO_ACTOR,
        )
        step(f"created model {MODEL_NAME} (risk high)")
        result = DemoResult(directory=directory, registry=str(registry_path), dataset=dataset)
        estimators = [
            make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=500)),
            RandomForestClassifier(n_estimators=50, random_state=0),
        ]
        parents: tuple[str, ...] = ()
        for number, estimator in enumerate(estimators, start=1):
            artifact_dir, accuracy = _train(directory, number, estimator)
            version = registry.register_version(
                MODEL_NAME,
                artifact_dir,
                actor=DEMO_ACTOR,
                lineage=Lineage(
                    parents=parents, datasets=(dataset,), code=code, run_uri=f"demo://runs/{number}"
                ),
                metadata={"accuracy": f"{accuracy:.4f}", "estimator": type(estimator).__name__},
            )
            result.versions.append(version)
            result.accuracies[version.number] = accuracy
            step(
                f"registered {version.ref}: accuracy {accuracy:.3f}, "
                f"sha256:{version.artifact.root_digest[:12]}"
            )
            parents = (version.ref,)
        best = max(result.versions, key=lambda v: result.accuracies[v.number])
        registry.set_alias(MODEL_NAME, result.alias, best.number, actor=DEMO_ACTOR)
        step(f"alias {MODEL_NAME}@{result.alias} -> {best.ref}")
        _, check = registry.verify_artifact(
            f"{MODEL_NAME}@{result.alias}", directory / f"model-v{best.number}"
        )
        result.verified = check.ok
        step(f"verified the bytes on disk against {best.ref}: {'OK' if check.ok else 'MISMATCH'}")
        result.versions = registry.list_versions(MODEL_NAME)
    return result


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
    return CodeRef(repo=repo.as_uri(), commit=hashlib.sha1(TRAIN_SCRIPT.encode()).hexdigest())  # noqa: S324 - a git-style id, not security


def _train(directory: Path, number: int, estimator: Any) -> tuple[Path, float]:
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=42, stratify=data.target
    )
    estimator.fit(x_train, y_train)
    accuracy = float(estimator.score(x_test, y_test))
    artifact_dir = directory / f"model-v{number}"
    if artifact_dir.exists():
        shutil.rmtree(artifact_dir)
    artifact_dir.mkdir()
    joblib.dump(estimator, artifact_dir / "model.joblib")
    (artifact_dir / "metrics.json").write_text(json.dumps({"accuracy": accuracy}, indent=2))
    return artifact_dir, accuracy
