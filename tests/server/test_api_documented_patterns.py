"""The OpenAPI document states what a server path must look like, exactly as the validator decides."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from charter.server.api.schemas import SERVER_PATH, ServerPath

ADAPTER: TypeAdapter[str] = TypeAdapter(ServerPath)


def _accepted(value: str) -> bool:
    try:
        ADAPTER.validate_python(value)
    except ValidationError:
        return False
    return True


@given(
    st.one_of(
        st.text(max_size=30),
        st.builds(
            lambda a, b: a + b, st.sampled_from(["/", "file:", "s3://", "x://", "rel/", "./", ""]), st.text(max_size=20)
        ),
    )
)
def test_the_documented_pattern_accepts_what_the_validator_accepts(value: str) -> None:
    assert (re.search(SERVER_PATH, value) is not None) == _accepted(value), repr(value)


def test_the_pattern_is_in_the_document_and_the_message_stays_clear() -> None:
    assert ADAPTER.json_schema()["pattern"] == SERVER_PATH
    with pytest.raises(ValidationError, match="give an absolute path on the server"):
        ADAPTER.validate_python("models/model.pkl")
