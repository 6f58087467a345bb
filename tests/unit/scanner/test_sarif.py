"""SARIF 2.1.0 output: shape, rules, levels, locations."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest

from signoff.scanner.findings import ScanFinding, ScanReport, Severity
from signoff.scanner.sarif import report_to_sarif
from signoff.scanner.scan import scan_path

# The parts of the official SARIF 2.1.0 schema (sarif-schema-2.1.0.json) our output uses, with
# their constraints as the schema states them.
SARIF_SUBSET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"enum": ["2.1.0"]},
        "$schema": {"type": "string", "format": "uri"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                    "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
                                },
                            }
                        },
                    },
                    "results": {"type": "array", "items": {"$ref": "#/$defs/result"}},
                    "properties": {"type": "object"},
                },
            },
        },
    },
    "$defs": {
        "level": {"enum": ["none", "note", "warning", "error"]},
        "message": {
            "type": "object",
            "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
            "properties": {"text": {"type": "string"}},
        },
        "rule": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "shortDescription": {"$ref": "#/$defs/message"},
                "defaultConfiguration": {
                    "type": "object",
                    "properties": {"level": {"$ref": "#/$defs/level"}},
                },
                "properties": {"type": "object"},
            },
        },
        "result": {
            "type": "object",
            "required": ["message"],
            "properties": {
                "ruleId": {"type": "string"},
                "ruleIndex": {"type": "integer", "minimum": -1},
                "level": {"$ref": "#/$defs/level"},
                "message": {"$ref": "#/$defs/message"},
                "locations": {"type": "array", "items": {"$ref": "#/$defs/location"}},
                "properties": {"type": "object"},
            },
        },
        "location": {
            "type": "object",
            "properties": {
                "physicalLocation": {
                    "type": "object",
                    "properties": {
                        "artifactLocation": {
                            "type": "object",
                            "properties": {"uri": {"type": "string", "format": "uri-reference"}},
                        },
                        "region": {
                            "type": "object",
                            "anyOf": [
                                {"required": ["startLine"]},
                                {"required": ["charOffset"]},
                                {"required": ["byteOffset"]},
                            ],
                            "properties": {"byteOffset": {"type": "integer", "minimum": 0}},
                        },
                    },
                },
                "logicalLocations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "fullyQualifiedName": {"type": "string"},
                            "kind": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}


def finding(
    rule: str, severity: Severity, member: str | None = None, offset: int | None = 7
) -> ScanFinding:
    return ScanFinding(
        rule,
        severity,
        f"title {rule}",
        "detail",
        "dir/model file.pt",
        member,
        offset,
        "posix.system" if severity is Severity.CRITICAL else None,
    )


def sample_report() -> ScanReport:
    report = ScanReport(root="/models/m", files=["dir/model file.pt"])
    report.formats = {"dir/model file.pt": "pytorch-zip"}
    report.findings = [
        finding("pickle/dangerous-global", Severity.CRITICAL, "archive/data.pkl"),
        finding("zip/crc-mismatch", Severity.MEDIUM, "archive/data/0"),
        finding("zip/crc-mismatch", Severity.HIGH),
        finding("safetensors/gap", Severity.LOW, offset=None),
        finding("torch/archive", Severity.INFO, offset=None),
    ]
    report.bytes_scanned = 1234
    return report


def test_log_shape() -> None:
    log = report_to_sarif(sample_report(), "0.1.0")
    json.dumps(log)  # plain JSON
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "signoff-scan"
    assert run["tool"]["driver"]["version"] == "0.1.0"
    assert run["properties"]["result"] == "fail"
    assert run["properties"]["formats"] == {"dir/model file.pt": "pytorch-zip"}


def test_rules_take_their_worst_severity() -> None:
    rules = report_to_sarif(sample_report(), "1")["runs"][0]["tool"]["driver"]["rules"]
    by_id = {rule["id"]: rule for rule in rules}
    assert set(by_id) == {
        "pickle/dangerous-global",
        "zip/crc-mismatch",
        "safetensors/gap",
        "torch/archive",
    }
    crc = by_id["zip/crc-mismatch"]
    assert crc["defaultConfiguration"]["level"] == "error"
    assert crc["properties"]["security-severity"] == "8.0"
    assert crc["shortDescription"]["text"] == "title zip/crc-mismatch"
    assert by_id["pickle/dangerous-global"]["properties"]["security-severity"] == "9.5"
    assert by_id["safetensors/gap"]["properties"]["security-severity"] == "3.0"
    assert by_id["safetensors/gap"]["defaultConfiguration"]["level"] == "note"
    assert by_id["torch/archive"]["defaultConfiguration"]["level"] == "none"


def test_results_and_locations() -> None:
    log = report_to_sarif(sample_report(), "1")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "warning", "error", "note", "none"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"].startswith("title ")
        (location,) = result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == "dir/model%20file.pt"
    member = results[0]["locations"][0]
    assert member["logicalLocations"][0]["fullyQualifiedName"] == (
        "dir/model file.pt!archive/data.pkl"
    )
    assert "region" not in member["physicalLocation"]  # member offsets are not file offsets
    assert results[0]["properties"] == {
        "severity": "critical",
        "construct": "posix.system",
        "memberOffset": 7,
    }
    assert results[2]["locations"][0]["physicalLocation"]["region"] == {"byteOffset": 7}
    assert "region" not in results[3]["locations"][0]["physicalLocation"]


def test_empty_report() -> None:
    log = report_to_sarif(ScanReport(root="x"), "1")
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["rules"] == []
    assert log["runs"][0]["properties"]["result"] == "pass"


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("id",))


def _real_report(tmp_path: Path) -> ScanReport:
    with zipfile.ZipFile(tmp_path / "model.pt", "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(_Payload(), protocol=2))
        archive.writestr("archive/version", "3\n")
    return scan_path(tmp_path)


def test_real_scan_converts(tmp_path: Path) -> None:
    log = report_to_sarif(_real_report(tmp_path), "1")
    results = log["runs"][0]["results"]
    assert any(r["level"] == "error" for r in results)
    names = {
        loc["fullyQualifiedName"]
        for r in results
        for loc in r["locations"][0].get("logicalLocations", [])
    }
    assert "model.pt!archive/data.pkl" in names


def test_validates_against_the_schema(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report_to_sarif(sample_report(), "1"), SARIF_SUBSET_SCHEMA)
    jsonschema.validate(report_to_sarif(_real_report(tmp_path), "1"), SARIF_SUBSET_SCHEMA)
