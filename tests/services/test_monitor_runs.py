"""Monitor runs at their edges: an empty window, a broken lake, backfills, a team's runbook file.

- a volume monitor's alarm is an empty window: zero decisions is rated, not ``no_data``;
- a window that cannot be read is an ``error`` run with the reason, and a worker goes on;
- a backfill of every monitor leaves out those over the last N decisions, and says so;
- a runbook path in a manifest is checked when it is applied and kept by its absolute path,
  and an incident opens even when that file has gone by then.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import charter
from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import InvalidInput
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import apply as applying
from charter.services import incidents, policies
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.home import init_home
from charter.services.monitoring import plan_runs, run_monitor, series, work_once
from charter.services.monitors import define_monitor, get_monitor, monitor_from_spec
from charter.services.promotion import promote
from charter.services.registry import ModelSpec, register_model, register_version
from tests.services.test_incidents import ALWAYS

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
VOLUME = {"model": "credit-risk", "target": "prod", "kind": "volume", "window": {"every": "1h"}, "critical": 100}


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def context(settings: Settings, tmp_path: Path) -> Iterator[Context]:
    """credit-risk@1 behind prod, with 300 decisions logged in the hour from START."""
    clock = FixedClock(START - timedelta(hours=1))
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        register_model(opened, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        (tmp_path / "m1").write_bytes(b"weights")
        register_version(opened, "credit-risk", digest_path(tmp_path / "m1"))
        (tmp_path / "open-gate.yaml").write_text(ALWAYS)
        policies.add_policies(opened, [tmp_path / "open-gate.yaml"])
        assert promote(opened, "credit-risk@1", "prod").status == "promoted"
        clock.set(START + timedelta(minutes=10))
        rows = np.random.default_rng(5).normal(size=(300, 2))
        with charter.connect(settings.home, database_url=settings.database_url, clock=clock) as cx:
            cx.log_decisions("credit-risk:prod", rows, (rows[:, 0] > 0).astype(int))
            assert cx.flush(timeout=60)
        yield opened


def clock_of(context: Context) -> FixedClock:
    assert isinstance(context.clock, FixedClock)
    return context.clock


def test_a_window_without_decisions_is_what_a_volume_monitor_alarms_on(context: Context) -> None:
    define_monitor(context, monitor_from_spec("credit-risk-volume", VOLUME))
    clock_of(context).set(START + timedelta(hours=1, minutes=5))
    busy = run_monitor(context, "credit-risk-volume")
    assert (busy.status, busy.rows, busy.value) == ("ok", 300, 300.0)
    clock_of(context).set(START + timedelta(hours=2, minutes=5))  # the model stopped serving
    quiet = run_monitor(context, "credit-risk-volume")
    assert (quiet.status, quiet.rows, quiet.value) == ("critical", 0, 0.0)
    assert quiet.incident is not None
    assert "volume.decisions 0 is below 100" in incidents.get_incident(context, quiet.incident).title
    latency = monitor_from_spec("credit-risk-latency", {**VOLUME, "kind": "latency", "critical": 800})
    define_monitor(context, latency)
    found = run_monitor(context, "credit-risk-latency")
    assert (found.status, found.rows) == ("no_data", 0), found.notes  # other kinds: nothing to measure


def test_an_unreadable_window_is_an_error_run_and_the_worker_goes_on(context: Context) -> None:
    define_monitor(context, monitor_from_spec("credit-risk-volume", VOLUME))
    define_monitor(context, monitor_from_spec("credit-risk-volume-2", {**VOLUME, "critical": 10}))
    for data in Path(context.settings.lake).rglob("*.parquet"):
        data.unlink()  # a file the table's log names is gone
    clock_of(context).set(START + timedelta(hours=1, minutes=5))
    results = work_once(context, "worker:test")
    assert sorted(r.monitor for r in results) == ["credit-risk-volume", "credit-risk-volume-2"]
    for result in results:
        assert result.status == "error" and result.notes and "not found" in result.notes[0].lower(), result.notes


def test_a_backfill_of_every_monitor_leaves_out_the_last_n_ones(context: Context) -> None:
    define_monitor(context, monitor_from_spec("credit-risk-volume", VOLUME))
    define_monitor(context, monitor_from_spec("credit-risk-last", {**VOLUME, "window": {"last": 1000}}))
    clock_of(context).set(START + timedelta(hours=3, minutes=5))
    plan = plan_runs(context, backfill=(START, START + timedelta(hours=3)))
    assert [(m.name, w[1].hour) for m, w in plan.windows] == [("credit-risk-volume", h) for h in (11, 12, 13)]
    assert plan.left_out == ["monitor credit-risk-last watches the last 1000 decisions; a backfill leaves it out"]
    with pytest.raises(
        InvalidInput, match=r"credit-risk-last watches the last 1000 decisions; it cannot be backfilled"
    ):
        plan_runs(context, names=("credit-risk-last",), backfill=(START, START + timedelta(hours=3)))


def test_a_runbook_file_next_to_the_manifest(context: Context, tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    (folder / "runbooks").mkdir(parents=True)
    (folder / "runbooks" / "volume.md").write_text("# Credit-risk traffic\n\nCall the serving team.\n")
    manifest = folder / "monitors.yaml"
    body = "apiVersion: charter.dev/v1\nkind: Monitor\nmetadata: {name: credit-risk-volume}\nspec:\n"
    spec = "".join(f"  {k}: {v}\n" for k, v in {**VOLUME, "window": "{every: 1h}"}.items())
    manifest.write_text(body + spec + "  runbook: runbooks/missing.md\n")
    with pytest.raises(InvalidInput, match=r"monitors.yaml line \d+: Monitor credit-risk-volume: runbook file "
                       r"'runbooks/missing.md' does not exist"):  # fmt: skip
        applying.load([manifest])
    manifest.write_text(body + spec + "  runbook: runbooks/volume.md\n")
    applying.apply(context, applying.load([manifest]))
    kept = get_monitor(context, "credit-risk-volume").runbook
    assert kept == str((folder / "runbooks" / "volume.md").resolve())
    assert [c.action for c in applying.plan(context, applying.load([manifest]))] == ["unchanged"]

    clock_of(context).set(START + timedelta(hours=2, minutes=5))
    first = run_monitor(context, "credit-risk-volume")
    assert first.incident is not None
    assert incidents.get_incident(context, first.incident).runbook.startswith("# Credit-risk traffic")
    incidents.resolve(context, first.incident, note="traffic back")
    (folder / "runbooks" / "volume.md").unlink()  # the team moved its runbook; the next incident still opens
    clock_of(context).set(START + timedelta(hours=3, minutes=5))
    second = run_monitor(context, "credit-risk-volume")
    assert second.incident is not None and second.incident != first.incident
    shown = incidents.get_incident(context, second.incident).runbook
    assert shown.startswith("> This monitor's own runbook could not be read (runbook file ")
    assert shown.split("\n\n", 1)[1] == (Path(charter.__file__).parent / "runbooks" / "volume.md").read_text()


def test_a_window_that_said_nothing_is_computed_again(context: Context, settings: Settings) -> None:
    """Late decisions: the window first ran empty (no_data); run again, it is computed, and then kept."""
    define_monitor(context, monitor_from_spec("credit-risk-volume", {**VOLUME, "critical": 10}))
    window = (START + timedelta(hours=1), START + timedelta(hours=2))
    clock_of(context).set(START + timedelta(hours=2, minutes=5))
    # The volume kind rates empty windows; make this one say nothing: no lake table for the model at all.
    lake = Path(context.settings.lake) / "credit-risk"
    hidden = lake.with_name("credit-risk.away")
    lake.rename(hidden)
    first = run_monitor(context, "credit-risk-volume", window=window)
    assert (first.status, first.rows) == ("no_data", 0)
    hidden.rename(lake)
    late = clock_of(context)
    late.set(START + timedelta(hours=1, minutes=30))
    with charter.connect(settings.home, database_url=settings.database_url, clock=late) as cx:
        cx.log_decisions("credit-risk:prod", np.zeros((20, 2)), [0] * 20)
        assert cx.flush(timeout=60)
    late.set(START + timedelta(hours=2, minutes=10))
    again = run_monitor(context, "credit-risk-volume", window=window)
    assert (again.status, again.rows, again.value, again.skipped) == ("ok", 20, 20.0, False)
    kept = run_monitor(context, "credit-risk-volume", window=window)
    assert kept.skipped and kept.status == "ok"  # a verdict is not computed twice
    ran = list_entries(context.engine, EntryFilter(action="monitor.ran"), newest_first=False)
    assert [(e.data["status"], e.data.get("replaces", {}).get("status")) for e in ran] == [
        ("no_data", None), ("ok", "no_data"),
    ]  # fmt: skip
    assert [p["value"] for p in series(context, "credit-risk-volume", metric="volume.decisions")] == [20.0]
