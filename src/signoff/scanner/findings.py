"""What the scanner reports: findings with location, rule and reason, and the report of a scan.

Shared by every format analyser. A finding says where (file, archive member, byte offset), which
rule, how severe, which import or construct was seen, and why it matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """Finding severities, as in signoff's finding predicate."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


BLOCKING = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM)
"""Severities that fail a scan (fail closed: anything not analysable is at least medium)."""


@dataclass(frozen=True)
class ScanFinding:
    """One thing the scanner found."""

    rule_id: str
    severity: Severity
    title: str
    detail: str
    file: str
    member: str | None = None
    offset: int | None = None
    construct: str | None = None

    @property
    def location(self) -> str:
        """``file[:member][@offset]`` for people and SARIF."""
        where = self.file
        if self.member:
            where += f":{self.member}"
        if self.offset is not None:
            where += f"@{self.offset}"
        return where

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "file": self.file,
            "member": self.member,
            "offset": self.offset,
            "construct": self.construct,
            "location": self.location,
        }


@dataclass
class ScanReport:
    """Findings over a file or a directory, plus what was scanned."""

    root: str
    files: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    findings: list[ScanFinding] = field(default_factory=list)
    bytes_scanned: int = 0

    @property
    def result(self) -> str:
        """``fail`` with any blocking finding, ``warn`` with only low ones, else ``pass``."""
        if any(f.severity in BLOCKING for f in self.findings):
            return "fail"
        if any(f.severity is Severity.LOW for f in self.findings):
            return "warn"
        return "pass"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "root": self.root,
            "result": self.result,
            "files": list(self.files),
            "formats": dict(self.formats),
            "bytes_scanned": self.bytes_scanned,
            "findings": [f.to_dict() for f in self.findings],
        }
