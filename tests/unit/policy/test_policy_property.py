"""Property: a decision equals running each rule's CEL on the full, untrimmed variables.

``Policy.evaluate`` converts the variables once per version and trims fields no rule names; this
checks, over generated versions, that neither changes any rule's outcome under the default policy.
"""

from __future__ import annotations

from typing import Any

import cel
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_variables import CREATOR, variables

from signoff.policy import Policy, default_policy_text

POLICY = Policy.load(default_policy_text())
PEOPLE = [CREATOR, "bob@example.com", "carol@example.com"]

findings = st.lists(
    st.fixed_dictionaries(
        {"severity": st.sampled_from(["critical", "high", "medium", "low"])},
        optional={"id": st.text(max_size=5), "extra": st.integers()},
    ),
    max_size=3,
)
evidence_records = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["artifact-scan", "evaluation", "red-team", "sbom"]),
            "result": st.sampled_from(["pass", "warn", "fail"]),
            "predicate_type": st.just("https://example.com/p/v1"),
            "signer": st.sampled_from(PEOPLE),
            "age_days": st.floats(min_value=0, max_value=200),
            "metrics": st.dictionaries(st.sampled_from(["accuracy", "f1"]), st.floats(0, 1)),
            "findings": findings,
            "tool": st.fixed_dictionaries({"name": st.text(max_size=4)}),
        }
    ),
    max_size=5,
)
approval_records = st.lists(
    st.builds(
        lambda who, stage, decision: {
            "approver": who,
            "stage": stage,
            "decision": decision,
            "reason": "r",
            "age_days": 1.0,
            "by_creator": who == CREATOR,
        },
        st.sampled_from(PEOPLE),
        st.sampled_from(["approved", "production"]),
        st.sampled_from(["approve", "reject"]),
    ),
    max_size=4,
)


def expected_status(source_when: str, source_check: str, action: str, full: Any) -> str:
    if source_when != "true" and not cel.compile(source_when).execute(full):
        return "skipped"
    if cel.compile(source_check).execute(full):
        return "pass"
    return "fail" if action == "deny" else "warn"


@settings(max_examples=150, deadline=None)
@given(
    risk_tier=st.sampled_from(["minimal", "limited", "high"]),
    intended_use=st.sampled_from([None, "", "fraud scoring"]),
    evidence_list=evidence_records,
    approvals=approval_records,
)
def test_decisions_match_rules_run_on_the_full_variables(
    risk_tier: str, intended_use: str | None, evidence_list: Any, approvals: Any
) -> None:
    version = variables(
        risk_tier=risk_tier,
        intended_use=intended_use,
        evidence_list=evidence_list,
        approvals=approvals,
    )
    full = {**version, "params": POLICY.params}
    for stage in POLICY.stages:
        decision = POLICY.evaluate(stage, version)
        expected = [
            expected_status(rule.when, rule.check, rule.action, full)
            for rule in POLICY.rules(stage)
        ]
        assert [r.status for r in decision.results] == expected
        assert decision.allowed == ("fail" not in expected)
