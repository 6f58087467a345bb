"""``signoff artifact digest|verify``."""

from pathlib import Path
from typing import Annotated

import typer

from signoff.artifacts import digest_path
from signoff.cli.context import open_registry
from signoff.cli.models import JsonOption
from signoff.cli.output import console, human_size, print_json
from signoff.cli.progress import digest_progress

app = typer.Typer(
    help="Digest artifacts and verify them against registered versions.", no_args_is_help=True
)


@app.command("digest")
def digest_command(
    path: Annotated[Path, typer.Argument(help="A file or a directory.")],
    json_output: JsonOption = False,
) -> None:
    """Print the manifest and root digest of a file or directory (no registry needed).

    The root digest equals the subject digest of OpenSSF model signing (files serialization).
    """
    with digest_progress(path, f"digesting {path.name}") as progress:
        manifest = digest_path(path, progress=progress)
    if json_output:
        print_json(manifest.to_dict())
        return
    for entry in manifest.files:
        console.print(f"{entry.sha256}  {entry.path}", markup=False)
    console.print(
        f"root sha256:{manifest.root_digest}  "
        f"({len(manifest.files)} files, {human_size(manifest.total_size)})",
        markup=False,
    )


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version: NAME@NUMBER or NAME@ALIAS.")],
    path: Annotated[Path, typer.Argument(help="The bytes to check: a file or a directory.")],
    json_output: JsonOption = False,
) -> None:
    """Check that PATH holds exactly the bytes registered for REF (exit 1 if not)."""
    registry = open_registry(ctx)
    with digest_progress(path, f"verifying {path.name}") as progress:
        version, result = registry.verify_artifact(ref, path, progress=progress)
    if json_output:
        print_json(
            {
                "ref": version.ref,
                "ok": result.ok,
                "expected_root_digest": f"sha256:{result.expected_root_digest}",
                "root_digest": f"sha256:{result.root_digest}",
                "changed": list(result.changed),
                "missing": list(result.missing),
                "extra": list(result.extra),
            }
        )
    elif result.ok:
        console.print(
            f"OK: {path} matches {version.ref} (sha256:{result.root_digest})", markup=False
        )
    else:
        console.print(f"MISMATCH: {path} does not match {version.ref}", markup=False)
        for label, names in (
            ("changed", result.changed),
            ("missing", result.missing),
            ("extra", result.extra),
        ):
            for name in names:
                console.print(f"  {label}: {name}", markup=False)
    if not result.ok:
        raise typer.Exit(1)
