"""data_quality over a lake window, against the quality kernels run on the same rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from charter.engines import LocalEngine, MonitorSpec, Window
from charter.errors import InvalidInput
from charter.lake.table import DecisionLake
from charter.metrics import quality
from charter.metrics.summary import ReferenceProfile
from tests.engines.conftest import MODEL, REGIONS, START, decisions, write

WINDOW = Window(start=START, end=START + dt.timedelta(days=1))
SCHEMA = {
    "features": [
        {"name": "age", "type": "integer", "min": 18, "max": 90},
        {"name": "income", "type": "number", "min": 0},
        {"name": "tenure", "type": "number"},
        {"name": "region", "type": "category", "categories": REGIONS},
        {"name": "debt", "type": "number"},
        {"name": "employment", "type": "category", "categories": ["salaried", "self-employed"]},
    ]
}
N = 2000


def _broken(seed: int) -> pa.Table:
    """Decisions with missing, out-of-range, non-numeric and unknown values."""
    rng = np.random.default_rng(seed)
    table = decisions(N, seed=seed)
    income = table.column("income").to_numpy().copy()
    income[rng.random(N) < 0.05] = -1.0  # below the declared minimum
    income[rng.random(N) < 0.02] = np.inf
    income[rng.random(N) < 0.03] = np.nan  # NaN: missing
    income_nulls = rng.random(N) < 0.04  # null: missing
    age = table.column("age").to_numpy().copy()
    age[rng.random(N) < 0.03] = 150
    tenure = table.column("tenure").to_numpy() * 1.6  # stretched past the reference's range
    region = np.array(table.column("region").to_pylist(), dtype=object)
    region[rng.random(N) < 0.04] = "mars"
    region[rng.random(N) < 0.03] = ""  # empty text: missing
    debt = rng.choice(["12.5", " 8 ", "1e3", "n/a", "abc", None], N, p=[0.4, 0.2, 0.2, 0.1, 0.05, 0.05])
    columns = {
        "income": pa.array(np.where(income_nulls, None, income).tolist(), type=pa.float64()),
        "age": pa.array(age),
        "tenure": pa.array(tenure),
        "region": pa.array(region.tolist(), type=pa.string()),
    }
    for name, values in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, values)
    return table.append_column("debt", pa.array(debt.tolist(), type=pa.string()))


@pytest.fixture
def reference() -> ReferenceProfile:
    rows = decisions(3000, seed=50)
    return ReferenceProfile.fit({n: rows.column(n).to_numpy(zero_copy_only=False) for n in ("age", "tenure", "region")})


@pytest.fixture
def window(lake: DecisionLake) -> pa.Table:
    first, second = _broken(1), _broken(2)
    write(lake, first)
    write(lake, second)
    return pa.concat_tables([first, second])


def _values(table: pa.Table, name: str) -> list[Any]:
    return list(table.column(name).to_pylist())


def test_quality_against_the_input_schema(engine: LocalEngine, window: pa.Table, reference: ReferenceProfile) -> None:
    result = engine.compute(
        MODEL, MonitorSpec("data_quality"), WINDOW, reference=reference, context={"input_schema": SCHEMA}
    )
    income, age, tenure, region, debt = (_values(window, n) for n in ("income", "age", "tenure", "region", "debt"))
    ref_tenure = reference.columns["tenure"].reference  # type: ignore[union-attr]

    missing = {
        n: quality.missing_share(v, v)
        for n, v in zip(("age", "income", "tenure", "region", "debt"), (age, income, tenure, region, debt), strict=True)
    }
    for name, check in missing.items():
        assert result.value(f"quality.missing_share:{name}") == check.share
    cells = sum(check.count for check in missing.values())
    assert result.value("quality.missing_share") == cells / (5 * len(income))

    ranges = {
        "age": quality.out_of_range_share(age, age, bounds=(18, 90)),
        "income": quality.out_of_range_share(income, income, bounds=(0, None)),
        "tenure": quality.out_of_range_share(income, tenure, bounds=(ref_tenure.minimum, ref_tenure.maximum)),
    }
    for name in ("age", "income", "tenure"):
        assert result.value(f"quality.out_of_range_share:{name}") == ranges[name].share, name
    assert result.value("quality.out_of_range_share:debt") is None  # debt has no bounds and no profile
    assert ranges["income"].count > 0 and ranges["tenure"].count > 0

    types = quality.type_violation_share([1.0, 2.0], debt)
    assert result.value("quality.type_violation_share:debt") == types.share and types.count > 0
    assert result.value("quality.type_violation_share:income") == 0.0
    checked = sum(
        quality.missing_share(v, v).total - quality.missing_share(v, v).count for v in (age, income, tenure, debt)
    )
    whole = result.metric("quality.type_violation_share")
    assert whole is not None and whole.value == types.count / checked and whole.details["count"] == types.count

    unseen = quality.unseen_category_share(REGIONS, region)
    assert (
        result.value("quality.unseen_category_share:region")
        == unseen.share
        == result.value("quality.unseen_category_share")
    )

    violations = result.metric("quality.schema_violations")
    assert violations is not None and violations.value == 1 and violations.details["missing_columns"] == ["employment"]
    assert "feature employment: in the input schema, not in the decisions table" in result.notes


def test_quality_from_the_reference_profile_alone(
    engine: LocalEngine, window: pa.Table, reference: ReferenceProfile
) -> None:
    result = engine.compute(MODEL, MonitorSpec("data_quality"), WINDOW, reference=reference)
    region = _values(window, "region")
    reference_regions = list(reference.columns["region"].reference.as_dict())  # type: ignore[union-attr]
    assert (
        result.value("quality.unseen_category_share:region")
        == quality.unseen_category_share(reference_regions, region).share
    )
    age = _values(window, "age")
    ref_age = reference.columns["age"].reference  # type: ignore[union-attr]
    expected = quality.out_of_range_share(age, age, bounds=(ref_age.minimum, ref_age.maximum)).share
    assert result.value("quality.out_of_range_share:age") == expected
    assert result.value("quality.schema_violations") is None
    assert sorted({v.metric.split(":")[-1] for v in result.values if ":" in v.metric}) == ["age", "region", "tenure"]


def test_integer_features_count_fractions_as_type_violations(lake: DecisionLake) -> None:
    table = decisions(100, seed=3)
    age = np.arange(100) + 18.0
    age[:7] += 0.5
    write(lake, table.set_column(table.schema.get_field_index("age"), "age", pa.array(age)))
    schema = {"features": [{"name": "age", "type": "integer"}]}
    result = LocalEngine(lake).compute(MODEL, MonitorSpec("data_quality"), WINDOW, context={"input_schema": schema})
    assert result.value("quality.type_violation_share:age") == 0.07
    assert "quality.out_of_range_share: no feature has what the check needs" in result.notes


def test_quality_errors(engine: LocalEngine, window: pa.Table) -> None:
    with pytest.raises(InvalidInput) as caught:
        engine.compute(MODEL, MonitorSpec("data_quality"), WINDOW)
    assert str(caught.value) == (
        "data_quality: the context has no 'input_schema' (the version's input schema) and no reference "
        "profile was given; pass one of them"
    )
    with pytest.raises(InvalidInput, match=r"^data_quality: feature\(s\) nope not in the decisions of 'credit-risk'"):
        engine.compute(MODEL, MonitorSpec("data_quality", features=("nope",)), WINDOW, context={"input_schema": SCHEMA})
    with pytest.raises(InvalidInput, match=r"^data_quality: context 'input_schema' must be an input schema"):
        engine.compute(MODEL, MonitorSpec("data_quality"), WINDOW, context={"input_schema": ["age"]})
