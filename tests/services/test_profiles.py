"""Which columns of a registered table go into its reference profile, and why the others do not."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from charter.metrics.summary import CategoricalProfile, NumericProfile
from charter.services.datasets import profile_outline
from charter.services.profiles import MAX_CATEGORIES, dataset_profile, profiled


def test_columns_are_profiled_or_skipped_with_a_reason() -> None:
    rows = MAX_CATEGORIES + 1
    table = pa.table(
        {
            "amount": np.arange(rows, dtype=float),
            "approved": [i % 2 == 0 for i in range(rows)],
            "region": pa.array(["n", "s"] * (rows // 2) + ["e"]).dictionary_encode(),
            "customer_id": [f"c{i}" for i in range(rows)],
            "email": [f"u{i}@example.org" for i in range(rows)],
            "signed_up": [dt.date(2026, 1, 1)] * rows,
            "empty": pa.array([float("nan")] * rows),
        }
    )
    stored = dataset_profile(table, [None, None, None, None, "email", None, None])
    assert stored is not None
    assert stored["skipped"] == {
        "customer_id": f"{rows:,} distinct values (more than {MAX_CATEGORIES:,})",
        "email": "personal data (email)",
        "signed_up": "type date32[day] is not profiled",
        "empty": "every value is missing",
    }
    profile = profiled(stored)
    assert profile is not None and profile.rows == rows
    assert isinstance(profile.columns["amount"], NumericProfile)
    assert isinstance(profile.columns["approved"], NumericProfile)
    region = profile.columns["region"]
    assert isinstance(region, CategoricalProfile) and region.reference.counts == (("e", 1), ("n", 500), ("s", 500))
    assert profile_outline(stored) == {
        "rows": rows,
        "columns": {"amount": "numeric", "approved": "numeric", "region": "categorical"},
        "skipped": stored["skipped"],
    }


def test_an_empty_table_has_no_profile() -> None:
    assert dataset_profile(pa.table({"x": pa.array([], type=pa.float64())}), [None]) is None
    assert profiled(None) is None and profile_outline(None) is None


def test_the_anomaly_model_is_stored_with_the_profile_and_leaves_out_personal_data() -> None:
    from charter.metrics.anomaly import AnomalyModel
    from charter.services.profiles import stored_anomaly_model

    rng = np.random.default_rng(3)
    table = pa.table({"age": rng.normal(40, 9, 300), "income": rng.normal(5e4, 8e3, 300),
                      "phone": rng.integers(10**9, 10**10, 300), "band": ["a", "b", "c"] * 100})  # fmt: skip
    stored = dataset_profile(table, [None, None, "phone", None])
    assert AnomalyModel.from_dict(stored["anomaly_model"]) == AnomalyModel.fit(table.select(["age", "income"]))
    assert stored_anomaly_model(stored).columns == ("age", "income")
    assert stored_anomaly_model(stored, ["income"]).columns == ("income",)
    assert stored_anomaly_model(stored, ["income", "phone"]) is None  # not covered: the caller fits one
    assert profiled(stored) is not None  # the profile still reads


def test_an_anomaly_model_that_cannot_be_fitted_is_left_out_with_the_reason() -> None:
    from charter.services.profiles import MAX_ANOMALY_COLUMNS

    wide = pa.table({f"x{i}": np.arange(5.0) * (i + 1) for i in range(MAX_ANOMALY_COLUMNS + 1)})
    assert dataset_profile(wide, [None] * wide.num_columns)["anomaly_skipped"] == (
        f"{MAX_ANOMALY_COLUMNS + 1} numeric columns (more than {MAX_ANOMALY_COLUMNS})"
    )
    few = pa.table({"a": [1.0, 2.0], "b": [3.0, 1.0]})
    assert "needs at least 3 complete rows" in dataset_profile(few, [None, None])["anomaly_skipped"]
    text = pa.table({"band": ["a", "b"]})
    assert dataset_profile(text, [None])["anomaly_skipped"] == "no numeric column"
