"""Benchmark: ``audit verify`` over 1,000,000 events, and ``coverage`` over 10,000 versions.

Usage::

    .venv/bin/python bench/audit.py [--events 1000000] [--versions 10000] [--repeats 3]
                                    [--rebuild] [--profile] [--json]

Two SQLite registries are built once and cached under bench/.data/ (git ignores it); a cache
older than 30 days, or built by other parameters or another schema, is rebuilt.

* ``audit``: 1,000 models with 3 versions each, every version with five signed evidence records
  (artifact-scan, evaluation, fairness, robustness, red-team), a third promoted to approved and
  half of those approved twice and promoted to production (each promotion stores a signed gate
  decision), the ``production`` alias set on those: about 30,000 events through the public API.
  Then ``canary`` alias moves among each model's versions fill the log to ``--events``: rows
  inserted in bulk, events appended with ``EventLog.append`` in transactions of 50,000. One
  checkpoint is signed at the end by the registry's own sealing code.
* ``coverage``: ``--versions`` versions (4 per model, risk tiers mixed) all promoted through the
  public API to approved, every other one on to production (6 or 9 envelopes each), under the
  default policy padded to 10 rules per stage.

The public API calls run in shared transactions of a few hundred versions (each call joins the
open transaction; the log is sealed once per batch) so that building takes minutes, not hours.

Timed, in a fresh process (the script re-runs itself after building): ``Registry.open(db)``
plus ``audit_verify()`` (goal: under 5 s for 1M events), and apart from it the log alone (read,
hash, parse, root: what every event costs, whatever rows it vouches for); ``Registry.open(db)``
plus ``coverage()`` (goal: under 2 s for 10,000 versions x 10 rules), with its default of one
evaluating process per CPU (as the CLI runs it), and again with ``workers=1``. Each runs
``--repeats`` times; the first run and the best are reported. The first coverage run is cold:
claims and signature verifications are remembered per process, so later runs are warm, as in a
long-running server; the CLI always runs cold. Every evidence record of the coverage registry
has its own production time, so no two versions' records share an age (as in a real registry).
It asserts only that the registries verify and that coverage covers what was built, in policy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from profiling import profiled
from signoff.audit.merkle import root_from_leaf_hashes
from signoff.governance import auditor
from signoff.governance.collector import gc_paused
from signoff.policy import Policy, default_policy_text
from signoff.registry import Registry
from signoff.store.database import head_revision
from signoff.store.schema import AliasRow, ModelRow, VersionRow

DATA = Path(__file__).resolve().parent / ".data"
BUILDER = 2  # bump when the content built changes
MAX_AGE = timedelta(days=30)  # evidence older than the policy's 90 days would drift
KINDS = ("artifact-scan", "evaluation", "fairness", "robustness", "red-team")
CREATOR, CI, APPROVERS, ADMIN = "alice", "ci", ("bob", "carol"), "admin"
DEPLOYERS = ("deploy-bot", "alice", "bob", "carol")
TIERS = ("high", "limited", "minimal")
BULK_BATCH = 50_000
API_BATCH = 250

APPROVED_PADDING = """
        - id: pad-owner-set
          title: The model has an owner
          check: 'size(model.owner) > 0'
        - id: pad-team-set
          title: The model belongs to a team
          check: 'size(model.team) > 0'
          action: warn
        - id: pad-accuracy
          title: The evaluation reports accuracy of at least 0.8
          check: >-
            evidence.exists(e, e.kind == "evaluation" && has(e.metrics.accuracy)
              && e.metrics.accuracy >= 0.8)
        - id: pad-fairness
          title: A fairness assessment passed
          check: 'evidence.exists(e, e.kind == "fairness" && e.result == "pass")'
        - id: pad-robustness
          title: A robustness test did not fail
          check: 'evidence.exists(e, e.kind == "robustness" && e.result in ["pass", "warn"])'
        - id: pad-signed
          title: Every evidence record names its signer
          check: 'evidence.all(e, size(e.signer) > 0)'
"""
PRODUCTION_PADDING = """
        - id: prod-pad-accuracy
          title: The evaluation reports accuracy of at least 0.8
          check: >-
            evidence.exists(e, e.kind == "evaluation" && has(e.metrics.accuracy)
              && e.metrics.accuracy >= 0.8)
        - id: prod-pad-fairness
          title: A fairness assessment passed
          check: 'evidence.exists(e, e.kind == "fairness" && e.result == "pass")'
        - id: prod-pad-robustness
          title: A robustness test did not fail
          check: 'evidence.exists(e, e.kind == "robustness" && e.result in ["pass", "warn"])'
"""


def padded_policy_text() -> str:
    """The default policy with padding rules: 10 rules in each of approved and production."""
    text = default_policy_text().rstrip("\n") + "\n"
    marker = "\n    production:\n"
    if text.count(marker) != 1:
        raise SystemExit("the default policy changed shape: update bench/audit.py's padding")
    text = text.replace(marker, APPROVED_PADDING + marker) + PRODUCTION_PADDING
    policy = Policy.load(text)
    counts = {stage: len(policy.rules(stage)) for stage in ("approved", "production")}
    if set(counts.values()) != {10}:
        raise SystemExit(f"the padded policy has {counts} rules, not 10 per stage")
    return text


# --- building ------------------------------------------------------------------------------


def write_reports(directory: Path, produced: datetime | None = None) -> dict[str, Path]:
    """One passing native finding report per evidence kind, produced at ``produced`` (now)."""
    stamp = (produced or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    reports = {}
    for kind in KINDS:
        report = {
            "kind": kind,
            "result": "pass",
            "metrics": {"accuracy": 0.93, "f1": 0.9} if kind == "evaluation" else {"score": 0.97},
            "findings": [
                {
                    "id": f"{kind}-{n}",
                    "severity": "low",
                    "title": f"minor {kind} finding {n}",
                    "detail": "",
                    "location": "model.bin",
                }
                for n in range(2)
            ],
            "tool": {"name": f"{kind}-tool", "version": "1.0"},
            "time": stamp,
        }
        path = directory / f"{kind}.json"
        path.write_text(json.dumps(report))
        reports[kind] = path
    return reports


def governed_versions(
    registry: Registry,
    scratch: Path,
    *,
    models: int,
    per_model: int,
    promote: Callable[[int], str | None],
) -> None:
    """Create the models and their versions with evidence; promote version ``i`` per ``promote``.

    ``promote(i)`` returns None (stays a candidate), "approved" or "production".
    """
    total = models * per_model
    started = datetime.now(UTC)
    start = time.perf_counter()
    for first in range(0, total, API_BATCH):
        with registry.batch():  # many calls, one transaction, sealed once
            for i in range(first, min(first + API_BATCH, total)):
                model, number = f"model-{i // per_model:05d}", i % per_model + 1
                if number == 1:
                    registry.create_model(
                        model,
                        risk_tier=TIERS[(i // per_model) % len(TIERS)],
                        owner=CREATOR,
                        team="risk",
                        intended_use="score card payments",
                        actor=CREATOR,
                    )
                artifact = scratch / "artifact"
                artifact.mkdir()
                (artifact / "model.bin").write_bytes(i.to_bytes(8, "big") * 128)
                ref = registry.register_version(model, artifact, actor=CREATOR).ref
                shutil.rmtree(artifact)
                # Each version's evidence is produced at its own second, as in a real
                # registry: no two versions' records share an age.
                reports = write_reports(scratch, started - timedelta(seconds=total - i))
                for kind, report in reports.items():
                    registry.add_evidence(ref, report, kind=kind, actor=CI)
                target = promote(i)
                if target is None:
                    continue
                _moved(registry.promote(ref, "approved", actor=CREATOR).moved, ref)
                if target == "production":
                    for approver in APPROVERS:
                        registry.approve(ref, stage="production", reason="ok", actor=approver)
                    _moved(registry.promote(ref, "production", actor=CREATOR).moved, ref)
                    registry.set_alias(model, "production", number, actor="deploy-bot")
        done = min(first + API_BATCH, total)
        rate = done / (time.perf_counter() - start)
        print(f"\r  {done:,}/{total:,} versions ({rate:.0f}/s)", end="", file=sys.stderr)
    print(file=sys.stderr)


def _moved(moved: bool, ref: str) -> None:
    if not moved:
        raise SystemExit(f"building: the gate blocked {ref}; the padded policy must let it pass")


def bulk_alias_moves(registry: Registry, target_events: int) -> None:
    """Fill the log to ``target_events`` with ``canary`` alias moves (events one by one through
    ``EventLog.append``; the log is the alias history), round-robin over the models' versions."""
    with registry._store.transaction() as tx:
        size, _ = tx.events.head()
        rows = tx.session.execute(
            select(ModelRow.id, ModelRow.name, VersionRow.id, VersionRow.number)
            .join(VersionRow, VersionRow.model_id == ModelRow.id)
            .order_by(ModelRow.id, VersionRow.number)
        ).all()
    versions: dict[int, list[tuple[int, int]]] = {}
    names: dict[int, str] = {}
    for model_id, name, version_id, number in rows:
        versions.setdefault(model_id, []).append((version_id, number))
        names[model_id] = name
    model_ids = sorted(versions)
    current: dict[int, tuple[int, int] | None] = dict.fromkeys(model_ids)
    last: dict[int, tuple[int, str, datetime]] = {}
    base = datetime.now(UTC) - timedelta(days=1)
    moves = target_events - size
    start = time.perf_counter()
    for first in range(0, moves, BULK_BATCH):
        batch = range(first, min(first + BULK_BATCH, moves))
        with registry._store.transaction() as tx:
            events = []
            for k in batch:
                model_id = model_ids[k % len(model_ids)]
                choices = versions[model_id]
                step = k // len(model_ids)
                to = choices[(step + 1) % len(choices)]
                before = current[model_id]
                actor, when = DEPLOYERS[k % len(DEPLOYERS)], base + timedelta(microseconds=37 * k)
                events.append((names[model_id], before[1] if before else None, to[1], actor, when))
                current[model_id] = to
                last[model_id] = (to[0], actor, when)
            for model, from_number, to_number, actor, when in events:
                tx.events.append(
                    "alias.moved",
                    actor=actor,
                    at=when,
                    subject=f"{model}@canary",
                    data={"model": model, "alias": "canary", "from": from_number, "to": to_number},
                )
        done = batch.stop
        rate = done / (time.perf_counter() - start)
        print(f"\r  {done:,}/{moves:,} alias moves ({rate:,.0f}/s)", end="", file=sys.stderr)
    print(file=sys.stderr)
    with registry._write() as tx:  # the aliases as the last moves left them; then one checkpoint
        tx.session.execute(
            insert(AliasRow),
            [
                {
                    "model_id": model_id,
                    "name": "canary",
                    "version_id": version_id,
                    "updated_by": actor,
                    "updated_at": when,
                }
                for model_id, (version_id, actor, when) in last.items()
            ],
        )


def prepare(registry: Registry) -> None:
    """Keys for every principal and the padded policy."""
    for principal in (CREATOR, CI, *APPROVERS):
        registry.create_key(principal, actor=ADMIN)
    registry.set_policy(padded_policy_text(), actor=ADMIN)


def build_audit(directory: Path, events: int) -> None:
    """The 1M-event registry (see the module docstring)."""
    registry, _ = Registry.init(str(directory / "registry.db"))
    with registry, tempfile.TemporaryDirectory() as scratch:
        prepare(registry)
        governed_versions(
            registry,
            Path(scratch),
            models=1000,
            per_model=3,
            promote=lambda i: "production" if i % 6 == 0 else "approved" if i % 6 == 3 else None,
        )
        bulk_alias_moves(registry, events)


def build_coverage(directory: Path, versions: int) -> None:
    """The registry of ``versions`` approved and production versions (see the docstring)."""
    registry, _ = Registry.init(str(directory / "registry.db"))
    with registry, tempfile.TemporaryDirectory() as scratch:
        prepare(registry)
        governed_versions(
            registry,
            Path(scratch),
            models=(versions + 3) // 4,
            per_model=4,
            promote=lambda i: "production" if i % 2 else "approved",
        )


def cached(name: str, params: dict[str, Any], build: Callable[[Path], None], rebuild: bool) -> bool:
    """Build the registry ``name`` under bench/.data unless a matching one is cached.

    Returns whether it was built now.
    """
    directory = DATA / name
    marker = directory / "built.json"
    wanted = {**params, "builder": BUILDER, "schema": head_revision()}
    if marker.is_file() and not rebuild:
        built = json.loads(marker.read_text())
        age = datetime.now(UTC) - datetime.fromisoformat(built.pop("at"))
        if built == wanted and age < MAX_AGE:
            return False
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["SIGNOFF_HOME"] = str(directory / "home")
    print(f"building {directory} ...", file=sys.stderr)
    start = time.perf_counter()
    build(directory)
    print(f"  built in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    marker.write_text(json.dumps({**wanted, "at": datetime.now(UTC).isoformat()}))
    return True


def registry_db(name: str) -> str:
    """The database of the cached registry ``name`` (its keys stay next to it)."""
    os.environ["SIGNOFF_HOME"] = str(DATA / name / "home")
    return str(DATA / name / "registry.db")


# --- timing --------------------------------------------------------------------------------


def timed_runs(repeats: int, run: Callable[[], Any]) -> tuple[list[float], Any]:
    """Seconds of each of ``repeats`` runs, and the last result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def audit_once(db: str) -> Any:
    with Registry.open(db) as registry:
        return registry.audit_verify()


def log_once(db: str) -> None:
    """The log part of ``audit verify`` alone: read, hash and parse every event, and the root."""
    with Registry.open(db) as registry, registry._store.transaction() as tx:
        with gc_paused():
            leaves, _ = auditor._read_log(tx, [])
        root_from_leaf_hashes(leaves)


def coverage_once(db: str, workers: int | None = None) -> Any:
    with Registry.open(db) as registry:
        return registry.coverage(workers=workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="ignore the cached registries")
    parser.add_argument("--profile", action="store_true", help="cProfile one run of each")
    parser.add_argument("--top", type=int, default=25, help="profile rows to print")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only", choices=("audit", "coverage"), help="build and time just one of the two"
    )
    args = parser.parse_args()

    audit_name, coverage_name = f"audit-{args.events}", f"coverage-{args.versions}"
    built = False
    if args.only != "coverage":
        built |= cached(
            audit_name,
            {"events": args.events},
            lambda d: build_audit(d, args.events),
            args.rebuild,
        )
    if args.only != "audit":
        built |= cached(
            coverage_name,
            {"versions": args.versions},
            lambda d: build_coverage(d, args.versions),
            args.rebuild,
        )
    if built:  # time in a fresh process: nothing the build left in memory or caches counts
        again = [a for a in sys.argv[1:] if a != "--rebuild"]
        os.execv(sys.executable, [sys.executable, str(Path(__file__).resolve()), *again])

    report: dict[str, Any] = {"repeats": args.repeats}
    lines = []
    profiles = []
    if args.only != "coverage":
        audit_db = registry_db(audit_name)
        audit_s, audit = timed_runs(args.repeats, lambda: audit_once(audit_db))
        if not audit.ok or audit.size != args.events:
            raise SystemExit(f"audit verify: size {audit.size}, problems {audit.problems[:5]}")
        log_s, _ = timed_runs(args.repeats, lambda: log_once(audit_db))
        if args.profile:
            profiles.append(
                "audit verify profile\n" + profiled(lambda: audit_once(audit_db), args.top)
            )
        report |= {
            "events": audit.size,
            "audit_checked": audit.checked,
            "audit_verify_s": {"first": round(audit_s[0], 3), "best": round(min(audit_s), 3)},
            "audit_log_part_s": {"first": round(log_s[0], 3), "best": round(min(log_s), 3)},
        }
        lines += [
            f"  audit verify, {audit.size:,} events ({audit.checked['versions']:,} versions, "
            f"{audit.checked['evidence']:,} evidence): first {audit_s[0]:.2f} s, best "
            f"{min(audit_s):.2f} s (goal < 5 s)",
            f"    of which the log alone (read, hash, parse, root): first {log_s[0]:.2f} s, "
            f"best {min(log_s):.2f} s; the rest is cross-checking rows",
        ]
    if args.only != "audit":
        coverage_db = registry_db(coverage_name)
        coverage_s, coverage = timed_runs(args.repeats, lambda: coverage_once(coverage_db))
        alone_s, _ = timed_runs(args.repeats, lambda: coverage_once(coverage_db, 1))
        if coverage.checked != args.versions:
            raise SystemExit(f"coverage checked {coverage.checked}, not {args.versions}")
        if coverage.drifted:
            raise SystemExit(
                f"coverage found drift in a registry built in policy: {coverage.drifted[:3]}"
            )
        if args.profile:
            profiles.append(
                "coverage profile\n" + profiled(lambda: coverage_once(coverage_db), args.top)
            )
        report |= {
            "coverage_versions": coverage.checked,
            "coverage_rules_per_stage": 10,
            "coverage_drifted": len(coverage.drifted),
            "coverage_s": {"first": round(coverage_s[0], 3), "best": round(min(coverage_s), 3)},
            "coverage_one_process_s": {
                "first": round(alone_s[0], 3),
                "best": round(min(alone_s), 3),
            },
        }
        lines.append(
            f"  coverage, {coverage.checked:,} versions x 10 rules "
            f"({len(coverage.drifted)} drifted): first (cold) {coverage_s[0]:.2f} s, "
            f"best (warm) {min(coverage_s):.2f} s (goal < 2 s)"
        )
        lines.append(
            f"    in one process (--jobs 1): first {alone_s[0]:.2f} s, best {min(alone_s):.2f} s"
        )
    report |= {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"Python {report['python']}, {report['cpus']} CPUs, load {report['load_average_1m']}; "
        f"first run and best of {args.repeats} (each opens the registry)"
    )
    print("\n".join(lines))
    for profile in profiles:
        print("\n" + profile)


if __name__ == "__main__":
    main()
