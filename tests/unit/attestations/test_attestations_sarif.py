"""SARIF 2.1.0 to finding predicates: real tool output, severity rules, fail-closed cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signoff.attestations import converters, parse_finding_predicate, sarif_to_predicate
from signoff.errors import InvalidInputError

DATA = Path(__file__).parent / "data"
NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def sarif(results: Any, rules: list[Any] | None = None, **run: Any) -> str:
    driver: dict[str, Any] = {"name": "scanner", "version": "2.0", "rules": rules or []}
    return json.dumps(
        {"version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results} | run]}
    )


def result(**fields: Any) -> dict[str, Any]:
    return {"ruleId": "R1", "message": {"text": "something"}} | fields


def test_bandit_report() -> None:
    predicate = sarif_to_predicate((DATA / "bandit.sarif").read_text(), "artifact-scan", NOW)
    report = parse_finding_predicate(predicate)
    assert report.kind == "artifact-scan"
    assert report.result == "fail"  # B602 is error-level
    assert (report.tool_name, report.tool_version) == ("Bandit", "1.7.8")
    assert report.time == NOW
    assert [(f.id, f.severity) for f in report.findings] == [
        ("B602", "high"),  # most severe first
        ("B301", "medium"),
        ("B105", "low"),
    ]
    shell = report.findings[0]
    assert shell.location == "fraud/fetch.py:30"
    assert shell.title == "subprocess_popen_with_shell_equals_true"  # the rule name
    assert shell.detail == "subprocess call with shell=True identified, security issue."
    assert report.metrics == {
        "results": 3,
        "suppressed": 0,
        "critical": 0,
        "high": 1,
        "medium": 1,
        "low": 1,
        "info": 0,
    }


def test_semgrep_report_uses_rule_defaults_and_skips_suppressed_results() -> None:
    predicate = sarif_to_predicate((DATA / "semgrep.sarif").read_bytes(), "artifact-scan", NOW)
    report = parse_finding_predicate(predicate)
    assert report.result == "warn"  # no level on the result: the rule's default, "warning"
    assert (report.tool_name, report.tool_version) == ("Semgrep OSS", "1.70.0")
    (pickle,) = report.findings
    assert pickle.id == "python.lang.security.deserialization.pickle.avoid-pickle"
    assert pickle.severity == "medium"
    assert pickle.location == "serve/app.py:22"
    assert pickle.title.startswith("Semgrep Finding:")
    assert report.metrics["suppressed"] == 1


@pytest.mark.parametrize(
    ("score", "severity", "outcome"),
    [
        ("9.8", "critical", "fail"),
        (7.0, "high", "fail"),
        ("6.9", "medium", "pass"),
        ("0.1", "low", "pass"),
        ("0.0", "info", "pass"),
        ("n/a", "low", "pass"),
    ],
)
def test_security_severity_maps_cvss_scores(score: Any, severity: str, outcome: str) -> None:
    rules = [{"id": "R1", "properties": {"security-severity": score}}]
    text = sarif([result(level="note")], rules)
    report = parse_finding_predicate(sarif_to_predicate(text, "artifact-scan", NOW))
    assert report.findings[0].severity == severity  # "n/a" is ignored: the level decides
    assert report.result == outcome


def test_result_properties_override_the_rule_and_rule_index_finds_the_rule() -> None:
    rules = [{"id": "R0"}, {"id": "R1", "properties": {"security-severity": "2.0"}}]
    findings = parse_finding_predicate(
        sarif_to_predicate(
            sarif(
                [
                    {"ruleIndex": 1, "level": "warning", "message": {"text": "a"}},
                    result(level="warning", properties={"security-severity": "9.0"}),
                ],
                rules,
            ),
            "custom",
            NOW,
        )
    ).findings
    assert [(f.id, f.severity) for f in findings] == [("R1", "critical"), ("R1", "low")]


@pytest.mark.parametrize(
    ("results", "outcome"),
    [
        ([], "pass"),
        ([result(level="none")], "pass"),
        ([result(level="note")], "pass"),
        ([result(level="warning")], "warn"),
        ([result()], "warn"),  # no level, no rule default: SARIF says "warning"
        ([result(level="warning"), result(level="error")], "fail"),
        ([result(kind="pass", level="error")], "pass"),  # a passed check is not a finding
        ([result(kind="review")], "pass"),  # non-fail kinds default to level "none"
        (
            [result(level="error", suppressions=[{"kind": "external", "status": "accepted"}])],
            "pass",
        ),
        (
            [result(level="error", suppressions=[{"kind": "inSource", "status": "underReview"}])],
            "fail",
        ),
    ],
)
def test_result_rules(results: list[dict[str, Any]], outcome: str) -> None:
    assert sarif_to_predicate(sarif(results), "artifact-scan", NOW)["result"] == outcome


def drop_results(doc: dict[str, Any]) -> None:
    del doc["runs"][0]["results"]


@pytest.mark.parametrize(
    "damage",
    [
        drop_results,
        lambda doc: doc["runs"][0].update(results=None),
        lambda doc: doc["runs"][0].update(invocations=[{"executionSuccessful": False}]),
    ],
)
def test_an_incomplete_run_fails(damage: Any) -> None:
    doc = json.loads(sarif([]))
    damage(doc)
    report = parse_finding_predicate(sarif_to_predicate(json.dumps(doc), "artifact-scan", NOW))
    assert report.result == "fail"
    assert report.findings[0].id == "scanner/incomplete"


def test_runs_of_several_tools_are_all_named() -> None:
    doc = json.loads(sarif([result(level="warning")]))
    doc["runs"].append({"tool": {"driver": {"name": "other"}}, "results": []})
    predicate = sarif_to_predicate(json.dumps(doc), "artifact-scan", NOW)
    assert predicate["tool"] == {"name": "scanner, other", "version": "2.0"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<html>", "not valid JSON"),
        ("[]", "must be an object"),
        (json.dumps({"version": "2.0.0", "runs": []}), "version must be '2.1.0'"),
        (json.dumps({"runs": []}), "version must be '2.1.0'"),
        (json.dumps({"version": "2.1.0"}), "runs must be an array"),
        (json.dumps({"version": "2.1.0", "runs": []}), "runs must not be empty"),
        (json.dumps({"version": "2.1.0", "runs": [{}]}), "tool must be an object"),
        (json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}), "driver.name"),
        (sarif([result(level="fatal")]), r"results\[0\].level must be one of"),
        (sarif([result(kind="broken")]), r"results\[0\].kind must be one of"),
        (sarif(["x"]), r"results\[0\] must be an object"),
        (sarif({"a": 1}), "results must be an array"),
    ],
)
def test_garbage_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        sarif_to_predicate(text, "artifact-scan", NOW)


def test_kind_is_validated() -> None:
    with pytest.raises(InvalidInputError, match="finding kind"):
        sarif_to_predicate(sarif([]), "sast", NOW)


def test_oversized_reports_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(converters, "MAX_REPORT_BYTES", 1000)
    text = sarif([result(message={"text": "x" * 1000})])
    with pytest.raises(InvalidInputError, match="more than the 1000 allowed"):
        sarif_to_predicate(text, "artifact-scan", NOW)


def test_long_messages_are_cut() -> None:
    text = sarif([result(level="warning", message={"text": "y" * 10_000})])
    finding = sarif_to_predicate(text, "artifact-scan", NOW)["findings"][0]
    assert len(finding["detail"]) == converters.MAX_DETAIL
    assert len(finding["title"]) == converters.MAX_TITLE
