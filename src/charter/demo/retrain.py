"""The demo's retraining job: ``python -m charter.demo.retrain --home PATH``, run by an approved remediation.

The drift monitor declares this command as its ``retrain_command``; the remediation service
runs it once the on-call lead has approved, with ``CHARTER_INCIDENT`` set. The job reads the
decision lake as any tool could (it is Delta): every decision of the model since the start of
the window in which the incident's monitor first breached, joined with its outcome by
decision id; decisions whose outcome has not arrived yet are left out. It splits the labelled
rows by a hash of the applicant id into training and holdout data, registers both as dataset
versions whose origin names the lake, the window and the incident, trains the next version
with the recipe of version 1 and registers it, trained on the new data. It acts as
``demo:retrain-job`` at the demo's replayed time (``CHARTER_DEMO_NOW``), prints what it did and
exits 0, or prints the error and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from charter.clock import Clock, FixedClock, SystemClock, format_timestamp, parse_timestamp
from charter.demo.modelling import fit, in_holdout, input_schema, save
from charter.demo.population import FEATURES, LABEL, PROTECTED
from charter.demo.world import MODEL, NOW_ENV, PIPELINE, demo_settings
from charter.errors import CharterError, InvalidInput, NotFound
from charter.services.context import Context, open_context

HOLDOUT_SHARE = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m charter.demo.retrain", description="Retrain the demo's model on its recent labelled decisions."
    )
    parser.add_argument("--home", type=Path, required=True, help="the demo's Charter home")
    args = parser.parse_args(argv)
    try:
        incident = os.environ.get("CHARTER_INCIDENT", "")
        if not incident:
            raise InvalidInput("CHARTER_INCIDENT is not set: this job runs from an approved retraining request")
        with open_context(demo_settings(args.home, PIPELINE), clock=_clock()) as context:
            for line in retrain(context, incident):
                print(line)
    except CharterError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    return 0


def retrain(context: Context, incident_ref: str) -> list[str]:
    """Train and register the next version on the labelled decisions since the incident's drift began."""
    from charter.services.incidents import get_incident
    from charter.services.monitors import get_monitor

    incident = get_incident(context, incident_ref)
    if incident.monitor is None:
        raise InvalidInput(f"{incident.ref} did not come from a monitor; there is no window to retrain on")
    monitor = get_monitor(context, incident.monitor)
    since = parse_timestamp(str(incident.details["window_end"])) - (monitor.every or timedelta(hours=1))
    now = context.clock.now()
    rows = labelled_decisions(context, since, now)
    if len(rows) < 200:
        raise InvalidInput(f"only {len(rows)} labelled decisions since {format_timestamp(since)}: too few to train on")
    chosen = rows["applicant_id"].map(lambda found: in_holdout(str(found), HOLDOUT_SHARE)).to_numpy(dtype=bool)
    origin = {"kind": "decision-lake", "model": MODEL, "from": format_timestamp(since), "to": format_timestamp(now),
              "incident": incident.ref}  # fmt: skip
    training = _register(context, "credit-recent", rows[~chosen], origin, "to retrain on")
    holdout = _register(context, "credit-recent-holdout", rows[chosen], origin, "to evaluate the retrained model")
    model = fit(rows[~chosen], FEATURES)
    number = _next_version(context)
    path = save(model, context.settings.home / "demo" / "models" / f"{MODEL}-{number}.pkl")
    from charter.services.artifacts import digest_path
    from charter.services.registry import register_version

    version = register_version(
        context, MODEL, digest_path(path), framework="sklearn", input_schema=input_schema(FEATURES),
        trained_on=[training.ref],
        training_run={"algorithm": "logistic regression (standardised)", "features": list(FEATURES),
                      "rows": int((~chosen).sum()), "incident": incident.ref},
    )  # fmt: skip
    return [
        f"read {len(rows):,} labelled decisions of {MODEL} since {format_timestamp(since)}",
        f"registered {training.ref} ({training.row_count:,} rows) and {holdout.ref} ({holdout.row_count:,} rows)",
        f"registered {version.ref}, trained on {training.ref}",
    ]


def labelled_decisions(context: Context, since: datetime, until: datetime) -> Any:
    """Decisions of the model in [since, until) with their latest outcome, as a frame sorted by applicant."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from charter.lake.table import DecisionLake

    lake = DecisionLake(context.settings.lake)
    group = f"group_{PROTECTED}"
    decisions = lake.read_table(MODEL, "decisions", start=since, end=until,
                                columns=["decision_id", "subject_id", group, *FEATURES])  # fmt: skip
    outcomes = lake.read_table(MODEL, "outcomes", columns=["decision_id", "label", "ts"])
    latest = outcomes.sort_by([("ts", "descending")])
    first = pc.equal(pc.index_in(latest["decision_id"], latest["decision_id"]), pa.array(range(latest.num_rows)))
    labels = latest.filter(first).select(["decision_id", "label"])
    joined = decisions.join(labels, "decision_id", join_type="inner")
    frame = joined.to_pandas().rename(columns={"subject_id": "applicant_id", group: PROTECTED, "label": LABEL})
    frame[LABEL] = frame[LABEL].astype("int64")
    return frame.drop(columns=["decision_id"]).sort_values("applicant_id").reset_index(drop=True)


def _register(context: Context, name: str, frame: Any, origin: dict[str, Any], purpose: str) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from charter.services.datasets import DatasetSpec, add_dataset_version, get_dataset, register_dataset

    folder = context.settings.home / "demo" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    kept = frame.drop(columns=["applicant_id"]).reset_index(drop=True)
    pq.write_table(pa.Table.from_pandas(kept, preserve_index=False), path)
    try:
        get_dataset(context, name)
    except NotFound:
        register_dataset(context, DatasetSpec(
            name=name, owner="credit-ml@example.com", licence="internal", legal_basis="contract",
            description=f"Decisions of {MODEL} with their outcomes, {purpose}; no identifiers",
            source_uri=str(Path(context.settings.lake) / MODEL / "decisions"),
            collected_from=str(origin["from"]), collected_to=str(origin["to"]),
        ))  # fmt: skip
    return add_dataset_version(context, name, path, origin=origin)


def _next_version(context: Context) -> int:
    from charter.services.registry import list_versions

    return max((v.version for v in list_versions(context, MODEL)), default=0) + 1


def _clock() -> Clock:
    value = os.environ.get(NOW_ENV)
    if not value:
        return SystemClock()
    return FixedClock(datetime.fromisoformat(value).astimezone(UTC))


if __name__ == "__main__":
    sys.exit(main())
