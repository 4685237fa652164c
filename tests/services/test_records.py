"""Records as one-level dicts: the fields as they are, and a result row cut down to a dataclass's fields."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from charter.services.records import fields_dict, result_rows, row_fields


@dataclass(frozen=True)
class Thing:
    name: str
    count: int
    details: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


def test_fields_dict_keeps_the_values_themselves() -> None:
    details = {"nested": {"a": [1, 2]}}
    thing = Thing("x", 3, details, ("t",))
    found = fields_dict(thing)
    assert found == {"name": "x", "count": 3, "details": details, "tags": ("t",)}
    assert found["details"] is details  # one level: not copied


@given(
    name=st.text(max_size=20),
    count=st.integers(),
    details=st.dictionaries(st.text(max_size=5), st.integers(), max_size=4),
)
def test_fields_dict_equals_asdict_for_flat_records(name: str, count: int, details: dict[str, int]) -> None:
    thing = Thing(name, count, details)
    assert fields_dict(thing) == asdict(thing)


def test_row_fields_takes_the_fields_a_result_row_has_less_those_skipped() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT 'x' AS name, 3 AS count, 'extra' AS other, 't' AS tags")).mappings()
        found = row_fields(row.one(), Thing.__dataclass_fields__, skip=("tags",))
    assert found == {"name": "x", "count": 3}
    assert row_fields({"name": "y", "details": {}}, Thing.__dataclass_fields__) == {"name": "y", "details": {}}


def test_result_rows_are_plain_dicts_in_order() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        result = connection.execute(sa.text("SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y' ORDER BY a"))
        assert result_rows(result) == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
