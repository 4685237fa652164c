"""Columns for the writer: features turned with one copy, constant columns shared between batches."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from charter.sdk.arrays import by_columns, constant

DTYPES = [np.dtype("<f8"), np.dtype(">f8"), np.dtype("float32"), np.dtype("int16"), np.dtype("bool"), np.dtype(object)]


@st.composite
def blocks(draw: st.DrawFn) -> list[np.ndarray[Any, Any]]:
    dtype = draw(st.sampled_from(DTYPES))
    width = draw(st.integers(1, 6))
    made = []
    for rows in draw(st.lists(st.integers(0, 7), min_size=1, max_size=5)):
        element = hnp.from_dtype(np.dtype("int16")) if dtype.kind == "O" else hnp.from_dtype(dtype, allow_nan=False)
        block = draw(hnp.arrays(dtype, (rows, width), elements=element))
        made.append(block if draw(st.booleans()) else np.asfortranarray(block))
    return made


@given(blocks())
@settings(max_examples=150, deadline=None)
def test_blocks_of_rows_become_contiguous_columns_with_the_same_values(made: list[np.ndarray[Any, Any]]) -> None:
    columns = by_columns(made)
    expected = np.concatenate(made).T
    np.testing.assert_array_equal(columns, expected)
    assert columns.flags.c_contiguous and columns.dtype.isnative
    for j, column in enumerate(columns):
        if column.dtype != object:
            assert pa.array(column).to_pylist() == expected[j].tolist()


def test_a_constant_column_is_a_slice_of_one_shared_array() -> None:
    long = constant(7, pa.int64(), 1_000)
    short = constant(7, pa.int64(), 10)
    assert short.to_pylist() == [7] * 10 and len(long) == 1_000
    assert short.buffers()[1].address == long.buffers()[1].address  # no new memory
    assert constant(None, pa.string(), 3).to_pylist() == [None] * 3
    assert constant(True, pa.bool_(), 2).type == pa.bool_()


@pytest.mark.parametrize("n", [0, 1, 5_000])
def test_a_constant_column_has_exactly_n_rows(n: int) -> None:
    assert len(constant("prod", pa.string(), n)) == n
    assert constant("prod", pa.string(), n).null_count == 0
