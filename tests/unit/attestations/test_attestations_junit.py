"""JUnit XML to finding and in-toto test-result predicates; hostile XML is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from signoff.attestations import (
    junit_to_predicate,
    junit_to_test_result,
    parse_finding_predicate,
    parse_test_result_predicate,
)
from signoff.errors import InvalidInputError

DATA = Path(__file__).parent / "data"
NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
PYTEST_XML = (DATA / "pytest-junit.xml").read_bytes()

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuite name="pytest"><testcase name="t"><failure message="&lol9;"/></testcase></testsuite>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE testsuite [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuite name="pytest"><testcase name="t"><failure message="&secret;"/></testcase></testsuite>
"""

DTD_ONLY = """<?xml version="1.0"?>
<!DOCTYPE testsuite SYSTEM "http://example.com/junit.dtd">
<testsuite name="pytest"><testcase name="t"/></testsuite>
"""


def test_pytest_report_to_findings() -> None:
    report = parse_finding_predicate(junit_to_predicate(PYTEST_XML, "evaluation", NOW))
    assert report.kind == "evaluation"
    assert report.result == "fail"
    assert report.metrics == {
        "tests": 6,
        "failures": 1,
        "errors": 1,
        "skipped": 1,
        "pass_rate": 0.6,
    }
    assert report.tool_name == "junit"
    failure, error = report.findings
    assert failure.id == "tests.test_model.test_fairness_gap[gender]"
    assert failure.severity == "high"
    assert failure.title == (
        "tests.test_model.test_fairness_gap[gender] failed: "
        "AssertionError: demographic parity gap 0.12 > 0.05"
    )
    assert "tests/test_model.py:41: AssertionError" in failure.detail
    assert failure.location == "tests.test_model"
    assert error.id == "tests.test_model.test_holdout_loads"
    assert error.title.startswith("tests.test_model.test_holdout_loads errored: failed on setup")
    assert error.severity == "high"


def test_pytest_report_to_in_toto_test_result() -> None:
    predicate = junit_to_test_result(PYTEST_XML, "https://ci.example.com/runs/42")
    parsed = parse_test_result_predicate(predicate)
    assert parsed.result == "FAILED"
    assert parsed.url == "https://ci.example.com/runs/42"
    assert parsed.passed_tests == (
        "tests.test_model.TestAccuracy.test_accuracy_above_threshold",
        "tests.test_model.TestAccuracy.test_no_nan_predictions",
        "tests.test_model.test_fairness_gap[age]",
    )
    assert parsed.failed_tests == (
        "tests.test_model.test_fairness_gap[gender]",
        "tests.test_model.test_holdout_loads",
    )
    assert parsed.warned_tests == ()
    assert predicate["configuration"] == []


def test_passing_suite_with_file_and_line() -> None:
    xml = (
        '<testsuite name="pytest" tests="2"><testcase classname="t" name="a" file="t.py" '
        'line="3"/><testcase name="b"><skipped/></testcase></testsuite>'
    )
    predicate = junit_to_predicate(xml, "robustness", NOW, tool_name="pytest", tool_version="8")
    assert predicate["result"] == "pass"
    assert predicate["tool"] == {"name": "pytest", "version": "8"}
    assert predicate["metrics"]["pass_rate"] == 1.0
    configuration = [{"uri": "https://example.com/ci.yml", "digest": {"sha256": "a" * 64}}]
    result = junit_to_test_result(xml, configuration=configuration)
    assert result["result"] == "PASSED"
    assert result["passedTests"] == ["t.a"]
    assert result["configuration"] == configuration
    assert "url" not in result


@pytest.mark.parametrize(
    "xml",
    [
        "<testsuites/>",
        '<testsuite name="s"><testcase name="a"><skipped message="gpu"/></testcase></testsuite>',
    ],
)
def test_a_report_where_no_test_ran_does_not_pass(xml: str) -> None:
    report = parse_finding_predicate(junit_to_predicate(xml, "evaluation", NOW))
    assert report.result == "warn"
    assert report.findings[0].id == "junit/no-tests"
    assert report.metrics["pass_rate"] == 0.0
    assert junit_to_test_result(xml)["result"] == "WARNED"


def test_nested_suites_are_counted() -> None:
    xml = (
        '<testsuites><testsuite name="outer"><testsuite name="inner">'
        '<testcase name="a"/><testcase name="b"><failure/></testcase>'
        "</testsuite></testsuite></testsuites>"
    )
    report = parse_finding_predicate(junit_to_predicate(xml, "evaluation", NOW))
    assert (report.metrics["tests"], report.metrics["failures"]) == (2, 1)
    assert report.findings[0].title == "b failed"


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, DTD_ONLY])
def test_dtds_and_entities_are_refused(xml: str) -> None:
    with pytest.raises(InvalidInputError, match="DTD or entities"):
        junit_to_predicate(xml, "evaluation", NOW)
    with pytest.raises(InvalidInputError, match="DTD or entities"):
        junit_to_test_result(xml.encode())


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("", "not well-formed"),
        ("<testsuite>", "not well-formed"),
        ('{"tests": 1}', "not well-formed"),
        ("<html><body/></html>", "root must be <testsuites> or <testsuite>, not <html>"),
        ("<testsuite><testcase classname='c'/></testsuite>", "testcase #1 has no name"),
    ],
)
def test_malformed_reports_are_refused(xml: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        junit_to_predicate(xml, "evaluation", NOW)


def test_oversized_reports_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from signoff.attestations import converters

    monkeypatch.setattr(converters, "MAX_REPORT_BYTES", 100)
    with pytest.raises(InvalidInputError, match="more than the 100 allowed"):
        junit_to_predicate(PYTEST_XML, "evaluation", NOW)
