"""Governance on a real store (SQLite and PostgreSQL): keys, evidence, gates, approvals."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from signoff.attestations import (
    FINDING_PREDICATE,
    PAYLOAD_TYPE,
    finding_predicate,
    make_statement,
    sign,
    statement_bytes,
)
from signoff.domain import Stage
from signoff.errors import (
    CheckFailedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from signoff.governance.evidence import GATE_KIND
from signoff.keys import generate_key, public_key_pem
from signoff.policy import default_policy_text
from signoff.registry import Registry
from signoff.store import resolve_location

PEOPLE = ("alice", "bob", "carol")


def report(
    tmp_path: Path, kind: str, result: str = "pass", findings: list[dict[str, str]] | None = None
) -> Path:
    """A native finding report file."""
    path = tmp_path / f"{kind}-{result}-{len(findings or [])}.json"
    path.write_text(
        json.dumps(
            {
                "kind": kind,
                "result": result,
                "metrics": {"score": 0.93},
                "findings": findings or [],
                "tool": {"name": "test-tool", "version": "1.0"},
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    )
    return path


@pytest.fixture
def gov(registry: Registry, make_artifact: Callable[..., Path]) -> Registry:
    """A registry with three people holding keys and a high-risk model with one version."""
    for person in PEOPLE:
        registry.create_key(person, actor=person)
    registry.create_model("fraud", risk_tier="high", intended_use="score payments", actor="alice")
    registry.register_version("fraud", make_artifact("v1"), actor="alice")
    return registry


def add_clean_evidence(gov: Registry, tmp_path: Path, ref: str = "fraud@1") -> None:
    gov.add_evidence(ref, report(tmp_path, "artifact-scan"), kind="artifact-scan", actor="carol")
    gov.add_evidence(ref, report(tmp_path, "evaluation"), kind="evaluation", actor="carol")


def statuses(decision: object) -> dict[str, str]:
    return {r.rule_id: r.status for r in decision.results}  # type: ignore[attr-defined]


# --- keys ---------------------------------------------------------------------------------------


def test_keys_are_private_files_and_registered(gov: Registry, signoff_home: Path) -> None:
    key_file = gov.keystore.path_for("alice")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    principals = {k.principal for k in gov.list_keys() if k.active}
    assert principals == {"signoff-registry", *PEOPLE}
    with pytest.raises(ConflictError, match="already has a key"):
        gov.create_key("alice")
    with pytest.raises(InvalidInputError, match="registry's own principal"):
        gov.create_key("signoff-registry")
    with pytest.raises(InvalidInputError, match="cannot be revoked"):
        gov.revoke_key("signoff-registry", reason="x")
    with pytest.raises(NotFoundError, match="no active key"):
        gov.revoke_key("zed", reason="x")


def test_revoked_key_evidence_is_kept_but_untrusted(gov: Registry, tmp_path: Path) -> None:
    add_clean_evidence(gov, tmp_path)
    assert gov.gate_check("fraud@1", "approved").allowed
    gov.revoke_key("carol", reason="left the company", actor="alice")
    views = gov.list_evidence("fraud@1")
    assert len(views) == 2 and not any(v.trusted for v in views)
    assert "unrevoked" in (views[0].problem or "")
    decision = gov.gate_check("fraud@1", "approved")
    assert not decision.allowed
    assert statuses(decision)["artifact-scan-passed"] == "fail"
    with pytest.raises(InvalidInputError, match="revoked"):
        gov.add_evidence("fraud@1", report(tmp_path, "data"), kind="data", actor="carol")


# --- evidence -----------------------------------------------------------------------------------


def test_reports_are_converted_signed_and_bound_to_the_digest(
    gov: Registry, tmp_path: Path
) -> None:
    sarif = tmp_path / "scan.sarif"
    sarif.write_text(
        json.dumps(
            {
                "version": "2.1.0",
                "runs": [
                    {
                        "tool": {"driver": {"name": "bandit", "version": "1.7"}},
                        "results": [
                            {
                                "ruleId": "B301",
                                "level": "error",
                                "message": {"text": "pickle.load on untrusted data"},
                            }
                        ],
                    }
                ],
            }
        )
    )
    junit = tmp_path / "eval.xml"
    junit.write_text(
        '<testsuite name="eval" tests="2"><testcase name="auc"/>'
        '<testcase name="bias"><failure message="parity gap 0.2"/></testcase></testsuite>'
    )
    scan = gov.add_evidence("fraud@1", sarif, kind="artifact-scan", fmt="sarif", actor="carol")
    evaluation = gov.add_evidence("fraud@1", junit, kind="fairness", fmt="junit", actor="bob")
    assert scan.trusted and scan.signer == "carol" and scan.result == "fail"
    assert scan.findings[0]["id"] == "B301"
    assert evaluation.result == "fail" and evaluation.signer == "bob"
    _, envelope = gov.get_evidence(scan.id)
    statement = json.loads(__import__("base64").b64decode(json.loads(envelope)["payload"]))
    digest = gov.get_version("fraud@1").artifact.root_digest
    assert statement["subject"][0]["digest"] == {"sha256": digest}
    assert statement["predicateType"] == FINDING_PREDICATE


def test_bad_reports_are_refused_and_write_nothing(gov: Registry, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not JSON"):
        gov.add_evidence("fraud@1", bad, kind="evaluation", actor="bob")
    with pytest.raises(InvalidInputError, match="unknown evidence kind"):
        gov.add_evidence("fraud@1", report(tmp_path, "evaluation"), kind="vibes", actor="bob")
    with pytest.raises(InvalidInputError, match="does not exist"):
        gov.add_evidence("fraud@1", tmp_path / "missing.json", kind="evaluation", actor="bob")
    with pytest.raises(InvalidInputError, match="no signing key"):
        gov.add_evidence("fraud@1", report(tmp_path, "evaluation"), kind="evaluation", actor="zed")
    assert gov.list_evidence("fraud@1") == []


def _envelope(digest: str, key: object, kind: str = "red-team") -> str:
    predicate = finding_predicate(kind, "pass", tool_name="garak", time=datetime.now(UTC))
    statement = make_statement("fraud@1", digest, FINDING_PREDICATE, predicate)
    return sign(statement_bytes(statement), PAYLOAD_TYPE, key).to_json()  # type: ignore[arg-type]


def test_presigned_envelopes(gov: Registry) -> None:
    digest = gov.get_version("fraud@1").artifact.root_digest
    evaluator = generate_key()
    unknown = gov.attach_envelope("fraud@1", _envelope(digest, evaluator), actor="bob")
    assert not unknown.trusted and unknown.kind == "red-team"
    gov.add_public_key("redteam-vendor", public_key_pem(evaluator.public_key()), actor="alice")
    views = gov.list_evidence("fraud@1")
    assert views[0].trusted and views[0].signer == "redteam-vendor"
    with pytest.raises(InvalidInputError, match="about other bytes"):
        gov.attach_envelope("fraud@1", _envelope("ab" * 32, evaluator), actor="bob")
    with pytest.raises(InvalidInputError):
        gov.attach_envelope("fraud@1", "{}", actor="bob")
    assert len(gov.list_evidence("fraud@1")) == 1


def test_a_tampered_envelope_stops_counting(
    gov: Registry, tmp_path: Path, registry_url: str
) -> None:
    add_clean_evidence(gov, tmp_path)
    engine = sa.create_engine(resolve_location(registry_url).url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            'UPDATE evidence SET envelope = replace(envelope, \'"sig": "\', \'"sig": "AA\')'
            " WHERE kind = 'artifact-scan'"
        )
    engine.dispose()
    scan = next(v for v in gov.list_evidence("fraud@1") if v.kind == "artifact-scan")
    assert not scan.trusted
    assert not gov.gate_check("fraud@1", "approved").allowed
    assert any("evidence 1" in p for p in gov.audit_verify().problems)


# --- gates, approvals, promotion ----------------------------------------------------------------


def test_blocked_gate_names_each_rule_and_changes_nothing(gov: Registry) -> None:
    decision = gov.gate_check("fraud@1", "approved")
    assert not decision.allowed
    assert statuses(decision) == {
        "artifact-scan-passed": "fail",
        "no-critical-or-high-findings": "pass",
        "evaluation-present": "fail",
        "intended-use-documented": "pass",
    }
    size = len(gov.audit_events())
    result = gov.promote("fraud@1", "approved", actor="bob")
    assert not result.moved
    assert gov.get_version("fraud@1").stage is Stage.CANDIDATE
    assert len(gov.audit_events()) == size


def test_full_promotion_with_separation_of_duties(gov: Registry, tmp_path: Path) -> None:
    add_clean_evidence(gov, tmp_path)
    promoted = gov.promote("fraud@1", "approved", actor="bob")
    assert promoted.moved and promoted.decision is not None and promoted.decision.allowed
    gate = next(v for v in gov.list_evidence("fraud@1") if v.kind == GATE_KIND)
    assert gate.trusted and gate.signer == "signoff-registry"
    _, record = gov.current_policy()
    assert gate.predicate["policy"]["digest"]["sha256"] == record.digest
    assert gate.predicate["verificationResult"] == "PASSED"
    # The decision cites exactly the envelopes it rested on, by the digest of their bytes.
    cited = {a["digest"]["sha256"] for a in gate.predicate["inputAttestations"]}
    inputs = [v for v in gov.list_evidence("fraud@1") if v.kind != GATE_KIND]
    assert cited == {hashlib.sha256(gov.get_evidence(v.id)[1].encode()).hexdigest() for v in inputs}

    gov.add_evidence("fraud@1", report(tmp_path, "red-team"), kind="red-team", actor="carol")
    gov.approve("fraud@1", stage="production", reason="I built it", actor="alice")
    blocked = gov.gate_check("fraud@1", "production")
    assert statuses(blocked)["independent-approval"] == "fail"  # the creator's own approval
    gov.approve("fraud@1", stage="production", reason="reviewed", actor="bob")
    assert statuses(gov.gate_check("fraud@1", "production"))["high-risk-two-approvers"] == "fail"
    gov.approve("fraud@1", stage="production", reason="reviewed too", actor="carol")
    assert gov.promote("fraud@1", "production", actor="carol").moved
    assert gov.get_version("fraud@1").stage is Stage.PRODUCTION
    gov.set_alias("fraud", "production", 1, actor="carol")
    assert gov.audit_verify().ok
    assert gov.coverage().ok


def test_a_rejection_blocks(gov: Registry, tmp_path: Path) -> None:
    add_clean_evidence(gov, tmp_path)
    gov.add_evidence("fraud@1", report(tmp_path, "red-team"), kind="red-team", actor="carol")
    gov.promote("fraud@1", "approved", actor="bob")
    gov.approve("fraud@1", stage="production", reason="ok", actor="bob")
    gov.approve("fraud@1", stage="production", reason="ok", actor="carol")
    assert gov.gate_check("fraud@1", "production").allowed
    gov.reject("fraud@1", stage="production", reason="drift found", actor="bob")
    assert statuses(gov.gate_check("fraud@1", "production"))["no-rejection"] == "fail"
    with pytest.raises(InvalidInputError, match="needs a reason"):
        gov.approve("fraud@1", stage="production", reason=" ", actor="bob")
    with pytest.raises(InvalidInputError, match="has no gate"):
        gov.approve("fraud@1", stage="candidate", reason="x", actor="bob")


def test_critical_findings_block(gov: Registry, tmp_path: Path) -> None:
    add_clean_evidence(gov, tmp_path)
    finding = {"id": "P1", "severity": "critical", "title": "os.system in pickle"}
    gov.add_evidence(
        "fraud@1",
        report(tmp_path, "robustness", "fail", [finding]),
        kind="robustness",
        actor="carol",
    )
    assert statuses(gov.gate_check("fraud@1", "approved"))["no-critical-or-high-findings"] == "fail"


def test_transitions(gov: Registry, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="approved before production"):
        gov.promote("fraud@1", "production")
    with pytest.raises(InvalidInputError, match="unknown stage"):
        gov.promote("fraud@1", "staging")
    add_clean_evidence(gov, tmp_path)
    gov.promote("fraud@1", "approved", actor="bob")
    demoted = gov.promote("fraud@1", "candidate", actor="bob", reason="new finding")
    assert demoted.moved and demoted.decision is None
    changes = [e for e in gov.audit_events(subject="fraud@1") if e.type == "stage.changed"]
    assert [(e.data["from"], e.data["to"]) for e in changes] == [
        ("candidate", "approved"),
        ("approved", "candidate"),
    ]
    assert changes[1].data["reason"] == "new finding"
    gov.promote("fraud@1", "retired", actor="bob")
    with pytest.raises(InvalidInputError, match="retirement is final"):
        gov.promote("fraud@1", "candidate")


def test_protected_alias(gov: Registry, tmp_path: Path) -> None:
    with pytest.raises(CheckFailedError, match="protected"):
        gov.set_alias("fraud", "production", 1)
    gov.set_alias("fraud", "champion", 1)  # unprotected aliases go anywhere
    assert gov.alias_history("fraud")[0].alias == "champion"


# --- policy and exceptions ----------------------------------------------------------------------


def test_policy_changes_are_validated_and_audited(gov: Registry) -> None:
    bad = default_policy_text().replace(
        'check: >-\n            evidence.exists(e, e.kind == "evaluation"',
        'check: >-\n            evidence.exists(e, e.kind == == "evaluation"',
        1,
    )
    with pytest.raises(InvalidInputError, match="evaluation-present"):
        gov.set_policy(bad, actor="alice")
    strict = default_policy_text().replace("maxEvidenceAgeDays: 90", "maxEvidenceAgeDays: 30")
    record = gov.set_policy(strict, actor="alice")
    event = [e for e in gov.audit_events() if e.type == "policy.set"][-1]
    assert event.data["digest"] == record.digest
    assert gov.gate_check("fraud@1", "approved").policy_digest == record.digest


def test_exceptions_are_named_scoped_and_counted_apart(gov: Registry, tmp_path: Path) -> None:
    gov.add_evidence(
        "fraud@1", report(tmp_path, "artifact-scan"), kind="artifact-scan", actor="carol"
    )
    assert not gov.gate_check("fraud@1", "approved").allowed
    gov.grant_exception(
        "EXC-1",
        rule_id="evaluation-present",
        model="fraud",
        version=1,
        reason="evaluation suite being rebuilt",
        expires=timedelta(days=7),
        actor="bob",
    )
    decision = gov.gate_check("fraud@1", "approved")
    assert decision.allowed and statuses(decision)["evaluation-present"] == "excepted"
    assert decision.counts["excepted"] == 1
    with pytest.raises(InvalidInputError, match="no rule"):
        gov.grant_exception(
            "EXC-2", rule_id="nope", model="fraud", reason="x", expires=timedelta(days=1)
        )
    with pytest.raises(InvalidInputError, match="future"):
        gov.grant_exception(
            "EXC-3",
            rule_id="evaluation-present",
            model="fraud",
            reason="x",
            expires=timedelta(days=-1),
        )
    with pytest.raises(ConflictError, match="already exists"):
        gov.grant_exception(
            "EXC-1",
            rule_id="evaluation-present",
            model="fraud",
            reason="x",
            expires=timedelta(days=1),
        )
    assert [x.name for x in gov.list_exceptions()] == ["EXC-1"]
    assert any(e.type == "exception.granted" for e in gov.audit_events())
    assert gov.audit_verify().ok


def test_coverage_finds_drift(gov: Registry, tmp_path: Path) -> None:
    add_clean_evidence(gov, tmp_path)
    gov.promote("fraud@1", "approved", actor="bob")
    assert gov.coverage().ok
    gov.set_policy(
        default_policy_text().replace(
            "        - id: intended-use-documented",
            "        - id: fairness-present\n"
            "          title: fairness evidence\n"
            "          check: 'evidence.exists(e, e.kind == \"fairness\")'\n"
            "          message: no fairness evidence\n"
            "        - id: intended-use-documented",
            1,
        ),
        actor="alice",
    )
    report_ = gov.coverage()
    assert not report_.ok
    assert report_.drifted[0].ref == "fraud@1"
    assert "fairness-present" in report_.drifted[0].reasons[0]


def test_coverage_finds_stale_evidence_and_misplaced_aliases(gov: Registry, tmp_path: Path) -> None:
    old = (datetime.now(UTC) - timedelta(days=80)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for kind in ("artifact-scan", "evaluation", "red-team"):
        path = report(tmp_path, kind)
        content = json.loads(path.read_text())
        content["time"] = old
        path.write_text(json.dumps(content))
        gov.add_evidence("fraud@1", path, kind=kind, actor="carol")
    assert gov.promote("fraud@1", "approved", actor="bob").moved
    gov.approve("fraud@1", stage="production", reason="ok", actor="bob")
    gov.approve("fraud@1", stage="production", reason="ok", actor="carol")
    assert gov.promote("fraud@1", "production", actor="bob").moved
    gov.set_alias("fraud", "production", 1, actor="bob")
    assert gov.coverage().ok
    # Evidence that was fresh enough (80 days) expires under a stricter policy (60 days).
    gov.set_policy(
        default_policy_text().replace("maxEvidenceAgeDays: 90", "maxEvidenceAgeDays: 60"),
        actor="alice",
    )
    stale = gov.coverage()
    assert [d.ref for d in stale.drifted] == ["fraud@1"]
    assert any("prod-artifact-scan-passed" in r for r in stale.drifted[0].reasons)
    # Demoting the version leaves the protected alias on the wrong stage.
    gov.set_policy(default_policy_text(), actor="alice")
    gov.promote("fraud@1", "approved", actor="bob", reason="incident")
    drift = gov.coverage()
    assert [d.ref for d in drift.drifted] == ["fraud@production"]
    assert "which is approved" in drift.drifted[0].reasons[0]
