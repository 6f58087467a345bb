"""SARIF 2.1.0 output of a scan report, for code-scanning dashboards (GitHub, GitLab, Azure).

One rule per rule id seen, at the highest severity it was seen with; ``security-severity`` is the
numeric score GitHub uses to rank security alerts. A finding inside an archive points at the file
(``artifactLocation``) and names the member as a logical location ``file!member``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from signoff.scanner.findings import ScanFinding, ScanReport, Severity

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "signoff-scan"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "none",
}
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
_RANK = {severity: rank for rank, severity in enumerate(reversed(list(Severity)))}


def report_to_sarif(report: ScanReport, tool_version: str) -> dict[str, Any]:
    """The SARIF log (a JSON-ready dict) of ``report``."""
    rules = _rules(report.findings)
    index = {rule["id"]: position for position, rule in enumerate(rules)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": tool_version,
                        "rules": rules,
                    }
                },
                "results": [
                    _result(finding, index[finding.rule_id]) for finding in report.findings
                ],
                "properties": {
                    "root": report.root,
                    "result": report.result,
                    "formats": dict(report.formats),
                    "bytesScanned": report.bytes_scanned,
                },
            }
        ],
    }


def _rules(findings: list[ScanFinding]) -> list[dict[str, Any]]:
    worst: dict[str, ScanFinding] = {}
    for finding in findings:
        seen = worst.get(finding.rule_id)
        if seen is None or _RANK[finding.severity] > _RANK[seen.severity]:
            worst[finding.rule_id] = finding
    return [
        {
            "id": rule_id,
            "shortDescription": {"text": finding.title},
            "defaultConfiguration": {"level": LEVELS[finding.severity]},
            "properties": {
                "security-severity": SECURITY_SEVERITY[finding.severity],
                "tags": ["security"],
            },
        }
        for rule_id, finding in sorted(worst.items())
    ]


def _result(finding: ScanFinding, rule_index: int) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": {"uri": quote(finding.file, safe="/")}}
    }
    properties: dict[str, Any] = {"severity": finding.severity.value}
    if finding.member:
        location["logicalLocations"] = [
            {"fullyQualifiedName": f"{finding.file}!{finding.member}", "kind": "resource"}
        ]
        if finding.offset is not None:
            # An offset inside a (possibly compressed) member is no byte offset of the file.
            properties["memberOffset"] = finding.offset
    elif finding.offset is not None:
        location["physicalLocation"]["region"] = {"byteOffset": finding.offset}
    if finding.construct:
        properties["construct"] = finding.construct
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.title}: {finding.detail}"},
        "locations": [location],
        "properties": properties,
    }
