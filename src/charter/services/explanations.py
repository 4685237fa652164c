"""Explanations: what drives a model version (global), one logged decision (local), and the reference for drift.

- :func:`explain_evaluation` runs inside ``evaluate``: SHAP values of a seeded sample of the
  evaluation rows, summarised by :mod:`charter.metrics.importance` into the version's importance
  profile (mean |SHAP| per feature, shares, top features) and the share of importance on
  protected attributes and their proxies. It is stored in ``Evaluation.explanations``; gates
  read it (``explanations.*``) and attribution-drift monitors compare windows with it.
- :func:`explain_decision` explains one decision of the decision lake with the verified artifact
  of the version that made it (a changed artifact is refused, and the refusal recorded), against
  background rows from the version's evaluation data, its training data, or its own logged
  decisions, in that order.
- :func:`reference_importance` is the importance profile a monitor compares with.

The CLI (``charter explain``), the REST API and the dashboard all call :func:`explain_decision`.
docs/explainability.md describes methods, limits and fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import CharterError, InvalidInput, NotFound
from charter.integrations.explainers import Attributions, FloatArray, Limits, Method
from charter.metrics.importance import (
    find_proxies,
    first_protected_rank,
    importance_shares,
    mean_abs_attribution,
    protected_share,
    top_features,
)
from charter.services.context import Context

if TYPE_CHECKING:
    from charter.integrations.frameworks import ModelAdapter
    from charter.services.datasets import DatasetVersion
    from charter.services.registry import ModelVersion

#: Features listed in ``top_features`` (the importance map holds every feature).
TOP_K = 10
#: Rows the proxy correlations are computed on (a seeded sample of larger data).
PROXY_ROWS = 10_000
#: Tasks whose output one number explains.
EXPLAINED_TASKS = ("binary_classification", "regression")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# --- global: at evaluation ---------------------------------------------------------------------


def explain_evaluation(
    adapter: ModelAdapter | None,
    table: pa.Table,
    features: Sequence[str],
    *,
    task: str,
    data: DatasetVersion,
    name: str,
    limits: Limits | None = None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """The version's global explanation on the evaluation rows, or None and a note saying why not.

    Never fails the evaluation: a model that cannot be explained here (no shap installed, text
    features, a model run by a command) is noted instead.
    """
    if adapter is None:
        return None, ["explanations: not computed for a model run by --command or --endpoint (each call is a "
                      "process or a request); evaluate the artifact itself to explain it"]  # fmt: skip
    if task not in EXPLAINED_TASKS:
        return None, [f"explanations: computed for binary classifiers and regressions; this model's task is {task}"]
    protected = [c.name for c in data.columns if c.protected and c.name in table.column_names]
    try:
        found = global_importance(
            adapter, table, features, classifier=task == "binary_classification", protected=protected,
            classified=bool(data.columns), name=name, limits=limits,
        )  # fmt: skip
    except CharterError as exc:
        return None, [f"explanations: not computed: {exc.message}"]
    return found, [f"explanations: {note}" for note in found["notes"]]


def global_importance(
    adapter: ModelAdapter,
    table: pa.Table,
    features: Sequence[str],
    *,
    classifier: bool,
    protected: Sequence[str] = (),
    classified: bool = True,
    name: str = "model",
    limits: Limits | None = None,
) -> dict[str, Any]:
    """SHAP importance of ``adapter`` on a seeded sample of ``table``'s rows (the stored form: see the docs).

    ``protected`` names the protected attributes among ``table``'s columns; ``classified`` says
    whether the data's columns were classified at all (if not, the protected share is unknown: null).
    """
    from charter.integrations.explain_subjects import subject_from_adapter
    from charter.integrations.explainers import make_explainer

    limits = limits or Limits()
    subject = subject_from_adapter(adapter, features, classifier=classifier, name=name)
    matrix = numeric_matrix(table, subject.features, where=name)
    if len(matrix) == 0:
        raise InvalidInput(f"{name}: no rows to explain")
    rng = np.random.default_rng(limits.seed)
    background = matrix[sample_rows(len(matrix), limits.background_rows, rng)]
    explainer = make_explainer(subject, method="shap", background=background, limits=limits)
    chosen = sample_rows(len(matrix), explainer.row_budget(), rng)
    found = explainer.explain(matrix[chosen])
    notes = list(found.notes)
    if len(chosen) < len(matrix):
        notes.append(
            f"{len(chosen)} of {len(matrix)} rows explained (a seeded sample: the {found.algorithm} explainer's "
            "limit; docs/explainability.md)"
        )
    importance = mean_abs_attribution(found.values)
    ranked = top_features(list(found.features), importance)
    shares = dict(zip(found.features, importance_shares(importance).tolist(), strict=True))
    proxies = _proxies(table, subject.features, protected, rng)
    sensitive = sorted({f for f in subject.features if f in protected} | set(proxies))
    errors = found.additivity_errors()
    return {
        "method": found.method,
        "algorithm": found.algorithm,
        "output": found.space,
        "rows": len(chosen),
        "of_rows": len(matrix),
        "background_rows": len(background),
        "base_value": float(found.base.mean()) if len(found.base) else None,
        "importance": {f: float(importance[found.features.index(f)]) for f in ranked},
        "shares": {f: shares[f] for f in ranked},
        "top_features": ranked[:TOP_K],
        "protected_features": sensitive,
        "proxies": {f: {k: v for k, v in asdict(p).items() if k != "feature"} for f, p in sorted(proxies.items())},
        "protected_share": protected_share(shares, sensitive) if classified else None,
        "protected_rank": first_protected_rank(ranked, sensitive),
        "additivity_error": float(errors.max()) if len(errors) else 0.0,
        "notes": notes,
    }


def _proxies(
    table: pa.Table, features: Sequence[str], protected: Sequence[str], rng: np.random.Generator
) -> dict[str, Any]:
    if not protected:
        return {}
    kept = table.take(pa.array(sample_rows(table.num_rows, PROXY_ROWS, rng)))
    numeric = [f for f in features if f not in protected and _is_numeric(kept.schema.field(f).type)]
    values = numeric_matrix(kept, numeric, where="proxies")
    attributes = {
        a: numeric_matrix(kept, [a], where="proxies")[:, 0] if _is_numeric(kept.schema.field(a).type)
        else kept.column(a).to_pylist()
        for a in protected
    }  # fmt: skip
    return find_proxies({f: values[:, j] for j, f in enumerate(numeric)}, attributes)


def reference_importance(context: Context, version: ModelVersion) -> dict[str, float] | None:
    """The version's stored importance profile (its newest evaluation with explanations), or None."""
    from charter.services.evaluation import list_evaluations

    for evaluation in list_evaluations(context, version.ref):
        found = (evaluation.explanations or {}).get("importance")
        if isinstance(found, dict) and found:
            return {str(k): float(v) for k, v in found.items()}
    return None


# --- local: a logged decision ----------------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: Any  # the decision's input value
    contribution: float


@dataclass(frozen=True)
class DecisionExplanation:
    """One decision explained: the base value, each feature's contribution (largest first), the output."""

    decision_id: str
    model: str
    version: int
    method: str
    algorithm: str
    output_space: str
    base_value: float
    contributions: list[Contribution]
    model_output: float  # the model's own output now, in output_space
    explained_output: float  # base_value + the contributions
    additivity_error: float
    additive: bool  # SHAP: the contributions add up to the output; LIME never claims to
    logged: dict[str, Any]  # what the lake holds of the decision: prediction, score, when
    background: str  # where the background rows came from
    fit: float | None = None  # LIME: R² of the local surrogate
    notes: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ref": self.ref}


def explain_decision(
    context: Context,
    decision_id: str,
    *,
    model: str | None = None,
    method: Method = "shap",
    limits: Limits | None = None,
) -> DecisionExplanation:
    """Explain a logged decision with the verified artifact of the version that made it (module docstring)."""
    from charter.integrations.explain_subjects import subject_from_adapter
    from charter.integrations.explainers import METHODS, make_explainer
    from charter.integrations.frameworks import load_model
    from charter.services.evaluation import verify_artifact
    from charter.services.registry import get_model, resolve_version

    if method not in METHODS:
        raise InvalidInput(f"--method {method!r} is not one of {', '.join(METHODS)}")
    limits = limits or Limits()
    name, row = find_decision(context, decision_id, model=model)
    number = row.get("model_version")
    if number is None or not row.get("registered", True):
        raise InvalidInput(
            f"decision {decision_id} of {name} was made by an unregistered version ({number or 'unknown'}); "
            "there is no verified artifact to explain it with"
        )
    version = resolve_version(context, f"{name}@{number}")
    task = get_model(context, name).task
    if task not in EXPLAINED_TASKS:
        raise InvalidInput(f"{version.ref} is a {task} model; explanations cover binary classifiers and regressions")
    features = _row_features(version, row)
    adapter = load_model(verify_artifact(context, version), framework=version.framework, feature_names=features)
    subject = subject_from_adapter(adapter, features, classifier=task == "binary_classification", name=version.ref)
    missing = [f for f in subject.features if f not in row]
    if missing:
        raise InvalidInput(
            f"decision {decision_id}: the lake row has no column {', '.join(missing)}, which {version.ref} reads"
        )
    x = numeric_matrix(pa.Table.from_pylist([{f: row[f] for f in subject.features}]), subject.features,
                       where=f"decision {decision_id}")  # fmt: skip
    background, source, notes = background_rows(context, version, subject.features, limits)
    explainer = make_explainer(subject, method=method, background=background, limits=limits)
    found = explainer.explain(x)
    return _decision(decision_id, version, found, row, source, notes)


def find_decision(context: Context, decision_id: str, *, model: str | None = None) -> tuple[str, dict[str, Any]]:
    """The model and lake row of a decision id (searching every model's decisions unless one is named)."""
    import pyarrow.dataset as ds

    from charter.services.lake import lake_models, lake_of
    from charter.services.references import check_name

    if not isinstance(decision_id, str) or not _UUID.match(decision_id):
        raise InvalidInput(f"{decision_id!r} is not a decision id (the UUID text log() returns, lower case)")
    lake = lake_of(context)
    if model is not None:
        check_name(model, "model", "credit-risk")
    if model is not None and not lake.exists(model):
        raise NotFound(f"no decision {decision_id!r}: model {model!r} has no decisions in the lake")
    searched = [model] if model is not None else lake_models(context)
    for name in searched:
        found = lake.table(name).to_pyarrow_dataset().to_table(filter=ds.field("decision_id") == decision_id)
        if found.num_rows:
            return name, found.slice(0, 1).to_pylist()[0]
    where = ", ".join(searched) if searched else "no model has logged decisions yet"
    raise NotFound(f"no decision {decision_id!r} in the decision lake (searched: {where})")


def _decision(
    decision_id: str, version: ModelVersion, found: Attributions, row: Mapping[str, Any], source: str, notes: list[str]
) -> DecisionExplanation:
    values = found.values[0]
    order = sorted(range(len(values)), key=lambda j: (-abs(values[j]), found.features[j]))
    contributions = [Contribution(found.features[j], row.get(found.features[j]), float(values[j])) for j in order]
    notes = [*found.notes, *notes]
    score = row.get("score")
    if found.probability is not None and isinstance(score, float) and abs(score - found.probability[0]) > 1e-6:
        notes.append(
            f"the model's probability now ({found.probability[0]:.6g}) is not the logged score ({score:.6g}): "
            "the lake may hold masked or generalised inputs, or the decision came from other weights"
        )
    if found.method == "lime":
        notes.append("LIME fits a local linear surrogate: base + contributions is its prediction, not the model's")
    logged = {k: _plain(row.get(k)) for k in ("ts", "prediction", "score", "alias") if row.get(k) is not None}
    return DecisionExplanation(
        decision_id=decision_id, model=version.model, version=version.version, method=found.method,
        algorithm=found.algorithm, output_space=found.space, base_value=float(found.base[0]),
        contributions=contributions, model_output=float(found.output[0]), explained_output=float(found.total[0]),
        additivity_error=float(found.additivity_errors()[0]), additive=bool(found.exact and found.additive()[0]),
        logged=logged, background=source, fit=None if found.fit is None else float(found.fit[0]), notes=notes,
    )  # fmt: skip


def _row_features(version: ModelVersion, row: Mapping[str, Any]) -> list[str]:
    from charter.engines.base import ATTRIBUTION_PREFIX, EXPLANATION_METHOD, NOT_FEATURES
    from charter.lake.schema import GROUP_PREFIX

    declared = [str(f["name"]) for f in (version.input_schema or {}).get("features", [])]
    if declared:
        return declared
    skipped = (GROUP_PREFIX, ATTRIBUTION_PREFIX, "_")
    return [k for k in row if k not in NOT_FEATURES and k != EXPLANATION_METHOD and not k.startswith(skipped)]


def background_rows(
    context: Context, version: ModelVersion, features: Sequence[str], limits: Limits | None = None
) -> tuple[FloatArray | None, str, list[str]]:
    """Background rows (a seeded sample), where they came from, and notes on data passed over.

    The version's evaluation data, else its training data, else its own logged decisions.
    """
    limits = limits or Limits()
    from charter.services.datasets import resolve_dataset_version
    from charter.services.evaluation import list_evaluations, verify_data
    from charter.services.lineage import upstream
    from charter.services.tabular import read_table

    refs = [e.dataset for e in list_evaluations(context, version.ref) if "@" in e.dataset]
    refs += [node.ref for edge, node in upstream(context, version.ref).inputs
             if node.kind == "dataset" and edge.role == "training"]  # fmt: skip
    notes: list[str] = []
    rng = np.random.default_rng(limits.seed)
    for ref in dict.fromkeys(refs):
        try:
            table = read_table(verify_data(context, resolve_dataset_version(context, ref)), None)
            matrix = numeric_matrix(table, features, where=ref)
        except CharterError as exc:
            notes.append(f"background: {ref} not used: {exc.message}")
            continue
        if len(matrix):
            return matrix[sample_rows(len(matrix), limits.background_rows, rng)], ref, notes
    try:
        from charter.services.lake import lake_of

        logged = lake_of(context).read_table(version.model, versions=[version.version], columns=list(features))
        matrix = numeric_matrix(logged, features, where=f"the decisions of {version.ref}")
    except CharterError as exc:
        notes.append(f"background: the logged decisions not used: {exc.message}")
        return None, "none", notes
    if not len(matrix):
        return None, "none", notes
    return matrix[sample_rows(len(matrix), limits.background_rows, rng)], f"decisions of {version.ref}", notes


# --- shared helpers ------------------------------------------------------------------------------


def numeric_matrix(table: pa.Table, features: Sequence[str], *, where: str) -> FloatArray:
    """The features as an (n, k) float matrix (nulls as NaN); a column of text is a clear error."""
    missing = [f for f in features if f not in table.column_names]
    if missing:
        raise InvalidInput(f"{where}: no column {', '.join(missing)} (columns: {', '.join(table.column_names)})")
    columns = []
    for name in features:
        column = table.column(name)
        if not _is_numeric(column.type):
            raise InvalidInput(
                f"{where}: explanations read numbers, but column {name!r} holds {column.type}; "
                "encode it as numbers in the model's inputs"
            )
        columns.append(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False))
    if not columns:
        return np.empty((table.num_rows, 0))
    return np.column_stack(columns).astype(np.float64, copy=False)


def sample_rows(n: int, size: int, rng: np.random.Generator) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Up to ``size`` row numbers of ``n``, drawn without replacement, in order (all of them when n <= size)."""
    if n <= size:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def _is_numeric(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind) or pa.types.is_null(kind)
    )  # fmt: skip


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    return value
