"""Monitor definitions on SQLite and PostgreSQL: specs checked whole, declared by apply, windows aligned."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import InvalidInput, NotFound
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import audit
from charter.services.context import Context, open_context
from charter.services.home import init_home
from charter.services.monitoring import window_for, windows_between
from charter.services.monitors import define_monitor, get_monitor, list_monitors, monitor_from_spec, remove_monitor
from charter.services.registry import ModelSpec, register_model

SPEC = {"model": "credit-risk", "target": "prod", "kind": "data_drift", "window": {"every": "1h"}, "warn": 0.3,
        "critical": 0.5}  # fmt: skip


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        register_model(opened, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        yield opened


def test_defaults_and_status() -> None:
    monitor = monitor_from_spec("drift", SPEC)
    assert (monitor.metric, monitor.direction, monitor.schedule, monitor.every) == (
        "drift.share_drifted", "above", timedelta(hours=1), timedelta(hours=1),
    )  # fmt: skip
    assert [monitor.status(v) for v in (0.1, 0.3, 0.31, 0.5, 0.9)] == ["ok", "ok", "warning", "warning", "critical"]
    accuracy = monitor_from_spec("acc", {**SPEC, "kind": "performance", "warn": 0.8, "critical": 0.7})
    assert (accuracy.metric, accuracy.direction) == ("performance.accuracy", "below")
    assert [accuracy.status(v) for v in (0.9, 0.75, 0.6)] == ["ok", "warning", "critical"]
    assert monitor_from_spec("drift", monitor.to_spec()) == monitor  # the stored spec reads back the same


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "vibes"}, "kind 'vibes' is not one of data_drift, data_quality"),
        ({"window": {"every": "soon"}}, "window.every: 'soon' is not a duration"),
        ({"window": {"last": 0}}, "window.last must be a positive number of decisions"),
        ({"window": {"every": "1h", "last": 5}}, "window must be {every: DURATION}"),
        ({"warn": None, "critical": None}, "give a warn or a critical threshold"),
        ({"warn": 0.6, "critical": 0.5}, "the critical threshold 0.5 is less severe than the warn threshold 0.6"),
        ({"severity": "urgent"}, "severity 'urgent' is not one of low, medium, high, critical"),
        ({"kind": "fairness"}, "a fairness monitor needs group"),
        ({"target": "Prod!"}, "alias 'Prod!' is not valid"),
        ({"threshold": 1}, "unknown field 'threshold' (known: model, target, kind"),
        ({"warn": "high"}, "warn must be a number, not 'high'"),
    ],
)
def test_bad_specs_name_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        monitor_from_spec("drift", {**SPEC, **change})
    assert message in str(caught.value)
    assert str(caught.value).startswith("monitor drift")


def test_define_update_list_remove(context: Context) -> None:
    monitor = monitor_from_spec("credit-risk-drift", SPEC)
    assert define_monitor(context, monitor) == "create"
    assert define_monitor(context, monitor) == "unchanged"
    assert define_monitor(context, monitor_from_spec("credit-risk-drift", {**SPEC, "critical": 0.6})) == "update"
    assert get_monitor(context, "credit-risk-drift").critical == 0.6
    assert [m.name for m in list_monitors(context, model="credit-risk")] == ["credit-risk-drift"]
    with pytest.raises(NotFound, match=r"no model 'fraud'; register it before monitoring it"):
        define_monitor(context, monitor_from_spec("fraud-drift", {**SPEC, "model": "fraud"}))
    with pytest.raises(NotFound, match=r"no escalation policy 'pager'"):
        define_monitor(context, monitor_from_spec("x", {**SPEC, "escalation": "pager"}))
    remove_monitor(context, "credit-risk-drift", reason="replaced")
    assert list_monitors(context) == []
    assert not get_monitor(context, "credit-risk-drift").active
    actions = [e.action for e in list_entries(context.engine, EntryFilter(subject="monitor:credit-risk-drift"))]
    assert sorted(actions) == ["monitor.created", "monitor.removed", "monitor.updated"]
    with pytest.raises(NotFound, match=r"no monitor 'nope' \(monitors: credit-risk-drift\)"):
        get_monitor(context, "nope")
    assert audit.verify_ledger(context).ok


def test_monitors_targets_and_policies_apply_declaratively(context: Context, tmp_path: Path) -> None:
    from charter.services import apply as applying

    manifest = tmp_path / "monitoring.yaml"
    manifest.write_text(
        "apiVersion: charter.dev/v1\nkind: Monitor\nmetadata: {name: credit-risk-drift}\n"
        "spec: {model: credit-risk, target: prod, kind: data_drift, window: {every: 1h}, critical: 0.5,"
        " escalation: on-call}\n---\n"
        "apiVersion: charter.dev/v1\nkind: EscalationPolicy\nmetadata: {name: on-call}\n"
        "spec: {levels: [{targets: [ops-hook]}, {targets: [ops-hook], after: 15m}]}\n---\n"
        "apiVersion: charter.dev/v1\nkind: NotificationTarget\nmetadata: {name: ops-hook}\n"
        "spec: {kind: webhook, url: 'http://127.0.0.1:9/hook', secret_env: OPS_HOOK_SECRET}\n"
    )
    documents = applying.load([manifest])
    applying.apply(context, documents)  # targets, then policies, then monitors, whatever the file order
    assert get_monitor(context, "credit-risk-drift").escalation == "on-call"
    assert [c.action for c in applying.plan(context, applying.load([manifest]))] == ["unchanged"] * 3
    manifest.write_text(manifest.read_text().replace("secret_env: OPS_HOOK_SECRET", "secret: hunter2"))
    with pytest.raises(InvalidInput, match=r"'secret' would store a secret; name the environment variable"):
        applying.load([manifest])


def test_windows_align_to_their_length() -> None:
    monitor = monitor_from_spec("drift", SPEC)
    at = datetime(2026, 3, 1, 10, 42, tzinfo=UTC)
    assert window_for(monitor, at) == (datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 1, 10, tzinfo=UTC))
    backfill = windows_between(monitor, datetime(2026, 3, 1, 7, 30, tzinfo=UTC), at)
    assert [end.hour for _, end in backfill] == [9, 10]
    last = monitor_from_spec("last", {**SPEC, "window": {"last": 1000}})
    assert window_for(last, at) == (None, at)
    with pytest.raises(InvalidInput, match=r"cannot be backfilled"):
        windows_between(last, at - timedelta(days=1), at)


def test_two_workers_share_due_monitors_without_double_runs(context: Context, clock: FixedClock) -> None:
    import threading

    from charter.services.monitoring import lease_due, release

    for i in range(12):
        define_monitor(context, monitor_from_spec(f"volume-{i:02d}", {**SPEC, "kind": "volume", "warn": 1}))
    clock.advance(timedelta(seconds=1))
    claimed: dict[str, list[str]] = {"w1": [], "w2": []}
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        barrier.wait()
        for _ in range(4):
            claimed[name] += lease_due(context, name, limit=2)

    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(claimed["w1"]) & set(claimed["w2"])  # never the same monitor to both
    assert sorted(claimed["w1"] + claimed["w2"]) == [f"volume-{i:02d}" for i in range(12)]
    assert lease_due(context, "w3") == []  # all leased
    release(context, "volume-00", "w1" if "volume-00" in claimed["w1"] else "w2", next_run_at=clock.now())
    assert lease_due(context, "w3") == ["volume-00"]
    clock.advance(timedelta(minutes=6))  # the other leases have expired: a dead worker's monitors come back
    assert len(lease_due(context, "w3", limit=20)) == 12  # volume-00 too: w3 never gave it back
