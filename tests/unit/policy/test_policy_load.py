"""Loading a policy: every malformed document is refused with one line naming where and what."""

from __future__ import annotations

import hashlib

import pytest
from policy_variables import policy_text, variables

from signoff.errors import InvalidInputError
from signoff.policy import Policy, Rule

CHECK = "        - id: r1\n          title: T\n          check: 'true'\n"


def refused(text: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        Policy.load(text)
    error = caught.value
    assert "\n" not in error.message and error.hint, error
    return error


def rule(**fields: str) -> str:
    """One rule as a YAML list item; values are written as given (quote them yourself)."""
    body = {"id": "r1", "title": "T", "check": "'true'", **fields}
    lines = [f"{key}: {value}" for key, value in body.items() if value != "<omit>"]
    return "        - " + "\n          ".join(lines) + "\n"


# -- documents that load -------------------------------------------------------------------------


def test_a_minimal_policy_loads_with_its_accessors() -> None:
    text = policy_text(
        rule(controls='["NIST-AI-RMF:MEASURE-2.7"]', action="warn", message="'m'"),
        spec_extra="  maxEvidenceAgeDays: 30\n  params: {minAccuracy: 0.9}\n"
        "  protectedAliases: {production: production, champion: approved}\n",
    )
    policy = Policy.load(text)
    assert policy.name == "test"
    assert policy.text == text
    assert policy.digest == hashlib.sha256(text.encode()).hexdigest()
    assert policy.max_evidence_age_days == 30
    assert policy.params == {"minAccuracy": 0.9, "maxEvidenceAgeDays": 30}
    assert policy.protected_aliases == {"production": "production", "champion": "approved"}
    assert policy.stages == ("approved",)
    assert policy.has_stage("approved") and not policy.has_stage("production")
    assert policy.rules("approved") == (
        Rule(
            id="r1",
            title="T",
            stage="approved",
            when="true",
            check="true",
            message="m",
            message_expression=None,
            action="warn",
            controls=("NIST-AI-RMF:MEASURE-2.7",),
        ),
    )


def test_defaults_when_optional_keys_are_absent() -> None:
    policy = Policy.load(policy_text(CHECK))
    assert policy.max_evidence_age_days == 90
    assert policy.params == {"maxEvidenceAgeDays": 90}
    assert policy.protected_aliases == {}
    (only,) = policy.rules("approved")
    assert (only.when, only.action, only.controls, only.message) == ("true", "deny", (), None)


def test_accessors_return_copies() -> None:
    policy = Policy.load(policy_text(CHECK, spec_extra="  params: {names: [a]}\n"))
    policy.params["names"].append("b")
    policy.protected_aliases["x"] = "approved"
    assert policy.params["names"] == ["a"] and policy.protected_aliases == {}


def test_digest_changes_with_any_change_of_text() -> None:
    text = policy_text(CHECK)
    digests = {Policy.load(t).digest for t in (text, text + "\n", "# note\n" + text)}
    assert len(digests) == 3


def test_a_stage_with_no_rules_allows_every_version() -> None:
    policy = Policy.load(policy_text("        []\n").replace("rules:\n", "rules:"))
    decision = policy.evaluate("approved", variables(evidence_list=[]))
    assert decision.allowed and decision.results == ()


def test_a_stage_the_policy_does_not_define_is_refused() -> None:
    policy = Policy.load(policy_text(CHECK))
    for call in (lambda: policy.rules("production"), lambda: policy.evaluate("production", {})):
        with pytest.raises(InvalidInputError, match="no gate for stage 'production'"):
            call()


def test_macro_variables_and_yaml_anchors_are_fine() -> None:
    text = policy_text(
        rule(check="'evidence.all(item, item.findings.exists(f, f.severity == \"low\"))'")
        + rule(id="r2", check="'approvals.map(x, x.approver).size() >= 0'")
    )
    assert len(Policy.load(text).rules("approved")) == 2


# -- malformed YAML ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spec: [unclosed", "policy is not valid YAML"),
        ("a: 1\n- b\n", "policy is not valid YAML"),
        ("", "policy is empty"),
        ("# only a comment\n", "policy is empty"),
        ("- a\n- b\n", "policy must be a mapping, not a list"),
        ("a: 1\n---\nb: 2\n", "policy is not valid YAML"),
        ("kind: Policy\nkind: Policy\n", "duplicate key 'kind' at line 2"),
    ],
)
def test_malformed_yaml(text: str, expected: str) -> None:
    assert expected in refused(text).message


def test_bad_yaml_names_the_line() -> None:
    error = refused(policy_text(CHECK + "          check: [\n"))
    assert "line" in error.message


def test_duplicate_key_inside_a_rule() -> None:
    error = refused(policy_text(rule() + "          check: 'false'\n"))
    assert "duplicate key 'check'" in error.message


# -- malformed shape -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (policy_text(CHECK).replace("signoff.dev/v1", "v2"), "apiVersion is 'v2'"),
        (policy_text(CHECK).replace("kind: Policy", "kind: Rule"), "kind is 'Rule'"),
        (policy_text(CHECK).replace("metadata:\n  name: test\n", ""), "policy.metadata is missing"),
        (policy_text(CHECK).replace("name: test", "name: Bad_Name"), "metadata.name 'Bad_Name'"),
        (policy_text(CHECK).replace("name: test", "title: x"), "metadata.title is not a known"),
        (policy_text(CHECK) + "status: {}\n", "policy.status is not a known key"),
        (policy_text(CHECK, spec_extra="  strict: true\n"), "spec.strict is not a known key"),
        (
            "apiVersion: signoff.dev/v1\nkind: Policy\nmetadata: {name: x}\nspec: {}\n",
            "spec.stages",
        ),
        (policy_text(CHECK, stage="candidate"), "spec.stages.candidate is not a stage with a gate"),
        (policy_text(CHECK, stage="retired"), "spec.stages.retired is not a stage with a gate"),
        (policy_text(CHECK, stage="staging"), "spec.stages.staging is not a stage with a gate"),
        (policy_text("        - r1\n"), "spec.stages.approved.rules[0] must be a mapping"),
        (
            policy_text(CHECK).replace("      rules:\n", "      rules: {}\n").replace(CHECK, ""),
            "spec.stages.approved.rules must be a list",
        ),
    ],
)
def test_malformed_shape(text: str, expected: str) -> None:
    assert expected in refused(text).message


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"check": "<omit>"}, "spec.stages.approved.rules[0].check is missing"),
        ({"title": "<omit>"}, "spec.stages.approved.rules[0].title is missing"),
        ({"severity": "high"}, "spec.stages.approved.rules[0].severity is not a known key"),
        ({"action": "block"}, "spec.stages.approved.rules[0].action is 'block'"),
        ({"id": "Has Spaces"}, "spec.stages.approved.rules[0].id 'Has Spaces' is not a valid"),
        ({"check": "true"}, "spec.stages.approved.rules[0].check must be a string, not bool"),
        ({"when": "true"}, "spec.stages.approved.rules[0].when must be a string, not bool"),
        ({"check": "''"}, "spec.stages.approved.rules[0].check is empty"),
        ({"message": "3"}, "spec.stages.approved.rules[0].message must be a string, not int"),
        ({"controls": "NIST"}, "spec.stages.approved.rules[0].controls must be a list"),
        ({"controls": "[MEASURE 2.7]"}, "controls[0] 'MEASURE 2.7' is not FRAMEWORK:CONTROL"),
    ],
)
def test_malformed_rule(fields: dict[str, str], expected: str) -> None:
    assert expected in refused(policy_text(rule(**fields))).message


def test_bad_action_hint_lists_the_choices() -> None:
    assert refused(policy_text(rule(action="block"))).hint == "choose one of: deny, warn"


def test_duplicate_rule_id_within_a_stage() -> None:
    error = refused(policy_text(rule() + rule()))
    assert "spec.stages.approved.rules[1].id 'r1' duplicates" in error.message
    assert "spec.stages.approved.rules[0]" in error.message


def test_duplicate_rule_id_across_stages() -> None:
    text = policy_text(rule()) + "    production:\n      rules:\n" + rule()
    error = refused(text)
    assert "spec.stages.production.rules[0].id 'r1' duplicates" in error.message


@pytest.mark.parametrize(
    ("spec_extra", "expected"),
    [
        ("  maxEvidenceAgeDays: 0\n", "spec.maxEvidenceAgeDays must be a positive number"),
        ("  maxEvidenceAgeDays: -1\n", "spec.maxEvidenceAgeDays must be a positive number"),
        ("  maxEvidenceAgeDays: '90'\n", "spec.maxEvidenceAgeDays must be a number, not str"),
        ("  maxEvidenceAgeDays: true\n", "spec.maxEvidenceAgeDays must be a number, not bool"),
        ("  maxEvidenceAgeDays: .nan\n", "spec.maxEvidenceAgeDays must be a positive number"),
        ("  params: [1]\n", "spec.params must be a mapping"),
        ("  params: {since: 2025-01-01}\n", "spec.params.since is a date"),
        ("  params: {a: {1: x}}\n", "spec.params.a.1 is not a string key"),
        ("  params: {a: [.inf]}\n", "spec.params.a[0] is not a finite number"),
        ("  params: {maxEvidenceAgeDays: 3}\n", "spec.params.maxEvidenceAgeDays duplicates"),
        ("  params: &p {a: *p}\n", "nests more than"),
        ("  protectedAliases: {prod: live}\n", "spec.protectedAliases.prod names stage 'live'"),
        ("  protectedAliases: {prod: candidate}\n", "names stage 'candidate'"),
        ("  protectedAliases: {Prod: production}\n", "spec.protectedAliases.Prod is not a valid"),
        ("  protectedAliases: [production]\n", "spec.protectedAliases must be a mapping"),
    ],
)
def test_malformed_spec(spec_extra: str, expected: str) -> None:
    assert expected in refused(policy_text(CHECK, spec_extra=spec_extra)).message


def test_oversized_policy() -> None:
    assert "more than" in refused("#" * 1_000_001).message


# -- expressions are compiled at load ------------------------------------------------------------


def test_cel_syntax_error_names_the_path_rule_and_error() -> None:
    error = refused(policy_text(rule(id="scan-clean", check="'evidence.exists(e, e.kind ==)'")))
    assert error.message.startswith(
        "spec.stages.approved.rules[0].check (rule 'scan-clean') does not compile: "
    )
    assert "Syntax error" in error.message and "<input>:1:" in error.message
    assert "cel-spec" in (error.hint or "")


def test_cel_syntax_error_in_a_multi_line_expression_stays_one_line() -> None:
    check = ">-\n            evidence.exists(e,\n              e.kind == )"
    error = refused(policy_text(rule(check=check)))
    assert "does not compile" in error.message


@pytest.mark.parametrize("key", ["when", "messageExpression"])
def test_syntax_errors_in_when_and_message_expression(key: str) -> None:
    error = refused(policy_text(rule(**{key: "'1 +'"})))
    assert f"rules[0].{key} (rule 'r1') does not compile" in error.message


def test_unknown_variable_is_refused_at_load() -> None:
    error = refused(policy_text(rule(check="'evidance.exists(e, true)'")))
    assert "rules[0].check (rule 'r1') references unknown variable 'evidance'" in error.message
    assert "approvals, evidence, model, now, params, version" in (error.hint or "")


def test_exceptions_are_not_a_variable() -> None:
    error = refused(policy_text(rule(check="'size(exceptions) == 0'")))
    assert "unknown variable 'exceptions'" in error.message


def test_scan_allowlist_extends_the_scanner_per_registry() -> None:
    from signoff.errors import InvalidInputError
    from signoff.policy import Policy, default_policy_text

    base = default_policy_text()
    extended = base.replace(
        "  protectedAliases:",
        "  scanAllowlist: [mypkg.layers.Custom, mylib.*]\n  protectedAliases:",
    )
    assert Policy.load(extended).scan_allowlist == ("mypkg.layers.Custom", "mylib.*")
    assert Policy.load(base).scan_allowlist == ()
    for bad in ('["os system"]', "[os]", '"mypkg.x"', "[1]"):
        text = base.replace("  protectedAliases:", f"  scanAllowlist: {bad}\n  protectedAliases:")
        with pytest.raises(InvalidInputError, match=r"spec\.scanAllowlist"):
            Policy.load(text)
