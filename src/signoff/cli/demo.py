"""``signoff demo``: the offline walk-through."""

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from signoff.cli.models import JsonOption
from signoff.cli.output import console, err_console, print_json
from signoff.cli.versions import print_version


def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to build the demo registry [default: a temp dir]"),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Train a real scikit-learn model and walk it through a fresh registry (offline)."""
    from signoff.demo import run_demo  # scikit-learn is slow to import; only the demo needs it

    target = directory or Path(tempfile.mkdtemp(prefix="signoff-demo-"))
    out = err_console if json_output else console

    def step(message: str) -> None:
        out.print(f"• {message}", markup=False)

    result = run_demo(target, step=step)
    if json_output:
        print_json(result.to_dict())
        return
    console.print()
    for version in result.versions:
        print_version(version)
        console.print()
    console.print(
        f"Registry: {result.registry}\nTry: signoff --db {result.registry} version list "
        f"tumor-classifier",
        markup=False,
    )
