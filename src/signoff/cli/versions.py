"""``signoff version register|list|show``."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from signoff.cli.context import open_registry, settings
from signoff.cli.models import JsonOption, parse_tags
from signoff.cli.output import console, human_size, print_json, short_digest
from signoff.cli.progress import digest_progress
from signoff.domain import CodeRef, DatasetRef, Lineage, Version
from signoff.errors import InvalidInputError

app = typer.Typer(help="Register and inspect immutable model versions.", no_args_is_help=True)


def build_lineage(
    parents: list[str],
    datasets: list[str],
    code_repo: str | None,
    code_commit: str | None,
    run_uri: str | None,
) -> Lineage:
    """Lineage from command-line options (validated by the domain types)."""
    if (code_repo is None) != (code_commit is None):
        raise InvalidInputError(
            "--code-repo and --code-commit go together", hint="give both, or neither"
        )
    code = CodeRef(repo=code_repo, commit=code_commit) if code_repo and code_commit else None
    return Lineage(
        parents=tuple(parents),
        datasets=tuple(DatasetRef.parse(d) for d in datasets),
        code=code,
        run_uri=run_uri,
    )


@app.command("register")
def register(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    path: Annotated[Path, typer.Argument(help="Artifact: a file or a directory.")],
    parent: Annotated[
        list[str] | None, typer.Option("--parent", help="Parent version NAME@N, repeatable.")
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", help="Dataset NAME=URI@SHA256, repeatable."),
    ] = None,
    code_repo: Annotated[str | None, typer.Option("--code-repo", help="Source repository.")] = None,
    code_commit: Annotated[
        str | None, typer.Option("--code-commit", help="Source commit (hex).")
    ] = None,
    run_uri: Annotated[str | None, typer.Option("--run-uri", help="Training run URI.")] = None,
    uri: Annotated[
        str | None, typer.Option("--uri", help="Where the artifact lives [default: file:// PATH]")
    ] = None,
    meta: Annotated[
        list[str] | None, typer.Option("--meta", help="Free metadata KEY=VALUE, repeatable.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Digest an artifact and register it as the next version of a model."""
    lineage = build_lineage(parent or [], dataset or [], code_repo, code_commit, run_uri)
    registry = open_registry(ctx)
    with digest_progress(path, f"digesting {path.name}") as progress:
        version = registry.register_version(
            model,
            path,
            actor=settings(ctx).actor,
            lineage=lineage,
            uri=uri,
            metadata=parse_tags(meta or []),
            progress=progress,
        )
    if json_output:
        print_json(version.to_dict())
    else:
        console.print(
            f"Registered {version.ref} ({version.stage.value}) "
            f"sha256:{version.artifact.root_digest} "
            f"[{len(version.artifact.manifest.files)} files, "
            f"{human_size(version.artifact.total_size)}]",
            markup=False,
        )


@app.command("list")
def list_versions(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    json_output: JsonOption = False,
) -> None:
    """List the versions of a model."""
    versions = open_registry(ctx).list_versions(model)
    if json_output:
        print_json([v.to_dict(with_files=False) for v in versions])
        return
    if not versions:
        console.print(f"{model} has no versions yet.")
        return
    table = Table("ref", "stage", "aliases", "digest", "size", "created by", "created")
    for v in versions:
        table.add_row(
            v.ref,
            v.stage.value,
            ", ".join(v.aliases),
            short_digest(v.artifact.root_digest),
            human_size(v.artifact.total_size),
            v.created_by,
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME@NUMBER or NAME@ALIAS.")],
    json_output: JsonOption = False,
) -> None:
    """Show a version: artifact, lineage, stage and aliases."""
    version = open_registry(ctx).get_version(ref)
    if json_output:
        print_json(version.to_dict())
        return
    print_version(version)


def print_version(version: Version) -> None:
    """Human form of a version."""
    lineage = version.lineage
    rows = [
        ("version", version.ref),
        ("stage", version.stage.value),
        ("aliases", ", ".join(version.aliases) or "-"),
        ("digest", f"sha256:{version.artifact.root_digest}"),
        ("artifact", version.artifact.uri),
        (
            "size",
            f"{human_size(version.artifact.total_size)} in "
            f"{len(version.artifact.manifest.files)} file(s)",
        ),
        ("parents", ", ".join(lineage.parents) or "-"),
        (
            "datasets",
            "; ".join(f"{d.name} {d.uri} sha256:{d.sha256[:12]}" for d in lineage.datasets) or "-",
        ),
        ("code", f"{lineage.code.repo} @ {lineage.code.commit}" if lineage.code else "-"),
        ("run", lineage.run_uri or "-"),
        ("metadata", ", ".join(f"{k}={v}" for k, v in version.metadata.items()) or "-"),
        ("created", f"{version.created_at.isoformat(timespec='seconds')} by {version.created_by}"),
    ]
    for label, value in rows:
        console.print(f"{label + ':':<10} {value}", markup=False)
