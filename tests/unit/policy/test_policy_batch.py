"""``BatchEvaluator``: the decisions of ``Policy.evaluate``, version after version, results reused.

The property builds a random version and near-copies of it (one field set to values CEL tells
apart although Python's == may not: 1, 1.0 and true; 0.0 and -0.0; NaN; map keys 1, true and
"1"; ages either side of a limit; another now), evaluates them in random order, some twice and
some as equal copies, under policies with rules of every shape the evaluator treats differently,
and compares every decision -- or error -- with ``Policy.evaluate``'s.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import cel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_variables import NOW, approval, evidence, finding, policy_text, variables

from signoff.errors import InvalidInputError
from signoff.policy import BatchEvaluator, Policy, default_policy_text

# The benchmark's padding (bench/policy.py): the default production gate grows to 10 rules.
PADDING = """
        - id: pad-owner-set
          title: The model has an owner
          check: 'size(model.owner) > 0'
        - id: pad-accuracy
          title: The evaluation reports accuracy of at least 0.8
          check: >-
            evidence.exists(e, e.kind == "evaluation" && has(e.metrics.accuracy)
              && e.metrics.accuracy >= 0.8)
        - id: pad-signers
          title: All evidence is signed by the CI identity
          check: 'evidence.all(e, e.signer.endsWith("@ci.example.com"))'
          action: warn
"""

# Rules of every shape the evaluator treats differently: field by field or whole records,
# comparisons of ages and other reads of them, now, free maps, errors, non-bools, messages.
ODD_RULES = [
    ("check: 'model.level == 1'", "messageExpression: '\"level \" + string(model.level)'"),
    ("check: 'model.level == true || model.level == 1.0'", "action: warn"),
    ("check: '1.0 / model.level > 0.0'",),
    ("check: '1 in model.tags || size(model.tags) == 0'", "action: warn"),
    ("check: 'model.tags.exists(k, k == \"domain\")'",),
    ("check: 'size(model) >= 4'", "message: whole record"),
    ("when: 'size(evidence) > 0'", "check: '\"tool\" in evidence[0]'"),
    ("check: 'model.exists(k, k == \"risk-tier\")'",),
    ('check: \'has(model.level) && model["risk-tier"] == "high"\'', "action: warn"),
    ("check: 'version.metadata.framework == \"sklearn\" && version.number >= 1'",),
    (
        "check: 'now > timestamp(\"2025-03-01T00:00:00Z\")'",
        "messageExpression: '\"now is \" + string(now)'",
    ),
    ("check: 'evidence.all(e, e.age_days < 7.5 || e.kind == \"sbom\")'",),
    (
        "check: 'evidence.exists(e, e.age_days <= params.maxEvidenceAgeDays)'",
        "messageExpression: 'string(evidence[0].age_days)'",
    ),
    ("check: 'approvals.all(a, has(a.age_days))'",),
    ("check: 'approvals.exists(a, a.age_days >= 1.5 && a.decision == \"approve\")'",),
    ("check: 'evidence[2].kind != \"x\"'",),
    ("check: '1 / (size(approvals) - 2) >= 0'",),
    ("check: 'size(evidence) > 1 ? true : model.owner'",),
    ("check: 'evidence.exists(e, has(e.metrics.accuracy) && e.metrics.accuracy >= 0.8)'",),
    ("check: 'evidence.all(e, e.tool.name != \"\")'", "action: warn"),
    (
        "check: 'evidence.all(e, size(e.findings) == 0"
        ' || e.findings.exists(f, f.severity == "low"))\'',
        "messageExpression: 'string(size(evidence.filter(e, size(e.findings) > 0)))'",
    ),
    (
        "when: 'model.risk_tier == \"high\"'",
        "check: 'approvals.exists(a, a.by_creator == false)'",
        "action: warn",
        "messageExpression: 'approvals.filter(a, a.by_creator)[0].approver'",
    ),
    ("check: 'evidence.exists(e, size(e.findings[0]) > 1)'",),
    ('check: \'evidence.exists(e, e["kind"] == "evaluation")\'', "message: no evaluation"),
    ("check: 'evidence.map(e, e.findings).size() >= 0'",),
    ("check: 'approvals.exists(a, a.age_days + 1.0 > 2.0)'",),
    ("check: 'evidence.exists(e, e.findings.exists(f, f.age_days < 2))'",),
    ("check: 'true'",),
    ("when: 'model.level > 0'", "check: 'model.owner != \"\"'", "action: warn"),
    ("when: 'version.number'", "check: 'false'"),
    # Rules that always fail and print a value: their messages tell 1, 1.0 and true apart.
    ("check: 'false'", "action: warn", "messageExpression: 'string(model.level)'"),
    ("check: 'false'", "action: warn", "messageExpression: 'string(version.number)'"),
    ("check: 'false'", "messageExpression: 'string(evidence[0].metrics.accuracy)'"),
    ("check: '\"1\" in model.tags'", "action: warn"),
    ("check: 'approvals.exists(a, a.by_creator == true)'",),
    ("check: 'approvals.exists(a, a.by_creator == 1)'",),
    ("check: 'evidence.exists(e, e.kind == \"evaluation\" && e.age_days > 7.5)'",),
    ("check: 'evidence.exists(e, e[\"age_days\"] > 7.5)'",),
    ("check: 'approvals.exists(a, 1.5 + a.age_days < 3.0)'",),
    ("check: 'approvals.exists(a, size(a) > 3)'",),
    ('check: \'evidence.exists(e, dyn(e.findings) == [{"severity": "high"}])\'',),
    ("check: 'size(evidence.map(e, e.findings)) > 0 && size(approvals[0]) > 5'",),
    ('check: \'evidence.exists(e, e.tool == {"name": "scan"})\'',),
]


def odd_policy() -> Policy:
    items = ""
    for index, lines in enumerate(ODD_RULES):
        body = [f"id: odd-{index}", f"title: Odd rule {index}", *lines]
        items += "        - " + "\n          ".join(body) + "\n"
    return Policy.load(policy_text(items, spec_extra="  maxEvidenceAgeDays: 30\n"))


POLICIES = {
    "default": Policy.load(default_policy_text()),
    "padded": Policy.load(default_policy_text().rstrip("\n") + "\n" + PADDING),
    "odd": odd_policy(),
}

NAN = math.nan
# Values CEL tells apart although Python's == does not (or NaN, which == never matches).
SCALARS: list[Any] = [1, 1.0, True, 0, 0.0, -0.0, False, "1", None, NAN, 2**64, 7.5]
PEOPLE = ["alice@example.com", "bob@example.com", "carol@ci.example.com", ""]
AGES: list[Any] = [0.0, -0.0, 1.0, 1.5, 7.4999, 7.5, 30.0, 30.000001, 90.0, 120.0, 3, 31, math.inf]
ODD_AGES: list[Any] = [NAN, "3", None, True, 2**60]
NOWS = [
    NOW,
    NOW.astimezone(timezone(timedelta(hours=2))),  # the same instant, another offset
    datetime(2025, 2, 1, tzinfo=UTC),
]


def pick(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


ages = st.one_of(pick(AGES), pick(AGES), pick(AGES), pick(ODD_AGES))
findings = st.lists(
    st.fixed_dictionaries(
        {"severity": pick(["critical", "high", "medium", "low"])},
        optional={
            "id": pick(["CVE-1", "CVE-2"]),
            "age_days": pick([1, 1.0, 3.0]),
            "risk-score": pick([9.1, 1]),
        },
    ),
    max_size=3,
)
evidence_items = st.fixed_dictionaries(
    {
        "kind": pick(["artifact-scan", "evaluation", "red-team", "sbom"]),
        "result": pick(["pass", "warn", "fail"]),
        "predicate_type": pick(["https://example.com/p/v1", "https://example.com/q/v1"]),
        "signer": pick(PEOPLE),
        "metrics": st.dictionaries(pick(["accuracy", "f1"]), pick([0.9, 0.7, 1, True, NAN])),
        "findings": findings,
        "tool": st.fixed_dictionaries({}, optional={"name": pick(["scan", ""])}),
    },
    optional={"age_days": ages, "extra": pick([1, "x", [1, 2], {"a": None}])},
)
approval_items = st.fixed_dictionaries(
    {
        "approver": pick(PEOPLE),
        "stage": pick(["approved", "production"]),
        "decision": pick(["approve", "reject"]),
        "reason": pick(["ok", "looked"]),
        "by_creator": pick([True, False, 1, 0]),
    },
    optional={"age_days": ages},
)
models = st.fixed_dictionaries(
    {
        "name": pick(["fraud", "churn"]),
        "owner": pick(PEOPLE),
        "team": pick(["risk", ""]),
        "risk_tier": pick(["high", "limited", "minimal"]),
        "intended_use": pick([None, "", "fraud scoring"]),
        "tags": st.dictionaries(pick([1, 2, "domain", "team"]), pick(["a", 1, None]), max_size=3),
        "level": pick(SCALARS),
    },
    optional={"risk-tier": pick(["high", "low"]), "owner_team": pick(["x", 1.0])},
)
versions = st.fixed_dictionaries(
    {
        "ref": pick(["fraud@1", "fraud@2"]),
        "number": pick([1, 2, True, 1.0, 0]),
        "stage": pick(["candidate", "approved"]),
        "created_by": pick(PEOPLE),
        "root_digest": pick(["sha256:" + "ab" * 32, "sha256:" + "cd" * 32]),
        "metadata": st.dictionaries(pick(["framework", "x"]), pick(["sklearn", "torch", 1])),
    }
)
# Lists of one of a few items, so that the same records recur within one sequence.
all_variables = st.fixed_dictionaries(
    {
        "model": models,
        "version": versions,
        "evidence": st.lists(evidence_items, max_size=4),
        "approvals": st.lists(approval_items, max_size=3),
        "now": pick(NOWS),
    }
)


# Changes to a version, each a path and groups of values that CEL tells apart although Python's
# == may not (1, 1.0, true; 0, 0.0, -0.0; map keys 1, true, "1"; NaN), ages either side of the
# limits, and other nows.
DELETE: Any = object()
NUMBERS: list[list[Any]] = [[1, 1.0, True], [0, 0.0, -0.0, False], [NAN, 7.5, "1", None, 2**64]]
EDITS: list[tuple[tuple[Any, ...], list[list[Any]]]] = [
    (("model", "level"), NUMBERS),
    (("model", "tags"), [[{1: "a"}, {True: "a"}, {"1": "a"}, {1.0: "a"}], [{}, {"domain": 1}]]),
    (("model", "risk_tier"), [["high", "limited"]]),
    (("version", "number"), NUMBERS),
    (("evidence", 0, "age_days"), [AGES, ODD_AGES, [7.5, 7.4999, 30.0, 30.000001, 90.0]]),
    (("evidence", 1, "age_days"), [AGES]),
    (("evidence", 0, "metrics"), [[{"accuracy": v} for v in group] for group in NUMBERS]),
    (
        ("evidence", 0, "findings"),
        [[[], [{"severity": "high"}], [{"severity": "high", "x": 1}], [{"severity": "low"}]]],
    ),
    (("evidence", 0, "kind"), [["evaluation", "sbom"]]),
    (("approvals", 0, "by_creator"), [[True, 1, 1.0], [False, 0, 0.0, -0.0]]),
    (("approvals", 0, "age_days"), [AGES, ODD_AGES, [1.0, DELETE]]),
    (("evidence", 0, "age_days"), [[3.0, DELETE]]),
    (("model", "intended_use"), [["x", None, DELETE]]),
    (("now",), [NOWS]),
]


def edited(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with the value at ``path`` replaced or deleted (if it exists)."""
    version = copy.deepcopy(base)
    target: Any = version
    for step in path[:-1]:
        if isinstance(target, list) and step >= len(target):
            return version
        target = target[step]
    if value is DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = copy.deepcopy(value)
    return version


def outcome(evaluate: Callable[[], Any]) -> Any:
    """The decision, or the error's type and text."""
    try:
        return evaluate()
    except Exception as error:
        return (type(error), str(error))


def assert_same(
    policy: Policy,
    batch: BatchEvaluator,
    stage: str,
    version: Any,
    excepted: Collection[str] = (),
) -> None:
    """The batch evaluator decides (or refuses) exactly as the policy does."""
    expected = outcome(lambda: policy.evaluate(stage, version, excepted_rule_ids=excepted))
    got = outcome(lambda: batch.evaluate(stage, version, excepted_rule_ids=excepted))
    assert got == expected, (stage, version, excepted)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=pick(sorted(POLICIES)), base=all_variables, data=st.data())
def test_batch_decisions_equal_policy_evaluate(name: str, base: Any, data: Any) -> None:
    """Near-identical versions, evaluated in any order, some twice, with any exceptions."""
    policy = POLICIES[name]
    batch = policy.batch()
    rule_ids = [rule.id for stage in policy.stages for rule in policy.rules(stage)]
    pool = [base]
    for _ in range(data.draw(st.integers(1, 2))):
        path, groups = data.draw(pick(EDITS))
        values = data.draw(pick(groups))
        source = data.draw(pick(pool))
        for _ in range(data.draw(st.integers(2, 4))):
            pool.append(edited(source, path, data.draw(pick(values))))
    order = data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=2, max_size=12))
    for index in order:
        version = pool[index]
        if data.draw(st.booleans()):
            version = copy.deepcopy(version)  # equal, but not the same objects
        excepted = data.draw(st.sets(pick([*rule_ids[:8], "no-such-rule"]), max_size=3))
        before = repr(version)
        for stage in policy.stages:
            assert_same(policy, batch, stage, version, excepted)
        assert repr(version) == before  # nothing modified


@pytest.mark.parametrize(
    ("path", "groups"), EDITS, ids=[f"edit{index}" for index in range(len(EDITS))]
)
def test_values_python_confuses_are_told_apart(
    path: tuple[Any, ...], groups: list[list[Any]]
) -> None:
    base = variables(
        evidence_list=[evidence("evaluation", metrics={"accuracy": 0.9}), evidence("sbom")],
        approvals=[approval("alice@example.com"), approval("bob@example.com")],
    )
    base["model"]["level"] = 1
    for policy in POLICIES.values():
        batch = policy.batch()
        for group in groups:
            for value in [*group, *reversed(group)]:
                for stage in policy.stages:
                    assert_same(policy, batch, stage, edited(base, path, value))


@settings(max_examples=60, deadline=None)
@given(
    base=all_variables,
    age_lists=st.lists(st.lists(pick(AGES), min_size=4, max_size=4), min_size=2, max_size=6),
)
def test_ages_are_keyed_by_their_comparisons(base: Any, age_lists: list[list[float]]) -> None:
    """Versions alike but for ages reuse results exactly when every comparison comes out alike."""
    for name in ("default", "odd"):
        policy = POLICIES[name]
        batch = policy.batch()
        for item_ages in age_lists:
            version = copy.deepcopy(base)
            for item, age in zip(
                version["evidence"] + version["approvals"], item_ages, strict=False
            ):
                item["age_days"] = age
            for stage in policy.stages:
                assert_same(policy, batch, stage, version)


# -- reuse ---------------------------------------------------------------------------------------


def realistic(number: int, ages: list[float]) -> dict[str, Any]:
    """A version like the benchmark's: names, digests, finding ids and ages differ."""
    scan = evidence(
        "artifact-scan",
        age_days=ages[0],
        findings=[finding("low", id=f"CVE-{number}-1"), finding("medium", id=f"CVE-{number}-2")],
    )
    version = variables(
        risk_tier="high" if number % 2 else "limited",
        evidence_list=[
            scan,
            evidence("evaluation", age_days=ages[1], metrics={"accuracy": 0.9}),
            evidence("red-team", age_days=ages[2]),
        ],
        approvals=[approval("bob@example.com"), approval("carol@example.com")],
    )
    version["model"]["name"] = f"model-{number}"
    version["version"]["root_digest"] = f"sha256:{number:064x}"
    return version


def counting_contexts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = cel.Context

    def counted(*args: Any, **kwargs: Any) -> cel.Context:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(cel, "Context", counted)
    return calls


def test_versions_alike_to_every_rule_convert_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = POLICIES["padded"]
    batch = policy.batch()
    first = batch.evaluate("production", realistic(1, [1.0, 2.0, 3.0]))
    # Other names, digests and finding ids, and fresh ages: nothing any rule can tell apart.
    others = [realistic(n, [n / 10, n / 7, 60 + n / 3]) for n in range(3, 40, 2)]
    expected = [policy.evaluate("production", version) for version in others]
    calls = counting_contexts(monkeypatch)
    assert [batch.evaluate("production", version) for version in others] == expected
    assert calls[0] == 0
    assert expected == [first] * len(others)


def test_an_age_past_a_limit_is_a_new_key(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = POLICIES["default"]
    batch = policy.batch()
    batch.evaluate("production", realistic(1, [1.0, 2.0, 3.0]))
    stale = realistic(1, [91.0, 2.0, 3.0])
    expected = policy.evaluate("production", stale)
    calls = counting_contexts(monkeypatch)
    assert batch.evaluate("production", stale) == expected
    assert calls[0] == 1  # the rules comparing ages ran, once, in one context
    assert not expected.allowed


def test_rules_that_read_ages_otherwise_run_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = Policy.load(
        policy_text(
            "        - id: r0\n          title: Rule 0\n"
            "          check: 'evidence.all(e, e.age_days * 2.0 < 500.0)'\n"
        )
    )
    batch = policy.batch()
    expected = policy.evaluate("approved", variables())
    calls = counting_contexts(monkeypatch)
    for _ in range(3):
        assert batch.evaluate("approved", variables()) == expected
    assert calls[0] == 3


# -- the exact path ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v["evidence"][0].update(age_days=NAN),
        lambda v: v["evidence"][0].update(age_days="3"),
        lambda v: v["approvals"].append("not a record"),
        lambda v: v["model"].update(tags={"since": datetime(2025, 1, 1, tzinfo=UTC)}),
        lambda v: v["model"].update(owner=type("Name", (str,), {})("alice@example.com")),
        lambda v: v.update(evidence=tuple(v["evidence"])),
    ],
)
def test_unusual_versions_are_decided_exactly(change: Callable[[Any], None]) -> None:
    for policy in POLICIES.values():
        batch = policy.batch()
        for stage in policy.stages:
            batch.evaluate(stage, variables(approvals=[approval("bob@example.com")]))
        version = variables(approvals=[approval("bob@example.com")])
        change(version)
        for stage in policy.stages:
            assert_same(policy, batch, stage, version)


def test_a_value_cel_refuses_is_refused_even_when_every_result_is_reused() -> None:
    # `extra` is a word of the stage (rule r1), so the stage converts evidence items' `extra`
    # too; no rule that reads evidence reads it, so their results alone would be reused.
    policy = Policy.load(
        policy_text(
            "        - id: r0\n          title: Rule 0\n"
            "          check: 'evidence.exists(e, e.kind == \"evaluation\")'\n"
            "        - id: r1\n          title: Rule 1\n"
            "          check: 'model.owner != \"\" && !has(model.extra)'\n"
        )
    )
    batch = policy.batch()
    batch.evaluate("approved", variables())
    version = variables()
    version["evidence"][1]["extra"] = {1, 2}
    with pytest.raises(InvalidInputError, match="cannot be converted") as expected:
        policy.evaluate("approved", version)
    with pytest.raises(InvalidInputError) as got:
        batch.evaluate("approved", version)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize(
    ("stage", "variables_", "excepted", "expected"),
    [
        ("retired", variables(), (), "no gate for stage 'retired'"),
        ("approved", variables(), "r0", "excepted_rule_ids is a string"),
        ("approved", {**variables(), "params": {}}, (), "'params' is set by the policy"),
        ("approved", {**variables(), "now": NOW.replace(tzinfo=None)}, (), "timezone-aware"),
    ],
)
def test_refusals_are_the_policys(
    stage: str, variables_: Any, excepted: Any, expected: str
) -> None:
    batch = POLICIES["default"].batch()
    with pytest.raises(InvalidInputError, match=expected):
        batch.evaluate(stage, variables_, excepted_rule_ids=excepted)


# -- bounds --------------------------------------------------------------------------------------


def test_caches_stay_within_max_entries() -> None:
    policy = POLICIES["odd"]

    def version(number: int) -> dict[str, Any]:
        variables_ = realistic(number, [number / 3, 1.0, 2.0])
        variables_["model"]["level"] = number  # a new key for the expressions that read it
        variables_["evidence"][1]["metrics"] = {"accuracy": number / 200}
        return variables_

    fresh = policy.batch()
    fresh.evaluate("approved", version(0))
    one_version = fresh.entries  # what a first version adds: the most any one adds
    batch = policy.batch(max_entries=50)
    peak, clears, before = 0, 0, 0
    for number in range(200):
        assert_same(policy, batch, "approved", version(number))
        peak, clears = max(peak, batch.entries), clears + (batch.entries < before)
        before = batch.entries
    # The bound is checked before each evaluation, so it is exceeded by one version at most.
    assert 50 < peak <= 50 + one_version
    assert clears > 0


def test_clear_drops_everything_and_decisions_stay_exact() -> None:
    policy = POLICIES["padded"]
    batch = policy.batch()
    version = realistic(1, [1.0, 2.0, 3.0])
    first = batch.evaluate("production", version)
    assert batch.entries > 0
    batch.clear()
    assert batch.entries == 0
    assert batch.evaluate("production", version) == first == policy.evaluate("production", version)


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        POLICIES["default"].batch(max_entries=0)


def test_batch_is_exported() -> None:
    assert isinstance(POLICIES["default"].batch(), BatchEvaluator)
