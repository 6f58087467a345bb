"""Benchmark: governed registrations per second, signoff vs MLflow's model registry, on SQLite.

Usage::

    .venv/bin/python bench/governance.py [--count 200] [--profile] [--json]

One signoff *governed registration* is: ``register_version`` of a small artifact (4 KiB), five
signed evidence records (native finding JSON of kinds artifact-scan, evaluation, fairness,
robustness and red-team), ``gate_check`` for ``approved``, ``promote`` to ``approved``, two
production approvals by principals other than the creator, and ``promote`` to ``production``
(both promotions pass the default policy's gates and store a registry-signed decision). That is
11 write transactions, each appending audit events and sealing the log in a signed checkpoint.

MLflow's nearest equivalent, on its own SQLite store in the same process (no tracking server):
``create_model_version``, five ``set_model_version_tag`` calls, ``set_registered_model_alias``.
MLflow stores no evidence, verifies no signature, evaluates no policy and keeps no audit log.

Artifacts and reports are written before timing starts; two untimed warm-up registrations run
first for each contender. ``--profile`` runs signoff's loop again under cProfile (fresh
registry) and prints where the time goes. It asserts nothing: it prints.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from signoff.registry import Registry

KINDS = ("artifact-scan", "evaluation", "fairness", "robustness", "red-team")
CREATOR, CI, APPROVERS = "alice", "ci", ("bob", "carol")
MODEL = "fraud"
ARTIFACT_BYTES = 4096
WARM_UP = 2
STEPS = ("register", "evidence x5", "gate_check", "promote approved", "approve x2", "promote prod")


def make_artifacts(root: Path, count: int) -> list[Path]:
    """``count`` distinct one-file artifacts of ``ARTIFACT_BYTES`` each."""
    paths = []
    for i in range(count):
        path = root / f"model-{i:05d}"
        path.mkdir(parents=True)
        (path / "model.bin").write_bytes(i.to_bytes(8, "big") * (ARTIFACT_BYTES // 8))
        paths.append(path)
    return paths


def make_reports(root: Path) -> dict[str, Path]:
    """One passing native finding report per evidence kind."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    reports = {}
    for kind in KINDS:
        path = root / f"{kind}.json"
        findings = [
            {
                "id": f"{kind}-{n}",
                "severity": "low",
                "title": f"minor {kind} finding {n}",
                "detail": "",
                "location": "model.bin",
            }
            for n in range(2)
        ]
        report = {
            "kind": kind,
            "result": "pass",
            "metrics": {"accuracy": 0.93, "f1": 0.9} if kind == "evaluation" else {"score": 0.97},
            "findings": findings,
            "tool": {"name": f"{kind}-tool", "version": "1.0"},
            "time": stamp,
        }
        path.write_text(json.dumps(report))
        reports[kind] = path
    return reports


class SignoffRun:
    """A fresh signoff registry with the keys, model and reports the loop needs."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True)
        os.environ["SIGNOFF_HOME"] = str(root / "home")
        self.registry, _ = Registry.init(f"sqlite:///{root / 'registry.db'}")
        for principal in (CREATOR, CI, *APPROVERS):
            self.registry.create_key(principal, actor="admin")
        self.registry.create_model(
            MODEL,
            risk_tier="high",
            owner=CREATOR,
            team="risk",
            intended_use="score card payments",
            actor=CREATOR,
        )
        self.reports = make_reports(root)
        self.step_seconds = dict.fromkeys(STEPS, 0.0)

    def governed_registration(self, artifact: Path) -> None:
        """One full governed registration, each step timed."""
        registry, clock, steps = self.registry, time.perf_counter, self.step_seconds
        t0 = clock()
        ref = registry.register_version(MODEL, artifact, actor=CREATOR).ref
        t1 = clock()
        for kind, report in self.reports.items():
            registry.add_evidence(ref, report, kind=kind, fmt="native", actor=CI)
        t2 = clock()
        decision = registry.gate_check(ref, "approved")
        t3 = clock()
        if not decision.allowed:
            raise SystemExit(f"{ref}: the approved gate blocked: {decision.to_dict()}")
        if not registry.promote(ref, "approved", actor=CREATOR).moved:
            raise SystemExit(f"{ref}: promotion to approved did not move")
        t4 = clock()
        for approver in APPROVERS:
            registry.approve(ref, stage="production", reason="reviewed", actor=approver)
        t5 = clock()
        promotion = registry.promote(ref, "production", actor=CREATOR)
        t6 = clock()
        if not promotion.moved:
            raise SystemExit(f"{ref}: production gate blocked: {promotion.to_dict()}")
        durations = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)
        for name, seconds in zip(STEPS, durations, strict=True):
            steps[name] += seconds

    def close(self) -> None:
        """Check the log still verifies, then close."""
        report = self.registry.audit_verify()
        if not report.ok:
            raise SystemExit(f"audit verify failed after the run: {report.problems[:3]}")
        self.registry.close()


class MlflowRun:
    """A fresh MLflow SQLite model registry with one registered model."""

    def __init__(self, root: Path) -> None:
        warnings.filterwarnings("ignore")
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.ERROR)  # after import: mlflow sets it up
        logging.getLogger("alembic").setLevel(logging.ERROR)

        root.mkdir(parents=True)
        uri = f"sqlite:///{root / 'mlflow.db'}"
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.client.create_registered_model(MODEL)

    def governed_registration(self, artifact: Path) -> None:
        """MLflow's nearest equivalent: a version, five tags, an alias."""
        client = self.client
        version = client.create_model_version(MODEL, source=artifact.as_uri()).version
        for kind in KINDS:
            client.set_model_version_tag(MODEL, version, kind, "pass")
        client.set_registered_model_alias(MODEL, "production", version)

    def close(self) -> None:
        """Nothing to release beyond the process."""


def run_loop(contender: Any, artifacts: list[Path]) -> float:
    """Warm up, then time ``governed_registration`` over the remaining artifacts; ops/s."""
    for artifact in artifacts[:WARM_UP]:
        contender.governed_registration(artifact)
    if isinstance(contender, SignoffRun):
        contender.step_seconds = dict.fromkeys(STEPS, 0.0)
    timed = artifacts[WARM_UP:]
    start = time.perf_counter()
    for artifact in timed:
        contender.governed_registration(artifact)
    return len(timed) / (time.perf_counter() - start)


def profile_signoff(root: Path, artifacts: list[Path], top: int) -> str:
    """cProfile of signoff's loop on a fresh registry: the top functions by own time."""
    run = SignoffRun(root)
    profiler = cProfile.Profile()
    loop: Callable[[], float] = lambda: run_loop(run, artifacts)  # noqa: E731
    profiler.runcall(loop)
    run.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="timed registrations each")
    parser.add_argument("--profile", action="store_true", help="also cProfile signoff's loop")
    parser.add_argument("--top", type=int, default=30, help="profile rows to print")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="signoff-bench-") as tmp:
        root = Path(tmp)
        artifacts = make_artifacts(root / "artifacts", args.count + WARM_UP)
        signoff_run = SignoffRun(root / "signoff")
        signoff_ops = run_loop(signoff_run, artifacts)
        signoff_run.close()
        mlflow_run = MlflowRun(root / "mlflow")
        mlflow_ops = run_loop(mlflow_run, artifacts)
        mlflow_run.close()
        profile = profile_signoff(root / "profile", artifacts, args.top) if args.profile else ""

    import mlflow

    per_op_ms = {k: round(v / args.count * 1000, 2) for k, v in signoff_run.step_seconds.items()}
    report = {
        "count": args.count,
        "signoff_ops_per_s": round(signoff_ops, 2),
        "mlflow_ops_per_s": round(mlflow_ops, 2),
        "ratio": round(signoff_ops / mlflow_ops, 2),
        "signoff_step_ms": per_op_ms,
        "mlflow": mlflow.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"{args.count} governed registrations each on SQLite; Python {report['python']}, "
        f"MLflow {report['mlflow']}, {report['cpus']} CPUs, load {report['load_average_1m']}"
    )
    print(f"  signoff  {signoff_ops:8.1f} ops/s  ({1000 / signoff_ops:.1f} ms each)")
    print(f"  MLflow   {mlflow_ops:8.1f} ops/s  ({1000 / mlflow_ops:.1f} ms each)")
    print(f"  ratio    {report['ratio']:8.2f}x  (goal: 10x)")
    print("signoff per registration, by step (ms):")
    for name, ms in per_op_ms.items():
        print(f"  {name:18} {ms:7.2f}")
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
