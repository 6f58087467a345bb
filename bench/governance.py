"""Benchmark: governed registrations per second, signoff vs MLflow's model registry, on SQLite.

Usage::

    .venv/bin/python bench/governance.py [--count 200] [--rounds 10] [--profile [call|batch]]
                                         [--top 30] [--json]

One signoff *governed registration* is: ``register_version`` of a small artifact (4 KiB), five
signed evidence records (native finding JSON of kinds artifact-scan, evaluation, fairness,
robustness and red-team), ``gate_check`` for ``approved``, ``promote`` to ``approved``, two
production approvals by principals other than the creator, and ``promote`` to ``production``
(both promotions pass the default policy's gates and store a registry-signed decision).

signoff runs it two ways, each on its own fresh registry:

- **per call**: every call is its own transaction, as a CLI user or a script calling the API one
  call at a time gets: 12 transactions (10 writes), each write sealing the log in a signed
  checkpoint: 10 checkpoints per registration.
- **batched**: the same calls inside one ``with registry.batch():`` per registration: one
  transaction and one signed checkpoint per registration. Batching changes only where the
  transaction ends: every call still validates, signs, judges evidence against the active keys
  and evaluates the gates exactly as per call, and the audit log still gets every event (12 per
  registration), each appended in the transaction that makes the change. What it gives up:
  intermediate states are never visible to other readers (nobody sees the version as a
  candidate), the log gets one checkpoint where it would get 10 (an inclusion proof of an event
  exists once the batch commits), the SQLite write lock is held for the whole registration, and
  an error anywhere rolls all of it back.

MLflow's nearest equivalent, on its own SQLite store in the same process (no tracking server):
``create_model_version``, five ``set_model_version_tag`` calls, ``set_registered_model_alias``.
MLflow stores no evidence, verifies no signature, evaluates no policy and keeps no audit log.

Artifacts and reports are written before timing starts; two untimed warm-up registrations run
first for each contender. The timed registrations are split into ``--rounds`` rounds, and each
round runs every contender in turn (rotating who goes first), so on a shared machine the three
meet the same background load and the ratios compare like with like. CPU time (this process,
all threads) is reported beside wall-clock time: MLflow's SQLite store runs in its default
rollback-journal mode, which syncs the file on every commit, while signoff's runs in WAL mode
with ``synchronous=NORMAL`` (no sync per commit; a power loss may drop the last commits, never
corrupt the file), so on a machine busy with I/O MLflow's wall-clock time grows far more than
its CPU time. The CPU ratio is the steadier measure of the work each does. ``--profile`` runs
signoff's loop (per call, or batched with ``--profile batch``) again under cProfile on a fresh
registry and prints where the time goes. It checks only that every gate passes and that the
audit log verifies after each signoff run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from profiling import profiled
from signoff.registry import Registry

KINDS = ("artifact-scan", "evaluation", "fairness", "robustness", "red-team")
CREATOR, CI, APPROVERS = "alice", "ci", ("bob", "carol")
MODEL = "fraud"
ARTIFACT_BYTES = 4096
WARM_UP = 2
STEPS = ("register", "evidence x5", "gate_check", "promote approved", "approve x2", "promote prod")
BATCH_COMMIT = "batch commit"


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
    """A fresh signoff registry with the keys, model and reports the loop needs.

    ``batched``: each governed registration runs inside one ``registry.batch()``.
    """

    def __init__(self, root: Path, *, batched: bool = False) -> None:
        root.mkdir(parents=True)
        self.batched = batched
        self.registry, _ = Registry.init(f"sqlite:///{root / 'registry.db'}", home=root / "home")
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
        self.step_seconds = self.new_steps()

    @property
    def name(self) -> str:
        """How the report names this contender."""
        return "signoff batched" if self.batched else "signoff"

    def new_steps(self) -> dict[str, float]:
        """Zeroed step timers (a batch adds its commit: sealing and writing the log)."""
        return dict.fromkeys((*STEPS, BATCH_COMMIT) if self.batched else STEPS, 0.0)

    def governed_registration(self, artifact: Path) -> None:
        """One full governed registration, each step timed (in one batch if ``batched``)."""
        if not self.batched:
            self._steps(artifact)
            return
        with self.registry.batch():
            self._steps(artifact)
            end = time.perf_counter()
        self.step_seconds[BATCH_COMMIT] += time.perf_counter() - end

    def _steps(self, artifact: Path) -> None:
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

    name = "MLflow"

    def governed_registration(self, artifact: Path) -> None:
        """MLflow's nearest equivalent: a version, five tags, an alias."""
        client = self.client
        version = client.create_model_version(MODEL, source=artifact.as_uri()).version
        for kind in KINDS:
            client.set_model_version_tag(MODEL, version, kind, "pass")
        client.set_registered_model_alias(MODEL, "production", version)

    def close(self) -> None:
        """Nothing to release beyond the process."""


def warm_up(contender: Any, artifacts: list[Path]) -> None:
    """Untimed registrations, then zeroed step timers."""
    for artifact in artifacts:
        contender.governed_registration(artifact)
    if isinstance(contender, SignoffRun):
        contender.step_seconds = contender.new_steps()


def run_rounds(
    contenders: list[Any], artifacts: list[Path], rounds: int
) -> tuple[list[float], list[float]]:
    """Time each contender over ``artifacts``, interleaved in ``rounds``: wall-clock seconds and
    CPU seconds (this process, all threads) each."""
    seconds, cpu = [0.0] * len(contenders), [0.0] * len(contenders)
    size = -(-len(artifacts) // rounds)
    for number, first in enumerate(range(0, len(artifacts), size)):
        chunk = artifacts[first : first + size]
        order = list(range(len(contenders)))
        order = order[number % len(order) :] + order[: number % len(order)]
        for index in order:
            start, start_cpu = time.perf_counter(), time.process_time()
            for artifact in chunk:
                contenders[index].governed_registration(artifact)
            seconds[index] += time.perf_counter() - start
            cpu[index] += time.process_time() - start_cpu
    return seconds, cpu


def profile_signoff(root: Path, artifacts: list[Path], top: int, *, batched: bool) -> str:
    """cProfile of signoff's loop on a fresh registry: the top functions by own time."""
    run = SignoffRun(root, batched=batched)
    warm_up(run, artifacts[:WARM_UP])
    report = profiled(lambda: run_rounds([run], artifacts[WARM_UP:], 1), top)
    run.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="timed registrations each")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="call",
        choices=("call", "batch"),
        help="also cProfile signoff's loop (per call, or batched)",
    )
    parser.add_argument("--top", type=int, default=30, help="profile rows to print")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="signoff-bench-") as tmp:
        root = Path(tmp)
        artifacts = make_artifacts(root / "artifacts", args.count + WARM_UP)
        per_call = SignoffRun(root / "signoff")
        batched = SignoffRun(root / "signoff-batched", batched=True)
        mlflow_run = MlflowRun(root / "mlflow")
        contenders: list[Any] = [per_call, batched, mlflow_run]
        for contender in contenders:
            warm_up(contender, artifacts[:WARM_UP])
        seconds, cpu = run_rounds(contenders, artifacts[WARM_UP:], max(1, args.rounds))
        for contender in contenders:
            contender.close()
        profile = (
            profile_signoff(root / "profile", artifacts, args.top, batched=args.profile == "batch")
            if args.profile
            else ""
        )

    import mlflow

    ops = {c.name: args.count / s for c, s in zip(contenders, seconds, strict=True)}
    cpu_ms = {c.name: s / args.count * 1000 for c, s in zip(contenders, cpu, strict=True)}
    mlflow_ops = ops["MLflow"]

    def step_ms(run: SignoffRun) -> dict[str, float]:
        return {k: round(v / args.count * 1000, 2) for k, v in run.step_seconds.items()}

    report = {
        "count": args.count,
        "rounds": args.rounds,
        "signoff_ops_per_s": round(ops["signoff"], 2),
        "signoff_batched_ops_per_s": round(ops["signoff batched"], 2),
        "mlflow_ops_per_s": round(mlflow_ops, 2),
        "ratio": round(ops["signoff"] / mlflow_ops, 2),
        "ratio_batched": round(ops["signoff batched"] / mlflow_ops, 2),
        "cpu_ms": {name: round(ms, 2) for name, ms in cpu_ms.items()},
        "cpu_ratio": round(cpu_ms["MLflow"] / cpu_ms["signoff"], 2),
        "cpu_ratio_batched": round(cpu_ms["MLflow"] / cpu_ms["signoff batched"], 2),
        "signoff_step_ms": step_ms(per_call),
        "signoff_batched_step_ms": step_ms(batched),
        "mlflow": mlflow.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"{args.count} governed registrations each on SQLite, {args.rounds} interleaved rounds; "
        f"Python {report['python']}, MLflow {report['mlflow']}, {report['cpus']} CPUs, "
        f"load {report['load_average_1m']}"
    )
    for name, rate in ops.items():
        ratio = (
            f"{rate / mlflow_ops:6.2f}x MLflow ({cpu_ms['MLflow'] / cpu_ms[name]:.2f}x by CPU)"
            if name != "MLflow"
            else ""
        )
        print(
            f"  {name:16} {rate:8.1f} ops/s  ({1000 / rate:6.2f} ms each, "
            f"{cpu_ms[name]:6.2f} ms CPU)  {ratio}"
        )
    print("  (goal: 10x MLflow)")
    for run in (per_call, batched):
        print(f"{run.name} per registration, by step (ms):")
        for name, ms in step_ms(run).items():
            print(f"  {name:18} {ms:7.2f}")
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
