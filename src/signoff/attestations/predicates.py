"""Predicates signoff signs: builders that only emit valid predicates, and strict parsers.

- finding (signoff): the outcome of a scan, evaluation or review, with individual findings;
- test-result v0.1 (in-toto): https://github.com/in-toto/attestation/blob/main/spec/predicates/
  test-result.md;
- approval (signoff): a person's decision to let a version into a stage;
- verification summary v1 (SLSA VSA): https://slsa.dev/spec/v1.0/verification_summary.

Each builder assembles a dict and runs it through the matching parser (where there is one), so
the rules live in one place. Parsers ignore unknown fields, as the in-toto parsing rules require.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signoff.attestations.fields import (
    MISSING,
    field,
    format_time,
    parse_time,
    require_enum,
    require_list,
    require_number,
    require_object,
    require_sha256,
    require_str,
)
from signoff.domain import Stage
from signoff.errors import InvalidInputError

FINDING_PREDICATE = "https://signoff.dev/attestations/finding/v1"
TEST_RESULT_PREDICATE = "https://in-toto.io/attestation/test-result/v0.1"
APPROVAL_PREDICATE = "https://signoff.dev/attestations/approval/v1"
VSA_PREDICATE = "https://slsa.dev/verification_summary/v1"

FINDING_KINDS = (
    "artifact-scan",
    "red-team",
    "evaluation",
    "fairness",
    "robustness",
    "model-card",
    "license",
    "data",
    "custom",
)
FINDING_RESULTS = ("pass", "warn", "fail")
SEVERITIES = ("critical", "high", "medium", "low", "info")
"""Most to least severe."""
TEST_RESULTS = ("PASSED", "WARNED", "FAILED")
DECISIONS = ("approve", "reject")
VSA_RESULTS = ("PASSED", "FAILED")

# SLSA reserves the "SLSA_" prefix for levels it defines: SLSA_<TRACK>_LEVEL_<n>.
_SLSA_LEVEL = re.compile(r"SLSA_([A-Z]+)_LEVEL_(\d)", re.ASCII)
_SLSA_VERSION = re.compile(r"\d+\.\d+", re.ASCII)


# --- finding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One finding: a rule or test id, its severity, a title and where it was found."""

    id: str
    severity: str
    title: str
    detail: str = ""
    location: str = ""

    def to_dict(self) -> dict[str, str]:
        """The finding as predicate JSON."""
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "detail": self.detail,
            "location": self.location,
        }


@dataclass(frozen=True)
class FindingReport:
    """A parsed finding predicate."""

    kind: str
    result: str
    metrics: dict[str, int | float]
    findings: tuple[Finding, ...]
    tool_name: str
    tool_version: str
    time: datetime


def finding_predicate(
    kind: str,
    result: str,
    *,
    tool_name: str,
    time: datetime,
    tool_version: str = "",
    findings: Iterable[Finding] = (),
    metrics: Mapping[str, int | float] | None = None,
) -> dict[str, Any]:
    """A finding predicate (validated); ``time`` must be timezone-aware."""
    predicate = {
        "kind": kind,
        "result": result,
        "metrics": dict(metrics or {}),
        "findings": [finding.to_dict() for finding in findings],
        "tool": {"name": tool_name, "version": tool_version},
        "time": format_time(time),
    }
    parse_finding_predicate(predicate)
    return predicate


def parse_finding_predicate(predicate: Mapping[str, Any]) -> FindingReport:
    """Validate a finding predicate; ``InvalidInputError`` names the first bad field."""
    where = "finding predicate"
    obj = require_object(dict(predicate), where)
    metrics = require_object(field(obj, "metrics"), f"{where} metrics")
    for name, value in metrics.items():
        require_str(name, f"{where} metric name")
        require_number(value, f"{where} metric {name!r}")
    entries = require_list(field(obj, "findings"), f"{where} findings")
    tool = require_object(field(obj, "tool"), f"{where} tool")
    return FindingReport(
        kind=require_enum(field(obj, "kind"), f"{where} kind", FINDING_KINDS),
        result=require_enum(field(obj, "result"), f"{where} result", FINDING_RESULTS),
        metrics=metrics,
        findings=tuple(
            _finding(entry, f"{where} findings[{i}]") for i, entry in enumerate(entries)
        ),
        tool_name=require_str(field(tool, "name"), f"{where} tool.name"),
        tool_version=require_str(field(tool, "version"), f"{where} tool.version", non_empty=False),
        time=parse_time(field(obj, "time"), f"{where} time"),
    )


def _finding(entry: Any, where: str) -> Finding:
    obj = require_object(entry, where)
    return Finding(
        id=require_str(field(obj, "id"), f"{where}.id"),
        severity=require_enum(field(obj, "severity"), f"{where}.severity", SEVERITIES),
        title=require_str(field(obj, "title"), f"{where}.title"),
        detail=require_str(field(obj, "detail"), f"{where}.detail", non_empty=False),
        location=require_str(field(obj, "location"), f"{where}.location", non_empty=False),
    )


# --- in-toto test-result ------------------------------------------------------------------
# Not named test_*/Test*: pytest would collect a builder or class imported into a test module.


@dataclass(frozen=True)
class InTotoTestResult:
    """A parsed in-toto test-result predicate."""

    result: str
    configuration: tuple[dict[str, Any], ...]
    url: str | None
    passed_tests: tuple[str, ...]
    warned_tests: tuple[str, ...]
    failed_tests: tuple[str, ...]


def make_test_result_predicate(
    result: str,
    *,
    configuration: Iterable[Mapping[str, Any]] = (),
    url: str | None = None,
    passed_tests: Iterable[str] = (),
    warned_tests: Iterable[str] = (),
    failed_tests: Iterable[str] = (),
) -> dict[str, Any]:
    """An in-toto test-result v0.1 predicate (validated).

    ``configuration`` holds ResourceDescriptors of the configuration the tests ran with; the
    spec requires the field, so it is always emitted, empty when nothing is known.
    """
    predicate: dict[str, Any] = {
        "result": result,
        "configuration": [dict(descriptor) for descriptor in configuration],
    }
    if url is not None:
        predicate["url"] = url
    predicate["passedTests"] = list(passed_tests)
    predicate["warnedTests"] = list(warned_tests)
    predicate["failedTests"] = list(failed_tests)
    parse_test_result_predicate(predicate)
    return predicate


def parse_test_result_predicate(predicate: Mapping[str, Any]) -> InTotoTestResult:
    """Validate an in-toto test-result v0.1 predicate."""
    where = "test-result predicate"
    obj = require_object(dict(predicate), where)
    configuration = require_list(field(obj, "configuration"), f"{where} configuration")
    url = field(obj, "url")
    return InTotoTestResult(
        result=require_enum(field(obj, "result"), f"{where} result", TEST_RESULTS),
        configuration=tuple(
            resource_descriptor(entry, f"{where} configuration[{i}]")
            for i, entry in enumerate(configuration)
        ),
        url=None if url is MISSING else require_str(url, f"{where} url"),
        passed_tests=_names(obj, "passedTests", where),
        warned_tests=_names(obj, "warnedTests", where),
        failed_tests=_names(obj, "failedTests", where),
    )


def _names(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = field(obj, key)
    if value is MISSING:  # optional in the spec
        return ()
    names = require_list(value, f"{where} {key}")
    return tuple(require_str(name, f"{where} {key}[{i}]") for i, name in enumerate(names))


def resource_descriptor(value: Any, where: str) -> dict[str, Any]:
    """Validate an in-toto ResourceDescriptor: it needs at least one of uri, digest, content."""
    obj = require_object(value, where)
    if not {"uri", "digest", "content"} & obj.keys():
        raise InvalidInputError(
            f"{where} has none of uri, digest, content",
            hint="a ResourceDescriptor needs at least one of them",
        )
    for key in ("name", "uri", "content", "downloadLocation", "mediaType"):
        if key in obj:
            require_str(obj[key], f"{where}.{key}")
    if "digest" in obj:
        digest = require_object(obj["digest"], f"{where}.digest")
        if not digest:
            raise InvalidInputError(f"{where}.digest is empty")
        for algorithm, hex_value in digest.items():
            require_str(hex_value, f"{where}.digest.{algorithm}")
        if "sha256" in digest:
            require_sha256(digest["sha256"], f"{where}.digest.sha256")
    if "annotations" in obj:
        require_object(obj["annotations"], f"{where}.annotations")
    return obj


# --- approval -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Approval:
    """A parsed approval predicate: who decided what for which stage, why, and when."""

    stage: str
    decision: str
    reason: str
    approver: str
    time: datetime


def approval_predicate(
    stage: str, decision: str, *, reason: str, approver: str, time: datetime
) -> dict[str, Any]:
    """An approval predicate (validated); the reason is required for the audit trail."""
    predicate = {
        "stage": stage,
        "decision": decision,
        "reason": reason,
        "approver": approver,
        "time": format_time(time),
    }
    parse_approval_predicate(predicate)
    return predicate


def parse_approval_predicate(predicate: Mapping[str, Any]) -> Approval:
    """Validate an approval predicate; ``stage`` must be a lifecycle ``Stage`` value."""
    where = "approval predicate"
    obj = require_object(dict(predicate), where)
    return Approval(
        stage=require_enum(field(obj, "stage"), f"{where} stage", [s.value for s in Stage]),
        decision=require_enum(field(obj, "decision"), f"{where} decision", DECISIONS),
        reason=require_str(field(obj, "reason"), f"{where} reason"),
        approver=require_str(field(obj, "approver"), f"{where} approver"),
        time=parse_time(field(obj, "time"), f"{where} time"),
    )


# --- SLSA verification summary ------------------------------------------------------------


@dataclass(frozen=True)
class AttestationRef:
    """An attestation a verification used: its sha256 and, optionally, where to fetch it."""

    sha256: str
    uri: str | None = None


def vsa_predicate(
    *,
    verifier_id: str,
    time_verified: datetime,
    resource_uri: str,
    policy_uri: str,
    policy_sha256: str,
    verification_result: str,
    verified_levels: Sequence[str],
    input_attestations: Iterable[AttestationRef] = (),
    dependency_levels: Mapping[str, int] | None = None,
    slsa_version: str | None = "1.0",
) -> dict[str, Any]:
    """A SLSA verification summary v1 predicate (validated).

    ``verified_levels`` holds at most one ``SLSA_<TRACK>_LEVEL_<n>`` per track, or custom
    values not starting with ``SLSA_``; a FAILED verification must report exactly ``["FAILED"]``.
    """
    where = "VSA predicate"
    require_enum(verification_result, f"{where} verificationResult", VSA_RESULTS)
    _check_levels(list(verified_levels), verification_result, where)
    predicate: dict[str, Any] = {
        "verifier": {"id": require_str(verifier_id, f"{where} verifier.id")},
        "timeVerified": format_time(time_verified),
        "resourceUri": require_str(resource_uri, f"{where} resourceUri"),
        "policy": {
            "uri": require_str(policy_uri, f"{where} policy.uri"),
            "digest": {"sha256": require_sha256(policy_sha256, f"{where} policy.digest.sha256")},
        },
        "inputAttestations": [
            _attestation_ref(ref, f"{where} inputAttestations[{i}]")
            for i, ref in enumerate(input_attestations)
        ],
        "verificationResult": verification_result,
        "verifiedLevels": list(verified_levels),
    }
    if dependency_levels:
        for level, count in dependency_levels.items():
            _check_level_name(level, f"{where} dependencyLevels")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise InvalidInputError(f"{where} dependencyLevels[{level!r}] must be a count")
        predicate["dependencyLevels"] = dict(dependency_levels)
    if slsa_version is not None:
        if not _SLSA_VERSION.fullmatch(slsa_version):
            raise InvalidInputError(
                f"{where} slsaVersion must be MAJOR.MINOR, not {slsa_version!r}"
            )
        predicate["slsaVersion"] = slsa_version
    return predicate


def _attestation_ref(ref: AttestationRef, where: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if ref.uri is not None:
        entry["uri"] = require_str(ref.uri, f"{where}.uri")
    entry["digest"] = {"sha256": require_sha256(ref.sha256, f"{where}.digest.sha256")}
    return entry


def _check_levels(levels: list[str], result: str, where: str) -> None:
    if not levels:
        raise InvalidInputError(
            f"{where} verifiedLevels must not be empty",
            hint="give the highest level verified per track, or ['FAILED']",
        )
    if result == "FAILED" and levels != ["FAILED"]:
        raise InvalidInputError(
            f"{where} verifiedLevels of a FAILED verification must be ['FAILED'], not {levels}"
        )
    if result == "PASSED" and "FAILED" in levels:
        raise InvalidInputError(f"{where} verifiedLevels of a PASSED verification has FAILED")
    tracks: set[str] = set()
    for level in levels:
        track = _check_level_name(level, f"{where} verifiedLevels")
        if track is not None and track in tracks:
            raise InvalidInputError(
                f"{where} verifiedLevels has two levels of the {track} track",
                hint="give only the highest level verified per track",
            )
        if track is not None:
            tracks.add(track)


def _check_level_name(level: Any, where: str) -> str | None:
    """The SLSA track of ``level`` (None for FAILED and custom values)."""
    require_str(level, where)
    if level == "FAILED" or not level.startswith("SLSA_"):
        return None
    match = _SLSA_LEVEL.fullmatch(level)
    if match is None:
        raise InvalidInputError(
            f"{where} has {level!r}: custom levels must not start with 'SLSA_'",
            hint="use SLSA_<TRACK>_LEVEL_<n>, e.g. SLSA_BUILD_LEVEL_3",
        )
    return match.group(1)
