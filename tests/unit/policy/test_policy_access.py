"""What a rule can observe, read from its tokens: the premise of the batch evaluator's keys."""

from __future__ import annotations

import pytest

from signoff.policy import Policy, default_policy_text
from signoff.policy.access import Comparison, analyse

PARAMS = {"maxEvidenceAgeDays": 90, "limit": 7.5, "flag": True, "huge": 2**60}


@pytest.mark.parametrize(
    "source",
    [
        "model.owner != ''",
        "has(model.intended_use) && size(model.intended_use) > 0",
        "model.tags.exists(k, k == 'x') && size(model.tags) > 0",
        "evidence[0]['kind'] == 'x' && evidence[1].findings[0].severity == 'low'",
        "evidence.filter(e, e.kind == 'x')[0].signer == ''",
        "size(evidence.filter(e, true)) > 1 && evidence.size() > 0 && size(approvals) > 0",
        "evidence.exists(e, size(e.findings) > 0 && e.findings.all(f, f.severity != 'x'))",
        "evidence.all(e, e.metrics.exists(k, e.metrics[k] > 1.0))",
        "evidence.exists(e, has(e.findings) && e.findings.size() == 1)",
        "evidence.map(e, e.kind).exists(k, k == 'sbom')",
        "['a', 'b'].exists(k, k == model.owner)",
        "now > timestamp('2020-01-01T00:00:00Z') // a comment: model == {}",
        "\"model == {}\" != r'size(model)'",
    ],
)
def test_field_by_field_reads(source: str) -> None:
    assert analyse([source], PARAMS).by_field


@pytest.mark.parametrize(
    "source",
    [
        "size(model) == 2",
        "model.size() == 2",
        "model == {'owner': 'x'}",
        "'tool' in evidence[0]",
        "model.exists(k, k == 'owner')",
        "[model][0].owner == ''",
        "dyn(model).owner == ''",
        "(model).owner == ''",
        "evidence.exists(e, e == {})",
        "evidence.exists(e, size(e) > 0)",
        "evidence.exists(e, e[model.owner] == 1)",
        "evidence.map(e, e.findings).size() > 0",
        "evidence.exists(e, dyn(e.findings) == [])",
        "evidence.filter(e, true).exists(x, size(x) > 1)",
        "evidence == []",
        "evidence + approvals != []",
        "true ? model : version",
        "evidence.exists(model, model.kind == 'x')",
        "approvals.exists(a, size(a) > 3)",
        "evidence.exists(e, e.kind == 'x'",  # unbalanced: does not tokenize as CEL
    ],
)
def test_reads_that_may_see_a_record_whole(source: str) -> None:
    access = analyse([source], PARAMS)
    assert not access.by_field
    assert access.ages is None


@pytest.mark.parametrize(
    ("source", "comparisons"),
    [
        ("model.owner != ''", set()),
        ("evidence.exists(e, e.age_days <= params.maxEvidenceAgeDays)", {("<=", 90)}),
        ("evidence.exists(e, e.age_days < params.limit || e.age_days > 3)", {("<", 7.5), (">", 3)}),
        ("approvals.all(a, a.age_days >= 1.5 ? true : false)", {(">=", 1.5)}),
        ("evidence.exists(e, e.findings.exists(f, f.age_days < 2))", {("<", 2)}),
        ("[evidence.exists(e, e.age_days > 1e3)]", {(">", 1000.0)}),
    ],
)
def test_ages_read_by_comparison(source: str, comparisons: set[tuple[str, float]]) -> None:
    access = analyse([source], PARAMS)
    assert access.ages == frozenset(Comparison(op, limit) for op, limit in comparisons)


@pytest.mark.parametrize(
    "source",
    [
        "evidence.exists(e, has(e.age_days))",
        "evidence.exists(e, e['age_days'] < 3)",
        "evidence.exists(e, e.age_days + 1.0 < 3.0)",
        "evidence.exists(e, 1.5 + e.age_days < 3.0)",
        "evidence.exists(e, -e.age_days < 3.0)",
        "evidence.exists(e, e.age_days < 3.0 + 1.0)",
        "evidence.exists(e, e.age_days <= 3.0 == true)",
        "evidence.exists(e, e.age_days == 3.0)",
        "evidence.exists(e, e.age_days < 0x10)",
        "evidence.exists(e, e.age_days < 9007199254740993)",
        "evidence.exists(e, e.age_days < params.flag)",
        "evidence.exists(e, e.age_days < params.huge)",
        "evidence.exists(e, e.age_days < params.missing)",
        "evidence.exists(e, e.age_days < params.limit.x)",
        "evidence[0].age_days < 3.0",
        "string(evidence[0].age_days) == '1'",
        "evidence.exists(e, e.age_days < 3.0) // age_days",
        "evidence.exists(e, e.kind == 'age_days')",
        "evidence.exists(age_days, true)",
    ],
)
def test_ages_read_otherwise(source: str) -> None:
    assert analyse([source], PARAMS).ages is None


def test_variables_are_those_referenced() -> None:
    access = analyse(["'evidence and approvals' != model.owner", "version.ref != ''"], {})
    assert access.variables == {"model", "version"}


def test_the_default_policy_is_read_field_by_field() -> None:
    policy = Policy.load(default_policy_text())
    for stage in policy.stages:
        for rule in policy.rules(stage):
            sources = [rule.when, rule.check, rule.message_expression or ""]
            access = analyse(sources, policy.params)
            assert access.by_field, rule.id
            assert access.ages is not None, rule.id
            assert access.ages <= {Comparison("<=", 90)}, rule.id
