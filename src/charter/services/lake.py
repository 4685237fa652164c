"""The decision lake's governance: every batch anchored on the ledger, verification, erasure, retention.

Writing a batch (:func:`write_batch`) commits it to the model's Delta table and then appends a
``lake.committed`` ledger entry holding the batch id, its row count, the Merkle root of its
row hashes and the SHA-256 of its manifest. :func:`verify_lake` trusts only the ledger: it
checks every manifest against its anchored digest and root, then every row of the tables
against the manifests, and names each changed, removed or added row. Erasure
(:func:`erase_subject`) and retention (:func:`apply_retention`) delete rows and record which
ones (decision ids and row hashes, never content) in a ledger entry, so verification still
passes afterwards; compaction rewrites files without changing rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from charter.errors import InvalidInput
from charter.lake.rowhash import row_hashes
from charter.lake.schema import BATCH, DECISION_ID, ROW_HASH
from charter.lake.table import KINDS, Commit, DecisionLake, ErasedRow, Kind
from charter.ledger import append
from charter.ledger.chain import EntryFilter, list_entries
from charter.ledger.merkle import ordered_root
from charter.services.context import Context
from charter.services.references import check_name
from charter.store.schema import ledger_entries

COMMITTED = "lake.committed"
ERASED = "lake.erased"
COMPACTED = "lake.compacted"


#: How many lakes (by location) keep their open tables in this process.
OPEN_LAKES = 8
_LAKES: OrderedDict[str, DecisionLake] = OrderedDict()
_LAKES_LOCK = threading.Lock()


def lake_of(context: Context) -> DecisionLake:
    """The decision lake: ``CHARTER_LAKE_URI``, or the home's ``lake`` folder.

    One object per location in a process, so its writes reuse their open Delta tables (each
    write then reads only the commits made since the last one, not the whole log).
    """
    where = context.settings.lake
    with _LAKES_LOCK:
        found = _LAKES.get(where)
        if found is None:
            found = _LAKES[where] = DecisionLake(where)
            while len(_LAKES) > OPEN_LAKES:
                _LAKES.popitem(last=False)
        _LAKES.move_to_end(where)
        return found


def lake_models(context: Context) -> list[str]:
    """The models with a decisions table: those a local lake holds on disk, and, for a lake at any URI
    (object stores cannot be listed the same way), every model the ledger's commit anchors name."""
    lake = lake_of(context)
    with context.engine.connect() as connection:
        subjects = connection.execute(
            select(ledger_entries.c.subject).where(ledger_entries.c.subject.startswith("lake:")).distinct()
        ).scalars()
        anchored = {subject.removeprefix("lake:") for subject in subjects}
    return sorted({*lake.models(), *(m for m in anchored if lake.exists(m, "decisions"))})


def lake_overview(context: Context) -> list[dict[str, Any]]:
    """Every model with logged decisions: row counts, the decisions table's version and location."""
    lake = lake_of(context)
    overview = []
    for model in lake_models(context):
        table = lake.table(model)
        outcomes = lake.table(model, "outcomes").count() if lake.exists(model, "outcomes") else 0
        overview.append(
            {
                "model": model,
                "decisions": table.count(),
                "outcomes": outcomes,
                "version": table.version(),
                "uri": lake.uri(model),
            }
        )
    return overview


def _subject(model: str) -> str:
    return f"lake:{model}"


def write_batch(context: Context, model: str, kind: Kind, batch: pa.RecordBatch | pa.Table, *, batch_id: str) -> Commit:
    """Commit one batch and anchor it on the ledger; a retried batch is anchored once."""
    commit = append_batch(context, model, kind, batch, batch_id=batch_id)
    anchor_commit(context, commit)
    return commit


def append_batch(
    context: Context, model: str, kind: Kind, batch: pa.RecordBatch | pa.Table, *, batch_id: str
) -> Commit:
    """The lake half of :func:`write_batch`: the commit, not yet anchored (:func:`anchor_commit` must follow)."""
    check_name(model, "model", "credit-risk")
    return lake_of(context).append(model, kind, batch, batch_id=batch_id)


def anchor_commit(context: Context, commit: Commit, *, check: bool = False) -> None:
    """Anchor a lake commit on the ledger, unless it is anchored already: a commit found in the lake (a
    retry), or any commit when ``check`` is set (one whose anchoring failed before is anchored again)."""
    model, batch_id = commit.model, commit.batch_id
    if (check or not commit.written) and _anchored(context, model, batch_id):
        return
    append(
        context.engine,
        actor=context.actor,
        clock=context.clock,
        action=COMMITTED,
        subject=_subject(model),
        payload={
            "kind": commit.kind,
            "batch": commit.batch_id,
            "rows": commit.rows,
            "table_version": commit.version,
            "merkle_root": commit.root.hex(),
            "manifest_sha256": commit.manifest_sha256,
            "first_decision": commit.first_decision,
            "last_decision": commit.last_decision,
        },
    )


def _anchored(context: Context, model: str, batch_id: str) -> bool:
    entries = list_entries(context.engine, EntryFilter(subject=_subject(model), action=COMMITTED), limit=None)
    return any(entry.data.get("batch") == batch_id for entry in entries)


# --- verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class LakeProblem:
    kind: str  # changed, removed, added, manifest_missing, manifest_changed, root_mismatch
    table: str  # decisions or outcomes
    batch: str
    decision_id: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LakeReport:
    model: str
    batches: int
    rows: int
    erased: int
    problems: tuple[LakeProblem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "ok": self.ok,
            "batches": self.batches,
            "rows": self.rows,
            "erased": self.erased,
            "problems": [p.to_dict() for p in self.problems],
        }


def verify_lake(context: Context, model: str) -> LakeReport:
    """Check a model's lake against its ledger anchors; see the module docstring."""
    check_name(model, "model", "credit-risk")
    lake = lake_of(context)
    entries = list_entries(context.engine, EntryFilter(subject=_subject(model)), limit=None, newest_first=False)
    anchored: dict[tuple[str, str], dict[str, Any]] = {}
    erased: dict[tuple[str, str], bytes] = {}  # (table, decision_id) -> row hash
    for entry in entries:
        data = entry.data
        if entry.action == COMMITTED:
            anchored[(data["kind"], data["batch"])] = data
        elif entry.action == ERASED:
            for row in data["rows"]:
                erased[(row["table"], row["decision_id"])] = bytes.fromhex(row["row_hash"])
    problems: list[LakeProblem] = []
    rows = 0
    for kind in KINDS:
        expected: dict[str, bytes] = {}  # decision id -> row hash, from the manifests
        batch_of: dict[str, str] = {}
        for (table, batch), data in anchored.items():
            if table == kind:
                problems += _check_manifest(lake, model, kind, batch, data, expected, batch_of)
        present: set[str] = set()
        if lake.exists(model, kind):
            rows += _check_rows(lake, model, kind, expected, erased, problems, present)
        for decision_id, row_hash in expected.items():
            gone = erased.get((kind, decision_id))
            if decision_id in present:
                continue
            if gone is None:
                problems.append(
                    LakeProblem("removed", kind, batch_of[decision_id], decision_id, "anchored but not in the table")
                )
            elif gone != row_hash:
                problems.append(
                    LakeProblem("removed", kind, batch_of[decision_id], decision_id, "erased with another row's hash")
                )
    return LakeReport(model, len(anchored), rows, len(erased), tuple(problems))


def _check_manifest(
    lake: DecisionLake,
    model: str,
    kind: Kind,
    batch: str,
    data: dict[str, Any],
    expected: dict[str, bytes],
    batch_of: dict[str, str],
) -> list[LakeProblem]:
    found = lake.read_manifest(model, kind, batch)
    if found is None:
        return [LakeProblem("manifest_missing", kind, batch, None, f"the manifest of batch {batch} is missing")]
    raw, manifest = found
    if hashlib.sha256(raw).hexdigest() != data["manifest_sha256"]:
        return [LakeProblem("manifest_changed", kind, batch, None, f"the manifest of batch {batch} was altered")]
    ids = manifest.column(DECISION_ID)
    hashes = manifest.column(ROW_HASH)
    if ordered_root(ids, hashes).hex() != data["merkle_root"]:
        return [LakeProblem("root_mismatch", kind, batch, None, "the manifest's Merkle root is not the anchored one")]
    for decision_id, row_hash in zip(ids.to_pylist(), hashes.to_pylist(), strict=True):
        expected[decision_id] = row_hash
        batch_of[decision_id] = batch
    return []


def _check_rows(
    lake: DecisionLake,
    model: str,
    kind: Kind,
    expected: dict[str, bytes],
    erased: dict[tuple[str, str], bytes],
    problems: list[LakeProblem],
    present: set[str],
) -> int:
    """Check every row against the manifests; fills ``present`` with the decision ids seen."""
    count = 0
    for batch in lake.read(model, kind):
        content = batch.drop_columns([BATCH, ROW_HASH])
        recomputed = row_hashes(content).to_pylist()
        for decision_id, stored, fresh, in_batch in zip(
            batch.column(DECISION_ID).to_pylist(),
            batch.column(ROW_HASH).to_pylist(),
            recomputed,
            batch.column(BATCH).to_pylist(),
            strict=True,
        ):
            count += 1
            if kind == "decisions" and decision_id in present:  # one decision, one row: a copy was added
                problems.append(LakeProblem("added", kind, in_batch, decision_id, "a second row with this decision id"))
                continue
            present.add(decision_id)
            anchored = expected.get(decision_id)
            if anchored is None:
                why = (
                    "in the table but in no anchored batch"
                    if (kind, decision_id) not in erased
                    else "erased, yet present"
                )
                problems.append(LakeProblem("added", kind, in_batch, decision_id, why))
            elif fresh != anchored or stored != anchored:
                problems.append(
                    LakeProblem("changed", kind, in_batch, decision_id, "its content differs from the anchored hash")
                )
    return count


# --- erasure, retention, compaction ------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    model: str
    decisions: int
    outcomes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _record_deletion(context: Context, model: str, rows: list[ErasedRow], reason: dict[str, Any]) -> None:
    append(
        context.engine,
        actor=context.actor,
        clock=context.clock,
        action=ERASED,
        subject=_subject(model),
        payload={
            **reason,
            "rows": [
                {"table": r.kind, "decision_id": r.decision_id, "row_hash": r.row_hash.hex(), "batch": r.batch_id}
                for r in rows
            ],
        },
    )


def erase_subject(context: Context, subject_id: str, *, models: Iterable[str] | None = None) -> list[Erasure]:
    """Delete a subject's decisions and outcomes in every model's lake (or those named), recording which rows."""
    if not subject_id:
        raise InvalidInput("the subject id is empty")
    lake = lake_of(context)
    done = []
    for model in sorted(models) if models is not None else lake_models(context):
        rows = lake.erase_subject(model, subject_id)
        subject_hash = hashlib.sha256(subject_id.encode()).hexdigest()
        _record_deletion(context, model, rows, {"reason": "erasure", "subject_sha256": subject_hash})
        done.append(Erasure(model, sum(r.kind == "decisions" for r in rows), sum(r.kind == "outcomes" for r in rows)))
    return done


def apply_retention(context: Context, model: str, *, days: int) -> Erasure:
    """Delete (and vacuum) a model's decisions and outcomes older than ``days`` days, recorded on the ledger."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidInput(f"days must be a whole number of at least 1, not {days!r}")
    lake = lake_of(context)
    cutoff = context.clock.now() - dt.timedelta(days=days)
    rows: list[ErasedRow] = []
    for kind in KINDS:
        if lake.exists(model, kind):
            rows += lake.delete_before(model, kind, cutoff)
    _record_deletion(context, model, rows, {"reason": "retention", "days": days, "before": cutoff.isoformat()})
    return Erasure(model, sum(r.kind == "decisions" for r in rows), sum(r.kind == "outcomes" for r in rows))


def compact(context: Context, model: str) -> dict[str, Any]:
    """Compact a model's tables (rows unchanged), recorded on the ledger."""
    lake = lake_of(context)
    metrics = {kind: lake.compact(model, kind) for kind in KINDS if lake.exists(model, kind)}
    summary: dict[str, Any] = {
        kind: {k: v for k, v in m.items() if isinstance(v, int | float | str)} for kind, m in metrics.items()
    }
    append(
        context.engine,
        actor=context.actor,
        clock=context.clock,
        action=COMPACTED,
        subject=_subject(model),
        payload=summary,
    )
    return summary
