"""Lineage on SQLite and PostgreSQL: edges, trees, impact, and what is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import Conflict, InvalidInput, NotFound
from charter.services import aliases, audit
from charter.services.artifacts import digest_path
from charter.services.context import Context, open_context
from charter.services.datasets import DatasetSpec, add_dataset_version, register_dataset
from charter.services.home import init_home
from charter.services.lineage import add_edge, impact, upstream
from charter.services.registry import ModelSpec, list_versions, register_model, register_version

SCHEMA = {
    "features": [{"name": "income", "type": "number"}, {"name": "sex", "type": "category", "categories": ["F", "M"]}]
}


@pytest.fixture
def context(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[Context]:
    """raw@1 -> features@1 (build-features) -> credit-risk@1 (trained on it), credit-risk@2 on raw@2."""
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as ctx:
        for name, rows in (("raw", "id,income,sex\n1,10,F\n2,20,M\n"), ("features", "id,income_log,sex\n1,2.3,F\n")):
            register_dataset(ctx, DatasetSpec(name=name))
            (tmp_path / f"{name}.csv").write_text(rows)
            add_dataset_version(ctx, name, tmp_path / f"{name}.csv")
        (tmp_path / "raw2.csv").write_text("id,income,sex\n1,11,F\n")
        add_dataset_version(ctx, "raw", tmp_path / "raw2.csv")
        register_model(ctx, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        yield ctx


def model(ctx: Context, tmp_path: Path, content: bytes, trained_on: tuple[str, ...] = ()) -> str:
    path = tmp_path / f"m-{content.decode()}.bin"
    path.write_bytes(content)
    return register_version(ctx, "credit-risk", digest_path(path), input_schema=SCHEMA, trained_on=trained_on).ref


def test_impact_reaches_every_model_and_alias_downstream(context: Context, tmp_path: Path) -> None:
    add_edge(context, "raw@1", to_dataset="features@1", transform="build-features", code_ref="repo#abc:f.py",
             parameters={"log": True})  # fmt: skip
    first = model(context, tmp_path, b"one", trained_on=("features@1",))
    second = model(context, tmp_path, b"two", trained_on=("raw@2",))
    aliases.set_alias(context, first, "prod")
    aliases.set_alias(context, second, "staging")
    found = impact(context, "raw@1")
    assert found.derived == ("features@1",)
    assert [(m.ref, m.aliases, m.role, m.via) for m in found.models] == [
        ("credit-risk@1", ("prod",), "training", ("features@1",))
    ]
    assert found.aliases_in_use == ["credit-risk:prod"]
    assert [m.ref for m in impact(context, "raw@2").models] == ["credit-risk@2"]
    assert impact(context, "features@1").derived == ()


def test_upstream_is_a_tree_with_transforms_and_features(context: Context, tmp_path: Path) -> None:
    add_edge(context, "raw@1", to_dataset="features@1", transform="build-features", parameters={"log": True})
    ref = model(context, tmp_path, b"one", trained_on=("features@1",))
    add_edge(context, "features@1", to_model=ref, role="validation", features={"income": "income_log"})
    tree = upstream(context, ref)
    assert (tree.kind, tree.ref) == ("model", "credit-risk@1")
    roles = [(edge.role, node.ref) for edge, node in tree.inputs]
    assert sorted(roles) == [("training", "features@1"), ("validation", "features@1")]
    validation = next(edge for edge, _ in tree.inputs if edge.role == "validation")
    assert validation.features == {"income": "income_log"}
    feature_node = tree.inputs[0][1]
    assert [(e.transform, e.parameters, n.ref) for e, n in feature_node.inputs] == [
        ("build-features", {"log": True}, "raw@1")
    ]
    assert upstream(context, "raw@1", kind="dataset").inputs == ()
    assert audit.verify_ledger(context).ok


def test_cycles_duplicates_and_bad_mappings_are_refused(context: Context, tmp_path: Path) -> None:
    add_edge(context, "raw@1", to_dataset="features@1")
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput, match=r"features@1 -> raw@1 would make a cycle"):
        add_edge(context, "features@1", to_dataset="raw@1")
    with pytest.raises(InvalidInput, match=r"would make a cycle"):
        add_edge(context, "raw@1", to_dataset="raw@1")
    with pytest.raises(Conflict, match=r"raw@1 is already linked to features@1 as derived"):
        add_edge(context, "raw@1", to_dataset="features@1")
    ref = model(context, tmp_path, b"one")
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput, match=r"raw@1 has no column 'salary' \(columns: id, income, sex\)"):
        add_edge(context, "raw@1", to_model=ref, features={"income": "salary"})
    with pytest.raises(InvalidInput, match=r"credit-risk@1 has no feature 'age' \(features: income, sex\)"):
        add_edge(context, "raw@1", to_model=ref, features={"age": "income"})
    with pytest.raises(InvalidInput, match=r"a model version can be linked as training, validation, evaluation"):
        add_edge(context, "raw@1", to_model=ref, role="derived")
    with pytest.raises(InvalidInput, match=r"give exactly one target"):
        add_edge(context, "raw@1")
    assert audit.ledger_size(context) == head


def test_a_version_with_unknown_training_data_is_not_registered(context: Context, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"raw has no version 9"):
        model(context, tmp_path, b"one", trained_on=("features@1", "raw@9"))
    assert list_versions(context, "credit-risk") == []
