"""Masking and pseudonymising decision batches before they reach the lake (pure: no home, no database)."""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.errors import ConfigError, InvalidInput, NotFound
from charter.lake import privacy
from charter.lake.privacy import (
    ColumnRule,
    MaskingPolicy,
    PseudonymKeys,
    apply_policy,
    apply_policy_detailed,
    default_policy,
    pseudonym_key_id,
    pseudonymise_value,
    tokens_for,
)
from charter.services.classification import PII_CATEGORIES
from charter.services.datasets import ColumnInfo

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
ID_A = hashlib.sha256(KEY_A).hexdigest()[:12]
ID_B = hashlib.sha256(KEY_B).hexdigest()[:12]
KEYS = PseudonymKeys(ID_A, {ID_A: KEY_A})
ROTATED = PseudonymKeys(ID_B, {ID_A: KEY_A, ID_B: KEY_B})

EMAILS = ["ada@example.org", None, "alan@example.org", "ada@example.org"]


def oracle(key: bytes, value: bytes) -> str:
    return f"p1:{hashlib.sha256(key).hexdigest()[:12]}:{hmac.new(key, value, hashlib.sha256).hexdigest()}"


def batch(**columns: pa.Array | list[Any]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in columns.items()})


def ipc_bytes(data: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_batch(data)
    return bytes(sink.getvalue())


def policy(**actions: str | dict[str, object]) -> MaskingPolicy:
    return MaskingPolicy.from_mapping(actions)


# --- pseudonymise -------------------------------------------------------------------------------------


def test_tokens_are_the_keyed_hmac_of_each_value_and_nulls_stay_null() -> None:
    out = apply_policy(batch(email=EMAILS), policy(email="pseudonymise"), KEYS)
    assert out.schema.field("email").type == pa.string()
    assert out.column("email").to_pylist() == [
        oracle(KEY_A, b"ada@example.org"),
        None,
        oracle(KEY_A, b"alan@example.org"),
        oracle(KEY_A, b"ada@example.org"),
    ]


def test_tokens_are_deterministic_across_batches_so_rows_still_join() -> None:
    first = apply_policy(batch(email=EMAILS), policy(email="pseudonymise"), KEYS).column("email")
    again = apply_policy(batch(email=list(reversed(EMAILS))), policy(email="pseudonymise"), KEYS).column("email")
    assert first.to_pylist() == list(reversed(again.to_pylist()))
    assert first[0] == first[3]


def test_tokens_use_the_current_key_and_differ_between_keys() -> None:
    old = apply_policy(batch(email=EMAILS), policy(email="pseudonymise"), KEYS).column("email")
    new = apply_policy(batch(email=EMAILS), policy(email="pseudonymise"), ROTATED).column("email")
    assert new[0].as_py() == oracle(KEY_B, b"ada@example.org")
    assert new[0].as_py().startswith(f"p1:{ID_B}:")
    assert old[0] != new[0]
    assert pseudonymise_value(ROTATED, "ada@example.org", ID_A) == old[0].as_py()  # old tokens stay findable
    assert tokens_for(ROTATED, "ada@example.org") == {ID_A: old[0].as_py(), ID_B: new[0].as_py()}


@pytest.mark.parametrize(
    ("array", "lookup", "text"),
    [
        (pa.array(["x@y.org"], pa.string()), "x@y.org", b"x@y.org"),
        (pa.array(["x@y.org"], pa.large_string()), "x@y.org", b"x@y.org"),
        (pa.array(["x@y.org"]).dictionary_encode(), "x@y.org", b"x@y.org"),
        (pa.array([447700900123], pa.int64()), 447700900123, b"447700900123"),
        (pa.array([-12], pa.int32()), "-12", b"-12"),
        (pa.array([True], pa.bool_()), True, b"true"),
        (pa.array([2.5], pa.float64()), 2.5, b"2.5"),
        (pa.array([date(1990, 5, 17)], pa.date32()), "1990-05-17", b"1990-05-17"),
        (pa.array([b"\x00raw"], pa.binary()), b"\x00raw", b"\x00raw"),
    ],
)
def test_every_value_type_is_hashed_as_its_text_the_same_as_a_lookup(
    array: pa.Array, lookup: object, text: bytes
) -> None:
    out = apply_policy(batch(contact=array), policy(contact="pseudonymise"), KEYS)
    assert out.column("contact").to_pylist() == [oracle(KEY_A, text)]
    assert pseudonymise_value(KEYS, lookup) == oracle(KEY_A, text)


def test_a_million_rows_of_a_thousand_values_cost_a_thousand_hmacs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = hmac.digest

    def counting(key: bytes, message: bytes, digest: str) -> bytes:
        nonlocal calls
        calls += 1
        return real(key, message, digest)

    monkeypatch.setattr(privacy.hmac, "digest", counting)
    distinct = [f"user{i}@example.org" for i in range(1_000)]
    rows = pa.array(np.arange(1_000_000))
    emails = pa.array(distinct).take(pa.array(np.arange(1_000_000) % 1_000))
    applied = apply_policy_detailed(batch(email=emails, n=rows), policy(email="pseudonymise"), KEYS)
    assert calls == 1_000
    assert applied.hashed == {"email": 1_000}
    assert applied.key_id == ID_A
    column = applied.batch.column("email")
    assert len(column) == 1_000_000
    for row in (0, 999, 1_000, 543_210, 999_999):
        assert column[row].as_py() == oracle(KEY_A, distinct[row % 1_000].encode())
    assert applied.batch.column("n").equals(rows)


# --- mask, drop, generalise ---------------------------------------------------------------------------


def test_mask_gives_a_fixed_token_for_text_and_null_for_numbers() -> None:
    out = apply_policy(
        batch(note=["call me", None, ""], income=[52000, None, 1]), policy(note="mask", income="mask"), None
    )
    assert out.column("note").to_pylist() == ["***", None, "***"]
    assert out.column("income").to_pylist() == [None, None, None]
    assert out.schema.field("income").type == pa.int64()
    assert out.schema.field("income").nullable


def test_drop_removes_the_column_and_keeps_the_order_of_the_others() -> None:
    out = apply_policy(batch(a=[1], ssn=["078-05-1120"], b=[2]), policy(ssn="drop"), None)
    assert out.schema.names == ["a", "b"]
    assert out.to_pydict() == {"a": [1], "b": [2]}


def floor_to_step(value: float | int | None, step: float) -> float | int | None:
    """The oracle: exact decimal arithmetic on the numbers as written."""
    if value is None or value != value:
        return value
    exact = Decimal(repr(value)) // Decimal(repr(step)) * Decimal(repr(step))
    if Decimal(repr(value)) < 0 and exact != Decimal(repr(value)):  # // truncates towards zero
        exact -= Decimal(repr(step))
    return type(value)(exact)


@pytest.mark.parametrize(
    ("values", "kind", "step"),
    [
        ([52_340, 999, -1, 0, None, 1_000], pa.int64(), 1_000),
        ([37, 40, 44, None], pa.int32(), 5),
        ([200, 255, 3], pa.uint8(), 100),
        ([52_340.5, -0.25, 0.74, None, math.nan], pa.float64(), 0.5),
        ([0.3, 0.7, 1.05, -0.05, 2.0], pa.float64(), 0.1),
        ([1.5, 2.75], pa.float32(), 0.25),
        ([1_234, 7], pa.int16(), 10.0),
    ],
)
def test_numbers_are_generalised_down_to_their_step(values: list[Any], kind: pa.DataType, step: float) -> None:
    out = apply_policy(
        batch(income=pa.array(values, kind)), policy(income={"action": "generalise", "step": step}), None
    )
    expected = [floor_to_step(v, step) for v in values]
    got = out.column("income").to_pylist()
    assert out.schema.field("income").type == kind
    assert [g if g == g else "nan" for g in got] == [e if e == e else "nan" for e in expected]


def test_generalising_out_of_the_column_type_range_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        apply_policy(batch(n=pa.array([-128], pa.int8())), policy(n={"action": "generalise", "step": 100}), None)
    assert caught.value.message == "masking policy: column 'n': rounding down to a step of 100 leaves the range of int8"


def test_dates_and_timestamps_are_truncated_to_their_month() -> None:
    dob = pa.array([date(1990, 5, 17), None, date(2001, 12, 31)], pa.date32())
    seen = pa.array([datetime(2026, 3, 9, 14, 5, tzinfo=UTC)], pa.timestamp("us", tz="UTC"))
    out = apply_policy(batch(dob=dob), policy(dob="generalise"), None)
    assert out.column("dob").to_pylist() == [date(1990, 5, 1), None, date(2001, 12, 1)]
    out = apply_policy(batch(seen_at=seen), policy(seen_at="generalise"), None)
    assert out.column("seen_at").to_pylist() == [datetime(2026, 3, 1, tzinfo=UTC)]
    assert out.schema.field("seen_at").type == pa.timestamp("us", tz="UTC")


def test_columns_the_policy_does_not_name_pass_through_and_absent_ones_are_fine() -> None:
    data = batch(age=[36, 41], email=["ada@example.org", "alan@example.org"])
    data = data.replace_schema_metadata({"model": "credit-risk"})
    applied = apply_policy_detailed(data, policy(email="drop", phone="pseudonymise", name="mask"), None)
    assert applied.batch.column("age").equals(data.column("age"))
    assert applied.batch.schema.metadata == {b"model": b"credit-risk"}
    assert dict(applied.actions) == {"email": "drop"}
    assert applied.key_id is None  # nothing present needed a key
    assert apply_policy(data, MaskingPolicy(), None).equals(data)


EMAIL_TEXT = st.emails().filter(lambda e: len(e) >= 6)


@settings(max_examples=50, deadline=None)
@given(emails=st.lists(st.one_of(st.none(), EMAIL_TEXT), min_size=1, max_size=30))
def test_raw_values_never_appear_in_the_output(emails: list[str | None]) -> None:
    names = [None if e is None else "Name " + e for e in emails]
    cards = ["4111 1111 1111 1111" for _ in emails]
    data = batch(email=emails, customer_name=names, card=cards, note=names, age=list(range(len(emails))))
    active = policy(email="pseudonymise", customer_name="pseudonymise", card="drop", note="mask")
    out = apply_policy(data, active, ROTATED)
    written = ipc_bytes(out)
    for raw in [*emails, *names, *cards]:
        if raw is not None:
            assert raw.encode() not in written
    assert out.column("email").to_pylist() == [None if e is None else oracle(KEY_B, e.encode()) for e in emails]


# --- the default policy -------------------------------------------------------------------------------

DEFAULTS = {
    "national_id": "drop",
    "payment_card": "drop",
    "email": "pseudonymise",
    "phone": "pseudonymise",
    "name": "pseudonymise",
    "address": "pseudonymise",
    "free_text": "pseudonymise",
    "ip_address": "pseudonymise",
    "date_of_birth": "generalise",
}


def test_every_pii_category_has_a_default_action() -> None:
    assert set(DEFAULTS) == set(PII_CATEGORIES)


@pytest.mark.parametrize("category", PII_CATEGORIES)
def test_the_default_action_per_pii_category(category: str) -> None:
    made = default_policy({"col": category, "plain": None})
    assert made.rule("col") == ColumnRule(DEFAULTS[category])  # type: ignore[arg-type]
    assert made.rule("group_col") == made.rule("col")  # the column logged as a group attribute too
    assert made.rule("plain") == ColumnRule("keep")
    assert "plain" not in made.rules


def test_the_default_policy_protects_a_typical_batch() -> None:
    made = default_policy({"email": "email", "ssn": "national_id", "dob": "date_of_birth", "income": None})
    data = batch(
        email=["ada@example.org"],
        ssn=["078-05-1120"],
        dob=pa.array([date(1990, 5, 17)], pa.date32()),
        income=[52000],
    )
    out = apply_policy(data, made, KEYS)
    assert out.to_pydict() == {
        "email": [oracle(KEY_A, b"ada@example.org")],
        "dob": [date(1990, 5, 1)],
        "income": [52000],
    }


def test_the_stricter_action_wins_when_datasets_disagree() -> None:
    def column(name: str, category: str | None) -> ColumnInfo:
        return ColumnInfo(name, 0, "string", category, "confidential", False, "name", "test")

    made = default_policy([column("contact", "email"), column("contact", "national_id"), column("dob", None)])
    assert made.rule("contact") == ColumnRule("drop")
    made = default_policy([column("contact", "national_id"), column("contact", "email")])
    assert made.rule("contact") == ColumnRule("drop")


def test_a_policy_can_be_overridden_and_round_trips() -> None:
    made = default_policy({"email": "email", "income": None}).override(
        {"email": "keep", "income": {"action": "generalise", "step": 1000}}
    )
    assert made.to_dict()["email"] == {"action": "keep"}
    assert made.to_dict()["income"] == {"action": "generalise", "step": 1000}
    assert MaskingPolicy.from_mapping(made.to_dict()) == made
    assert hash(MaskingPolicy.from_mapping(made.to_dict())) == hash(made)


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (
            {"email": "hash"},
            "masking policy: column 'email': unknown action 'hash' (known: keep, pseudonymise, mask, drop, generalise)",
        ),
        (
            {"email": {"step": 3}},
            "masking policy: column 'email': no action (one of keep, pseudonymise, mask, drop, generalise)",
        ),
        (
            {"email": {"action": "mask", "salt": 1}},
            "masking policy: column 'email': unknown field 'salt' (known: action, step)",
        ),
        ({"age": {"action": "generalise", "step": 0}}, "masking policy: column 'age': step 0 is not a positive number"),
        (
            {"age": {"action": "generalise", "step": "5"}},
            "masking policy: column 'age': step '5' is not a positive number",
        ),
        (
            {"age": {"action": "mask", "step": 5}},
            "masking policy: column 'age': a step applies only to 'generalise', not 'mask'",
        ),
        (
            {"decision_id": "pseudonymise"},
            "masking policy: column 'decision_id' is one the lake needs as it is; it can only be kept",
        ),
        ({"email": 3}, "masking policy: column 'email': expected an action or {action, step}, not int"),
    ],
)
def test_a_bad_declared_policy_names_the_column(declared: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        MaskingPolicy.from_mapping(declared)
    assert caught.value.message == message
    assert caught.value.code == "input.invalid"


def test_a_rule_built_in_code_is_checked_too() -> None:
    with pytest.raises(InvalidInput, match=r"column 'email': unknown action 'hash'"):
        MaskingPolicy({"email": ColumnRule("hash")})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("column", "declared", "message"),
    [
        (
            pa.array(["1990-05-17"]),
            "generalise",
            "masking policy: column 'c' holds string; 'generalise' applies to numbers (rounded down to a step) "
            "and dates (truncated to the month): log it as a number or a date, or pseudonymise, mask or drop it",
        ),
        (
            pa.array([52000]),
            "generalise",
            "masking policy: column 'c' holds numbers: say the step to round them down to "
            "(e.g. {action: generalise, step: 1000})",
        ),
        (
            pa.array([date(1990, 5, 17)]),
            {"action": "generalise", "step": 30},
            "masking policy: column 'c' holds dates, which are truncated to the month; remove the step",
        ),
        (
            pa.array([52000]),
            {"action": "generalise", "step": 2.5},
            "masking policy: column 'c' holds integers; step 2.5 must be whole",
        ),
        (
            pa.array([[1.0, 2.0]]),
            "pseudonymise",
            "masking policy: column 'c' holds list<item: double>; only text, numbers, booleans, dates and "
            "timestamps can be pseudonymised: drop or mask it instead",
        ),
    ],
)
def test_a_rule_that_does_not_fit_the_column_type_names_it(column: pa.Array, declared: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        apply_policy(batch(c=column), policy(c=declared), KEYS)
    assert caught.value.message == message


def test_pseudonymising_without_keys_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        apply_policy(batch(email=EMAILS), policy(email="pseudonymise"), None)
    assert caught.value.message.startswith("column 'email' is to be pseudonymised but no pseudonym keys were given")


def test_an_unknown_category_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"column 'x': unknown PII category 'shoe_size'"):
        default_policy({"x": "shoe_size"})


def test_keys_are_checked_and_never_shown() -> None:
    assert pseudonym_key_id(KEY_A) == ID_A
    assert KEY_A.hex() not in repr(ROTATED) and str(KEY_A) not in repr(ROTATED)
    assert repr(ROTATED) == f"PseudonymKeys(current={ID_B!r}, ids={sorted([ID_A, ID_B])!r})"
    with pytest.raises(ConfigError, match=r"must be 32 bytes, not 31"):
        PseudonymKeys("k", {"k": b"\x00" * 31})
    with pytest.raises(ConfigError, match=rf"pseudonym key 'k' has the id '{ID_A}' by its content"):
        PseudonymKeys("k", {"k": KEY_A})
    with pytest.raises(ConfigError, match=r"the current pseudonym key 'zz' is not among the keys"):
        PseudonymKeys("zz", {ID_A: KEY_A})
    with pytest.raises(NotFound) as caught:
        pseudonymise_value(KEYS, "x", "000000000000")
    assert caught.value.message == f"no pseudonym key '000000000000' (known: {ID_A})"
    with pytest.raises(InvalidInput, match=r"cannot pseudonymise None"):
        pseudonymise_value(KEYS, None)
    with pytest.raises(InvalidInput, match=r"cannot pseudonymise a list value"):
        pseudonymise_value(KEYS, [1])


@pytest.mark.parametrize("declared", ["pseudonymise", "mask", "generalise", "keep"])
def test_a_column_of_only_nulls_stays_null_under_every_action(declared: str) -> None:
    out = apply_policy(batch(email=pa.nulls(3)), policy(email=declared), KEYS)
    assert out.column("email").to_pylist() == [None, None, None]
