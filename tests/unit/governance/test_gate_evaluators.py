"""Gates evaluate through a per-process batch evaluator: same decisions, bounded in number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from signoff.domain import Model, RiskTier
from signoff.governance import gates
from signoff.policy import Policy, default_policy_text

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


class _Input:
    """A stand-in GateInput: fixed variables, no exceptions."""

    def __init__(self, variables: dict[str, Any]) -> None:
        self._variables = variables

    def variables(self) -> dict[str, Any]:
        return self._variables

    def active_exceptions(self) -> list[Any]:
        return []


def variables(scan_result: str, scan_age: float) -> dict[str, Any]:
    model = Model(
        name="fraud",
        owner="alice",
        team="risk",
        risk_tier=RiskTier.HIGH,
        intended_use="score payments",
        description=None,
        tags={},
        created_by="alice",
        created_at=NOW - timedelta(days=9),
    )
    evidence = [
        {
            "kind": "artifact-scan",
            "result": scan_result,
            "predicate_type": "p",
            "signer": "ci",
            "age_days": scan_age,
            "metrics": {},
            "findings": [],
            "tool": {},
        },
        {
            "kind": "evaluation",
            "result": "pass",
            "predicate_type": "p",
            "signer": "ci",
            "age_days": 1.5,
            "metrics": {},
            "findings": [],
            "tool": {},
        },
    ]
    return {
        "model": gates.model_value(model),
        "version": gates.version_value("fraud@1", 1, "candidate", "alice", "ab" * 32, {}),
        "evidence": evidence,
        "approvals": [],
        "now": NOW,
    }


def test_decisions_equal_policy_evaluate_as_inputs_change_and_repeat() -> None:
    policy = Policy.load(default_policy_text())
    cases = [("pass", 1.0), ("pass", 1.0), ("fail", 1.0), ("pass", 91.0), ("pass", 2.0)] * 2
    for result, age in cases:
        given = variables(result, age)
        decided = gates.decide(policy, "approved", _Input(given))  # type: ignore[arg-type]
        assert decided.to_dict() == policy.evaluate("approved", given).to_dict()
    assert (
        [
            gates.decide(policy, "approved", _Input(variables(r, a))).allowed  # type: ignore[arg-type]
            for r, a in cases[:5]
        ]
        == [True, True, False, False, True]
    )


def test_a_process_keeps_few_evaluators() -> None:
    base = default_policy_text()
    for n in range(gates.EVALUATORS + 3):
        policy = Policy.load(base.replace("name: default", f"name: p{n}"))
        gates.decide(policy, "approved", _Input(variables("pass", 1.0)))  # type: ignore[arg-type]
    assert len(gates._evaluators) == gates.EVALUATORS
