"""Column classification: PII category by name and by values, protected attributes, sensitivity, reasons."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.errors import InvalidInput
from charter.services.classification import (
    PII_CATEGORIES,
    SENSITIVITIES,
    ColumnClass,
    classify_column,
    sensitivity_for,
)

VALID_CARDS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "4012888888881881"]


def none_reason(name: str, sampled: int) -> str:
    seen = f"its {sampled} sampled values" if sampled else "its values (none could be sampled)"
    return f"Neither the column name {name!r} nor {seen} suggest personal data or a protected attribute"


def luhn_check_digit(body: str) -> str:
    """Independent oracle: the digit that makes ``body + digit`` pass Luhn (doubling from the right of body)."""
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char) * (2 if i % 2 == 0 else 1)
        total += sum(divmod(digit, 10))
    return str(-total % 10)


def test_the_vocabularies_are_fixed() -> None:
    assert PII_CATEGORIES == (
        "name",
        "email",
        "phone",
        "national_id",
        "address",
        "date_of_birth",
        "ip_address",
        "payment_card",
        "free_text",
    )
    assert SENSITIVITIES == ("public", "internal", "confidential", "restricted")


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("name", "name"),
        ("first_name", "name"),
        ("lastName", "name"),
        ("last_name", "name"),
        ("surname", "name"),
        ("full_name", "name"),
        ("given_name", "name"),
        ("customer_name", "name"),
        ("applicantName", "name"),
        ("FIRSTNAME", "name"),
        ("email", "email"),
        ("customerEmail", "email"),
        ("e_mail", "email"),
        ("eMail", "email"),
        ("mail", "email"),
        ("email_address", "email"),
        ("phone", "phone"),
        ("mobile", "phone"),
        ("telephone_number", "phone"),
        ("tel", "phone"),
        ("homePhone", "phone"),
        ("ssn", "national_id"),
        ("SSN", "national_id"),
        ("national_id", "national_id"),
        ("passport_number", "national_id"),
        ("tax-id", "national_id"),
        ("social_security_number", "national_id"),
        ("nin", "national_id"),
        ("nhs_number", "national_id"),
        ("id_number", "national_id"),
        ("address", "address"),
        ("billing_address", "address"),
        ("street", "address"),
        ("postcode", "address"),
        ("zip", "address"),
        ("ZIPCode", "address"),
        ("zipcode", "address"),
        ("postal_code", "address"),
        ("address1", "address"),
        ("dob", "date_of_birth"),
        ("birth_date", "date_of_birth"),
        ("date-of-birth", "date_of_birth"),
        ("dateOfBirth", "date_of_birth"),
        ("birthdate", "date_of_birth"),
        ("birthday", "date_of_birth"),
        ("ip", "ip_address"),
        ("ip_address", "ip_address"),
        ("clientIPAddress", "ip_address"),
        ("card_number", "payment_card"),
        ("credit_card", "payment_card"),
        ("pan", "payment_card"),
        ("IBAN", "payment_card"),
        ("comment", "free_text"),
        ("comments", "free_text"),
        ("notes", "free_text"),
        ("note", "free_text"),
        ("free_text", "free_text"),
        ("message", "free_text"),
        ("remarks", "free_text"),
    ],
)
def test_the_name_gives_the_category(name: str, category: str) -> None:
    result = classify_column(name, [])
    assert (result.pii_category, result.classified_by) == (category, "name")
    assert result.sensitivity == sensitivity_for(category, result.protected)


@pytest.mark.parametrize(
    "name",
    [
        "product_name",
        "model_name",
        "file_name",
        "fileName",
        "filename",
        "company_name",
        "customer_id",
        "id",
        "amount",
        "created_at",
        "score",
        "zipper_size",
        "pipeline",
        "shipping_cost",
        "national_average",
    ],
)
def test_names_that_are_not_personal_data(name: str) -> None:
    assert classify_column(name, []) == ColumnClass(None, "internal", False, "none", none_reason(name, 0))


@pytest.mark.parametrize(
    ("name", "protected"),
    [
        ("sex", True),
        ("gender", True),
        ("applicant_gender", True),
        ("age", True),
        ("age_band", True),
        ("ageBand", True),
        ("race", True),
        ("ethnicity", True),
        ("ethnic_group", True),
        ("religion", True),
        ("disability", True),
        ("nationality", True),
        ("marital_status", True),
        ("pregnancy", True),
        ("sexual_orientation", True),
        ("dob", True),
        ("date_of_birth", True),
        ("page", False),
        ("usage", False),
        ("average", False),
        ("national_id", False),
        ("email", False),
        ("product_name", False),
    ],
)
def test_protected_attributes_by_name(name: str, protected: bool) -> None:
    result = classify_column(name, [])
    assert result.protected is protected
    assert result.sensitivity == sensitivity_for(result.pii_category, protected)
    if protected:
        assert result.classified_by == "name"


@pytest.mark.parametrize(
    ("values", "category"),
    [
        (
            ["ada@example.com", "b.smith+tag@mail.example.co.uk", "x_y@sub.example.org", "q@ex.io", "Z9@EXAMPLE.COM"],
            "email",
        ),
        (["+44 20 7946 0958", "+1 (555) 123-4567", "020 7946 0958", "555-123-4567", "(555) 123 4567"], "phone"),
        (["+441632960961", "07700900123", "+33 6 12 34 56 78", "0612345678", "+49-30-1234567"], "phone"),
        (["192.168.0.1", "10.0.0.1", "255.255.255.255", "0.0.0.0", "8.8.8.8"], "ip_address"),
        (VALID_CARDS, "payment_card"),
        (
            ["4111 1111 1111 1111", "5555-5555-5555-4444", "3782 822463 10005", "6011111111111117", "4012888888881881"],
            "payment_card",
        ),
        ([int(card) for card in VALID_CARDS], "payment_card"),
        (["078-05-1120", "123-45-6789", "219-09-9999", "457-55-5462", "001-01-0001"], "national_id"),
    ],
)
def test_the_values_give_the_category(values: list[object], category: str) -> None:
    result = classify_column("column_7", values)
    assert (result.pii_category, result.classified_by) == (category, "values")
    assert result.reason.startswith(f"100% of {len(values)} sampled values look like ")


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(list(range(1_000_000, 1_000_100)), id="integer-ids"),
        pytest.param([str(n) for n in range(5_551_234_567, 5_551_234_667)], id="ten-digit-ids-as-text"),
        pytest.param([f"{n:010d}" for n in range(100)], id="zero-padded-ids"),
        pytest.param([1234567.89, -7654321.5, 99999999.0, 12345678.25, 10000000.0], id="amounts"),
        pytest.param(["-1234567", "1234567.89", "-99999999.99", "0.12345678", "12345678"], id="amounts-as-text"),
        pytest.param(["2024-01-15", "1990-12-31", "15-01-2024", "31.12.1990", "2001-1-2"], id="dates"),
        pytest.param(["the quick brown fox", "lorem ipsum", "hello world", "x", "a b c d"], id="random-text"),
        pytest.param(["256.1.1.1", "1.2.3.256", "300.300.300.300", "1.2.3", "01.2.3.4"], id="not-ipv4"),
        pytest.param(
            ["4111111111111112", "5555555555554445", "378282246310006", "6011111111111118", "4012888888881882"],
            id="luhn-invalid",
        ),
        pytest.param(["@example.com", "ada@", "ada@example", "ada example.com", "ada@@example.com"], id="not-emails"),
        pytest.param([True, False, True, True, False], id="booleans"),
    ],
)
def test_values_that_are_not_personal_data(values: list[object]) -> None:
    result = classify_column("column_7", values)
    assert (result.pii_category, result.classified_by) == (None, "none")


def test_impossible_ssns_are_not_national_ids() -> None:
    """Area 000, 666 and 9xx, group 00 and serial 0000 are never issued (they still look like phone numbers)."""
    values = ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"]
    assert classify_column("column_7", values).pii_category == "phone"
    assert classify_column("column_7", ["123-45-6789"] * 5).pii_category == "national_id"


def test_one_changed_digit_breaks_a_valid_card() -> None:
    assert classify_column("x", ["4111111111111111"] * 5).pii_category == "payment_card"
    assert classify_column("x", ["4111111111111121"] * 5).pii_category is None


@given(card=st.sampled_from(VALID_CARDS), data=st.data())
def test_luhn_catches_every_single_digit_change(card: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(card) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != card[position]]))
    changed = card[:position] + digit + card[position + 1 :]
    assert classify_column("x", [changed] * 5).pii_category != "payment_card"


@given(body=st.text("0123456789", min_size=12, max_size=18))
def test_numbers_with_a_luhn_check_digit_are_cards(body: str) -> None:
    number = body + luhn_check_digit(body)
    assert classify_column("x", [number] * 5).pii_category == "payment_card"


@given(octets=st.lists(st.text("0123456789", min_size=1, max_size=4), min_size=4, max_size=4))
def test_ipv4_agrees_with_the_standard_library(octets: list[str]) -> None:
    text = ".".join(octets)
    try:
        ipaddress.IPv4Address(text)
        valid = True
    except ValueError:
        valid = False
    assert (classify_column("x", [text] * 5).pii_category == "ip_address") is valid


@pytest.mark.parametrize(
    ("matching", "others", "category"),
    [
        (4, 1, "email"),  # 80% of 5: passes
        (3, 2, None),  # 60% of 5: fails
        (4, 0, None),  # 100% but only 4 values
        (5, 0, "email"),
        (800, 200, "email"),  # exactly 80%
        (799, 201, None),  # 79.9%
    ],
)
def test_thresholds_at_the_boundary(matching: int, others: int, category: str | None) -> None:
    values = [f"user{i}@example.com" for i in range(matching)] + [f"not an email {i}" for i in range(others)]
    assert classify_column("column_7", values).pii_category == category


def test_share_is_rounded_down_in_the_reason() -> None:
    values = ["ada@example.com"] * 999 + ["nope"]
    assert classify_column("x", values).reason == "99% of 1000 sampled values look like email addresses"


def test_only_the_first_thousand_present_values_are_sampled() -> None:
    values: Sequence[object] = [None, float("nan"), ""] * 500 + ["ada@example.com"] * 1000 + ["nope"] * 5000
    result = classify_column("x", values)
    assert result.reason == "100% of 1000 sampled values look like email addresses"


@pytest.mark.parametrize(
    ("values", "category", "sampled"),
    [
        (["a@example.com"] * 4 + [None, float("nan"), "", "   ", None], None, 4),
        (["a@example.com"] * 5 + [None] * 100 + [float("nan")] * 100 + [""] * 100, "email", 5),
        (["  a@example.com  "] * 5, "email", 5),
        (["a@example.com"] * 5 + [Decimal("NaN"), float("inf")], "email", 6),
        ([None, float("nan"), "", " "], None, 0),
    ],
)
def test_none_nan_and_empty_values_are_ignored(values: list[object], category: str | None, sampled: int) -> None:
    result = classify_column("x", values)
    assert result.pii_category == category
    if category is None:
        assert result.reason == none_reason("x", sampled)
    else:
        assert f"of {sampled} sampled values" in result.reason


@pytest.mark.parametrize(
    "container",
    [list, tuple, pa.array],
    ids=["list", "tuple", "pyarrow"],
)
def test_every_accepted_input_type(container: Callable[[list[object]], Sequence[object]]) -> None:
    values: list[object] = [
        "ada@example.com",
        None,
        "bob@example.org",
        "cy@example.net",
        "di@example.com",
        "ed@example.com",
        "x",
    ]
    result = classify_column("contact", container(values))
    assert result.reason == "83% of 6 sampled values look like email addresses"


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        pytest.param(
            "column_7",
            ["a@example.com"] * 4 + ["x"],
            ColumnClass("email", "confidential", False, "values", "80% of 5 sampled values look like email addresses"),
            id="values-only",
        ),
        pytest.param(
            "phone",
            ["a@example.com"] * 5,
            ColumnClass(
                "email",
                "confidential",
                False,
                "values",
                "100% of 5 sampled values look like email addresses, "
                "although the column name 'phone' suggests a phone number",
            ),
            id="values-beat-a-different-name",
        ),
        pytest.param(
            "contact_email",
            ["a@example.com"] * 5,
            ColumnClass(
                "email",
                "confidential",
                False,
                "values",
                "100% of 5 sampled values look like email addresses, as the column name 'contact_email' suggests",
            ),
            id="values-agree-with-the-name",
        ),
        pytest.param(
            "customerEmail",
            ["redacted"] * 5,
            ColumnClass(
                "email",
                "confidential",
                False,
                "name",
                "The column name 'customerEmail' contains 'email', which suggests an email address",
            ),
            id="name-when-values-say-nothing",
        ),
        pytest.param(
            "ssn",
            [],
            ColumnClass(
                "national_id",
                "restricted",
                False,
                "name",
                "The column name 'ssn' contains 'ssn', which suggests a national identification number",
            ),
            id="restricted",
        ),
        pytest.param(
            "date_of_birth",
            ["1990-01-02"] * 5,
            ColumnClass(
                "date_of_birth",
                "confidential",
                True,
                "name",
                "The column name 'date_of_birth' contains 'date of birth', which suggests a date of birth, "
                "a protected attribute (a proxy for age)",
            ),
            id="date-of-birth-is-protected",
        ),
        pytest.param(
            "gender",
            ["F", "M", "F", "X", "M"],
            ColumnClass(
                None, "confidential", True, "name", "The column name 'gender' contains 'gender', a protected attribute"
            ),
            id="protected-without-pii",
        ),
        pytest.param(
            "ethnicity_notes",
            [],
            ColumnClass(
                "free_text",
                "confidential",
                True,
                "name",
                "The column name 'ethnicity_notes' contains 'notes', which suggests free text, "
                "and 'ethnicity' marks it as a protected attribute",
            ),
            id="pii-and-protected",
        ),
        pytest.param(
            "amount",
            [12.5, 99.0, 1234567.89, 0.01, 42.0],
            ColumnClass(None, "internal", False, "none", none_reason("amount", 5)),
            id="nothing",
        ),
    ],
)
def test_precedence_and_reasons(name: str, values: list[object], expected: ColumnClass) -> None:
    assert classify_column(name, values) == expected


def test_to_dict() -> None:
    assert classify_column("dob", []).to_dict() == {
        "pii_category": "date_of_birth",
        "sensitivity": "confidential",
        "protected": True,
        "classified_by": "name",
        "reason": "The column name 'dob' contains 'dob', which suggests a date of birth, "
        "a protected attribute (a proxy for age)",
    }


@pytest.mark.parametrize(
    ("category", "protected", "sensitivity"),
    [
        ("national_id", False, "restricted"),
        ("payment_card", True, "restricted"),
        *[
            (category, False, "confidential")
            for category in PII_CATEGORIES
            if category not in ("national_id", "payment_card")
        ],
        (None, True, "confidential"),
        (None, False, "internal"),
    ],
)
def test_sensitivity_for(category: str | None, protected: bool, sensitivity: str) -> None:
    assert sensitivity_for(category, protected) == sensitivity


def test_sensitivity_for_an_unknown_category() -> None:
    with pytest.raises(InvalidInput) as caught:
        sensitivity_for("shoe_size", False)
    assert caught.value.code == "input.invalid"
    assert str(caught.value) == (
        "unknown PII category 'shoe_size' (known: name, email, phone, national_id, address, date_of_birth, "
        "ip_address, payment_card, free_text)"
    )


PII_LOOKING = st.sampled_from(
    ["ada@example.com", "+44 20 7946 0958", "10.0.0.1", "4111111111111111", "078-05-1120", "2024-01-15", "0612345678"]
)
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(),
    st.text(),
    st.binary(max_size=8),
    PII_LOOKING,
)


@given(name=st.text(), values=st.lists(ANY_VALUE, max_size=30))
def test_classification_never_raises_and_is_consistent(name: str, values: list[object]) -> None:
    result = classify_column(name, values)
    assert result.pii_category is None or result.pii_category in PII_CATEGORIES
    assert result.sensitivity in SENSITIVITIES
    assert result.sensitivity == sensitivity_for(result.pii_category, result.protected)
    assert result.classified_by in ("name", "values", "none")
    assert (result.classified_by == "none") == (result.pii_category is None and not result.protected)
    assert result.reason and "\n" not in result.reason
