"""``charter monitor`` and ``charter worker``: run monitors over the decision lake, read their series."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import error_line, print_json, progress, stderr, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.monitoring import RunResult

app = typer.Typer(
    no_args_is_help=True, help="Monitors: list them, run them (once or as a backfill), read their series."
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArg = Annotated[str, typer.Argument(help="The monitor's name.")]


@app.command("list")
def list_command(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Only this model's monitors.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List the active monitors: model, target, kind, window, thresholds."""
    from rich.table import Table

    from charter.services.monitors import list_monitors

    with open_context(ctx) as context:
        found = list_monitors(context, model=model)
    if json_output:
        print_json([{"name": m.name, **m.to_spec()} for m in found])
        return
    table = Table("monitor", "model", "target", "kind", "window", "metric", "warn", "critical", "schedule")
    for m in found:
        spec = m.to_spec()
        window = f"every {spec['window']['every']}" if "every" in spec["window"] else f"last {m.last}"
        table.add_row(m.name, m.model, m.target, m.kind, window, f"{m.metric} ({m.direction})",
                      _num(m.warn), _num(m.critical), spec["schedule"])  # fmt: skip
    stdout().print(table)


@app.command()
def run(
    ctx: typer.Context,
    name: Annotated[list[str] | None, typer.Argument(help="Monitors to run (default: every active one).")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model's monitors.")] = None,
    backfill: Annotated[bool, typer.Option("--backfill", help="Compute every window between --from and --to.")] = False,
    since: Annotated[str | None, typer.Option("--from", help="Backfill start (ISO time).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Backfill end (ISO time; default now).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Run monitors once (the window due now), or backfill a range; cron-friendly. Exit 1 on a critical breach."""
    from charter.errors import InvalidInput
    from charter.services.monitoring import parse_window_time, plan_runs, run_monitors

    if backfill and since is None:
        raise InvalidInput("--backfill needs --from (and optionally --to)")
    if not backfill and (since or until):
        raise InvalidInput("--from and --to go with --backfill")
    with open_context(ctx) as context:
        window = None
        if backfill:
            end = parse_window_time(until, "--to") if until else context.clock.now()
            window = (parse_window_time(since or "", "--from"), end)
        plan = plan_runs(context, model=model, names=tuple(name or ()), backfill=window)
        for note in plan.left_out:
            stderr().print(f"note: {note}", markup=False, highlight=False)
        with progress("Running monitors", None if json_output else len(plan.windows)) as tick:
            results = run_monitors(context, plan.windows, progress=tick)
    if json_output:
        print_json([r.to_dict() for r in results])
    else:
        _show(results)
    raise typer.Exit(1 if any(r.status == "critical" for r in results) else 0)


@app.command()
def series(
    ctx: typer.Context,
    name: NameArg,
    metric: Annotated[str | None, typer.Option(help="One metric (default: all).")] = None,
    limit: Annotated[int, typer.Option(help="The most recent N values.")] = 100,
    json_output: JsonOption = False,
) -> None:
    """Print a monitor's stored values over time (window end, metric, value, status)."""
    from rich.table import Table

    from charter.services.monitoring import series as read_series

    with open_context(ctx) as context:
        found = read_series(context, name, metric=metric, limit=limit)
    if json_output:
        print_json(found)
        return
    table = Table("window end", "metric", "value", "status", "rows")
    for point in found:
        table.add_row(point["window_end"][:19] + "Z", point["metric"], f"{point['value']:.6g}", point["status"],
                      str(point["rows"]))  # fmt: skip
    stdout().print(table)


@app.command()
def remove(
    ctx: typer.Context,
    name: NameArg,
    reason: Annotated[str, typer.Option(help="Why (required; recorded on the ledger).")],
) -> None:
    """Stop a monitor; its runs and series stay."""
    from charter.services.monitors import remove_monitor

    with open_context(ctx) as context:
        remove_monitor(context, name, reason=reason)
    stdout().print(f"Removed monitor {name}")


def worker_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="This worker's name (default: host and process id).")] = "",
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 30.0,
    limit: Annotated[int, typer.Option(help="Monitors to lease per pass.")] = 10,
) -> None:
    """Run due monitors and escalate due incidents in a loop; several workers share the work through leases."""
    import os
    import socket

    from charter.services.monitoring import work_once

    worker = name or f"worker:{socket.gethostname()}:{os.getpid()}"
    out = stdout()
    with open_context(ctx) as context:
        while True:
            try:
                results = work_once(context, worker, limit=limit)
            except Exception as exc:  # a long-running worker outlives a failed pass (the database restarting)
                if once:
                    raise
                error_line(f"{worker}: this pass failed ({type(exc).__name__}: {exc}); trying again in {interval:g} s")
                results = []
            if results:
                _show(results)
            if once:
                return
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                out.print(f"{worker} stopped")
                return


def _show(results: list[RunResult]) -> None:
    out = stdout()
    for r in results:
        value = "" if r.value is None else f" {r.value:.4g}"
        again = " (already computed)" if r.skipped else ""
        incident = f" -> {r.incident}" if r.incident else ""
        out.print(f"{r.monitor}: {r.status}{value} over {r.rows} decisions to {r.window_end[:19]}Z{again}{incident}",
                  markup=False)  # fmt: skip
        for note in r.notes:
            out.print(f"  note: {note}", markup=False)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
