"""Convert scanner and test reports (SARIF 2.1.0, JUnit XML) into predicates.

Conversion fails closed: a report that says the tool did not finish, or (JUnit) that no test
ran, never converts to a plain pass. Structure that decides the result (version, runs, results,
levels) is validated strictly; decorations (rule texts, locations) are read when well-formed and
otherwise left out, so real-world reports are not refused over a cosmetic field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedElementTree
from defusedxml import DefusedXmlException

from signoff.attestations.fields import (
    MISSING,
    field,
    loads_strict,
    require_enum,
    require_list,
    require_object,
    require_str,
)
from signoff.attestations.predicates import (
    FINDING_KINDS,
    SEVERITIES,
    Finding,
    finding_predicate,
    make_test_result_predicate,
)
from signoff.errors import InvalidInputError

MAX_REPORT_BYTES = 50 * 1024 * 1024
MAX_TITLE = 200
MAX_DETAIL = 4000  # tracebacks and long messages are cut: the predicate is a summary

SARIF_VERSION = "2.1.0"
_SARIF_LEVELS = ("error", "warning", "note", "none")
_SARIF_KINDS = ("pass", "open", "informational", "notApplicable", "review", "fail")
# Without a security-severity, the SARIF level decides the severity.
_LEVEL_SEVERITY = {"error": "high", "warning": "medium", "note": "low", "none": "info"}


def sarif_to_predicate(text: str | bytes, kind: str, now: datetime) -> dict[str, Any]:
    """A finding predicate from a SARIF 2.1.0 report (one finding per unsuppressed result).

    Result: ``fail`` if any result is error-level or critical/high, or a run did not complete;
    ``warn`` if any is warning-level; else ``pass``.
    """
    require_enum(kind, "finding kind", FINDING_KINDS)
    _check_size(text, "SARIF report")
    report = require_object(loads_strict(text, "SARIF report"), "SARIF report")
    version = field(report, "version")
    if version != SARIF_VERSION:
        raise InvalidInputError(
            f"SARIF report version must be {SARIF_VERSION!r}, not {version!r}",
            hint="export SARIF 2.1.0 (e.g. `bandit -f sarif`, `semgrep --sarif`)",
        )
    runs = require_list(field(report, "runs"), "SARIF runs", non_empty=True)
    converted = [_sarif_run(run, f"SARIF runs[{i}]") for i, run in enumerate(runs)]
    findings = [finding for run in converted for finding in run.findings]
    levels = {level for run in converted for level in run.levels}
    incomplete = any(run.incomplete for run in converted)
    severities = {finding.severity for finding in findings}
    if incomplete or "error" in levels or severities & {"critical", "high"}:
        result = "fail"
    elif "warning" in levels:
        result = "warn"
    else:
        result = "pass"
    metrics: dict[str, int | float] = {
        "results": sum(len(run.levels) for run in converted),
        "suppressed": sum(run.suppressed for run in converted),
    }
    metrics.update(_severity_counts(findings))
    return finding_predicate(
        kind,
        result,
        tool_name=_joined(run.tool_name for run in converted),
        tool_version=_joined(run.tool_version for run in converted),
        time=now,
        findings=_by_severity(findings),
        metrics=metrics,
    )


@dataclass
class _SarifRun:
    tool_name: str
    tool_version: str
    findings: list[Finding]
    levels: list[str]  # one per unsuppressed result that is a finding
    suppressed: int
    incomplete: bool


def _sarif_run(value: Any, where: str) -> _SarifRun:
    run = require_object(value, where)
    tool = require_object(field(run, "tool"), f"{where}.tool")
    driver = require_object(field(tool, "driver"), f"{where}.tool.driver")
    name = require_str(field(driver, "name"), f"{where}.tool.driver.name")
    version = _text(driver, "semanticVersion") or _text(driver, "version")
    declared = driver.get("rules")
    rules: list[Any] = declared if isinstance(declared, list) else []
    converted = _SarifRun(name, version, [], [], 0, incomplete=False)

    # SARIF: absent results mean the tool could not determine them; a failed invocation means
    # the scan is incomplete. Either way the report cannot vouch for the artifact.
    raw_results = field(run, "results")
    absent = raw_results is MISSING or raw_results is None
    invocations = run.get("invocations")
    failed = isinstance(invocations, list) and any(
        isinstance(i, dict) and i.get("executionSuccessful") is False for i in invocations
    )
    if absent or failed:
        converted.incomplete = True
        converted.findings.append(
            Finding(
                id=f"{name}/incomplete",
                severity="high",
                title=f"{name} did not complete",
                detail="the SARIF run has no results array or reports a failed invocation",
            )
        )
    for i, entry in enumerate([] if absent else require_list(raw_results, f"{where}.results")):
        result = require_object(entry, f"{where}.results[{i}]")
        if _suppressed(result):
            converted.suppressed += 1
            continue
        outcome = _sarif_result(result, rules, f"{where}.results[{i}]")
        if outcome is not None:
            level, finding = outcome
            converted.levels.append(level)
            converted.findings.append(finding)
    return converted


def _sarif_result(
    result: dict[str, Any], rules: list[Any], where: str
) -> tuple[str, Finding] | None:
    """The level and finding of a result; None for results that report a passed check."""
    result_kind = result.get("kind", "fail")
    require_enum(result_kind, f"{where}.kind", _SARIF_KINDS)
    if result_kind in ("pass", "notApplicable"):
        return None
    rule = _rule_for(result, rules)
    level = result.get("level", MISSING)
    if level is MISSING:
        # SARIF §3.27.10: a non-"fail" kind means level "none"; else the rule's default
        # configuration; else "warning".
        default = _dig(rule, "defaultConfiguration", "level")
        level = "none" if result_kind != "fail" else default or "warning"
    level = require_enum(level, f"{where}.level", _SARIF_LEVELS)
    rule_id = _text(result, "ruleId") or _text(rule, "id") or "sarif-result"
    message = _text(result.get("message"), "text")
    severity = (
        _security_severity(result.get("properties"))
        or _security_severity(rule.get("properties"))
        or _LEVEL_SEVERITY[level]
    )
    title = (
        _text(rule.get("shortDescription"), "text")
        or _text(rule, "name")
        or message.strip().split("\n", 1)[0]
        or rule_id
    )
    return level, Finding(
        id=rule_id,
        severity=severity,
        title=_cut(title, MAX_TITLE),
        detail=_cut(message, MAX_DETAIL),
        location=_sarif_location(result),
    )


def _rule_for(result: Mapping[str, Any], rules: list[Any]) -> dict[str, Any]:
    """The reporting rule of a result, by ruleIndex or ruleId ({} when not found)."""
    index = result.get("ruleIndex", _dig(result, "rule", "index"))
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(rules):
        rule = rules[index]
        return rule if isinstance(rule, dict) else {}
    rule_id = result.get("ruleId", _dig(result, "rule", "id"))
    for rule in rules:
        if isinstance(rule, dict) and rule_id is not None and rule.get("id") == rule_id:
            return rule
    return {}


def _security_severity(properties: Any) -> str | None:
    """Severity from a CVSS-like ``security-severity`` property (GitHub code scanning)."""
    raw = properties.get("security-severity") if isinstance(properties, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    try:
        score = float(raw)
    except ValueError:  # not a number: the level decides instead
        return None
    if not math.isfinite(score) or score < 0:
        return None
    if score >= 9:
        return "critical"
    if score >= 7:
        return "high"
    if score >= 4:
        return "medium"
    return "low" if score > 0 else "info"


def _suppressed(result: Mapping[str, Any]) -> bool:
    """Suppressed in source or externally, with every suppression accepted (SARIF §3.34)."""
    suppressions = result.get("suppressions")
    if not isinstance(suppressions, list) or not suppressions:
        return False
    return all(
        isinstance(s, dict) and s.get("status", "accepted") == "accepted" for s in suppressions
    )


def _sarif_location(result: Mapping[str, Any]) -> str:
    locations = result.get("locations")
    if not isinstance(locations, list) or not locations:
        return ""
    physical = _dig(locations[0], "physicalLocation")
    uri = _text(_dig(physical, "artifactLocation"), "uri")
    line = _dig(physical, "region", "startLine")
    if uri and isinstance(line, int) and not isinstance(line, bool):
        return f"{uri}:{line}"
    return uri


# --- JUnit --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TestCase:
    id: str
    status: str  # passed, failed, error, skipped
    location: str
    problems: tuple[Finding, ...]


def junit_to_predicate(
    text: str | bytes,
    kind: str,
    now: datetime,
    *,
    tool_name: str = "junit",
    tool_version: str = "",
) -> dict[str, Any]:
    """A finding predicate from a JUnit XML report: one high finding per failure or error.

    Result: ``fail`` if any test failed or errored; ``warn`` if no test ran (all skipped or
    none at all, which would otherwise pass vacuously); else ``pass``.
    """
    require_enum(kind, "finding kind", FINDING_KINDS)
    cases = _junit_cases(text)
    counts = {status: sum(c.status == status for c in cases) for status in _STATUSES}
    executed = len(cases) - counts["skipped"]
    findings = [problem for case in cases for problem in case.problems]
    if counts["failed"] or counts["error"]:
        result = "fail"
    elif executed == 0:
        result = "warn"
        findings.append(
            Finding(
                id="junit/no-tests",
                severity="medium",
                title="no test ran",
                detail=f"{len(cases)} test cases, {counts['skipped']} skipped",
            )
        )
    else:
        result = "pass"
    return finding_predicate(
        kind,
        result,
        tool_name=tool_name,
        tool_version=tool_version,
        time=now,
        findings=findings,
        metrics={
            "tests": len(cases),
            "failures": counts["failed"],
            "errors": counts["error"],
            "skipped": counts["skipped"],
            "pass_rate": counts["passed"] / executed if executed else 0.0,
        },
    )


def junit_to_test_result(
    text: str | bytes,
    url: str | None = None,
    *,
    configuration: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """An in-toto test-result predicate from a JUnit XML report.

    Failed and errored tests are ``failedTests``; skipped tests are listed nowhere (they did
    not pass). No test run gives ``WARNED``, as in ``junit_to_predicate``.
    """
    cases = _junit_cases(text)
    passed = [case.id for case in cases if case.status == "passed"]
    failed = [case.id for case in cases if case.status in ("failed", "error")]
    result = "FAILED" if failed else "PASSED" if passed else "WARNED"
    return make_test_result_predicate(
        result, configuration=configuration, url=url, passed_tests=passed, failed_tests=failed
    )


_STATUSES = ("passed", "failed", "error", "skipped")
# A testcase's status by its children: an error (setup/teardown broke) outranks a failure.
_PRECEDENCE = (("error", "error"), ("failure", "failed"), ("skipped", "skipped"))
_JUNIT_HINT = "give a JUnit XML report, e.g. from `pytest --junitxml=report.xml`"


def _junit_cases(text: str | bytes) -> list[_TestCase]:
    _check_size(text, "JUnit report")
    try:
        # DTDs are refused outright (JUnit reports have none): no entity expansion bombs, no
        # external entities, nothing fetched.
        root = DefusedElementTree.fromstring(text, forbid_dtd=True)
    except DefusedXmlException:
        raise InvalidInputError(
            "JUnit report declares a DTD or entities, which signoff refuses", hint=_JUNIT_HINT
        ) from None
    except ParseError as error:
        raise InvalidInputError(
            f"JUnit report is not well-formed XML: {error}", hint=_JUNIT_HINT
        ) from None
    if root.tag not in ("testsuites", "testsuite"):
        raise InvalidInputError(
            f"JUnit report root must be <testsuites> or <testsuite>, not <{root.tag}>",
            hint=_JUNIT_HINT,
        )
    return [_junit_case(element, i) for i, element in enumerate(root.iter("testcase"))]


def _junit_case(element: Element, index: int) -> _TestCase:
    name = element.get("name")
    if not name:
        raise InvalidInputError(f"JUnit testcase #{index + 1} has no name", hint=_JUNIT_HINT)
    classname = element.get("classname")
    test_id = f"{classname}.{name}" if classname else name
    file, line = element.get("file"), element.get("line")
    location = f"{file}:{line}" if file and line else file or classname or ""
    problems: list[Finding] = []
    tags: set[str] = set()
    for child in element:
        tags.add(child.tag)
        if child.tag in ("failure", "error"):
            problems.append(_junit_problem(child, test_id, location))
    status = next((status for tag, status in _PRECEDENCE if tag in tags), "passed")
    return _TestCase(test_id, status, location, tuple(problems))


def _junit_problem(child: Element, test_id: str, location: str) -> Finding:
    message = (child.get("message") or "").strip()
    body = (child.text or "").strip()
    verb = "failed" if child.tag == "failure" else "errored"
    title = f"{test_id} {verb}" + (f": {message.splitlines()[0]}" if message else "")
    return Finding(
        id=test_id,
        severity="high",
        title=_cut(title, MAX_TITLE),
        detail=_cut("\n".join(part for part in (message, body) if part), MAX_DETAIL),
        location=location,
    )


# --- shared -------------------------------------------------------------------------------


def _check_size(text: str | bytes, what: str) -> None:
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_REPORT_BYTES:
        raise InvalidInputError(
            f"{what} is {size} bytes, more than the {MAX_REPORT_BYTES} allowed",
            hint="split the report or keep only the results that matter",
        )


def _dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...`` through objects, or None when a step is missing or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: Any, key: str) -> str:
    """A string field of an object, or "" when absent or not a string."""
    found = _dig(value, key)
    return found if isinstance(found, str) else ""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _joined(values: Iterable[str]) -> str:
    """Distinct values in first-seen order: one tool, or several runs' tools, named once."""
    return ", ".join(dict.fromkeys(v for v in values if v))


def _severity_counts(findings: list[Finding]) -> dict[str, int | float]:
    return {s: sum(f.severity == s for f in findings) for s in SEVERITIES}


def _by_severity(findings: list[Finding]) -> list[Finding]:
    """Most severe first (stable, so the report's own order is kept within a severity)."""
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))
