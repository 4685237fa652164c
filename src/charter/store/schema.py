"""The control-plane schema, as SQLAlchemy Core tables.

Migrations under ``store/migrations/versions`` create these tables; a test
checks that the migrated database and this metadata agree. Every table here is
a governance table: only a ledger unit of work may write it (DESIGN invariant 1).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: A 64-bit sequence number. On SQLite it is declared INTEGER so that, as the primary key,
#: it is the rowid: the chain is stored in seq order and scanned without an index lookup.
Sequence = BigInteger().with_variant(Integer(), "sqlite")

#: Hex SHA-256 of nothing before the first entry: 64 zeros.
GENESIS_HASH = "0" * 64

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=False),
    Column("ts", String(27), nullable=False, index=True),
    # No index on actor or action: each index costs every append a page write (about a
    # quarter of the append rate); filtering a million entries by them scans in well under
    # a second. Subject (timelines) and time are indexed.
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", String(500), nullable=False, index=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

#: One row (id = 1): the sequence number and hash of the last entry. Writers lock
#: it first, so appends are serialised; verification compares it with the chain.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=False),
    Column("head_hash", String(64), nullable=False),
    Column("ts", String(27), nullable=False),
    Column("key_id", String(80), nullable=False),
    Column("signature", String(200), nullable=False),
)


# ---- registry (issue 3): models, versions, aliases -------------------------------------------
# Times are canonical UTC text (charter.clock.format_timestamp): one form on SQLite and PostgreSQL,
# and text order is time order.

models = Table(
    "models",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("owner", String(200), nullable=False),
    Column("team", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("task", String(40), nullable=False),
    Column("risk_tier", String(20), nullable=False, index=True),
    Column("intended_use", Text, nullable=False),
    Column("limitations", Text, nullable=False),
    Column("created_at", String(27), nullable=False),
    Column("updated_at", String(27), nullable=False),
    Index("ix_models_owner", "owner"),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", String(36), ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Index("ix_model_tags_tag", "tag"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("model_id", String(36), ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("artifact_uri", Text, nullable=False),
    Column("artifact_sha256", String(64), nullable=False, index=True),
    Column("artifact_size", BigInteger, nullable=False),
    Column("framework", String(50), nullable=False),
    Column("flavour", String(50), nullable=False),
    Column("input_schema", JSON, nullable=True),
    Column("output_schema", JSON, nullable=True),
    Column("source_commit", String(100), nullable=False),
    Column("source_url", Text, nullable=False),
    Column("creator", String(200), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("created_at", String(27), nullable=False),
    # The training run the version came from (e.g. imported from MLflow): id, metrics, params, inputs.
    Column("training_run", JSON, nullable=True),
    UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", String(36), ForeignKey("models.id"), primary_key=True),
    Column("name", String(50), primary_key=True),
    Column("version_id", String(36), ForeignKey("model_versions.id"), nullable=False, index=True),
    Column("updated_at", String(27), nullable=False),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("model_id", String(36), ForeignKey("models.id"), nullable=False),
    Column("alias", String(50), nullable=False),
    Column("from_version_id", String(36), ForeignKey("model_versions.id"), nullable=True),
    Column("to_version_id", String(36), ForeignKey("model_versions.id"), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("at", String(27), nullable=False),
    Column("ledger_seq", Sequence, nullable=False),
    Index("ix_alias_history_model_id_alias", "model_id", "alias"),
)

# ---- datasets (issue 3): provenance, versions, column classification, certification ---------

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("owner", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("source_uri", Text, nullable=False),
    Column("licence", String(200), nullable=False),
    Column("collected_from", String(27), nullable=False),
    Column("collected_to", String(27), nullable=False),
    Column("legal_basis", String(40), nullable=False),
    Column("created_at", String(27), nullable=False),
    Column("updated_at", String(27), nullable=False),
    Index("ix_datasets_owner", "owner"),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dataset_id", String(36), ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("uri", Text, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("format", String(20), nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("quality", JSON, nullable=False),
    # The reference profile the metric kernels (#4) compute once per version; null until then.
    Column("profile", JSON, nullable=True),
    Column("creator", String(200), nullable=False),
    Column("created_at", String(27), nullable=False),
    # Where the content came from beyond its URI: {"kind": "dvc", "path", "md5"}, {"kind": "mlflow", ...}.
    Column("origin", JSON, nullable=True),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_id_version"),
)

dataset_columns = Table(
    "dataset_columns",
    metadata,
    Column("version_id", String(36), ForeignKey("dataset_versions.id"), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("dtype", String(20), nullable=False),
    Column("pii_category", String(30), nullable=True),
    Column("sensitivity", String(20), nullable=False),
    Column("protected", Boolean, nullable=False),
    Column("classified_by", String(10), nullable=False),
    Column("reason", Text, nullable=False),
)

certifications = Table(
    "certifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("version_id", String(36), ForeignKey("dataset_versions.id"), nullable=False, index=True),
    Column("purpose", String(200), nullable=False),
    Column("certified_by", String(200), nullable=False),
    Column("certified_at", String(27), nullable=False),
    Column("expires_at", String(27), nullable=False),
    Column("note", Text, nullable=False),
    Column("revoked_at", String(27), nullable=True),
    Column("revoked_by", String(200), nullable=True),
)

# ---- lineage (issue 3): dataset version -> transform -> dataset or model version ---------------

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source_id", String(36), ForeignKey("dataset_versions.id"), nullable=False, index=True),
    # Exactly one target: a dataset version (derived data) or a model version (trained or evaluated on it).
    Column("target_dataset_id", String(36), ForeignKey("dataset_versions.id"), nullable=True, index=True),
    Column("target_model_id", String(36), ForeignKey("model_versions.id"), nullable=True, index=True),
    Column("role", String(20), nullable=False),
    Column("transform", String(200), nullable=False),
    Column("code_ref", Text, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("creator", String(200), nullable=False),
    Column("created_at", String(27), nullable=False),
)

lineage_features = Table(
    "lineage_features",
    metadata,
    Column("edge_id", String(36), ForeignKey("lineage_edges.id"), primary_key=True),
    Column("feature", String(200), primary_key=True),
    Column("source_column", String(200), nullable=False),
)

# ---- roles (issue 3, used by #6 approvals and #8 tokens) -----------------------------------------

role_grants = Table(
    "role_grants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("principal", String(200), nullable=False, index=True),
    Column("role", String(30), nullable=False),
    Column("granted_by", String(200), nullable=False),
    Column("granted_at", String(27), nullable=False),
    Column("reason", Text, nullable=False),
    Column("revoked_at", String(27), nullable=True),
    Column("revoked_by", String(200), nullable=True),
)

# ---- evaluations, policies, gates (issue 6) -------------------------------------------------------

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("version_id", String(36), ForeignKey("model_versions.id"), nullable=False, index=True),
    Column("dataset_version_id", String(36), ForeignKey("dataset_versions.id"), nullable=True),
    Column("dataset", String(200), nullable=False),  # the reference as given (a registered version, or a name)
    Column("source", String(20), nullable=False),  # charter (ran here), sdk (logged by a pipeline), mlflow
    Column("label", String(200), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("slices", JSON, nullable=False),
    Column("fairness", JSON, nullable=False),
    Column("suites", JSON, nullable=False),
    Column("explanations", JSON, nullable=True),  # the explainability slot (#9)
    Column("notes", JSON, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", String(27), nullable=False),
)

policies = Table(
    "policies",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),  # the YAML as given
    Column("sha256", String(64), nullable=False),
    Column("document", JSON, nullable=False),  # as parsed
    Column("origin", Text, nullable=False),  # file path or pack name it came from
    Column("active", Boolean, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", String(27), nullable=False),
    UniqueConstraint("name", "version", name="uq_policies_name_version"),
)

gate_results = Table(
    "gate_results",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("version_id", String(36), ForeignKey("model_versions.id"), nullable=False, index=True),
    Column("stage", String(50), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("policies", JSON, nullable=False),
    Column("verdicts", JSON, nullable=False),
    Column("context", JSON, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", String(27), nullable=False),
)

change_requests = Table(
    "change_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(30), nullable=False),  # promote, rollback, retrain, policy_change, dataset_certification
    Column("subject", String(200), nullable=False),  # what it changes, e.g. model:credit-risk
    Column("payload", JSON, nullable=False),  # the exact request
    Column("payload_sha256", String(64), nullable=False, index=True),  # approvals are bound to this hash
    Column("requester", String(200), nullable=False),
    Column("justification", Text, nullable=False),
    Column("required", JSON, nullable=False),  # {"count", "roles", "mode": any|all}
    Column("state", String(20), nullable=False, index=True),
    Column("break_glass", Boolean, nullable=False),
    Column("review_due_at", String(27), nullable=True),
    Column("reviewed_by", String(200), nullable=True),
    Column("gate_result_id", String(36), nullable=True),
    Column("expires_at", String(27), nullable=False),
    Column("created_at", String(27), nullable=False),
    Column("updated_at", String(27), nullable=False),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), ForeignKey("change_requests.id"), nullable=False, index=True),
    Column("principal", String(200), nullable=False),
    Column("role", String(30), nullable=False),
    Column("decision", String(10), nullable=False),  # approve, reject
    Column("justification", Text, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("at", String(27), nullable=False),
)

model_documents = Table(
    "model_documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("model_id", String(36), ForeignKey("models.id"), nullable=False, index=True),
    Column("version_id", String(36), ForeignKey("model_versions.id"), nullable=True),  # null: the whole model
    Column("kind", String(40), nullable=False),  # model_card, risk_assessment, technical_documentation, ...
    Column("title", Text, nullable=False),
    Column("uri", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", String(27), nullable=False),
)

# ---- monitoring and incidents (issue 7) ----------------------------------------------------------

monitors = Table(
    "monitors",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("model", String(100), nullable=False, index=True),
    Column("target", String(50), nullable=False),  # an alias (prod) or a version (@3)
    Column("kind", String(40), nullable=False),
    Column("spec", JSON, nullable=False),  # window, schedule, thresholds, features, group, slice, options
    Column("active", Boolean, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", String(27), nullable=False),
    Column("updated_at", String(27), nullable=False),
)

# Operational, not governance: when each monitor is due and which worker holds it. Workers
# write it outside ledger units of work (a lease is not a governance fact; the runs are).
monitor_schedule = Table(
    "monitor_schedule",
    metadata,
    Column("monitor_id", String(36), ForeignKey("monitors.id"), primary_key=True),
    Column("next_run_at", String(27), nullable=False, index=True),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_until", String(27), nullable=True),
)

monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("monitor_id", String(36), ForeignKey("monitors.id"), nullable=False),
    Column("window_start", String(27), nullable=True),
    Column("window_end", String(27), nullable=False),
    Column("status", String(20), nullable=False),  # ok, warning, critical, no_data, error
    Column("rows", BigInteger, nullable=False),
    Column("notes", JSON, nullable=False),
    Column("worker", String(200), nullable=False),
    Column("started_at", String(27), nullable=False),
    Column("finished_at", String(27), nullable=False),
    UniqueConstraint("monitor_id", "window_end", name="uq_monitor_runs_monitor_id_window_end"),
)

monitor_values = Table(
    "monitor_values",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("run_id", String(36), ForeignKey("monitor_runs.id"), nullable=False),
    Column("monitor_id", String(36), nullable=False),
    Column("window_end", String(27), nullable=False),
    Column("metric", String(200), nullable=False),
    Column("value", Float, nullable=False),
    Column("status", String(20), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Index("ix_monitor_values_monitor_id_window_end", "monitor_id", "window_end"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", Integer, nullable=False, unique=True),  # INC-<number>, for people
    Column("model", String(100), nullable=False),
    Column("monitor_id", String(36), nullable=True),
    Column("dedup_key", String(300), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("assignee", String(200), nullable=True),
    Column("runbook", Text, nullable=False),
    Column("escalation_policy", String(100), nullable=True),
    Column("escalation_level", Integer, nullable=False),
    Column("next_escalation_at", String(27), nullable=True),
    Column("alerts", Integer, nullable=False),
    Column("details", JSON, nullable=False),
    Column("opened_at", String(27), nullable=False),
    Column("updated_at", String(27), nullable=False),
    Column("resolved_at", String(27), nullable=True),
)

escalation_policies = Table(
    "escalation_policies",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("levels", JSON, nullable=False),  # [{"targets": [...], "after": seconds}, ...]
    Column("created_by", String(200), nullable=False),
    Column("updated_at", String(27), nullable=False),
)

notification_targets = Table(
    "notification_targets",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("config", JSON, nullable=False),  # secrets by reference: {"secret_env": "VAR"}, never the secret
    Column("created_by", String(200), nullable=False),
    Column("updated_at", String(27), nullable=False),
)

# ---- the server (issue 8) ------------------------------------------------------------------------

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("principal", String(200), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the secret; the secret is not kept
    Column("created_by", String(200), nullable=False),
    Column("created_at", String(27), nullable=False),
    Column("expires_at", String(27), nullable=True),
    Column("revoked_at", String(27), nullable=True),
)

#: Tables that only ledger units of work may write; the rest hold operational state.
OPERATIONAL_TABLES = frozenset({"monitor_schedule"})
GOVERNED_TABLES = frozenset(metadata.tables) - OPERATIONAL_TABLES
