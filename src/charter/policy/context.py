"""The evaluation context: what a gate knows about a model version when it evaluates policies.

Versioned (:data:`CONTEXT_VERSION`) and declared here as code, field by field; the reference
``docs/policy-context.md`` is generated from these declarations (:mod:`charter.policy.contextdoc`).
A rule's CEL expression (or a Rego query's ``input``) sees exactly this tree.

Missing evidence is visible instead of silently true:

- a field may be absent when it is not known; reading it is an evaluation error, which fails
  the gate closed. Evidence that may not exist yet (``evaluation``, ``champion``) is an empty
  map ``{}`` until it does, so ``has(champion.metrics)`` tests for it;
- maps keyed by data (metrics, protected attributes) hold only what was measured, so a rule
  that reads a metric nobody computed errors rather than comparing against a default.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from charter.errors import PolicyContextInvalid
from charter.policy.schema import SAMPLE_TIME, Field, ListOf, MapOf, Record, Scalar, conform, sample
from charter.vocabulary import LEGAL_BASES, MODEL_DATA_ROLES, RISK_TIERS, TASKS

CONTEXT_VERSION = "charter.dev/context/v1"

DATASET_ROLES = MODEL_DATA_ROLES
#: The performance metrics Charter computes (the ``performance.*`` ids of charter.metrics, without the family).
PERFORMANCE_METRICS = (
    "accuracy",
    "brier",
    "ece",
    "f1",
    "log_loss",
    "mae",
    "mape",
    "pr_auc",
    "precision",
    "r2",
    "recall",
    "rmse",
    "roc_auc",
)
#: The fairness metrics Charter computes per protected attribute (the ``fairness.*`` ids).
FAIRNESS_METRICS = (
    "average_odds_difference",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "predictive_parity_difference",
    "theil_index",
)
SEVERITIES = ("low", "medium", "high", "critical")

_TEXT = Scalar("string")
_NUMBER = Scalar("number")
_INTEGER = Scalar("integer")
_BOOL = Scalar("bool")
_TIME = Scalar("timestamp")
_METRICS = MapOf("metric", _NUMBER, known=PERFORMANCE_METRICS)

_SUITE = Record(
    (
        Field("passed", _INTEGER, "Cases that behaved as expected.", 48),
        Field("failed", _INTEGER, "Cases that did not.", 2),
        Field("total", _INTEGER, "All cases of the suite.", 50),
        Field("pass_rate", _NUMBER, "passed / total (0 for an empty suite).", 0.96),
    )
)

SCHEMA = Record(
    (
        Field("context_version", _TEXT, "The version of this schema.", CONTEXT_VERSION),
        Field("now", _TIME, "When the gate evaluates (UTC); compare expiry times with it.", SAMPLE_TIME),
        Field("stage", _TEXT, "The alias the version is to move to.", "prod"),
        Field(
            "requester",
            _TEXT,
            "The principal asking for the promotion; their own approvals must not count.",
            "user:alice",
        ),
        Field(
            "model",
            Record(
                (
                    Field("name", _TEXT, "The registered model's name.", "credit-risk"),
                    Field("task", Scalar("string", choices=TASKS), "What the model does."),
                    Field("risk_tier", Scalar("string", choices=RISK_TIERS), "The declared risk tier.", "high"),
                    Field("owner", _TEXT, "The accountable person (empty when not declared).", "alice@example.com"),
                    Field("team", _TEXT, "The owning team (empty when not declared).", "credit"),
                    Field("tags", ListOf(_TEXT), "The model's tags.", ["lending"]),
                    Field("description", _TEXT, "What the model is (empty when not written)."),
                    Field("intended_use", _TEXT, "The documented intended use (empty when not written)."),
                    Field("limitations", _TEXT, "The documented limitations (empty when not written)."),
                )
            ),
            "The registered model.",
        ),
        Field(
            "version",
            Record(
                (
                    Field("number", _INTEGER, "The version number.", 3),
                    Field("ref", _TEXT, "model@number.", "credit-risk@3"),
                    Field("framework", _TEXT, "The model framework.", "sklearn"),
                    Field("artifact_sha256", _TEXT, "SHA-256 of the artifact, checked before loading.", "9f86d0…"),
                    Field("source_commit", _TEXT, "The commit the version was built from (empty if unknown)."),
                    Field("created_by", _TEXT, "Who registered the version.", "user:bob"),
                    Field("created_at", _TIME, "When it was registered."),
                    Field("has_input_schema", _BOOL, "Whether the version declares its input schema."),
                )
            ),
            "The model version being gated.",
        ),
        Field(
            "evaluation",
            Record(
                (
                    Field("dataset", _TEXT, "The benchmark dataset version evaluated on.", "holdout@2"),
                    Field("evaluated_at", _TIME, "When the evaluation ran."),
                    Field(
                        "source",
                        Scalar("string", choices=("charter", "sdk", "mlflow")),
                        "Who computed it: charter (`charter evaluate` ran the verified artifact on the dataset), "
                        "sdk (a training pipeline logged it) or mlflow (imported from a run).",
                        "charter",
                    ),
                    Field(
                        "on_training_data",
                        _BOOL,
                        "Whether the dataset is one the version was trained on (a lineage edge with role training): "
                        "such metrics say little about new data.",
                    ),
                    Field("metrics", _METRICS, "Performance metrics on the whole dataset."),
                    Field(
                        "slices",
                        MapOf("column", MapOf("value", _METRICS, examples=("18-25",)), examples=("age_band",)),
                        "Metrics per slice: slice column -> column value -> metrics.",
                    ),
                    Field(
                        "suites",
                        MapOf("suite", _SUITE, examples=("edge-cases",)),
                        "Edge-case suite results by suite name.",
                    ),
                ),
                evidence=True,
            ),
            "The version's evaluation on its benchmark dataset; {} when it has none.",
        ),
        Field(
            "champion",
            Record(
                (
                    Field("version", _INTEGER, "The champion's version number.", 2),
                    Field("ref", _TEXT, "model@number of the champion.", "credit-risk@2"),
                    Field("metrics", _METRICS, "The champion's metrics on the same dataset."),
                ),
                evidence=True,
            ),
            "The version the target alias points at now; {} when the alias is not set yet.",
        ),
        Field(
            "fairness",
            MapOf("attribute", MapOf("metric", _NUMBER, known=FAIRNESS_METRICS), examples=("sex",)),
            "Fairness metrics per protected attribute; {} when none were computed.",
        ),
        Field(
            "explanations",
            Record(
                (
                    Field("available", _BOOL, "Whether explanations were computed for the version."),
                    Field("method", _TEXT, "How (empty when not available).", "shap"),
                    Field("top_features", ListOf(_TEXT), "The most important features, most first.", ["income"]),
                    Field(
                        "protected_share",
                        Scalar("number", nullable=True),
                        "Share of total attribution on protected attributes and their proxies; null when not "
                        "available or the data's columns were never classified.",
                        0.02,
                    ),
                    Field(
                        "importance",
                        MapOf("feature", _NUMBER, examples=("income",)),
                        "Each feature's share of the mean absolute attribution (the shares sum to 1).",
                    ),
                    Field(
                        "protected_features",
                        ListOf(_TEXT),
                        "The features that are protected attributes or their proxies (absolute correlation of 0.5 "
                        "or more).",
                        ["age"],
                    ),
                    Field(
                        "protected_rank",
                        Scalar("integer", nullable=True),
                        "Rank (1 = most important) of the first protected feature or proxy; null when none is a "
                        "feature.",
                        7,
                    ),
                )
            ),
            "The version's global explanation (SHAP, at evaluation): docs/explainability.md.",
        ),
        Field(
            "datasets",
            ListOf(
                Record(
                    (
                        Field("ref", _TEXT, "dataset@version.", "applications@4"),
                        Field("role", Scalar("string", choices=DATASET_ROLES), "How the model used it."),
                        Field("certified", _BOOL, "Whether a certification is in force (granted, not revoked)."),
                        Field(
                            "certification_expires",
                            Scalar("timestamp", nullable=True),
                            "When that certification expires; null when not certified.",
                        ),
                        Field("pii_classified", _BOOL, "Whether every column has a PII classification."),
                        Field("legal_basis", Scalar("string", choices=LEGAL_BASES), "The GDPR legal basis."),
                        Field("licence", _TEXT, "The data licence (empty when unknown).", "internal"),
                    )
                )
            ),
            "The dataset versions linked to the model version by lineage.",
        ),
        Field(
            "approvals",
            ListOf(
                Record(
                    (
                        Field("principal", _TEXT, "Who decided.", "user:carol"),
                        Field("role", _TEXT, "The role they decided in.", "risk-officer"),
                        Field("decision", Scalar("string", choices=("approved", "rejected")), "Their decision."),
                        Field("at", _TIME, "When."),
                    )
                )
            ),
            "Decisions on the change request for this promotion.",
        ),
        Field(
            "incidents",
            ListOf(
                Record(
                    (
                        Field("id", _TEXT, "The incident id.", "inc-42"),
                        Field("severity", Scalar("string", choices=SEVERITIES), "Its severity.", "high"),
                        Field("monitor", _TEXT, "The monitor that opened it.", "drift"),
                        Field("opened_at", _TIME, "When it was opened."),
                    )
                )
            ),
            "The model's open incidents.",
        ),
        Field(
            "monitors",
            Record(
                (
                    Field("configured", _BOOL, "Whether monitors watch the model."),
                    Field(
                        "status",
                        Scalar("string", choices=("none", "ok", "warning", "alerting")),
                        "Their worst current status (none when not configured).",
                        "ok",
                    ),
                )
            ),
            "Monitoring of the model in production.",
        ),
        Field(
            "logging",
            Record((Field("enabled", _BOOL, "Whether the model's decisions are logged to the decision lake."),)),
            "Decision logging.",
        ),
        Field(
            "documentation",
            Record(
                (
                    Field("model_card", _BOOL, "Whether a model card exists for the version."),
                    Field("intended_use", _BOOL, "Whether the intended use is documented."),
                    Field("limitations", _BOOL, "Whether the limitations are documented."),
                    Field("risk_assessment", _BOOL, "Whether a risk assessment is recorded for the model."),
                )
            ),
            "Technical documentation.",
        ),
    )
)


def neutral_context() -> dict[str, Any]:
    """Nothing known beyond the model's identity: the base that policy test cases are merged over.

    The model is ``model``, a minimal-risk binary classifier without tags, at version 1; ``now`` is
    2026-01-01T00:00:00Z; ``stage`` and ``requester`` are empty; the lists are empty; every other
    record is ``{}``, so a rule that reads it errors (missing evidence) until a case provides it.
    """
    return {
        "context_version": CONTEXT_VERSION,
        "now": SAMPLE_TIME,
        "stage": "",
        "requester": "",
        "model": {"name": "model", "task": "binary_classification", "risk_tier": "minimal", "tags": []},
        "version": {"number": 1, "ref": "model@1"},
        "evaluation": {},
        "champion": {},
        "fairness": {},
        "explanations": {},
        "datasets": [],
        "approvals": [],
        "incidents": [],
        "monitors": {},
        "logging": {},
        "documentation": {},
    }


def sample_context() -> dict[str, Any]:
    """A fully populated context of the right types: every field, every known metric, one item per list."""
    value = sample(SCHEMA)
    assert isinstance(value, dict)
    return value


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base``: mappings merge key by key, anything else replaces.

    Lists are replaced whole, not appended to; a null replaces the value.
    """
    result = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = result.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            result[key] = merge(current, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def check_context(context: Mapping[str, Any], *, where: str = "context") -> dict[str, Any]:
    """The context in CEL-ready form (numbers as doubles, times as UTC datetimes), or PolicyContextInvalid.

    Every field must be declared and of its declared type; a field may be left out (reading it
    is then an evaluation error, which fails closed).
    """
    problems: list[str] = []
    value = conform(dict(context), SCHEMA, "", problems)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PolicyContextInvalid(f"{where}: {problems[0]}{more}")
    assert isinstance(value, dict)
    return value


def context_problems(context: Mapping[str, Any]) -> list[str]:
    """Every way ``context`` breaks the schema (empty when it conforms)."""
    problems: list[str] = []
    conform(dict(context), SCHEMA, "", problems)
    return problems
