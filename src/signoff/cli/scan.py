"""``signoff scan-file PATH`` and ``signoff scan REF``: the built-in artifact scanner."""

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from signoff.cli.context import open_registry, settings
from signoff.cli.models import JsonOption
from signoff.cli.output import console, human_size, print_json
from signoff.cli.progress import digest_progress
from signoff.scanner.findings import ScanReport
from signoff.version import __version__


def print_report(report: ScanReport) -> None:
    """Findings, most severe first, then the verdict."""
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    for finding in sorted(report.findings, key=lambda f: order[f.severity.value]):
        construct = f" [{finding.construct}]" if finding.construct else ""
        console.print(
            f"{finding.severity.value.upper():<8} {finding.rule_id} {finding.location}: "
            f"{finding.title}{construct}",
            markup=False,
        )
        if finding.detail:
            console.print(f"         {finding.detail}", markup=False)
    formats = ", ".join(sorted(set(report.formats.values()))) or "none"
    console.print(
        f"{report.result.upper()}: {len(report.files)} file(s), "
        f"{human_size(report.bytes_scanned)}, formats: {formats}; "
        f"{len(report.findings)} finding(s)",
        markup=False,
    )


def scan_file(
    path: Annotated[Path, typer.Argument(help="A model file or directory.")],
    json_output: JsonOption = False,
    sarif: Annotated[bool, typer.Option("--sarif", help="Print SARIF 2.1.0.")] = False,
) -> None:
    """Scan a file or directory for code hidden in model files (exit 0 clean, 1 findings).

    Static analysis only: nothing in the artifact is loaded, imported or executed.
    """
    from signoff.scanner.sarif import report_to_sarif
    from signoff.scanner.scan import scan_path  # the scanner loads only when scanning

    with digest_progress(path, f"scanning {path.name}") as progress:
        report = scan_path(path, progress=progress)
    if sarif:
        print_json(report_to_sarif(report, __version__))
    elif json_output:
        print_json(report.to_dict())
    else:
        print_report(report)
    if report.result == "fail":
        raise typer.Exit(1)


def scan(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version: NAME@NUMBER or NAME@ALIAS.")],
    path: Annotated[
        Path | None,
        typer.Option("--path", help="Local copy of the artifact [default: its file:// URI]"),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Scan a registered version's bytes and attach the result as signed artifact-scan evidence.

    The bytes must match the registered digest (checked before and after the scan).
    """
    registry = open_registry(ctx)
    bar = digest_progress(path, f"scanning {ref}") if path else nullcontext(None)
    with bar as progress:
        report, view = registry.scan(ref, path=path, actor=settings(ctx).actor, progress=progress)
    if json_output:
        print_json({"evidence_id": view.id, "ref": view.ref, **report.to_dict()})
    else:
        print_report(report)
        console.print(
            f"Attached as evidence {view.id} on {view.ref}, signed by {view.signer}", markup=False
        )
    if report.result == "fail":
        raise typer.Exit(1)
