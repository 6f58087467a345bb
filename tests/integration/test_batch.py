"""``Registry.batch()``: many calls, one transaction, one checkpoint (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from signoff.domain import Stage
from signoff.errors import ConflictError, NotFoundError, StoreError
from signoff.registry import Registry
from signoff.store.schema import CheckpointRow, EventRow, ModelRow, VersionRow

KINDS = ("artifact-scan", "evaluation", "fairness", "robustness", "red-team")
PEOPLE = ("alice", "bob", "carol", "ci")


def rows(registry: Registry, table: type) -> int:
    """How many rows ``table`` holds now (read in a transaction of its own)."""
    with registry._store.transaction() as tx:
        return len(tx.session.scalars(sa.select(table)).all())


def reports(tmp_path: Path) -> dict[str, Path]:
    """One passing native finding report per evidence kind the default gates ask for."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    made = {}
    for kind in KINDS:
        path = tmp_path / f"{kind}.json"
        path.write_text(
            json.dumps(
                {
                    "kind": kind,
                    "result": "pass",
                    "metrics": {"score": 0.97},
                    "findings": [],
                    "tool": {"name": f"{kind}-tool", "version": "1.0"},
                    "time": stamp,
                }
            )
        )
        made[kind] = path
    return made


@pytest.fixture
def people(registry: Registry) -> Registry:
    """A registry with a key for each person and a high-risk model without versions."""
    for person in PEOPLE:
        registry.create_key(person, actor="admin")
    registry.create_model("fraud", risk_tier="high", intended_use="score payments", actor="alice")
    return registry


def governed_registration(registry: Registry, artifact: Path, evidence: dict[str, Path]) -> str:
    """Register, attach five reports, pass both gates with two approvals (as the benchmark)."""
    ref = registry.register_version("fraud", artifact, actor="alice").ref
    for kind, path in evidence.items():
        registry.add_evidence(ref, path, kind=kind, actor="ci")
    assert registry.gate_check(ref, "approved").allowed
    assert registry.promote(ref, "approved", actor="alice").moved
    for approver in ("bob", "carol"):
        registry.approve(ref, stage="production", reason="reviewed", actor=approver)
    assert registry.promote(ref, "production", actor="alice").moved
    return ref


def test_a_batch_commits_once_with_one_checkpoint(
    people: Registry, make_artifact: Callable[..., Path], tmp_path: Path
) -> None:
    events, checkpoints = rows(people, EventRow), rows(people, CheckpointRow)
    with people.batch():
        ref = governed_registration(people, make_artifact("v1"), reports(tmp_path))
    # register 1, evidence 5, each promotion 2 (decision, stage), approvals 2
    assert rows(people, EventRow) == events + 12
    assert rows(people, CheckpointRow) == checkpoints + 1
    assert people.get_version(ref).stage is Stage.PRODUCTION
    report = people.audit_verify()
    assert report.ok, report.problems
    assert report.checkpoint_size == report.size == events + 12
    types = [e.type for e in people.audit_events(start=events)]
    assert types == [
        "version.registered",
        *["evidence.attached"] * 5,
        "evidence.attached",
        "stage.changed",
        "evidence.attached",
        "evidence.attached",
        "evidence.attached",
        "stage.changed",
    ]


def test_per_call_writes_each_seal_a_checkpoint(
    people: Registry, make_artifact: Callable[..., Path], tmp_path: Path
) -> None:
    checkpoints = rows(people, CheckpointRow)
    governed_registration(people, make_artifact("v1"), reports(tmp_path))
    assert rows(people, CheckpointRow) == checkpoints + 10  # one per write call
    assert people.audit_verify().ok


def test_reads_inside_a_batch_see_its_writes(
    people: Registry, make_artifact: Callable[..., Path], tmp_path: Path
) -> None:
    with people.batch():
        people.create_model("churn", risk_tier="minimal", actor="alice")
        assert people.get_model("churn").risk_tier.value == "minimal"
        version = people.register_version("churn", make_artifact("c1"), actor="alice")
        assert people.get_version("churn@latest") == version
        people.set_alias("churn", "canary", version.number, actor="alice")
        assert people.get_version("churn@canary").aliases == ("canary",)
        people.add_evidence(
            version.ref, reports(tmp_path)["evaluation"], kind="evaluation", actor="ci"
        )
        assert [v.kind for v in people.list_evidence(version.ref)] == ["evaluation"]
        assert [m.alias for m in people.alias_history("churn")] == ["canary"]
        inside = people.audit_verify()  # the batch's events are there, not yet sealed
        assert inside.size == inside.checkpoint_size + 4
    assert people.audit_verify().ok


def test_an_error_rolls_the_whole_batch_back(
    people: Registry, make_artifact: Callable[..., Path], tmp_path: Path
) -> None:
    before = people.audit_verify()
    counts = {t: rows(people, t) for t in (EventRow, CheckpointRow, ModelRow, VersionRow)}
    with pytest.raises(RuntimeError, match="boom"), people.batch():
        people.create_model("churn", risk_tier="minimal", actor="alice")
        people.register_version("fraud", make_artifact("v1"), actor="alice")
        people.add_evidence(
            "fraud@1", reports(tmp_path)["evaluation"], kind="evaluation", actor="ci"
        )
        raise RuntimeError("boom")
    assert {t: rows(people, t) for t in counts} == counts
    with pytest.raises(NotFoundError):
        people.get_model("churn")
    with pytest.raises(NotFoundError):
        people.get_version("fraud@1")
    after = people.audit_verify()
    assert after.ok, after.problems
    assert (after.size, after.root) == (before.size, before.root)
    # The numbers a rolled-back batch claimed are free again.
    assert people.register_version("fraud", make_artifact("v1"), actor="alice").number == 1


def test_a_caught_write_error_still_rolls_the_batch_back(
    people: Registry, make_artifact: Callable[..., Path]
) -> None:
    events = rows(people, EventRow)
    with pytest.raises(StoreError, match="batch was rolled back"), people.batch():
        people.create_model("churn", risk_tier="minimal", actor="alice")
        with pytest.raises(ConflictError):
            people.create_model("fraud", risk_tier="minimal", actor="alice")
        # Nothing more runs in a failed batch.
        with pytest.raises(StoreError, match="batch was rolled back"):
            people.register_version("churn", make_artifact("c1"), actor="alice")
    assert rows(people, EventRow) == events
    with pytest.raises(NotFoundError):
        people.get_model("churn")
    assert people.audit_verify().ok


def test_a_caught_read_error_leaves_the_batch_usable(people: Registry) -> None:
    with people.batch():
        with pytest.raises(NotFoundError):
            people.get_model("churn")
        people.create_model("churn", risk_tier="minimal", actor="alice")
    assert people.get_model("churn").name == "churn"
    assert people.audit_verify().ok


def test_nested_batches_join_the_outer_one(
    people: Registry, make_artifact: Callable[..., Path]
) -> None:
    checkpoints = rows(people, CheckpointRow)
    with people.batch():
        people.create_model("churn", risk_tier="minimal", actor="alice")
        with people.batch():
            people.register_version("churn", make_artifact("c1"), actor="alice")
        # The inner block's end committed nothing: the outer transaction is still open.
        assert rows_inside(people) == 1
        people.register_version("churn", make_artifact("c2"), actor="alice")
    assert rows(people, CheckpointRow) == checkpoints + 1
    assert [v.number for v in people.list_versions("churn")] == [1, 2]
    assert people.audit_verify().ok


def rows_inside(registry: Registry) -> int:
    """Versions of ``churn`` as the open batch sees them."""
    return len(registry.list_versions("churn"))


def test_an_error_in_a_nested_batch_rolls_back_the_outer_one(
    people: Registry, make_artifact: Callable[..., Path]
) -> None:
    events = rows(people, EventRow)
    with pytest.raises(StoreError, match="batch was rolled back"), people.batch():
        people.create_model("churn", risk_tier="minimal", actor="alice")
        with pytest.raises(RuntimeError), people.batch():
            people.register_version("churn", make_artifact("c1"), actor="alice")
            raise RuntimeError("inner")
    assert rows(people, EventRow) == events
    with pytest.raises(NotFoundError):
        people.get_model("churn")


def test_batches_one_after_another(
    people: Registry, make_artifact: Callable[..., Path], tmp_path: Path
) -> None:
    evidence = reports(tmp_path)
    checkpoints = rows(people, CheckpointRow)
    for seed in ("v1", "v2", "v3"):
        with people.batch():
            governed_registration(people, make_artifact(seed), evidence)
    assert rows(people, CheckpointRow) == checkpoints + 3
    assert [v.stage for v in people.list_versions("fraud")] == [Stage.PRODUCTION] * 3
    report = people.audit_verify()
    assert report.ok, report.problems
    assert people.audit_consistency(report.size - 12).verified


def test_a_revocation_inside_a_batch_withdraws_trust_at_once(
    people: Registry, make_artifact: Callable[..., Path], tmp_path: Path
) -> None:
    with people.batch():
        ref = people.register_version("fraud", make_artifact("v1"), actor="alice").ref
        for kind, path in reports(tmp_path).items():
            people.add_evidence(ref, path, kind=kind, actor="ci")
        assert people.gate_check(ref, "approved").allowed
        people.revoke_key("ci", reason="leaked", actor="alice")
        assert not people.gate_check(ref, "approved").allowed
        assert not any(v.trusted for v in people.list_evidence(ref))
        assert not people.promote(ref, "approved", actor="alice").moved
    assert people.get_version(ref).stage is Stage.CANDIDATE
    assert people.audit_verify().ok
