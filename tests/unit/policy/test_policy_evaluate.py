"""Evaluation semantics: statuses, exceptions, fail-closed errors, messages, variables."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

import pytest
from policy_variables import NOW, approval, evidence, finding, policy_text, variables

from signoff.errors import InvalidInputError
from signoff.policy import Decision, Policy, RuleResult


def gate(*rules: str, spec_extra: str = "") -> Policy:
    """A policy whose approved stage has ``rules``, each a dict-ish 'key: value' block."""
    items = ""
    for index, body in enumerate(rules):
        lines = [f"id: r{index}", f"title: Rule {index}", *body.strip().splitlines()]
        items += "        - " + "\n          ".join(lines) + "\n"
    return Policy.load(policy_text(items, spec_extra=spec_extra))


def only(decision: Decision) -> RuleResult:
    (result,) = decision.results
    return result


def run(policy: Policy, **overrides: Any) -> Decision:
    return policy.evaluate("approved", variables(**overrides))


# -- statuses ------------------------------------------------------------------------------------


def test_pass_and_fail() -> None:
    policy = gate("check: 'size(evidence) > 0'", "check: 'size(approvals) > 0'\nmessage: none")
    decision = run(policy)
    assert [r.status for r in decision.results] == ["pass", "fail"]
    assert decision.results[0].message == "" and decision.results[1].message == "none"
    assert not decision.allowed and decision.blocking == (decision.results[1],)


def test_warn_rules_do_not_block() -> None:
    result_ = gate("check: 'false'\naction: warn\nmessage: heads up")
    decision = run(result_)
    assert only(decision).status == "warn" and only(decision).message == "heads up"
    assert only(decision).action == "warn"
    assert decision.allowed and decision.counts["warn"] == 1


def test_when_false_skips_and_when_true_applies() -> None:
    policy = gate(
        "when: 'model.risk_tier == \"high\"'\ncheck: 'false'",
        "when: 'model.risk_tier == \"limited\"'\ncheck: 'false'",
    )
    decision = run(policy)
    assert [r.status for r in decision.results] == ["skipped", "fail"]
    assert decision.results[0].message == "not applicable (when is false)"


def test_results_carry_the_rule_title_action_and_controls() -> None:
    policy = gate("check: 'true'\ncontrols: ['ISO-42001:A.6.2.4', 'EU-AI-Act:Art.15']")
    assert only(run(policy)) == RuleResult(
        rule_id="r0",
        title="Rule 0",
        status="pass",
        message="",
        action="deny",
        controls=("ISO-42001:A.6.2.4", "EU-AI-Act:Art.15"),
    )


# -- exceptions ----------------------------------------------------------------------------------


def test_an_excepted_failure_is_counted_apart_and_does_not_block() -> None:
    policy = gate("check: 'false'\nmessage: missing scan", "check: 'false'")
    decision = policy.evaluate("approved", variables(), excepted_rule_ids=["r0"])
    assert [r.status for r in decision.results] == ["excepted", "fail"]
    assert decision.results[0].message == "missing scan"
    assert decision.counts["excepted"] == 1 and decision.counts["fail"] == 1
    assert not decision.allowed
    everything = policy.evaluate("approved", variables(), excepted_rule_ids={"r0", "r1"})
    assert everything.allowed


def test_an_excepted_rule_that_passes_reports_pass() -> None:
    decision = gate("check: 'true'").evaluate("approved", variables(), excepted_rule_ids={"r0"})
    assert only(decision).status == "pass"


def test_an_excepted_warning_is_excepted() -> None:
    policy = gate("check: 'false'\naction: warn")
    assert only(policy.evaluate("approved", variables(), excepted_rule_ids={"r0"})).status == (
        "excepted"
    )


def test_an_exception_does_not_waive_an_error() -> None:
    policy = gate("check: 'evidence[5].kind == \"x\"'")
    decision = policy.evaluate("approved", variables(), excepted_rule_ids={"r0"})
    assert only(decision).status == "error" and not decision.allowed


def test_excepted_rule_ids_must_not_be_a_bare_string() -> None:
    with pytest.raises(InvalidInputError, match="excepted_rule_ids is a string"):
        gate("check: 'false'").evaluate("approved", variables(), excepted_rule_ids="r0")


def test_exceptions_for_unknown_or_skipped_rules_change_nothing() -> None:
    policy = gate("when: 'false'\ncheck: 'false'")
    decision = policy.evaluate("approved", variables(), excepted_rule_ids={"r0", "other"})
    assert only(decision).status == "skipped"


# -- runtime errors fail closed ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ("'model.no_such_field == \"x\"'", "check: no such key: 'no_such_field'"),
        ("'evidence[7].kind == \"scan\"'", "check: index out of bounds"),
        ("'model.name + 1 == \"x\"'", "check: Unsupported operation: string + int"),
        ("'evidence.distinct().size() > 0'", "check: Undefined variable or function: 'distinct'"),
        ("'1 / (size(evidence) - 2) > 0'", "check: division by zero"),
        ("'size(evidence)'", "check returned int 2, not a bool"),
        ("'model.name'", "check returned str 'fraud', not a bool"),
        ("'null'", "check returned NoneType None, not a bool"),
    ],
)
def test_runtime_errors_fail_closed(check: str, expected: str) -> None:
    decision = run(gate(f"check: {check}\naction: warn"))
    result = only(decision)
    assert result.status == "error" and not decision.allowed
    assert result.message.startswith(expected), result.message
    assert "\n" not in result.message


def test_an_error_in_when_is_an_error_not_a_skip() -> None:
    for when in ("'model.nope == 1'", "'1'"):
        result = only(run(gate(f"when: {when}\ncheck: 'true'")))
        assert result.status == "error" and result.message.startswith("when")


def test_errors_absorbed_by_logic_do_not_error() -> None:
    # CEL's && and || are commutative: an error on one side is absorbed by a decisive other side.
    assert only(run(gate("check: 'model.nope == 1 || true'"))).status == "pass"


def test_has_guards_optional_fields() -> None:
    policy = gate("check: 'evidence.all(e, !has(e.metrics.accuracy) || e.metrics.accuracy > 0.9)'")
    assert only(run(policy)).status == "pass"


# -- messages ------------------------------------------------------------------------------------


def test_message_expression_is_evaluated() -> None:
    policy = gate(
        "check: 'size(evidence) > 5'\n"
        'messageExpression: \'"only " + string(size(evidence)) + " evidence records"\'\n'
        "message: unused"
    )
    assert only(run(policy)).message == "only 2 evidence records"


@pytest.mark.parametrize("expression", ["'model.nope'", "'size(evidence)'", "'\"\"'"])
def test_a_broken_message_expression_falls_back_to_message(expression: str) -> None:
    policy = gate(f"check: 'false'\nmessageExpression: {expression}\nmessage: static")
    assert only(run(policy)).message == "static"


def test_without_any_message_the_title_is_reported() -> None:
    policy = gate("check: 'false'\nmessageExpression: 'model.nope'")
    assert only(run(policy)).message == "check failed: Rule 0"


# -- variables -----------------------------------------------------------------------------------


def test_now_is_a_timestamp_and_durations_work() -> None:
    policy = gate(
        'check: \'now - timestamp("2025-05-01T12:00:00Z") == duration("744h")\'',
        "check: 'now > timestamp(\"2025-01-01T00:00:00Z\") && now.getFullYear() == 2025'",
    )
    assert [r.status for r in run(policy).results] == ["pass", "pass"]


def test_params_include_spec_params() -> None:
    policy = gate(
        "check: 'evidence.exists(e, e.kind == params.scanKind) && params.maxEvidenceAgeDays == 7'",
        spec_extra="  maxEvidenceAgeDays: 7\n  params: {scanKind: artifact-scan}\n",
    )
    assert only(run(policy)).status == "pass"


def test_every_documented_field_is_readable() -> None:
    check = (
        "model.name == 'fraud' && model.owner != '' && model.team == 'risk'"
        " && model.tags.domain == 'payments' && model.intended_use != ''"
        " && version.ref == 'fraud@3' && version.number == 3 && version.stage == 'approved'"
        " && version.created_by == model.owner && version.root_digest.startsWith('sha256:')"
        " && version.metadata.framework == 'sklearn'"
        " && evidence.all(e, e.signer != '' && e.predicate_type.startsWith('https://')"
        "    && e.tool.name != '' && e.age_days >= 0.0)"
        " && evidence.exists(e, e.findings.exists(f, f.severity == 'low' && f.id != ''))"
        " && evidence.exists(e, has(e.metrics.accuracy) && e.metrics.accuracy > 0.9)"
        " && approvals.all(a, a.reason != '' && a.age_days >= 0.0 && a.by_creator == false)"
    )
    policy = gate(f'check: "{check}"')
    assert only(run(policy, approvals=[approval("bob@example.com")])).status == "pass"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda v: v.pop("now"), "missing policy variable 'now'"),
        (lambda v: v.update(exceptions=[]), "unknown policy variable 'exceptions'"),
        (lambda v: v.update(params={}), "'params' is set by the policy"),
        (lambda v: v.update(now=datetime(2025, 1, 1)), "'now' is not a timezone-aware datetime"),
        (lambda v: v.update(now="2025-01-01"), "'now' is not a timezone-aware datetime"),
        (lambda v: v.update(evidence={}), "'evidence' is not a list"),
        (lambda v: v.update(approvals="bob"), "'approvals' is not a list"),
        (lambda v: v.update(model=[]), "'model' is not a mapping"),
    ],
)
def test_malformed_variables_are_refused(change: Any, expected: str) -> None:
    version = variables()
    change(version)
    with pytest.raises(InvalidInputError, match=expected):
        gate("check: 'true'").evaluate("approved", version)


def test_values_cel_cannot_hold_are_refused() -> None:
    version = variables()
    version["evidence"][0]["findings"][0]["severity"] = date(2025, 1, 1)
    policy = gate("check: 'evidence.all(e, e.findings.all(f, f.severity != \"x\"))'")
    with pytest.raises(InvalidInputError, match="cannot be converted to CEL"):
        policy.evaluate("approved", version)


def test_evaluation_does_not_modify_the_variables() -> None:
    version = variables(approvals=[approval("bob@example.com")])
    before = copy.deepcopy(version)
    gate("check: 'evidence.exists(e, e.kind == \"x\")'").evaluate("approved", version)
    assert version == before


# -- projection: only fields the stage names are converted ---------------------------------------


def test_records_expose_only_fields_the_stage_names() -> None:
    # Documented consequence of the projection: a record seen as a whole shows the named keys.
    policy = gate("check: 'size(model) == 2 && model.risk_tier == \"limited\" && has(model.name)'")
    assert only(run(policy)).status == "pass"


def test_free_maps_in_records_pass_whole() -> None:
    policy = gate("check: 'size(model.tags) == 1 && size(evidence[0].tool) == 2'")
    assert only(run(policy)).status == "pass"


def test_fields_named_as_string_keys_are_kept() -> None:
    policy = gate('check: \'evidence[0]["kind"] == "artifact-scan" && "tool" in evidence[0]\'')
    assert only(run(policy)).status == "pass"


def test_non_identifier_keys_are_kept() -> None:
    version = variables()
    version["model"]["risk-tier"] = "high"
    policy = gate('check: \'model["risk-tier"] == "high"\'')
    assert only(policy.evaluate("approved", version)).status == "pass"


def test_findings_are_trimmed_but_readable() -> None:
    scan = evidence("artifact-scan", findings=[finding("high", cve_score=9.1)])
    policy = gate("check: 'evidence.exists(e, e.findings.exists(f, f.cve_score > 9.0))'")
    assert only(run(policy, evidence_list=[scan])).status == "pass"


def test_a_policy_reading_nothing_of_a_variable_still_needs_it_supplied() -> None:
    version = variables()
    del version["version"]
    with pytest.raises(InvalidInputError, match="missing policy variable 'version'"):
        gate("check: 'true'").evaluate("approved", version)


def test_decisions_are_independent_of_version_order() -> None:
    # The projection memoises field names; a new field in a later version must still be kept.
    policy = gate("check: 'evidence.exists(e, has(e.late_field))'")
    assert only(run(policy)).status == "fail"
    late = evidence("artifact-scan") | {"late_field": 1}
    assert only(run(policy, evidence_list=[late])).status == "pass"


def test_naive_now_is_refused_even_when_no_rule_reads_it() -> None:
    version = variables() | {"now": NOW.replace(tzinfo=None)}
    with pytest.raises(InvalidInputError):
        gate("check: 'true'").evaluate("approved", version)
