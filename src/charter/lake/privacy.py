"""Privacy of logged decisions: what happens to personal data before a batch reaches the lake.

A :class:`MaskingPolicy` names, per column, one action:

============== ==========================================================================
action         what the lake receives
============== ==========================================================================
``keep``       the raw value (the default for every column the policy does not name)
``pseudonymise`` ``"p1:<key id>:<hex>"``: HMAC-SHA256 of the value's text under the home's
               current pseudonym key. Deterministic, so rows of one subject still join.
``mask``       ``"***"`` for text, null for every other type; nulls stay null
``drop``       nothing: the column is removed
``generalise`` numbers rounded down to a multiple of the rule's ``step``; dates and
               timestamps truncated to the first instant of their month
============== ==========================================================================

:func:`default_policy` derives a policy from the PII categories of the model's dataset columns
(issue #3); :func:`apply_policy` applies one to an Arrow batch. The module is pure: no I/O, no
database. Keys are loaded from the home by :mod:`charter.services.pseudonym_keys`.

Pseudonymising hashes each *distinct* value once (``dictionary_encode``), so a column of a million
rows holding a thousand e-mail addresses costs a thousand HMACs; everything else is vectorised.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, Protocol, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import ConfigError, InvalidInput, NotFound
from charter.lake.schema import DECISION_FIELDS, GROUP_PREFIX, LAKE_FIELDS, OUTCOME_FIELDS

Action = Literal["keep", "pseudonymise", "mask", "drop", "generalise"]
ACTIONS: tuple[Action, ...] = get_args(Action)

#: The strictest action first: where two datasets classify one column differently, the stricter wins.
STRICTNESS: tuple[Action, ...] = ("drop", "mask", "pseudonymise", "generalise", "keep")

#: The default action per PII category (``date_of_birth`` is generalised to its month).
DEFAULT_ACTIONS: Mapping[str, Action] = MappingProxyType({
    "national_id": "drop",
    "payment_card": "drop",
    "email": "pseudonymise",
    "phone": "pseudonymise",
    "name": "pseudonymise",
    "address": "pseudonymise",
    "free_text": "pseudonymise",
    "ip_address": "pseudonymise",
    "date_of_birth": "generalise",
})  # fmt: skip

MASK_TOKEN = "***"
TOKEN_VERSION = "p1"
KEY_BYTES = 32
KEY_ID_LENGTH = 12

#: Columns the lake itself relies on (never null): a policy may only keep them.
LAKE_OWN_COLUMNS: frozenset[str] = frozenset(
    f.name for f in (*DECISION_FIELDS, *OUTCOME_FIELDS, *LAKE_FIELDS) if not f.nullable
)


@dataclass(frozen=True)
class ColumnRule:
    """What happens to one column; ``step`` (a positive number) only for ``generalise`` of numbers."""

    action: Action
    step: int | float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action} if self.step is None else {"action": self.action, "step": self.step}


@dataclass(frozen=True)
class MaskingPolicy:
    """Per column, one :class:`ColumnRule`; columns it does not name are kept as they are."""

    rules: Mapping[str, ColumnRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checked: dict[str, ColumnRule] = {}
        for name, rule in dict(self.rules).items():
            _check_rule(name, rule)
            checked[name] = rule
        object.__setattr__(self, "rules", MappingProxyType(checked))

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.rules.items())))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *, where: str = "masking policy") -> MaskingPolicy:
        """A policy as declared in a document: ``{column: action}`` or ``{column: {action:, step:}}``."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{where}: expected a mapping of column names to actions, not {type(data).__name__}")
        return cls({str(name): _parse_rule(str(name), value, where) for name, value in data.items()})

    def rule(self, column: str) -> ColumnRule:
        return self.rules.get(column, KEEP)

    def override(self, changes: Mapping[str, ColumnRule | str | Mapping[str, object]]) -> MaskingPolicy:
        """A new policy with ``changes`` replacing the rules of the columns they name."""
        parsed = {name: _parse_rule(name, value, "masking policy override") for name, value in changes.items()}
        return MaskingPolicy({**self.rules, **parsed})

    def check(self, schema: pa.Schema) -> None:
        """Refuse, naming the column, a rule that cannot apply to the column's type in ``schema``."""
        for name, rule in self.rules.items():
            index = schema.get_field_index(name)
            if index >= 0:
                _check_type(name, rule, schema.field(index).type)

    def to_dict(self) -> dict[str, dict[str, object]]:
        return {name: rule.to_dict() for name, rule in sorted(self.rules.items())}


KEEP = ColumnRule("keep")


@dataclass(frozen=True, repr=False)
class PseudonymKeys:
    """The home's pseudonym keys by key id, and which one is current. Its repr never shows a key."""

    current: str
    keys: Mapping[str, bytes]

    def __post_init__(self) -> None:
        for kid, key in self.keys.items():
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                size = len(key) if isinstance(key, bytes) else type(key).__name__
                raise ConfigError(f"pseudonym key {kid!r} must be {KEY_BYTES} bytes, not {size}")
            if pseudonym_key_id(key) != kid:
                raise ConfigError(f"pseudonym key {kid!r} has the id {pseudonym_key_id(key)!r} by its content")
        if self.current not in self.keys:
            raise ConfigError(f"the current pseudonym key {self.current!r} is not among the keys ({self._listed()})")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    def __repr__(self) -> str:
        return f"PseudonymKeys(current={self.current!r}, ids={sorted(self.keys)!r})"

    def __hash__(self) -> int:
        return hash((self.current, tuple(sorted(self.keys))))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self.keys))

    def key(self, key_id: str | None = None) -> tuple[str, bytes]:
        """``(key id, key)`` of ``key_id``, or of the current key."""
        kid = self.current if key_id is None else key_id
        if kid not in self.keys:
            raise NotFound(f"no pseudonym key {kid!r} (known: {self._listed()})")
        return kid, self.keys[kid]

    def _listed(self) -> str:
        return ", ".join(sorted(self.keys)) or "none"


@dataclass(frozen=True)
class AppliedPolicy:
    """A protected batch, with what was done to it (for lake commit info and tests)."""

    batch: pa.RecordBatch
    actions: Mapping[str, Action]  # every column of the input that was not kept, by action
    hashed: Mapping[str, int]  # distinct values hashed, per pseudonymised column
    key_id: str | None  # the key tokens were made with, when any column was pseudonymised


class Classified(Protocol):
    """A classified dataset column (``charter.services.datasets.ColumnInfo`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def pii_category(self) -> str | None: ...


def pseudonym_key_id(key: bytes) -> str:
    """The id of a pseudonym key: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:KEY_ID_LENGTH]


def value_bytes(value: object) -> bytes:
    """The bytes a value is pseudonymised as: its text in UTF-8, the same for a lake cell and a lookup.

    Text as is; integers in decimal; booleans ``true``/``false``; floats as Python's shortest
    round-trip text; dates and timestamps in ISO 8601; bytes as they are.
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int | float | Decimal):
        return repr(value).encode() if isinstance(value, float) else str(value).encode()
    if isinstance(value, date | datetime):
        return value.isoformat().encode()
    raise InvalidInput(f"cannot pseudonymise a {type(value).__name__} value; give text, a number or a date")


def pseudonymise_value(keys: PseudonymKeys, value: object, key_id: str | None = None) -> str:
    """The token of ``value`` under ``key_id`` (default: the current key), as the lake holds it."""
    if value is None:
        raise InvalidInput("cannot pseudonymise None: null values stay null in the lake")
    kid, key = keys.key(key_id)
    return _token(kid, key, value_bytes(value))


def tokens_for(keys: PseudonymKeys, value: object) -> dict[str, str]:
    """The token of ``value`` under every key, by key id: to find a subject's rows across rotations."""
    return {kid: pseudonymise_value(keys, value, kid) for kid in keys.ids}


def default_policy(classifications: Mapping[str, str | None] | Iterable[Classified]) -> MaskingPolicy:
    """The policy the PII categories of the model's dataset columns call for.

    ``classifications`` maps column names to categories, or lists classified columns (of one or
    several datasets; where two disagree, the stricter action wins). Each rule also covers the
    column's group-attribute form (``group_<name>``). Columns of no PII category are kept.
    """
    pairs = (
        list(classifications.items())
        if isinstance(classifications, Mapping)
        else [(c.name, c.pii_category) for c in classifications]
    )
    rules: dict[str, ColumnRule] = {}
    for name, category in pairs:
        if category is None:
            continue
        if category not in DEFAULT_ACTIONS:
            raise InvalidInput(
                f"column {name!r}: unknown PII category {category!r} (known: {', '.join(DEFAULT_ACTIONS)})"
            )
        rule = ColumnRule(DEFAULT_ACTIONS[category])
        for column in (name, GROUP_PREFIX + name):
            held = rules.get(column)
            if held is None or STRICTNESS.index(rule.action) < STRICTNESS.index(held.action):
                rules[column] = rule
    return MaskingPolicy(rules)


def apply_policy(batch: pa.RecordBatch, policy: MaskingPolicy, keys: PseudonymKeys | None) -> pa.RecordBatch:
    """``batch`` with the policy applied; see :func:`apply_policy_detailed`."""
    return apply_policy_detailed(batch, policy, keys).batch


def apply_policy_detailed(batch: pa.RecordBatch, policy: MaskingPolicy, keys: PseudonymKeys | None) -> AppliedPolicy:
    """Apply ``policy`` to ``batch``; columns it does not name pass through unchanged.

    Raises :class:`InvalidInput` naming the column when a rule does not fit the column's type, and
    :class:`ConfigError` when a column is to be pseudonymised but no keys were given. The batch's
    column order is kept (dropped columns leave no gap).
    """
    policy.check(batch.schema)
    pseudonymised = [n for n in batch.schema.names if policy.rule(n).action == "pseudonymise"]
    if pseudonymised and keys is None:
        raise ConfigError(
            f"column {pseudonymised[0]!r} is to be pseudonymised but no pseudonym keys were given; "
            "load them with charter.services.pseudonym_keys.ensure_keys"
        )
    key_id, key = keys.key() if keys is not None and pseudonymised else (None, b"")
    fields: list[pa.Field] = []
    arrays: list[pa.Array] = []
    actions: dict[str, Action] = {}
    hashed: dict[str, int] = {}
    for position, schema_field in enumerate(batch.schema):
        rule = policy.rule(schema_field.name)
        column = batch.column(position)
        if rule.action != "keep":
            actions[schema_field.name] = rule.action
        if rule.action == "drop":
            continue
        if rule.action == "keep":
            fields.append(schema_field)
            arrays.append(column)
            continue
        if rule.action == "pseudonymise":
            assert key_id is not None
            column, hashed[schema_field.name] = _pseudonymise(column, key_id, key)
        elif rule.action == "mask":
            column = _mask(column)
        else:
            column = _generalise(column, rule.step, schema_field.name)
        nullable = schema_field.nullable or column.null_count > 0
        fields.append(pa.field(schema_field.name, column.type, nullable=nullable, metadata=schema_field.metadata))
        arrays.append(column)
    schema = pa.schema(fields, metadata=batch.schema.metadata)
    out = pa.RecordBatch.from_arrays(arrays, schema=schema)
    return AppliedPolicy(out, MappingProxyType(actions), MappingProxyType(hashed), key_id)


def _token(key_id: str, key: bytes, data: bytes) -> str:
    return f"{TOKEN_VERSION}:{key_id}:{hmac.digest(key, data, 'sha256').hex()}"


def _pseudonymise(column: pa.Array, key_id: str, key: bytes) -> tuple[pa.Array, int]:
    """Tokens for a column, one HMAC per distinct value; nulls stay null."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    distinct = encoded.dictionary.to_pylist()
    tokens = [None if value is None else _token(key_id, key, value_bytes(value)) for value in distinct]
    hashed = sum(value is not None for value in distinct)
    return pc.take(pa.array(tokens, pa.string()), encoded.indices), hashed


def _mask(column: pa.Array) -> pa.Array:
    value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        return pc.if_else(column.is_valid(), pa.scalar(MASK_TOKEN, pa.string()), pa.scalar(None, pa.string()))
    return pa.nulls(len(column), value_type)


def _generalise(column: pa.Array, step: int | float | None, column_name: str) -> pa.Array:
    kind = column.type
    if pa.types.is_null(kind):
        return column
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return pc.floor_temporal(column, unit="month")
    assert step is not None  # the policy was checked against the schema
    missing = pc.invert(column.is_valid()).to_numpy(zero_copy_only=False)
    values = pc.fill_null(column, 0).to_numpy(zero_copy_only=False)
    rounded: Any
    if pa.types.is_integer(kind):
        wide = values if pa.types.is_uint64(kind) else values.astype(np.int64)
        rounded = np.floor_divide(wide, int(step)) * int(step)
    else:
        # Quotients within 1e-9 of a whole number count as whole (0.3 / 0.1 is 2.9999999999999996 in binary),
        # and results are rounded to the step's decimals, so a step of 0.1 gives 0.3, not 0.30000000000000004.
        quotient = np.floor(np.round(values.astype(np.float64) / step, 9))
        rounded = np.round(quotient * step, _decimals(step))
    try:
        return pa.array(rounded, type=kind, mask=missing)
    except (pa.ArrowInvalid, OverflowError):
        raise InvalidInput(
            f"masking policy: column {column_name!r}: rounding down to a step of {step} leaves the range of {kind}"
        ) from None


def _decimals(step: int | float) -> int:
    """How many decimals a step has (``0.25`` -> 2, ``1000`` -> 0), at most 15."""
    exponent = Decimal(repr(step)).as_tuple().exponent
    return min(-exponent, 15) if isinstance(exponent, int) and exponent < 0 else 0


def _check_rule(name: object, rule: object) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"masking policy: {name!r} is not a column name (a non-empty string)")
    if not isinstance(rule, ColumnRule):
        raise InvalidInput(f"masking policy: column {name!r}: the rule must be a ColumnRule, not {type(rule).__name__}")
    if rule.action not in ACTIONS:
        raise InvalidInput(
            f"masking policy: column {name!r}: unknown action {rule.action!r} (known: {', '.join(ACTIONS)})"
        )
    if name in LAKE_OWN_COLUMNS and rule.action != "keep":
        raise InvalidInput(f"masking policy: column {name!r} is one the lake needs as it is; it can only be kept")
    step = rule.step
    if step is None:
        return
    if rule.action != "generalise":
        raise InvalidInput(f"masking policy: column {name!r}: a step applies only to 'generalise', not {rule.action!r}")
    if isinstance(step, bool) or not isinstance(step, int | float) or not math.isfinite(step) or step <= 0:
        raise InvalidInput(f"masking policy: column {name!r}: step {step!r} is not a positive number")


def _check_type(name: str, rule: ColumnRule, kind: pa.DataType) -> None:
    value_type = kind.value_type if pa.types.is_dictionary(kind) else kind
    if rule.action == "pseudonymise" and not _hashable_type(value_type):
        raise InvalidInput(
            f"masking policy: column {name!r} holds {value_type}; only text, numbers, booleans, dates and "
            "timestamps can be pseudonymised: drop or mask it instead"
        )
    if rule.action != "generalise":
        return
    if pa.types.is_null(kind):
        return
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        if rule.step is not None:
            raise InvalidInput(
                f"masking policy: column {name!r} holds dates, which are truncated to the month; remove the step"
            )
        return
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        if rule.step is None:
            raise InvalidInput(
                f"masking policy: column {name!r} holds numbers: say the step to round them down to "
                "(e.g. {action: generalise, step: 1000})"
            )
        if pa.types.is_integer(kind) and float(rule.step) != int(rule.step):
            raise InvalidInput(f"masking policy: column {name!r} holds integers; step {rule.step!r} must be whole")
        return
    raise InvalidInput(
        f"masking policy: column {name!r} holds {kind}; 'generalise' applies to numbers (rounded down to a step) "
        "and dates (truncated to the month): log it as a number or a date, or pseudonymise, mask or drop it"
    )


def _hashable_type(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_null(kind)  # a column of nothing but nulls: stays all nulls
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_date(kind)
        or pa.types.is_timestamp(kind)
    )


def _parse_rule(name: str, value: object, where: str) -> ColumnRule:
    if isinstance(value, ColumnRule):
        return value
    if isinstance(value, str):
        return ColumnRule(_parse_action(name, value, where))
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - {"action", "step"})
        if unknown:
            raise InvalidInput(f"{where}: column {name!r}: unknown field {unknown[0]!r} (known: action, step)")
        if "action" not in value:
            raise InvalidInput(f"{where}: column {name!r}: no action (one of {', '.join(ACTIONS)})")
        step = value.get("step")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int | float)):
            raise InvalidInput(f"{where}: column {name!r}: step {step!r} is not a positive number")
        return ColumnRule(_parse_action(name, value["action"], where), step)
    raise InvalidInput(f"{where}: column {name!r}: expected an action or {{action, step}}, not {type(value).__name__}")


def _parse_action(name: str, value: object, where: str) -> Action:
    for action in ACTIONS:
        if value == action:
            return action
    raise InvalidInput(f"{where}: column {name!r}: unknown action {value!r} (known: {', '.join(ACTIONS)})")
