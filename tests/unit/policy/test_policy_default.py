"""The shipped default policy, evaluated with real CEL against realistic versions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from policy_variables import (
    CREATOR,
    approval,
    clean_evidence,
    evidence,
    finding,
    variables,
)

from signoff.policy import Decision, Policy, default_policy_text

APPROVED_RULES = (
    "artifact-scan-passed",
    "no-critical-or-high-findings",
    "evaluation-present",
    "intended-use-documented",
)
PRODUCTION_RULES = (
    "prod-artifact-scan-passed",
    "prod-no-critical-or-high-findings",
    "prod-evaluation-present",
    "independent-approval",
    "high-risk-two-approvers",
    "no-rejection",
    "high-risk-red-team",
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load(default_policy_text())


def statuses(decision: Decision) -> dict[str, str]:
    return {r.rule_id: r.status for r in decision.results}


def blocking(decision: Decision) -> set[str]:
    return {r.rule_id for r in decision.blocking}


def high_risk_ready(**overrides: Any) -> dict[str, Any]:
    """A high-risk version that passes the production gate."""
    ready: dict[str, Any] = {
        "risk_tier": "high",
        "evidence_list": [*clean_evidence(), evidence("red-team", "warn")],
        "approvals": [approval("bob@example.com"), approval("carol@example.com")],
    }
    return variables(**(ready | overrides))


def test_default_policy_shape(policy: Policy) -> None:
    assert policy.name == "default"
    assert policy.stages == ("approved", "production")
    assert policy.protected_aliases == {"production": "production"}
    assert policy.max_evidence_age_days == 90
    assert tuple(r.id for r in policy.rules("approved")) == APPROVED_RULES
    assert tuple(r.id for r in policy.rules("production")) == PRODUCTION_RULES


def test_every_rule_maps_to_all_three_frameworks(policy: Policy) -> None:
    for stage in policy.stages:
        for rule in policy.rules(stage):
            frameworks = {control.split(":")[0] for control in rule.controls}
            assert frameworks == {"NIST-AI-RMF", "ISO-42001", "EU-AI-Act"}, rule.id


def test_no_evidence_blocks_approval_naming_each_failing_rule(policy: Policy) -> None:
    decision = policy.evaluate("approved", variables(evidence_list=[]))
    assert not decision.allowed
    assert blocking(decision) == {"artifact-scan-passed", "evaluation-present"}
    messages = {r.rule_id: r.message for r in decision.blocking}
    assert messages["artifact-scan-passed"] == "no passing artifact scan in the last 90 days"
    assert messages["evaluation-present"] == "no fresh evaluation evidence with result pass or warn"


def test_no_evidence_and_no_approval_blocks_production(policy: Policy) -> None:
    decision = policy.evaluate("production", variables(evidence_list=[]))
    assert blocking(decision) == {
        "prod-artifact-scan-passed",
        "prod-evaluation-present",
        "independent-approval",
    }
    assert statuses(decision)["high-risk-red-team"] == "skipped"


def test_clean_evidence_passes_approval(policy: Policy) -> None:
    decision = policy.evaluate("approved", variables())
    assert decision.allowed
    assert set(statuses(decision).values()) == {"pass"}
    assert decision.counts == {
        "pass": 4,
        "fail": 0,
        "warn": 0,
        "skipped": 0,
        "excepted": 0,
        "error": 0,
    }


def test_clean_limited_risk_version_with_one_independent_approval_enters_production(
    policy: Policy,
) -> None:
    decision = policy.evaluate("production", variables(approvals=[approval("bob@example.com")]))
    assert decision.allowed
    assert statuses(decision)["high-risk-two-approvers"] == "skipped"
    assert statuses(decision)["high-risk-red-team"] == "skipped"


@pytest.mark.parametrize("severity", ["critical", "high"])
def test_critical_or_high_findings_block(policy: Policy, severity: str) -> None:
    scan = evidence("artifact-scan", findings=[finding("low"), finding(severity)])
    evaluation = evidence("evaluation")
    decision = policy.evaluate("approved", variables(evidence_list=[scan, evaluation]))
    assert blocking(decision) == {"no-critical-or-high-findings"}
    assert decision.blocking[0].message == (
        "1 fresh evidence record(s) report critical or high findings"
    )


def test_findings_in_any_evidence_count_not_only_the_scan(policy: Policy) -> None:
    evaluation = evidence("evaluation", findings=[finding("critical")])
    decision = policy.evaluate(
        "production",
        variables(
            evidence_list=[evidence("artifact-scan"), evaluation],
            approvals=[approval("bob@example.com")],
        ),
    )
    assert blocking(decision) == {"prod-no-critical-or-high-findings"}


def test_medium_findings_do_not_block(policy: Policy) -> None:
    scan = evidence("artifact-scan", findings=[finding("medium"), finding("low")])
    decision = policy.evaluate("approved", variables(evidence_list=[scan, evidence("evaluation")]))
    assert decision.allowed


def test_a_failed_scan_or_evaluation_does_not_count(policy: Policy) -> None:
    failed = [evidence("artifact-scan", "fail"), evidence("evaluation", "fail")]
    decision = policy.evaluate("approved", variables(evidence_list=failed))
    assert blocking(decision) == {"artifact-scan-passed", "evaluation-present"}


def test_stale_evidence_does_not_count(policy: Policy) -> None:
    stale = [evidence("artifact-scan", age_days=90.5), evidence("evaluation", age_days=200)]
    decision = policy.evaluate("approved", variables(evidence_list=stale))
    assert blocking(decision) == {"artifact-scan-passed", "evaluation-present"}
    # Exactly the limit still counts.
    edge = [evidence("artifact-scan", age_days=90), evidence("evaluation", age_days=90)]
    assert policy.evaluate("approved", variables(evidence_list=edge)).allowed


def test_stale_findings_are_superseded_by_fresh_evidence(policy: Policy) -> None:
    old_scan = evidence("artifact-scan", "fail", age_days=120, findings=[finding("critical")])
    decision = policy.evaluate("approved", variables(evidence_list=[old_scan, *clean_evidence()]))
    assert decision.allowed


def test_max_evidence_age_is_the_policy_parameter() -> None:
    longer = Policy.load(
        default_policy_text().replace("maxEvidenceAgeDays: 90", "maxEvidenceAgeDays: 365")
    )
    stale = [evidence("artifact-scan", age_days=200), evidence("evaluation", age_days=200)]
    assert longer.evaluate("approved", variables(evidence_list=stale)).allowed
    scan_only = longer.evaluate("approved", variables(evidence_list=stale[1:]))
    assert scan_only.blocking[0].message == "no passing artifact scan in the last 365 days"


def test_the_creators_own_approval_does_not_count(policy: Policy) -> None:
    decision = policy.evaluate("production", variables(approvals=[approval(CREATOR)]))
    assert blocking(decision) == {"independent-approval"}
    assert decision.blocking[0].message == (
        "no production approval from anyone but the version's creator"
    )


def test_an_approval_for_another_stage_does_not_count(policy: Policy) -> None:
    decision = policy.evaluate(
        "production", variables(approvals=[approval("bob@example.com", stage="approved")])
    )
    assert blocking(decision) == {"independent-approval"}


def test_high_risk_ready_version_enters_production(policy: Policy) -> None:
    decision = policy.evaluate("production", high_risk_ready())
    assert decision.allowed
    assert set(statuses(decision).values()) == {"pass"}


@pytest.mark.parametrize(
    "approvers",
    [
        ["bob@example.com"],
        ["bob@example.com", "bob@example.com"],
        [CREATOR, "bob@example.com"],
    ],
    ids=["one", "same-person-twice", "creator-and-one"],
)
def test_high_risk_needs_two_distinct_non_creator_approvers(
    policy: Policy, approvers: list[str]
) -> None:
    decision = policy.evaluate(
        "production", high_risk_ready(approvals=[approval(a) for a in approvers])
    )
    assert blocking(decision) == {"high-risk-two-approvers"}


def test_high_risk_needs_red_team_evidence(policy: Policy) -> None:
    decision = policy.evaluate("production", high_risk_ready(evidence_list=clean_evidence()))
    assert blocking(decision) == {"high-risk-red-team"}
    failed = [*clean_evidence(), evidence("red-team", "fail")]
    decision = policy.evaluate("production", high_risk_ready(evidence_list=failed))
    assert blocking(decision) == {"high-risk-red-team"}
    stale = [*clean_evidence(), evidence("red-team", age_days=91)]
    decision = policy.evaluate("production", high_risk_ready(evidence_list=stale))
    assert blocking(decision) == {"high-risk-red-team"}


def test_a_reject_blocks_even_with_enough_approvals(policy: Policy) -> None:
    approvals = [
        approval("bob@example.com"),
        approval("carol@example.com"),
        approval("dave@example.com", "reject"),
    ]
    decision = policy.evaluate("production", high_risk_ready(approvals=approvals))
    assert blocking(decision) == {"no-rejection"}
    assert decision.blocking[0].message == "rejected for production by dave@example.com"


def test_a_reject_for_another_stage_does_not_block_production(policy: Policy) -> None:
    approvals = [approval("bob@example.com"), approval("dave@example.com", "reject", stage="x")]
    assert policy.evaluate("production", variables(approvals=approvals)).allowed


def test_missing_intended_use_warns_without_blocking(policy: Policy) -> None:
    for intended_use in (None, ""):
        decision = policy.evaluate("approved", variables(intended_use=intended_use))
        assert decision.allowed
        assert statuses(decision)["intended-use-documented"] == "warn"
        assert decision.counts["warn"] == 1


def test_an_exception_unblocks_the_rule_it_names(policy: Policy) -> None:
    version = high_risk_ready(evidence_list=clean_evidence())
    decision = policy.evaluate("production", version, excepted_rule_ids={"high-risk-red-team"})
    assert decision.allowed
    assert statuses(decision)["high-risk-red-team"] == "excepted"
    assert decision.counts["excepted"] == 1 and decision.counts["fail"] == 0
    excepted = next(r for r in decision.results if r.status == "excepted")
    assert "red-team" in excepted.message


def test_decision_to_dict_is_json(policy: Policy) -> None:
    decision = policy.evaluate("approved", variables(evidence_list=[]))
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["allowed"] is False
    assert data["policy_name"] == "default" and data["policy_digest"] == policy.digest
    assert data["stage"] == "approved"
    assert data["counts"]["fail"] == 2
    first = data["results"][0]
    assert first["rule_id"] == "artifact-scan-passed" and first["status"] == "fail"
    assert "EU-AI-Act:Art.15" in first["controls"]
