"""The root ``signoff`` command, its global options, and the error-to-exit-code edge."""

import sys
import traceback
from typing import Annotated

import typer

from signoff.cli import (
    aliases,
    artifacts,
    audit,
    demo,
    evidence,
    gates,
    keys,
    models,
    policy,
    registry_cmds,
    scan,
    versions,
)
from signoff.cli.context import Settings
from signoff.cli.output import err_console
from signoff.errors import SignoffError
from signoff.version import __version__

app = typer.Typer(
    name="signoff",
    help="AI model lifecycle governance: a registry where evidence travels with the model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(models.app, name="model")
app.add_typer(versions.app, name="version")
app.add_typer(aliases.app, name="alias")
app.add_typer(artifacts.app, name="artifact")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="key")
app.add_typer(evidence.app, name="evidence")
app.add_typer(policy.app, name="policy")
app.add_typer(policy.exception_app, name="exception")
app.add_typer(gates.gate_app, name="gate")
app.command("promote")(gates.promote)
app.command("approve")(gates.approve)
app.command("reject")(gates.reject)
app.command("coverage")(gates.coverage)
app.command("scan-file")(scan.scan_file)
app.command("scan")(scan.scan)
app.command("init")(registry_cmds.init)
app.command("demo")(demo.demo)


def _version_callback(value: bool) -> None:
    if value:
        print(f"signoff {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="SIGNOFF_DB",
            help="Registry database: a SQLite path or URL, or postgresql://... "
            "[default: ./.signoff/registry.db]",
            show_envvar=True,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="SIGNOFF_ACTOR",
            help="Who is acting (recorded in the registry) [default: the OS user]",
            show_envvar=True,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Global options; they go before the command: ``signoff --db URL model list``."""
    ctx.obj = Settings(db=db, actor=actor, debug=debug)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code: 0 ok, 1 check failed, 2 bad input.

    Errors print as one line on stderr (``error: what; how to fix``); ``--debug`` adds the
    traceback.
    """
    args = hoist_global_options(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="signoff", standalone_mode=False)
    except SignoffError as exc:
        _print_error(str(exc), debug)
        return exc.exit_code
    except typer.TyperException as exc:
        # Typer (>= 0.29 vendors Click) raises its usage errors as TyperException subclasses.
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            # A bare group (`signoff`, `signoff model`) shows its help; not an error.
            print(exc.format_message())
            return 0
        where = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
        _print_error(f"{exc.format_message()}{where}", debug)
        return exc.exit_code
    except typer.Abort:
        _print_error("aborted", debug)
        return 130
    except KeyboardInterrupt:
        _print_error("interrupted", debug)
        return 130
    return result if isinstance(result, int) else 0


GLOBAL_VALUE_OPTIONS = ("--db", "--as")
GLOBAL_FLAGS = ("--debug",)


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options given after the command to the front.

    Click only accepts a group's options before its subcommand; people type
    ``signoff model list --db x.db`` too, and no command has an option of the same name.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_VALUE_OPTIONS and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_VALUE_OPTIONS and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 1
        elif arg in GLOBAL_FLAGS:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _print_error(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    err_console.print(f"error: {message}", markup=False, highlight=False)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
