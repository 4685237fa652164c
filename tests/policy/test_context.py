"""The evaluation context: its schema, the neutral base and sample, merging, checking, and its generated doc."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from charter.errors import PolicyContextInvalid
from charter.metrics.registry import all_metrics
from charter.policy import context as ctx
from charter.policy.contextdoc import render_reference
from charter.policy.schema import MapOf, Record, jsonable, walk

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_what_the_code_declares() -> None:
    committed = (ROOT / "docs" / "policy-context.md").read_text()
    assert committed == render_reference(), "run `python -m charter.policy.contextdoc` to regenerate the doc"


def test_every_field_is_described_and_documented() -> None:
    doc = render_reference()
    for path, _, field in walk(ctx.SCHEMA, ""):
        assert f"| `{path}` |" in doc
        if field is not None:
            assert field.description.endswith(".")


def test_the_schema_names_match_the_registry_and_metric_catalogue() -> None:
    from charter.services.edges import MODEL_ROLES

    assert ctx.DATASET_ROLES == MODEL_ROLES
    ids = all_metrics()
    assert {f"performance.{m}" for m in ctx.PERFORMANCE_METRICS} == {i for i in ids if i.startswith("performance.")}
    assert {f"fairness.{m}" for m in ctx.FAIRNESS_METRICS} == {i for i in ids if i.startswith("fairness.")}


def test_the_neutral_base_and_the_sample_conform() -> None:
    assert ctx.context_problems(ctx.neutral_context()) == []
    sample = ctx.sample_context()
    assert ctx.context_problems(sample) == []
    assert set(sample) == set(ctx.SCHEMA.names)
    assert set(sample["evaluation"]["metrics"]) == set(ctx.PERFORMANCE_METRICS)
    assert sample["champion"]["ref"] == "credit-risk@2" and len(sample["datasets"]) == 1


def test_the_sample_is_fully_populated() -> None:
    def check(value: object, type_: object, path: str) -> None:
        if isinstance(type_, Record):
            assert isinstance(value, dict) and set(value) == set(type_.names), path
            for f in type_.fields:
                check(value[f.name], f.type, f"{path}.{f.name}")
        elif isinstance(type_, MapOf):
            assert isinstance(value, dict) and value, path

    check(ctx.sample_context(), ctx.SCHEMA, "")


def test_merge_merges_mappings_and_replaces_everything_else() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": {}, "e": 1}
    merged = ctx.merge(base, {"a": {"c": [3], "x": None}, "d": {"k": {"v": 1}}, "e": None})
    assert merged == {"a": {"b": 1, "c": [3], "x": None}, "d": {"k": {"v": 1}}, "e": None}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": {}, "e": 1}


def test_checking_converts_numbers_and_times_for_cel() -> None:
    given = ctx.merge(
        ctx.neutral_context(),
        {
            "evaluation": {"metrics": {"roc_auc": 1}},
            "now": "2026-03-01T12:00:00Z",
            "datasets": [{"ref": "d@1", "certification_expires": date(2026, 6, 1)}],
            "approvals": [{"at": datetime(2026, 1, 1, 9)}],
        },
    )
    checked = ctx.check_context(given)
    assert checked["evaluation"]["metrics"]["roc_auc"] == 1.0
    assert isinstance(checked["evaluation"]["metrics"]["roc_auc"], float)
    assert checked["now"] == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert checked["datasets"][0]["certification_expires"] == datetime(2026, 6, 1, tzinfo=UTC)
    assert checked["approvals"][0]["at"] == datetime(2026, 1, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"evalution": {}}, "context: unknown field 'evalution' (known: approvals, champion, context_version, "),
        (
            {"evaluation": {"metrics": {"roc_auc": "high"}}},
            "context: evaluation.metrics.roc_auc: expected number, got string 'high'",
        ),
        (
            {"model": {"risk_tier": "hgh"}},
            "context: model.risk_tier: 'hgh' is not one of minimal, limited, high, prohibited",
        ),
        ({"datasets": [{"certified": "yes"}]}, "context: datasets[0].certified: expected bool, got string 'yes'"),
        ({"datasets": {"ref": "x"}}, "context: datasets: expected a list of record, got map"),
        ({"model": {"owner": None}}, "context: model.owner: expected string, got null"),
        (
            {"evaluation": {"suites": {"e": {"passed": 1.5}}}},
            "context: evaluation.suites.e.passed: expected integer, got double 1.5",
        ),
        ({"now": "yesterday"}, "context: now: expected timestamp, got string 'yesterday'"),
        (
            {"champion": {"metrics": {"a": True}, "x": 1}},
            "context: champion.metrics.a: expected number, got bool True (and 1 more)",
        ),
    ],
)
def test_a_context_that_breaks_the_schema_is_refused(given: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyContextInvalid) as caught:
        ctx.check_context(ctx.merge(ctx.neutral_context(), given))
    assert caught.value.code == "policy.context_invalid"
    assert str(caught.value).startswith(message)


def test_nullable_fields_take_null() -> None:
    checked = ctx.check_context(
        ctx.merge(
            ctx.neutral_context(),
            {"explanations": {"protected_share": None}, "datasets": [{"certification_expires": None}]},
        )
    )
    assert checked["explanations"]["protected_share"] is None


def test_rego_sees_timestamps_as_rfc3339_with_an_offset() -> None:
    value = jsonable({"now": datetime(2026, 1, 1, tzinfo=UTC), "l": [datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC)]})
    assert value == {"now": "2026-01-01T00:00:00+00:00", "l": ["2026-01-01T00:00:00.000005+00:00"]}
