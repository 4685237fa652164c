"""Every kernel reads its inputs through these: the same numbers from every input type."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from charter.errors import InvalidInput
from charter.metrics.inputs import as_float_array, as_label_array, finite, same_length

VALUES = [1.5, None, 3.0, float("nan"), 4.0]
KINDS: list[tuple[str, Any]] = [
    ("list", VALUES),
    ("numpy", np.array(VALUES, dtype=float)),
    ("pandas", pd.Series(VALUES, dtype="float64")),
    ("polars", pl.Series(VALUES, dtype=pl.Float64)),
    ("pyarrow", pa.array(VALUES, type=pa.float64())),
]


@pytest.mark.parametrize(("kind", "values"), KINDS, ids=[k for k, _ in KINDS])
def test_every_input_type_gives_the_same_floats(kind: str, values: Any) -> None:
    array = as_float_array(values, name="x")
    assert array.dtype == np.float64
    assert np.array_equal(finite(array), [1.5, 3.0, 4.0])
    assert int(np.isnan(array).sum()) == 2


LABELS = ["a", None, "b", "a"]


@pytest.mark.parametrize(
    "values",
    [LABELS, np.array(LABELS, dtype=object), pd.Series(LABELS), pl.Series(LABELS), pa.array(LABELS)],
    ids=["list", "numpy", "pandas", "polars", "pyarrow"],
)
def test_every_input_type_gives_the_same_labels(values: Any) -> None:
    assert as_label_array(values, name="y").tolist() == ["a", None, "b", "a"]


def test_bad_inputs_name_the_parameter() -> None:
    with pytest.raises(InvalidInput, match=r"^reference: values must be numbers"):
        as_float_array(["a", "b"], name="reference")
    with pytest.raises(InvalidInput, match=r"^current: expected one column of values, got an array of shape \(2, 2\)"):
        as_float_array([[1, 2], [3, 4]], name="current")
    with pytest.raises(InvalidInput, match=r"the inputs must have the same length: y_true has 3, y_pred has 2"):
        same_length(("y_true", np.zeros(3)), ("y_pred", np.zeros(2)))


def test_pandas_missing_markers_and_read_only_views() -> None:
    series = pd.Series(["a", pd.NA, "b"], dtype="string")
    assert as_label_array(series, name="y").tolist() == ["a", None, "b"]
    assert as_label_array(pd.Series([True, None]), name="y").tolist() == [True, None]
