"""``charter dataset``: datasets with provenance, versions, column classification and certification."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from charter.cli.output import PAGE, awaiting_approval, print_json, progress, stdout, time_option
from charter.cli.state import open_context

if TYPE_CHECKING:
    from charter.services.datasets import DatasetVersion

app = typer.Typer(no_args_is_help=True, help="Register datasets and their versions; classify and certify them.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PROGRESS_BYTES = 64 << 20


@app.command()
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The dataset's name, e.g. transactions.")],
    owner: Annotated[str, typer.Option(help="Who answers for the data.")] = "",
    description: Annotated[str, typer.Option(help="What the data is.")] = "",
    source: Annotated[str, typer.Option(help="Where it comes from (a URI or a system's name).")] = "",
    licence: Annotated[str, typer.Option(help="Its licence or terms of use.")] = "",
    collected_from: Annotated[str, typer.Option(help="Start of the collection period (ISO date).")] = "",
    collected_to: Annotated[str, typer.Option(help="End of the collection period (ISO date).")] = "",
    legal_basis: Annotated[
        str,
        typer.Option(
            help="GDPR basis: consent, contract, legal_obligation, vital_interests, public_task, "
            "legitimate_interests, not_personal_data or unknown."
        ),
    ] = "unknown",
    json_output: JsonOption = False,
) -> None:
    """Add a dataset with its provenance (recorded on the ledger)."""
    from charter.services.datasets import DatasetSpec, register_dataset

    spec = DatasetSpec(
        name=name,
        owner=owner,
        description=description,
        source_uri=source,
        licence=licence,
        collected_from=collected_from,
        collected_to=collected_to,
        legal_basis=legal_basis,
    )
    with open_context(ctx) as context:
        dataset = register_dataset(context, spec)
    if json_output:
        print_json(dataset.to_dict())
    else:
        stdout().print(f"Registered dataset {dataset.name} (legal basis {dataset.legal_basis})")


@app.command("add-version")
def add_version(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet file, or a folder of Parquet files.")],
    format_: Annotated[str | None, typer.Option("--format", help="csv or parquet (default: from the name).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Register the next version: fingerprint, rows, schema, quality checks and PII classification."""
    from charter.services.datasets import add_dataset_version

    total = file.stat().st_size if file.is_file() else None
    with open_context(ctx) as context:
        with progress(f"Hashing {file.name}", total if total and total >= PROGRESS_BYTES else None) as tick:
            version = add_dataset_version(context, name, file, fmt=format_, progress=tick)
        now = context.clock.now()
    if json_output:
        print_json(version.to_dict(now))
        return
    out = stdout()
    out.print(f"Registered {version.ref}: {version.row_count:,} rows, {len(version.columns)} columns")
    pii = [f"{c.name} ({c.pii_category})" for c in version.columns if c.pii_category]
    protected = [c.name for c in version.columns if c.protected]
    out.print(f"  PII columns: {', '.join(pii) or 'none detected'}")
    out.print(f"  protected attributes: {', '.join(protected) or 'none detected'}")
    for issue in version.quality.get("issues", []):
        out.print(f"  quality: {issue}", markup=False)


@app.command("list")
def list_command(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option(help="Only datasets of this owner.")] = None,
    search: Annotated[str | None, typer.Option(help="Only datasets whose name contains this text.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many datasets (a page).", min=1)] = PAGE,
    offset: Annotated[int, typer.Option(help="Skip this many first (the next page: --offset 50).", min=0)] = 0,
    all_datasets: Annotated[bool, typer.Option("--all", help="Every matching dataset (ignores --limit).")] = False,
    json_output: JsonOption = False,
) -> None:
    """List datasets by name; 50 at a time by default."""
    from charter.services.datasets import list_datasets

    with open_context(ctx) as context:
        found = list_datasets(
            context, owner=owner, name_contains=search, limit=None if all_datasets else limit, offset=offset
        )
    if json_output:
        print_json([d.to_dict() for d in found])
        return
    from rich.table import Table

    table = Table("name", "owner", "legal basis", "licence", "versions", "source")
    for d in found:
        table.add_row(d.name, d.owner, d.legal_basis, d.licence, str(d.versions), d.source_uri)
    stdout().print(table)
    if not all_datasets and len(found) == limit:
        stdout().print(f"Showing {limit} from {offset}; more with --offset {offset + limit}, or --all.")


@app.command()
def versions(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    json_output: JsonOption = False,
) -> None:
    """List a dataset's versions with their size, quality and certification state."""
    from charter.services.datasets import list_dataset_versions

    with open_context(ctx) as context:
        found = list_dataset_versions(context, name)
        now = context.clock.now()
    if json_output:
        print_json([v.to_dict(now) for v in found])
        return
    from rich.table import Table

    table = Table("version", "rows", "columns", "sha256", "quality issues", "certification", "created")
    for v in found:
        issues = str(len(v.quality.get("issues", [])))
        table.add_row(
            str(v.version), f"{v.row_count:,}", str(len(v.columns)), v.sha256[:16] + "…", issues,
            v.certification_state(now), v.created_at,
        )  # fmt: skip
    stdout().print(table)


@app.command()
def show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="transactions (latest version) or transactions@2.")],
    json_output: JsonOption = False,
) -> None:
    """Show a dataset version: provenance, columns with their classification, quality, certifications."""
    from charter.services.datasets import get_dataset, resolve_dataset_version

    with open_context(ctx) as context:
        version = resolve_dataset_version(context, reference)
        dataset = get_dataset(context, version.dataset)
        now = context.clock.now()
    if json_output:
        print_json({"dataset": dataset.to_dict(), "version": version.to_dict(now)})
        return
    _print_version(dataset.to_dict(), version, now)


def _print_version(dataset: dict[str, object], version: DatasetVersion, now: datetime) -> None:
    from rich.table import Table

    out = stdout()
    out.print(f"{version.ref}: {version.row_count:,} rows, {version.size:,} bytes, sha256 {version.sha256}")
    for key in ("owner", "source_uri", "licence", "legal_basis", "collected_from", "collected_to"):
        if dataset[key]:
            out.print(f"  {key.replace('_', ' ')}: {dataset[key]}")
    out.print(f"  certification: {version.certification_state(now)}")
    columns = Table("column", "type", "PII", "sensitivity", "protected", "by", "why")
    for c in version.columns:
        columns.add_row(
            c.name,
            c.dtype,
            c.pii_category or "",
            c.sensitivity,
            "yes" if c.protected else "",
            c.classified_by,
            c.reason,
        )
    out.print(columns)
    for issue in version.quality.get("issues", []):
        out.print(f"  quality: {issue}", markup=False)
    outline = version.to_dict()["profile"]
    if outline is not None:
        kinds = list(outline["columns"].values())
        numeric, categorical = kinds.count("numeric"), kinds.count("categorical")
        out.print(f"  reference profile: {numeric} numeric and {categorical} categorical column(s)", markup=False)
        for name, why in outline["skipped"].items():
            out.print(f"  not profiled: {name}: {why}", markup=False)
    for cert in version.certifications:
        out.print(
            f"  certification {cert.id}: {cert.purpose!r} by {cert.certified_by}, expires {cert.expires_at} "
            f"({cert.state(now)})",
            markup=False,
        )


@app.command()
def classify(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The version, e.g. transactions@2.")],
    column: Annotated[str, typer.Argument(help="The column.")],
    pii: Annotated[str | None, typer.Option(help="Its PII category (name, email, phone, national_id, ...).")] = None,
    no_pii: Annotated[bool, typer.Option("--no-pii", help="It holds no personal data.")] = False,
    sensitivity: Annotated[str | None, typer.Option(help="public, internal, confidential or restricted.")] = None,
    protected: Annotated[
        bool | None, typer.Option("--protected/--not-protected", help="Is it a protected attribute?")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Correct the classification of a column (detected at registration); the change is recorded."""
    from charter.errors import InvalidInput
    from charter.services.datasets import classify as classify_service

    if pii is not None and no_pii:
        raise InvalidInput("give either --pii CATEGORY or --no-pii, not both")
    with open_context(ctx) as context:
        info = classify_service(
            context, reference, column, pii_category=pii, clear_pii=no_pii, sensitivity=sensitivity, protected=protected
        )
    if json_output:
        print_json(info.__dict__)
    else:
        what = info.pii_category or "no PII"
        stdout().print(
            f"{reference} {column}: {what}, {info.sensitivity}, protected: {'yes' if info.protected else 'no'}"
        )


@app.command()
def certify(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The version, e.g. transactions@2.")],
    purpose: Annotated[str, typer.Option(help="What the data is certified for, e.g. 'credit scoring'.")],
    expires: Annotated[str, typer.Option(help="An ISO date (2027-06-30) or a number of days (90d).")] = "365d",
    note: Annotated[str, typer.Option(help="What was checked.")] = "",
    json_output: JsonOption = False,
) -> None:
    """Certify a dataset version as fit for a purpose, until it expires (recorded on the ledger)."""
    from charter.services.datasets import certify as certify_service

    with open_context(ctx) as context:
        cert = certify_service(
            context,
            reference,
            purpose=purpose,
            expires=time_option(expires, "--expires", now=context.clock.now()),
            note=note,
        )
    if json_output:
        print_json(cert.__dict__)
    else:
        stdout().print(f"Certified {reference} for {cert.purpose!r} until {cert.expires_at} (id {cert.id})")


@app.command("propose-certification")
def propose_certification(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The version, e.g. transactions@2.")],
    purpose: Annotated[str, typer.Option(help="What the data is to be certified for, e.g. 'credit scoring'.")],
    expires: Annotated[
        str, typer.Option(help="A number of days from the approval (90d), or an ISO date (2027-06-30).")
    ] = "365d",
    note: Annotated[str, typer.Option(help="What was checked.")] = "",
    justification: Annotated[str, typer.Option("--justification", "-j", help="Why (needed to open the request).")] = "",
    json_output: JsonOption = False,
) -> None:
    """Ask for a certification under approval; once a risk-officer approved it, the same command records it.

    Exit 0 when recorded, 1 while it waits for approval.
    """
    import re

    from charter.services.datasets import propose_certification as propose

    days = re.fullmatch(r"(\d+)d", expires.strip())
    with open_context(ctx) as context:
        when = None if days else time_option(expires, "--expires")
        found = propose(context, reference, purpose=purpose, valid_days=int(days[1]) if days else None, expires=when,
                        note=note, justification=justification)  # fmt: skip
    request, cert = found.request, found.certification
    if json_output:
        print_json(found.to_dict())
    elif cert is not None:
        stdout().print(f"Certified {reference} for {cert.purpose!r} until {cert.expires_at} (id {cert.id}), by "
                       f"{cert.certified_by}; change request {request.id} executed", markup=False)  # fmt: skip
    else:
        stdout().print(awaiting_approval(request.id, request.missing(), subject=request.subject), markup=False)
    raise typer.Exit(0 if cert is not None else 1)


@app.command()
def revoke(
    ctx: typer.Context,
    certification: Annotated[str, typer.Argument(help="The certification's id (see `charter dataset show`).")],
    reason: Annotated[str, typer.Option(help="Why it no longer holds.")],
    json_output: JsonOption = False,
) -> None:
    """Revoke a certification (recorded with its reason)."""
    from charter.services.datasets import revoke_certification

    with open_context(ctx) as context:
        cert = revoke_certification(context, certification, reason=reason)
    if json_output:
        print_json(cert.__dict__)
    else:
        stdout().print(f"Revoked certification {cert.id} ({cert.purpose!r})")
