"""Sampled explanations at log time: a share of decisions explained on the writer thread, stored with them.

``wrap(model, logger, explain_rate=0.01)`` (or ``cx.wrap(..., explain_rate=0.01)``) hands the
logger a :class:`SampledExplainer`. The background writer, after building a batch of decision
rows and before delivering it, picks each row with probability ``explain_rate`` (at most
``max_per_batch`` rows a batch), explains those rows with the model
(:mod:`charter.integrations.explainers`: SHAP by default, the same algorithm the version's
evaluation used) and adds to the batch a float column ``attribution_<feature>`` per feature
(null for rows not explained) and a text column ``explanation_method`` (``shap:tree:log_odds``,
null likewise). The attribution-drift monitor and the dashboard read those columns.

Nothing of this runs on the caller's thread: ``predict`` costs the same with or without it. The
writer skips explaining a batch while the queue is more than half full or while a durable caller
waits on it, and a model-agnostic explainer (Kernel SHAP, LIME) gets at most as many rows a batch
as 200,000 model evaluations allow, so explanations never hold back delivery for long. A
problem (no shap installed, a model that cannot be explained) is reported once in the logger's
stats and explaining stops, while logging goes on.

Background rows (for models that are not tree ensembles): ``explain_background`` if given, else
what ``background_loader`` returns (the client reads the version's evaluation data), else the
first rows logged (explaining starts once :data:`MIN_BACKGROUND` rows have been seen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import CharterError, InvalidInput

#: Rows logged before explanations that need background rows start (when none were given).
MIN_BACKGROUND = 20
#: The most rows of one batch that are explained (a sample of the sample beyond that).
MAX_PER_BATCH = 64
#: What one batch's model-agnostic explanations may cost the writer: Kernel SHAP or LIME on at most
#: as many rows as this many model evaluations allow (a tree or linear model is not limited by it).
WRITER_LIMITS = {"max_evaluations": 200_000, "background_rows": 50}

Report = Callable[[str], None]


class SampledExplainer:
    """Explains a sampled share of each batch of decisions; see the module docstring."""

    def __init__(
        self,
        model: Any,
        *,
        rate: float,
        method: str = "shap",
        background: Any = None,
        background_loader: Callable[[Sequence[str]], Any] | None = None,
        classifier: bool | None = None,
        max_per_batch: int = MAX_PER_BATCH,
        seed: int | None = None,
        name: str = "model",
    ) -> None:
        from charter.integrations.explainers import METHODS

        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise InvalidInput(f"explain_rate: {rate!r} must be a share of decisions from 0 to 1")
        if method not in METHODS:
            raise InvalidInput(f"explain_method: {method!r} is not one of {', '.join(METHODS)}")
        if isinstance(max_per_batch, bool) or not isinstance(max_per_batch, int) or max_per_batch < 1:
            raise InvalidInput(f"max_per_batch: {max_per_batch!r} must be a whole number of at least 1")
        self.model = model
        self.rate = float(rate)
        self.method = method
        self.name = name
        self.max_per_batch = max_per_batch
        self._given = background
        self._loader = background_loader
        self._classifier = classifier
        self._rng = np.random.default_rng(seed)
        self._explainer: Any = None
        self._features: tuple[str, ...] | None = None
        self._pool: np.ndarray[Any, np.dtype[np.float64]] | None = None
        self._loaded: Any = None
        self._stopped = False

    @property
    def stopped(self) -> bool:
        """Whether explaining stopped after a problem (reported once in the logger's stats)."""
        return self._stopped

    def __call__(self, batch: pa.RecordBatch, report: Report) -> tuple[pa.RecordBatch, int]:
        """The batch with attribution columns for its sampled rows, and how many rows were explained."""
        if self._stopped or self.rate <= 0 or batch.num_rows == 0:
            return batch, 0
        chosen = np.flatnonzero(self._rng.random(batch.num_rows) < self.rate)
        if len(chosen) > self.max_per_batch:
            chosen = np.sort(self._rng.choice(chosen, size=self.max_per_batch, replace=False))
        try:
            features = self._features or self._find_features(batch)
            explainer = self._explainer or self._set_up(features, batch)
            if explainer is None or not len(chosen):
                return batch, 0
            if len(chosen) > explainer.row_budget():
                chosen = np.sort(self._rng.choice(chosen, size=explainer.row_budget(), replace=False))
            found = explainer.explain(_matrix(batch.take(pa.array(chosen)), features))
        except CharterError as exc:
            return self._stop(report, exc.message, batch)
        except Exception as exc:  # a model that fails on its own inputs: stop explaining, keep logging
            return self._stop(report, f"{type(exc).__name__}: {exc}", batch)
        return _with_attributions(batch, chosen, found, report), len(chosen)

    def _stop(self, report: Report, why: str, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
        self._stopped = True
        report(f"sampled explanations stopped ({why}); decisions are still logged")
        return batch, 0

    def _find_features(self, batch: pa.RecordBatch) -> tuple[str, ...]:
        """The model's own feature names when it keeps them, else the batch's feature columns."""
        from charter.engines.base import ATTRIBUTION_PREFIX, EXPLANATION_METHOD, NOT_FEATURES
        from charter.lake.schema import GROUP_PREFIX

        stored = getattr(self.model, "feature_names_in_", None)
        if stored is not None:
            names = tuple(str(n) for n in stored)
        else:
            names = tuple(
                n for n in batch.schema.names
                if n not in NOT_FEATURES and n != EXPLANATION_METHOD
                and not n.startswith((GROUP_PREFIX, ATTRIBUTION_PREFIX, "_"))
            )  # fmt: skip
        missing = [n for n in names if n not in batch.schema.names]
        if missing or not names:
            raise InvalidInput(f"the decisions carry no column {', '.join(missing) or 'of features'} to explain")
        self._features = names
        return names

    def _set_up(self, features: tuple[str, ...], batch: pa.RecordBatch) -> Any:
        """The explainer, or None while too few rows have been logged to serve as its background."""
        from charter.integrations.explain_subjects import subject_from_model
        from charter.integrations.explainers import Limits, make_explainer

        rows = _matrix(batch, features)
        pool = rows if self._pool is None else np.vstack([self._pool, rows])
        self._pool = pool[: WRITER_LIMITS["background_rows"]]
        subject = subject_from_model(self.model, features, classifier=self._classifier, name=self.name)
        waiting = False

        def background() -> Any:
            nonlocal waiting
            if self._given is not None:
                return self._given
            if self._loader is not None and self._loaded is None:
                self._loaded = self._loader(features)
                self._loader = None
            if self._loaded is not None:
                return self._loaded
            waiting = self._pool is None or len(self._pool) < MIN_BACKGROUND
            return None if waiting else self._pool

        try:
            self._explainer = make_explainer(
                subject,
                method=self.method,
                background=background,
                limits=Limits(seed=None, **WRITER_LIMITS),
                quiet=False,
            )
        except InvalidInput:
            if waiting:
                return None
            raise
        return self._explainer


def _matrix(batch: pa.RecordBatch, features: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    columns = []
    for name in features:
        column = batch.column(name)
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
            raise InvalidInput(f"feature {name!r} holds {column.type}; explanations read numbers")
        columns.append(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False))
    return np.column_stack(columns).astype(np.float64, copy=False)


def _with_attributions(batch: pa.RecordBatch, chosen: Any, found: Any, report: Report) -> pa.RecordBatch:
    from charter.engines.base import ATTRIBUTION_PREFIX, EXPLANATION_METHOD

    n = batch.num_rows
    mask = np.ones(n, dtype=bool)
    mask[chosen] = False
    columns = {}
    for j, feature in enumerate(found.features):
        full = np.zeros(n)
        full[chosen] = found.values[:, j]
        columns[ATTRIBUTION_PREFIX + feature] = pa.array(full, pa.float64(), mask=mask)
    label = f"{found.method}:{found.algorithm}:{found.space}"
    labels: list[str | None] = [None] * n
    for i in chosen:
        labels[i] = label
    columns[EXPLANATION_METHOD] = pa.array(labels, pa.string())
    clash = [name for name in columns if name in batch.schema.names]
    if clash:
        report(f"sampled explanations: the inputs already have column(s) {', '.join(clash)}; not recorded")
        return batch
    for name, array in columns.items():
        batch = batch.append_column(name, array)
    return batch
