"""The ``charter`` command and its error handling."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from charter.cli import (
    aliases,
    approvals,
    audit,
    datasets,
    db,
    demo,
    explain,
    imports,
    incidents,
    lake,
    lineage,
    metrics,
    models,
    monitoring,
    policy,
    roles,
    server,
)
from charter.cli.apply import apply_command, diff_command
from charter.cli.evaluate import evaluate_command, evaluations_command
from charter.cli.gates import gate_command, promote_command
from charter.cli.output import error_line, print_json, stdout
from charter.cli.state import CliState, settings

#: Commands whose exit code 1 is a verdict (``gate``: blocked; ``diff``: drift). Their errors exit with
#: this code instead, so that a CI job tells "the policies said no" from "the gate could not run".
ERROR_EXIT = {"gate": 2, "diff": 2}


class CharterGroup(TyperGroup):
    """Turns every error into one ``Error: ...`` line and exit code 1 (tracebacks only with --debug)."""

    def invoke(self, ctx: Any) -> Any:
        from charter.errors import CharterError

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # exit codes, usage errors (exit 2) and Ctrl-C at a prompt: typer handles these
        except CharterError as exc:
            if ctx.params.get("debug"):
                traceback.print_exc()
            error_line(str(exc))
            raise typer.Exit(_error_exit(ctx)) from None
        except KeyboardInterrupt:
            error_line("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # The reader went away (`charter audit export | head`): stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(141) from None
        except OSError as exc:
            if ctx.params.get("debug"):
                traceback.print_exc()
            where = f"{exc.filename}: " if exc.filename else ""
            error_line(f"{where}{exc.strerror or exc}")
            raise typer.Exit(_error_exit(ctx)) from None
        except Exception as exc:
            if ctx.params.get("debug"):
                traceback.print_exc()
            error_line(
                f"unexpected {type(exc).__name__}: {exc} (this is a bug in Charter; rerun with --debug "
                "for the traceback and report it)"
            )
            raise typer.Exit(_error_exit(ctx)) from None


def _error_exit(ctx: Any) -> int:
    return ERROR_EXIT.get(ctx.invoked_subcommand or "", 1)


app = typer.Typer(
    name="charter",
    cls=CharterGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Charter: the governance control plane for machine learning in production.",
)
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(models.app, name="model")
app.add_typer(aliases.app, name="alias")
app.add_typer(datasets.app, name="dataset")
app.add_typer(lineage.app, name="lineage")
app.add_typer(imports.app, name="import")
app.add_typer(metrics.app, name="metrics")
app.command("drift")(metrics.drift_command)
app.add_typer(lake.app, name="lake")
app.add_typer(roles.app, name="role")
app.add_typer(approvals.app, name="approvals")
app.add_typer(monitoring.app, name="monitor")
app.command("worker")(monitoring.worker_command)
app.add_typer(incidents.app, name="incidents")
app.command("postmortem")(incidents.postmortem_command)
app.add_typer(server.tokens, name="token")
app.command("serve")(server.serve_command)
app.command("whoami")(roles.whoami)
app.command("erase")(lake.erase_command)
app.add_typer(policy.app, name="policy")
app.command("apply")(apply_command)
app.command("evaluate")(evaluate_command)
app.command("evaluations")(evaluations_command)
app.command("explain")(explain.explain_command)
app.command("gate")(gate_command)
app.command("promote")(promote_command)
app.command("diff")(diff_command)
app.command("demo")(demo.demo_command)


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="The Charter home folder (default: $CHARTER_HOME or ./.charter)."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Control-plane database (default: $CHARTER_DATABASE_URL or SQLite in the home).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
) -> None:
    """Charter: the governance control plane for machine learning in production."""
    ctx.obj = CliState(home=home, database_url=database_url, debug=debug)


@app.command()
def version(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show Charter's version, Python's, and the schema revision this Charter needs."""
    import platform

    from charter.store.revisions import HEAD
    from charter.version import version as charter_version

    info = {"charter": charter_version(), "python": platform.python_version(), "schema": HEAD}
    if json_output:
        print_json(info)
    else:
        stdout().print(f"charter {info['charter']} (python {info['python']}, schema {info['schema']})")


@app.command()
def init(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create the Charter home: folder, signing key and database (or bring them up to date).

    Safe to run again. If any step fails, what this run created is removed again.
    """
    from charter.services.home import init_home

    result = init_home(settings(ctx))
    if json_output:
        print_json(result.to_dict())
        return
    out = stdout()
    verb = "Initialised" if result.first_time else "Checked"
    out.print(f"{verb} Charter home {result.home}")
    out.print(f"  database   {result.database} (schema {result.revision})")
    key_note = " (new)" if result.created_key else ""
    out.print(f"  signing key {result.key_id}{key_note}")
    if result.revision_before not in (None, result.revision):
        out.print(f"  migrated   {result.revision_before} -> {result.revision}")
    if result.admin is not None:
        out.print(f"  admin      {result.admin} (grants roles: `charter role grant PRINCIPAL ROLE`)")


#: Root options that take a value: skipped when looking for the command name in argv.
_VALUED = ("--home", "--database-url")


def command_name(argv: list[str]) -> str | None:
    """The command or group named on the command line, after the root options (None if there is none)."""
    args = iter(argv)
    for arg in args:
        if arg in _VALUED:
            next(args, None)
        elif arg.startswith("-"):
            continue
        else:
            return arg
    return None


def app_for(argv: list[str]) -> typer.Typer:
    """The application, cut down to the one command or group being run.

    Typer turns every registered command into a Click command before parsing, which costs
    about 2 ms a command; a CLI run (CI calls ``charter gate`` cold) only needs the one it
    runs. Help, unknown names and bare ``charter`` get the whole application.
    """
    name = command_name(argv)
    commands = [c for c in app.registered_commands if _name(c) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if name is None or not (commands or groups):
        return app
    narrow = typer.Typer(**{k: getattr(app.info, k) for k in ("name", "cls", "no_args_is_help", "help")},
                         add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)  # fmt: skip
    narrow.registered_callback = app.registered_callback
    narrow.registered_commands = commands
    narrow.registered_groups = groups
    return narrow


def _name(command: Any) -> str:
    return str(command.name or getattr(command.callback, "__name__", "").replace("_", "-"))


def main() -> None:
    """Entry point of the ``charter`` console script."""
    app_for(sys.argv[1:])(prog_name="charter")


if __name__ == "__main__":
    main()
