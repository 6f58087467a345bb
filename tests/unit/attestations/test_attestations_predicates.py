"""Predicate builders emit only valid predicates; parsers refuse malformed ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from signoff.attestations import predicates as p
from signoff.errors import InvalidInputError

NOW = datetime(2024, 5, 1, 12, 30, 5, tzinfo=UTC)
DIGEST = "d" * 64

# The example of the in-toto test-result spec, verbatim.
SPEC_TEST_RESULT = json.loads("""{
    "result": "PASSED",
    "configuration": [{
        "name": ".github/workflows/ci.yml",
        "downloadLocation": "https://github.com/in-toto/in-toto/blob/d20ace7968ba43c0219f62d71334c1095bab1602/.github/workflows/ci.yml",
        "digest": {"gitBlob": "ebe4add40f63c3c98bc9b32ff1e736f04120b023"}
    }],
    "url": "https://github.com/in-toto/in-toto/actions/runs/4425592351",
    "passedTests": ["build (3.7, ubuntu-latest, py)", "build (3.x, ubuntu-latest, lint)"],
    "warnedTests": [],
    "failedTests": []
}""")


def finding(**overrides: Any) -> dict[str, Any]:
    return (
        p.finding_predicate(
            "red-team",
            "fail",
            tool_name="garak",
            tool_version="0.9",
            time=NOW,
            findings=[
                p.Finding("dan.Dan_11_0", "critical", "jailbreak succeeded", "12/20", "probe")
            ],
            metrics={"attack_success_rate": 0.6, "prompts": 20},
        )
        | overrides
    )


def test_finding_predicate_shape_and_parse() -> None:
    predicate = finding()
    assert predicate == {
        "kind": "red-team",
        "result": "fail",
        "metrics": {"attack_success_rate": 0.6, "prompts": 20},
        "findings": [
            {
                "id": "dan.Dan_11_0",
                "severity": "critical",
                "title": "jailbreak succeeded",
                "detail": "12/20",
                "location": "probe",
            }
        ],
        "tool": {"name": "garak", "version": "0.9"},
        "time": "2024-05-01T12:30:05Z",
    }
    report = p.parse_finding_predicate(predicate)
    assert report.time == NOW
    assert report.findings[0].severity == "critical"
    assert report.tool_name == "garak"


def test_times_are_normalized_to_utc() -> None:
    moment = datetime(2024, 5, 1, 14, 30, 5, 250000, tzinfo=timezone(timedelta(hours=2)))
    predicate = p.approval_predicate(
        "production", "approve", reason="eval ok", approver="alice", time=moment
    )
    assert predicate["time"] == "2024-05-01T12:30:05.250000Z"
    assert p.parse_approval_predicate(predicate).time == moment


def test_nanosecond_times_from_other_producers_parse() -> None:
    parsed = p.parse_finding_predicate(finding(time="2024-05-01T12:30:05.123456789Z"))
    assert parsed.time == NOW.replace(microsecond=123456)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "pentest"}, "kind must be one of"),
        ({"result": "PASS"}, "result must be one of"),
        ({"metrics": {"x": True}}, "metric 'x' must be a number"),
        ({"metrics": {"x": "1"}}, "metric 'x' must be a number"),
        ({"metrics": []}, "metrics must be an object"),
        (
            {
                "findings": [
                    {"id": "a", "severity": "blocker", "title": "t", "detail": "", "location": ""}
                ]
            },
            r"findings\[0\].severity",
        ),
        (
            {
                "findings": [
                    {"id": "", "severity": "low", "title": "t", "detail": "", "location": ""}
                ]
            },
            r"findings\[0\].id must not be empty",
        ),
        ({"findings": [{"id": "a", "severity": "low", "title": "t"}]}, "detail must be"),
        ({"tool": {"version": "1"}}, "tool.name must be a string"),
        ({"time": "2024-05-01 12:30:05"}, "RFC 3339 UTC"),
        ({"time": "2024-05-01T12:30:05+02:00"}, "RFC 3339 UTC"),
        ({"time": "2024-13-01T12:30:05Z"}, "not a real time"),
        ({"time": "\u0662\u0660\u0662\u0664-05-01T12:30:05Z"}, "RFC 3339 UTC"),  # Arabic digits
    ],
)
def test_malformed_finding_predicates_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        p.parse_finding_predicate(finding(**overrides))


def test_builders_refuse_naive_times_and_bad_values() -> None:
    with pytest.raises(InvalidInputError, match="no time zone"):
        p.finding_predicate("data", "pass", tool_name="t", time=datetime(2024, 5, 1))
    with pytest.raises(InvalidInputError, match="severity"):
        p.finding_predicate(
            "data", "pass", tool_name="t", time=NOW, findings=[p.Finding("x", "urgent", "t")]
        )


def test_test_result_spec_example_parses_and_rebuilds() -> None:
    parsed = p.parse_test_result_predicate(SPEC_TEST_RESULT)
    assert parsed.result == "PASSED"
    assert parsed.url == "https://github.com/in-toto/in-toto/actions/runs/4425592351"
    rebuilt = p.make_test_result_predicate(
        parsed.result,
        configuration=parsed.configuration,
        url=parsed.url,
        passed_tests=parsed.passed_tests,
    )
    assert rebuilt == SPEC_TEST_RESULT


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"result": "PASS"}, "result must be one of PASSED, WARNED, FAILED"),
        ({"configuration": None}, "configuration must be an array"),
        ({"configuration": [{"name": "ci.yml"}]}, "none of uri, digest, content"),
        ({"configuration": [{"digest": {}}]}, "digest is empty"),
        ({"configuration": [{"digest": {"sha256": "XYZ"}}]}, "SHA-256"),
        ({"passedTests": "a"}, "passedTests must be an array"),
        ({"failedTests": [""]}, r"failedTests\[0\] must not be empty"),
        ({"url": 3}, "url must be a string"),
    ],
)
def test_malformed_test_results_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        p.parse_test_result_predicate(SPEC_TEST_RESULT | overrides)


def test_approval_round_trip_and_validation() -> None:
    predicate = p.approval_predicate(
        "production", "reject", reason="fairness gap", approver="alice", time=NOW
    )
    approval = p.parse_approval_predicate(predicate)
    assert (approval.stage, approval.decision, approval.approver) == (
        "production",
        "reject",
        "alice",
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"stage": "staging"}, "stage must be one of candidate, approved, production, retired"),
        ({"decision": "maybe"}, "decision must be one of approve, reject"),
        ({"reason": "  "}, "reason must not be empty"),
        ({"approver": None}, "approver must be a string"),
    ]
    for overrides, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            p.parse_approval_predicate(predicate | overrides)


def vsa(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "verifier_id": "https://signoff.dev/verifier",
        "time_verified": NOW,
        "resource_uri": "signoff://fraud/3",
        "policy_uri": "https://example.com/policy.yaml",
        "policy_sha256": DIGEST,
        "verification_result": "PASSED",
        "verified_levels": ["SLSA_BUILD_LEVEL_2", "SIGNOFF_PRODUCTION"],
        "input_attestations": [
            p.AttestationRef("e" * 64, "signoff://attestations/1"),
            p.AttestationRef("f" * 64),
        ],
    }
    return p.vsa_predicate(**(arguments | overrides))


def test_vsa_has_the_spec_shape() -> None:
    assert vsa(dependency_levels={"SLSA_BUILD_LEVEL_1": 2}) == {
        "verifier": {"id": "https://signoff.dev/verifier"},
        "timeVerified": "2024-05-01T12:30:05Z",
        "resourceUri": "signoff://fraud/3",
        "policy": {"uri": "https://example.com/policy.yaml", "digest": {"sha256": DIGEST}},
        "inputAttestations": [
            {"uri": "signoff://attestations/1", "digest": {"sha256": "e" * 64}},
            {"digest": {"sha256": "f" * 64}},
        ],
        "verificationResult": "PASSED",
        "verifiedLevels": ["SLSA_BUILD_LEVEL_2", "SIGNOFF_PRODUCTION"],
        "dependencyLevels": {"SLSA_BUILD_LEVEL_1": 2},
        "slsaVersion": "1.0",
    }
    assert vsa(verification_result="FAILED", verified_levels=["FAILED"])["verifiedLevels"] == [
        "FAILED"
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"verification_result": "OK"}, "verificationResult must be one of"),
        ({"verified_levels": []}, "must not be empty"),
        ({"verification_result": "FAILED"}, "FAILED verification must be"),
        ({"verified_levels": ["FAILED"]}, "PASSED verification has FAILED"),
        ({"verified_levels": ["SLSA_BUILD_LEVEL_2", "SLSA_BUILD_LEVEL_3"]}, "two levels"),
        ({"verified_levels": ["SLSA_GOLD"]}, "must not start with 'SLSA_'"),
        ({"policy_sha256": "sha256:" + DIGEST}, "SHA-256"),
        ({"input_attestations": [p.AttestationRef("nope")]}, "SHA-256"),
        ({"dependency_levels": {"SLSA_BUILD_LEVEL_1": -1}}, "must be a count"),
        ({"slsa_version": "1"}, "MAJOR.MINOR"),
        ({"verifier_id": ""}, "verifier.id must not be empty"),
        ({"time_verified": datetime(2024, 5, 1)}, "no time zone"),
    ],
)
def test_invalid_vsas_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        vsa(**overrides)
