"""The canonical encoding, checked against an independent computation with hashlib."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.errors import LedgerEntryInvalid
from charter.ledger.encoding import canonical_json, checkpoint_message, entry_hash


def test_entry_hash_is_sha256_of_the_documented_text() -> None:
    text = "\x1f".join(
        [
            "charter.ledger.v1",
            "42",
            "2026-11-22T12:00:00.000000Z",
            "user:a",
            "model.registered",
            "model:m",
            "{}",
            "0" * 64,
        ]
    )
    assert entry_hash(42, "2026-11-22T12:00:00.000000Z", "user:a", "model.registered", "model:m", "{}", "0" * 64) == (
        hashlib.sha256(text.encode("utf-8")).hexdigest()
    )


def test_checkpoint_message_is_the_documented_text() -> None:
    assert checkpoint_message(3, "ab", "t", "ed25519:k") == b"charter.checkpoint.v1\x1f3\x1fab\x1ft\x1fed25519:k"


def test_canonical_json_sorts_keys_strips_spaces_and_escapes_non_ascii() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, 2.5], "c": "é\n"}}) == '{"a":{"c":"\\u00e9\\n","d":[1,2.5]},"b":1}'


class Tier(Enum):
    HIGH = "high"


def test_canonical_json_converts_common_types() -> None:
    payload = {
        "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "day": date(2026, 1, 2),
        "id": uuid.UUID(int=1),
        "path": PurePosixPath("/a/b"),
        "tier": Tier.HIGH,
        "price": Decimal("1.5"),
        "count": Decimal("3"),
        "tags": {"b", "a"},
        "pair": (1, 2),
    }
    assert json.loads(canonical_json(payload)) == {
        "when": "2026-01-02T03:04:05.000000Z",
        "day": "2026-01-02",
        "id": "00000000-0000-0000-0000-000000000001",
        "path": "/a/b",
        "tier": "high",
        "price": 1.5,
        "count": 3,
        "tags": ["a", "b"],
        "pair": [1, 2],
    }


def test_a_payload_must_be_a_mapping() -> None:
    with pytest.raises(LedgerEntryInvalid, match="ledger payload must be a mapping, not list"):
        canonical_json([1])  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_numbers_are_refused_with_their_place(bad: float) -> None:
    with pytest.raises(LedgerEntryInvalid, match=r"ledger payload.metrics\[1\]: .* is not a finite number"):
        canonical_json({"metrics": [1.0, bad]})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_json_is_stable_ascii_and_round_trips(payload: dict[str, object]) -> None:
    text = canonical_json(payload)
    assert text.isascii()
    assert "\x1f" not in text
    assert json.loads(text) == payload
    assert canonical_json(json.loads(text)) == text
