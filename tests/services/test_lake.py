"""Lake batches anchored on the ledger; verification names changed, removed and added rows; erasure and retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import InvalidInput
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import lake as lake_service
from charter.services.context import Context, open_context
from charter.services.home import init_home
from tests.lake.test_table import START, decisions


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


def _written(context: Context) -> pa.Table:
    batch = decisions(12)
    lake_service.write_batch(context, "credit-risk", "decisions", batch, batch_id="b1")
    lake_service.write_batch(context, "credit-risk", "decisions", decisions(6, hour=30), batch_id="b2")
    return batch


def test_batches_are_anchored_once_and_verify(context: Context) -> None:
    batch = _written(context)
    lake_service.write_batch(context, "credit-risk", "decisions", batch, batch_id="b1")  # a retry
    entries = list_entries(context.engine, EntryFilter(action="lake.committed"), limit=None)
    assert sorted(e.data["batch"] for e in entries) == ["b1", "b2"]
    assert entries[-1].data["rows"] == 12 and len(entries[-1].data["merkle_root"]) == 64
    report = lake_service.verify_lake(context, "credit-risk")
    assert report.ok and (report.batches, report.rows) == (2, 18)


def test_a_changed_row_is_named(context: Context) -> None:
    batch = _written(context)
    victim = batch.column("decision_id")[3].as_py()
    table = DeltaTable(lake_service.lake_of(context).uri("credit-risk"))
    table.update(updates={"income": "1.0"}, predicate=f"decision_id = '{victim}'")
    report = lake_service.verify_lake(context, "credit-risk")
    assert [(p.kind, p.decision_id, p.batch) for p in report.problems] == [("changed", victim, "b1")]


def test_a_removed_and_an_added_row_are_named(context: Context) -> None:
    batch = _written(context)
    victim = batch.column("decision_id")[0].as_py()
    uri = lake_service.lake_of(context).uri("credit-risk")
    DeltaTable(uri).delete(f"decision_id = '{victim}'")
    forged = lake_service.lake_of(context).read_table("credit-risk").slice(0, 1)
    forged = forged.set_column(0, "decision_id", pa.array(["forged-id"]))
    write_deltalake(uri, forged, mode="append")
    kinds = {(p.kind, p.decision_id) for p in lake_service.verify_lake(context, "credit-risk").problems}
    assert kinds == {("removed", victim), ("added", "forged-id")}


def test_a_second_copy_of_an_anchored_row_is_named(context: Context) -> None:
    _written(context)
    uri = lake_service.lake_of(context).uri("credit-risk")
    copy = lake_service.lake_of(context).read_table("credit-risk").slice(2, 1)  # byte for byte, hash and all
    write_deltalake(uri, copy, mode="append")
    report = lake_service.verify_lake(context, "credit-risk")
    assert [(p.kind, p.decision_id, p.detail) for p in report.problems] == [
        ("added", copy.column("decision_id")[0].as_py(), "a second row with this decision id"),
    ]  # fmt: skip


def test_an_altered_manifest_is_caught(context: Context) -> None:
    _written(context)
    lake = lake_service.lake_of(context)
    path = Path(lake.manifest_uri("credit-risk", "decisions", "b2"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    problems = lake_service.verify_lake(context, "credit-risk").problems
    assert [(p.kind, p.batch) for p in problems][:1] == [("manifest_changed", "b2")]


def test_erasure_and_retention_keep_verification_passing(context: Context, clock: FixedClock) -> None:
    _written(context)
    done = lake_service.erase_subject(context, "s1")
    assert [(e.model, e.decisions) for e in done] == [("credit-risk", 6)]
    entry = list_entries(context.engine, EntryFilter(action="lake.erased"), limit=1)[0]
    assert entry.data["reason"] == "erasure" and "s1" not in entry.payload and len(entry.data["rows"]) == 6
    assert lake_service.verify_lake(context, "credit-risk").ok
    clock.advance(START + dt.timedelta(days=2) - clock.now())  # b1 is 2 days old, b2 about 18 hours
    gone = lake_service.apply_retention(context, "credit-risk", days=1)
    assert gone.decisions == 8  # b1's 12 rows less the 4 erased
    report = lake_service.verify_lake(context, "credit-risk")
    assert report.ok and report.rows == 4
    lake_service.compact(context, "credit-risk")
    assert lake_service.verify_lake(context, "credit-risk").ok
    with pytest.raises(InvalidInput, match="days must be a whole number"):
        lake_service.apply_retention(context, "credit-risk", days=0)


def test_the_lake_can_live_elsewhere(context: Context, tmp_path: Path) -> None:
    elsewhere = replace(context.settings, lake_uri=str(tmp_path / "shared-lake"))
    with open_context(elsewhere, clock=context.clock) as moved:
        lake_service.write_batch(moved, "credit-risk", "decisions", decisions(3), batch_id="x")
        assert lake_service.verify_lake(moved, "credit-risk").ok
    assert (tmp_path / "shared-lake" / "credit-risk" / "decisions" / "_delta_log").is_dir()
    assert not lake_service.lake_of(context).exists("credit-risk")


def test_erasure_and_the_overview_find_models_on_a_lake_at_a_uri(context: Context, tmp_path: Path) -> None:
    """A lake at a URI (an object store's) cannot be listed like a folder: the ledger's anchors name its models."""
    elsewhere = replace(context.settings, lake_uri=(tmp_path / "object-lake").as_uri())
    with open_context(elsewhere, clock=context.clock) as moved:
        lake_service.write_batch(moved, "credit-risk", "decisions", decisions(12), batch_id="u1")
        assert [m["model"] for m in lake_service.lake_overview(moved)] == ["credit-risk"]
        done = lake_service.erase_subject(moved, "s1")
        assert [(e.model, e.decisions) for e in done] == [("credit-risk", 4)]  # before: 0 models, nothing erased
        assert lake_service.verify_lake(moved, "credit-risk").ok
