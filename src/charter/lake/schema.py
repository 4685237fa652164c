"""The columns of the decision lake: what every decision and every outcome row holds.

One Delta table of decisions per model (``lake/<model>/decisions``) and a sibling table of
outcomes (``lake/<model>/outcomes``) joined on ``decision_id``. A decision row holds the
fixed columns below, ``prediction`` (its type is the model's: number, integer, boolean or
text), one column per input feature under the feature's own name, and one column per
group attribute named ``group_<attribute>``. Two columns are the lake's own and are added
when a batch is written: ``_batch`` (the write it came in, the unit the ledger anchors) and
``_row_hash`` (SHA-256 of the row's canonical encoding).

Feature and attribute names may not start with ``_`` and may not be one of the fixed names,
so ``SELECT age FROM decisions`` works in any engine that reads Delta.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from charter.errors import InvalidInput

DECISION_ID = "decision_id"
TS = "ts"
PREDICTION = "prediction"
SUBJECT_ID = "subject_id"
LABEL = "label"
BATCH = "_batch"
ROW_HASH = "_row_hash"
GROUP_PREFIX = "group_"

TIMESTAMP = pa.timestamp("us", tz="UTC")

#: Every decision row has these (besides ``prediction``, features and group attributes).
DECISION_FIELDS: tuple[pa.Field, ...] = (
    pa.field(DECISION_ID, pa.string(), nullable=False),  # UUIDv7 text, returned to the caller
    pa.field(TS, TIMESTAMP, nullable=False),  # when the prediction was made
    pa.field("model_version", pa.int64()),  # the version number the caller named or the alias resolved to
    pa.field("alias", pa.string()),  # the alias that served it (prod, shadow), when one did
    pa.field("registered", pa.bool_(), nullable=False),  # False: a version the registry does not know
    pa.field("latency_ms", pa.float64()),  # the model call's own time
    pa.field("subject_id", pa.string()),  # whose decision it is, for erasure requests
    pa.field("trace_id", pa.string()),  # the active OpenTelemetry trace, if any
    pa.field("score", pa.float64()),  # a binary classifier's positive-class probability
    pa.field("scores", pa.list_(pa.float64())),  # every class's probability, for multiclass models
)

#: Every outcome row has these and ``label`` (ground truth, of the prediction's type).
OUTCOME_FIELDS: tuple[pa.Field, ...] = (
    pa.field(DECISION_ID, pa.string(), nullable=False),
    pa.field(TS, TIMESTAMP, nullable=False),  # when the outcome was logged
)

#: The lake's own columns, added on write.
LAKE_FIELDS: tuple[pa.Field, ...] = (
    pa.field(BATCH, pa.string(), nullable=False),
    pa.field(ROW_HASH, pa.binary(32), nullable=False),
)

RESERVED: frozenset[str] = frozenset(
    {f.name for f in DECISION_FIELDS} | {f.name for f in LAKE_FIELDS} | {PREDICTION, LABEL}
)


def group_column(attribute: str) -> str:
    """The lake column of a group (protected) attribute: ``group_<attribute>``."""
    return GROUP_PREFIX + attribute


def check_names(names: Iterable[str], *, what: str) -> None:
    """Refuse feature or attribute names the lake cannot hold, naming each one and why."""
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{what}: {name!r} is not a column name (a non-empty string)")
        if name.startswith("_"):
            raise InvalidInput(f"{what}: {name!r} starts with '_', which the lake keeps for its own columns")
        if name in RESERVED:
            raise InvalidInput(
                f"{what}: {name!r} is one of the decision columns ({', '.join(sorted(RESERVED))}); rename it"
            )
