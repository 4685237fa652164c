"""Column classification at dataset registration: personal data (GDPR) and protected attributes (fairness).

Each column gets a PII category (or none), a sensitivity level and a protected-attribute flag, from two
kinds of evidence:

* the column *name*, split into lowercase tokens (``customerEmail`` -> ``customer email``,
  ``date-of-birth`` -> ``date of birth``) and matched against known words and phrases;
* a *sample of values*: the first 1,000 that are not None, NaN or empty, as stripped strings. A category
  applies when at least 80% of them match its pattern and at least 5 were sampled.

Values win over the name when they give a category; the reason then mentions a disagreeing name. A
``date_of_birth`` column is protected (a proxy for age). Users override the result elsewhere; this
module is pure: no I/O, no database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from charter.errors import InvalidInput

PII_CATEGORIES: tuple[str, ...] = (
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
SENSITIVITIES: tuple[str, ...] = ("public", "internal", "confidential", "restricted")

SAMPLE_SIZE = 1_000
MIN_VALUES = 5
MIN_SHARE_PERCENT = 80

# Name phrases per category, most specific category first: the longest matching phrase wins and ties
# go to the earlier category ("ip address" beats "address", "email address" is an email).
_NAME_PHRASES: dict[str, tuple[str, ...]] = {
    "national_id": ("ssn", "passport", "nin", "nino", "nationalid", "national id", "national insurance", "tax id",
                    "taxid", "social security", "nhs number", "nhs no", "id number", "idnumber", "driving licence",
                    "driver license", "drivers license"),
    "payment_card": ("card number", "cardnumber", "card no", "credit card", "creditcard", "debit card", "pan",
                     "iban"),
    "date_of_birth": ("dob", "birth date", "date of birth", "birthdate", "birthday", "birth year", "year of birth"),
    "ip_address": ("ip", "ip address", "ipaddress", "ipv4"),
    "email": ("email", "emails", "e mail", "mail", "emailaddress"),
    "phone": ("phone", "phones", "mobile", "telephone", "tel", "phonenumber", "cellphone", "fax"),
    "address": ("address", "addr", "street", "postcode", "post code", "zip", "zipcode", "postal code", "postalcode"),
    "name": ("surname", "firstname", "lastname", "fullname", "givenname", "familyname", "middlename", "maidenname",
             "forename", "forenames", "fname", "lname", "username"),
    "free_text": ("comment", "comments", "note", "notes", "free text", "freetext", "message", "messages", "remark",
                  "remarks"),
}  # fmt: skip
# "name" alone is a person's name only first or after one of these ("customer_name", not "product_name").
_PERSON_WORDS = frozenset((
    "first", "last", "middle", "full", "given", "family", "maiden", "customer", "client", "applicant", "patient",
    "person", "employee", "member", "user", "holder", "cardholder", "contact", "borrower", "student", "passenger",
    "beneficiary", "candidate", "subscriber", "recipient",
))  # fmt: skip
_PROTECTED_PHRASES = (
    "sex", "gender", "age", "age band", "ageband", "age group", "race", "ethnicity", "ethnic", "religion",
    "religious", "disability", "disabled", "nationality", "marital", "marital status", "maritalstatus",
    "pregnancy", "pregnant", "sexual orientation",
)  # fmt: skip
_NAME_MEANS = {
    "name": "a person's name", "email": "an email address", "phone": "a phone number",
    "national_id": "a national identification number", "address": "a postal address",
    "date_of_birth": "a date of birth", "ip_address": "an IP address",
    "payment_card": "a payment card or bank account number", "free_text": "free text",
}  # fmt: skip
_VALUES_LOOK_LIKE = {
    "national_id": "US social security numbers",
    "payment_card": "payment card numbers (valid Luhn checksum)",
    "ip_address": "IPv4 addresses",
    "email": "email addresses",
    "phone": "phone numbers",
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}", re.ASCII)
_SSN = re.compile(r"(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}", re.ASCII)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}", re.ASCII)
_CARD = re.compile(r"\d(?:[ -]?\d){12,18}", re.ASCII)
_PHONE = re.compile(r"\+?[\d(][\d ().-]*\d", re.ASCII)
_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.]\d{2,4}", re.ASCII)
_NUMBER = re.compile(r"\d+(?:\.\d+)?", re.ASCII)  # only ASCII digits count, in every pattern


@dataclass(frozen=True)
class ColumnClass:
    """How one column was classified, and why (one sentence in ``reason``)."""

    pii_category: str | None
    sensitivity: str
    protected: bool
    classified_by: str  # "name", "values" or "none"
    reason: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def sensitivity_for(pii_category: str | None, protected: bool) -> str:
    """The default sensitivity of a column with this PII category and protected flag."""
    if pii_category is not None and pii_category not in PII_CATEGORIES:
        raise InvalidInput(f"unknown PII category {pii_category!r} (known: {', '.join(PII_CATEGORIES)})")
    if pii_category in ("national_id", "payment_card"):
        return "restricted"
    if pii_category is not None or protected:
        return "confidential"
    return "internal"


def classify_column(name: str, values: Sequence[object]) -> ColumnClass:
    """Classify a column from its name and a sample of its values; never raises on odd values."""
    tokens = _name_tokens(name)
    by_name = _name_category(tokens)
    sample = _sample(values)
    by_values = _values_category(sample)
    protected_term = _longest_phrase(tokens, _PROTECTED_PHRASES)

    category: str | None
    if by_values is not None:
        category, matches = by_values
        classified_by = "values"
        share = matches * 100 // len(sample)  # rounded down: a passing share never reads as more than it is
        reason = f"{share}% of {len(sample)} sampled values look like {_VALUES_LOOK_LIKE[category]}"
        if by_name is not None and by_name[0] != category:
            reason += f", although the column name {name!r} suggests {_NAME_MEANS[by_name[0]]}"
        elif by_name is not None:
            reason += f", as the column name {name!r} suggests"
    elif by_name is not None:
        (category, phrase), classified_by = by_name, "name"
        reason = f"The column name {name!r} contains {phrase!r}, which suggests {_NAME_MEANS[category]}"
    elif protected_term is not None:
        category, classified_by = None, "name"
        reason = f"The column name {name!r} contains {protected_term!r}, a protected attribute"
    else:
        seen = f"its {len(sample)} sampled values" if sample else "its values (none could be sampled)"
        reason = f"Neither the column name {name!r} nor {seen} suggest personal data or a protected attribute"
        return ColumnClass(None, sensitivity_for(None, False), False, "none", reason)

    protected = protected_term is not None or category == "date_of_birth"
    if category is not None and protected_term is not None:
        reason += f", and {protected_term!r} marks it as a protected attribute"
    elif category == "date_of_birth":
        reason += ", a protected attribute (a proxy for age)"
    return ColumnClass(category, sensitivity_for(category, protected), protected, classified_by, reason)


def _name_tokens(name: str) -> list[str]:
    """Lowercase tokens of a column name, split at separators, camelCase humps and letter/digit changes."""
    tokens: list[str] = []
    for chunk in re.split(r"[\W_]+", name):
        start = 0
        for i in range(1, len(chunk)):
            before, here, after = chunk[i - 1], chunk[i], chunk[i + 1 : i + 2]
            if (
                (before.islower() and here.isupper())
                or (before.isupper() and here.isupper() and after.islower())
                or before.isdigit() != here.isdigit()
            ):
                tokens.append(chunk[start:i].lower())
                start = i
        if chunk:
            tokens.append(chunk[start:].lower())
    return tokens


def _longest_phrase(tokens: list[str], phrases: Iterable[str]) -> str | None:
    """The longest phrase (in words) found as consecutive tokens; the first listed among equals."""
    best: str | None = None
    best_length = 0
    for phrase in phrases:
        words = phrase.split()
        if len(words) > best_length and any(
            tokens[i : i + len(words)] == words for i in range(len(tokens) - len(words) + 1)
        ):
            best, best_length = phrase, len(words)
    return best


def _name_category(tokens: list[str]) -> tuple[str, str] | None:
    """The PII category the name suggests, with the phrase that suggested it."""
    found: tuple[str, str] | None = None
    found_length = 0
    for category, phrases in _NAME_PHRASES.items():
        phrase = _longest_phrase(tokens, phrases)
        if phrase is not None and len(phrase.split()) > found_length:
            found, found_length = (category, phrase), len(phrase.split())
    for i, token in enumerate(tokens):
        if token in ("name", "names") and (i == 0 or tokens[i - 1] in _PERSON_WORDS):
            phrase = " ".join(tokens[max(i - 1, 0) : i + 1])
            if len(phrase.split()) > found_length:
                found, found_length = ("name", phrase), len(phrase.split())
    return found


def _sample(values: Iterable[object]) -> list[str]:
    """The first SAMPLE_SIZE values that are not None, NaN or empty, as stripped strings."""
    sample: list[str] = []
    for value in values:
        if len(sample) >= SAMPLE_SIZE:
            break
        try:
            as_py = getattr(value, "as_py", None)  # pyarrow scalars
            if callable(as_py):
                value = as_py()
            if value is None or value != value:  # NaN (float, Decimal, ...) is the only value unequal to itself
                continue
            text = str(value).strip()
        except Exception:  # an odd object (ambiguous comparison, broken __str__) is skipped, not fatal
            continue
        if text:
            sample.append(text)
    return sample


def _values_category(sample: list[str]) -> tuple[str, int] | None:
    """The first category (most specific first) that at least 80% of at least 5 values match."""
    if len(sample) < MIN_VALUES:
        return None
    for category, matches in (
        ("national_id", _SSN.fullmatch),
        ("payment_card", _is_card_number),
        ("ip_address", _IPV4.fullmatch),
        ("email", _EMAIL.fullmatch),
        ("phone", _is_phone_number),
    ):
        count = sum(1 for text in sample if matches(text))
        if count * 100 >= MIN_SHARE_PERCENT * len(sample):
            return category, count
    return None


def _is_card_number(text: str) -> bool:
    """13 to 19 digits (spaces and dashes allowed between them) with a valid Luhn checksum."""
    if not _CARD.fullmatch(text):
        return False
    total = 0
    for position, digit in enumerate(reversed([int(c) for c in text if c.isdigit()])):
        doubled = digit * 2 if position % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _is_phone_number(text: str) -> bool:
    """7 to 15 digits written like a phone number, not like an ID, an amount or a date.

    Plain numbers ("12345678", "-1234.5") are IDs or amounts unless they start with "+" or a single "0"
    (a trunk prefix; "000123" is zero-padding). Other numbers need a separator: space, "-", "(" or ")".
    """
    if not _PHONE.fullmatch(text) or _DATE.fullmatch(text) or text.count("(") != text.count(")"):
        return False
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15:
        return False
    if _NUMBER.fullmatch(text):
        return text.startswith("0") and not text.startswith("00") and "." not in text
    return text.startswith("+") or any(c in text for c in " -()")
