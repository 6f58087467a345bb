"""Scanning a registered version: check the bytes are the registered ones, scan, record evidence.

The bytes are verified against the version's manifest before the scan and again after it, so a
file swapped while the scan ran cannot lend its verdict to other bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from signoff.artifacts import verify
from signoff.attestations import finding_predicate
from signoff.attestations.predicates import Finding
from signoff.domain import Version
from signoff.errors import CheckFailedError, InvalidInputError
from signoff.scanner.allowlist import Allowlist
from signoff.scanner.findings import ScanReport
from signoff.scanner.scan import scan_path
from signoff.version import __version__

SCANNER_NAME = "signoff-scan"
MAX_RECORDED_FINDINGS = 1000


def artifact_path(version: Version, path: str | Path | None) -> Path:
    """The local path to scan: given, or the version's ``file://`` URI."""
    if path is not None:
        return Path(path)
    parsed = urlparse(version.artifact.uri)
    if parsed.scheme != "file":
        raise InvalidInputError(
            f"{version.ref} lives at {version.artifact.uri}, not on this machine",
            hint="download it and give its local path with --path",
        )
    return Path(unquote(parsed.path))


def require_registered_bytes(version: Version, path: Path) -> None:
    """Refuse to scan (or keep a scan of) bytes other than the registered ones."""
    result = verify(path, version.artifact.manifest)
    if not result.ok:
        changed = [*result.changed, *result.missing, *result.extra][:5]
        raise CheckFailedError(
            f"{path} does not hold the bytes registered as {version.ref} "
            f"(differs in: {', '.join(changed)})",
            hint="scan the exact registered artifact; a changed artifact is a new version",
        )


def scan_version(
    version: Version,
    path: Path,
    extra_allowlist: tuple[str, ...],
    progress: Callable[[int], None] | None = None,
) -> ScanReport:
    """Verify, scan, verify again."""
    require_registered_bytes(version, path)
    allowlist = Allowlist.default().with_extra(extra_allowlist)
    report = scan_path(path, allowlist=allowlist, progress=progress)
    require_registered_bytes(version, path)
    return report


def report_predicate(report: ScanReport, now: datetime) -> dict[str, Any]:
    """A signoff finding predicate (kind ``artifact-scan``) from a scan report."""
    findings = [
        Finding(
            id=f.rule_id,
            severity=f.severity.value,
            title=f.title[:200],
            detail=(f"{f.construct}: {f.detail}" if f.construct else f.detail)[:4000],
            location=f.location,
        )
        for f in report.findings[:MAX_RECORDED_FINDINGS]
    ]
    metrics: dict[str, int | float] = {
        "files": len(report.files),
        "bytes_scanned": report.bytes_scanned,
        "findings": len(report.findings),
    }
    for severity in ("critical", "high", "medium", "low", "info"):
        metrics[severity] = sum(1 for f in report.findings if f.severity.value == severity)
    return finding_predicate(
        "artifact-scan",
        report.result,
        tool_name=SCANNER_NAME,
        tool_version=__version__,
        time=now,
        findings=findings,
        metrics=metrics,
    )
