"""``charter metrics`` and ``charter drift``: the metric catalogue, and drift of a file against a reference."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import print_json, progress, stdout
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.compare import DriftComparison

app = typer.Typer(no_args_is_help=True, help="The metrics Charter computes, with their ids and default thresholds.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("list")
def list_command(
    family: Annotated[
        str | None, typer.Option(help="Only this family: drift, fairness, performance, estimated, anomaly, quality.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List every registered metric: its id, direction, default threshold and what it measures."""
    from charter.errors import InvalidInput
    from charter.metrics.registry import all_metrics

    metrics = list(all_metrics().values())
    families = sorted({m.id.split(".")[0] for m in metrics})
    if family is not None:
        if family not in families:
            raise InvalidInput(f"--family: no family {family!r} (families: {', '.join(families)})")
        metrics = [m for m in metrics if m.id.split(".")[0] == family]
    rows = [{"id": m.id, "direction": m.direction, "threshold": m.threshold, "summary": m.summary} for m in metrics]
    if json_output:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("id", "direction", "default threshold", "what it measures")
    for row in rows:
        threshold = "none" if row["threshold"] is None else f"{row['threshold']:g}"
        table.add_row(str(row["id"]), str(row["direction"]).replace("_", " "), threshold, str(row["summary"]))
    stdout().print(table)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    from charter.errors import InvalidInput

    pairs: dict[str, str] = {}
    for value in values:
        column, sep, setting = value.partition("=")
        if not sep or not column or not setting:
            raise InvalidInput(f"{option} {value!r}: expected COLUMN=VALUE")
        pairs[column] = setting
    return pairs


def drift_command(
    ctx: typer.Context,
    reference: Annotated[
        str, typer.Argument(help="A dataset version (transactions@2: its stored profile) or a CSV/Parquet file.")
    ],
    current: Annotated[Path, typer.Argument(help="The CSV or Parquet file (or folder of Parquet files) to check.")],
    test: Annotated[
        list[str] | None,
        typer.Option(
            help="COLUMN=TEST to choose a column's test: ks, chi_square, z_test, wasserstein_normed, "
            "jensen_shannon (repeatable)."
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None, typer.Option(help="COLUMN=VALUE to set a column's threshold (repeatable).")
    ] = None,
    share: Annotated[float, typer.Option(help="The dataset drifts when at least this share of columns do.")] = 0.5,
    format_: Annotated[str | None, typer.Option("--format", help="csv or parquet (default: from the name).")] = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit with status 1 when the dataset drifts (for CI).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Check a data file for drift against a reference, with the test Evidently would choose per column.

    The current file is read in batches, so it need not fit in memory. Each score comes with
    its bound against the exact value on the rows (0 where it is exact).
    """
    from charter.errors import InvalidInput
    from charter.services.compare import compare_drift, rows_hint

    thresholds: dict[str, float] = {}
    for column, value in _pairs(threshold or [], "--threshold").items():
        try:
            thresholds[column] = float(value)
        except ValueError:
            raise InvalidInput(f"--threshold {column}={value}: the threshold must be a number") from None
    tests = _pairs(test or [], "--test")
    with open_context(ctx) as context, progress(f"Reading {current.name}", rows_hint(current, format_)) as tick:
        result = compare_drift(
            context, reference, current, fmt=format_, tests=tests, thresholds=thresholds, share=share, progress=tick
        )
    if json_output:
        print_json(result.to_dict())
    else:
        _print_drift(result)
    if fail_on_drift and result.report.dataset_drift:
        raise typer.Exit(1)


def _print_drift(result: DriftComparison) -> None:
    from rich.table import Table

    report = result.report
    out = stdout()
    out.print(f"{result.current} ({result.rows:,} rows) against {result.reference}", markup=False)
    table = Table("column", "test", "score", "threshold", "drift", "bound", "PSI", "KS p-value")
    for c in report.columns:
        psi = "" if c.psi is None else f"{c.psi:.4f} ({c.psi_band})"
        ks = "" if c.ks_p_value is None else f"{c.ks_p_value:.4g}"
        bound = "exact" if c.bound == 0 else f"±{c.bound:.2g}"
        drifted = "DRIFT" if c.drifted else ""
        table.add_row(c.column, c.test, f"{c.score:.4g}", f"{c.threshold:g}", drifted, bound, psi, ks)
    out.print(table)
    verdict = "drifts" if report.dataset_drift else "does not drift"
    out.print(
        f"The dataset {verdict}: {report.drifted_columns} of {len(report.columns)} columns drifted "
        f"({report.share:.0%}; the line is {result.required_share:.0%}).",
        markup=False,
    )
