"""Per-row anomaly scores of current inputs against a reference, to flag corrupt or adversarial rows.

:meth:`AnomalyModel.fit` profiles the numeric columns of a reference table (a mapping of
column name to values, a pandas or polars DataFrame, or a pyarrow Table; ``columns=``
picks some, and a non-numeric column is an error naming it). The model is plain numbers
and round-trips exactly through :meth:`~AnomalyModel.to_dict` / :meth:`~AnomalyModel.from_dict`
and JSON. :meth:`AnomalyModel.score` gives, for every row of a current table:

* ``out_of_range``: how many features lie outside the reference's ``[min, max]``;
* ``z``: the robust z-score of every feature, ``(x - median) / scale``, where ``scale`` is
  ``1.4826 * MAD`` (so it estimates sigma for normal data and ``z`` is Iglewicz and
  Hoaglin's modified z-score). When the MAD is 0 (more than half the values equal the
  median) the scale is ``sqrt(pi / 2) * mean(|x - median|)`` (the same sigma estimate
  for normal data, as IBM SPSS does); when that is 0 too the column is constant, and a
  value equal to it scores 0, any other ``±inf``. ``robust_z`` is the row's largest ``|z|``;
* ``mahalanobis``: the distance ``sqrt((x - mean)' S^-1 (x - mean))`` to the mean of the
  complete reference rows, where ``S`` is their covariance (``ddof=1``) with a ridge:
  each variance is multiplied by ``1 + ridge`` (default 1e-6), which changes distances by
  about a millionth but keeps exactly collinear columns invertible (a row that breaks an
  exact linear relation of the reference then gets a very large distance). Columns
  constant in the complete rows are left out (out of range and ``z`` cover them);
* ``anomalous``: ``robust_z > 3.5`` (Iglewicz and Hoaglin's rule) or ``mahalanobis ** 2``
  above ``scipy.stats.chi2.ppf(0.999, k)``, k the features used. For normal data the
  squared distance is chi-square with k degrees of freedom, so 0.1% of clean rows cross
  it (a little more when the reference is small: the mean and covariance are estimates).
  Out of range is not part of the verdict: a clean row falls outside a continuous
  feature's reference range with probability 2 / (n + 1), too often for a verdict.

Missing values. In the reference, None, NaN and ±inf are dropped: each column's range,
median and scale use its own values, the mean and covariance the complete rows (there
must be at least columns + 1 of them). In a current row a missing feature is skipped: it
has no ``z`` (NaN) and is never out of range, and the Mahalanobis distance uses the
observed features only, with their own block of ``S`` (the marginal distribution), and
the chi-square degrees of freedom are that count. ``missing`` counts them per row; a row
with nothing observed scores 0 and is not anomalous (missingness is a data-quality
question). A current ±inf is a value: out of range, ``z`` of ±inf, distance inf.

:func:`isolation_forest` scores with scikit-learn's ``IsolationForest`` when it is
installed (it is optional); the forest is fitted per call and is not serialisable.

Registered ids and default thresholds (each takes ``(reference, current)``; the reference
may be a table, fitted on the spot, or a fitted :class:`AnomalyModel`):

    anomaly.anomalous_share     higher_is_worse  0.01  (clean normal data: <= 0.001 + 0.000465 * features)
    anomaly.out_of_range_share  higher_is_worse  0.05  (clean data: <= 2 * features / (reference rows + 1))
    anomaly.mahalanobis_mean    higher_is_worse  none  (clean normal data: about sqrt(features - 1/2))
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeAlias, cast, get_args

import numpy as np
import numpy.typing as npt

from charter.errors import ConfigError, InvalidInput
from charter.metrics.inputs import FloatArray, as_float_array
from charter.metrics.registry import Direction, register

#: Columns by name: a mapping of name to values, a pandas or polars DataFrame, a pyarrow Table.
Table: TypeAlias = Any
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ScaleMethod = Literal["mad", "mean_absolute_deviation", "constant"]

#: MAD to sigma for normal data (1 / 0.6745, Iglewicz and Hoaglin's constant).
MAD_TO_SIGMA = 1.4826
#: Mean absolute deviation to sigma for normal data, ``sqrt(pi / 2)``.
MEAN_AD_TO_SIGMA = math.sqrt(math.pi / 2)
#: Iglewicz and Hoaglin's cut-off for the modified z-score.
Z_THRESHOLD = 3.5
#: The chi-square quantile of the squared Mahalanobis distance above which a row is anomalous.
QUANTILE = 0.999
#: Relative ridge: each variance is multiplied by ``1 + RIDGE`` before inverting.
RIDGE = 1e-6
#: Above this condition number (of the correlation matrix) the covariance counts as singular.
MAX_CONDITION = 1e12
ANOMALOUS_SHARE = 0.01
OUT_OF_RANGE_SHARE = 0.05
FORMAT = "charter.anomaly_model/1"


def _names(names: Sequence[Any]) -> str:
    return ", ".join(repr(n) for n in names)


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


# --- reading tables --------------------------------------------------------------------


def _column_names(data: Table, *, name: str) -> list[Any]:
    module = type(data).__module__.split(".")[0]
    if module == "pyarrow" and hasattr(data, "column_names"):
        return list(data.column_names)
    if module in ("pandas", "polars") and hasattr(data, "columns"):
        return list(data.columns)
    if isinstance(data, Mapping):
        return list(data)
    raise InvalidInput(
        f"{name} must be a table: a mapping of column name to values, a pandas or polars DataFrame "
        f"or a pyarrow Table, got {type(data).__name__}"
    )


def _matrix(data: Table, columns: Sequence[str], *, name: str, hint: str = "") -> FloatArray:
    """The named columns as a (rows, columns) float array; missing values are NaN."""
    available = _column_names(data, name=name)
    absent = [c for c in columns if c not in available]
    if absent:
        raise InvalidInput(f"{name}: column(s) {_names(absent)} missing (the model scores {_names(columns)})")
    arrays = []
    for column in columns:
        values = data.column(column) if type(data).__module__.startswith("pyarrow") else data[column]
        try:
            arrays.append(as_float_array(values, name=f"{name} column {column!r}"))
        except InvalidInput as exc:
            raise InvalidInput(f"{exc}{hint}") from None
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        shown = ", ".join(f"{c!r} has {len(a):,}" for c, a in zip(columns, arrays, strict=True))
        raise InvalidInput(f"{name}: the columns must have the same length: {shown}")
    return np.column_stack(arrays).reshape(-1, len(columns))


def _select(reference: Table, columns: Sequence[str] | None) -> tuple[str, ...]:
    available = _column_names(reference, name="reference")
    if columns is None:
        wrong = [c for c in available if not isinstance(c, str)]
        if wrong:
            raise InvalidInput(
                f"reference: column names must be strings, got {wrong[0]!r} ({type(wrong[0]).__name__}); rename them"
            )
        chosen = tuple(available)
    else:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise InvalidInput(f"columns must be a list of column names (strings), got {columns!r}")
        chosen = tuple(columns)
        repeated = sorted({c for c in chosen if chosen.count(c) > 1})
        if repeated:
            raise InvalidInput(f"columns: {_names(repeated)} given more than once")
        unknown = [c for c in chosen if c not in available]
        if unknown:
            raise InvalidInput(f"columns: no column(s) {_names(unknown)} in reference (it has {_names(available)})")
    if not chosen:
        raise InvalidInput("reference has no columns: anomaly scores need at least one numeric column")
    return chosen


def _reference(reference: Table, columns: Sequence[str] | None) -> tuple[tuple[str, ...], FloatArray]:
    """The chosen columns of the reference, with ±inf turned into NaN (missing)."""
    names = _select(reference, columns)
    hint = "; anomaly scores need numeric columns: choose them with columns=[...]"
    data = _matrix(reference, names, name="reference", hint=hint)
    data[~np.isfinite(data)] = np.nan
    for j, column in enumerate(names):
        if np.isnan(data[:, j]).all():
            raise InvalidInput(
                f"reference column {column!r} has no values (every one is missing: None, NaN or inf); "
                "leave it out with columns=[...]"
            )
    return names, data


def _correlation(covariance: FloatArray) -> FloatArray:
    sd = np.sqrt(np.diag(covariance))
    correlation: FloatArray = covariance / np.outer(sd, sd)
    return correlation


def _inverse(covariance: FloatArray) -> FloatArray:
    """The inverse, computed on the correlation scale so columns of very different scales stay accurate."""
    sd = np.sqrt(np.diag(covariance))
    inverse: FloatArray = np.linalg.inv(covariance / np.outer(sd, sd)) / np.outer(sd, sd)
    return inverse


# --- the model -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AnomalyScores:
    """Per-row scores (read-only arrays, one entry per current row; ``z`` one column per feature)."""

    columns: tuple[str, ...]
    z: FloatArray  # (rows, columns) robust z-scores; NaN where the value is missing
    robust_z: FloatArray  # the row's largest |z| (0 when nothing is observed)
    out_of_range: IntArray  # features outside the reference's [min, max]
    mahalanobis: FloatArray  # distance over the observed non-constant features
    mahalanobis_threshold: FloatArray  # sqrt(chi2.ppf(quantile, degrees_of_freedom)); inf when 0 of them
    degrees_of_freedom: IntArray  # features the distance used
    missing: IntArray  # missing features
    anomalous: BoolArray  # robust_z > z_threshold or mahalanobis > mahalanobis_threshold


@dataclass(frozen=True)
class AnomalyModel:
    """The reference profile: per-column range, median and robust scale; mean and covariance."""

    columns: tuple[str, ...]
    rows: int
    minimum: tuple[float, ...]
    maximum: tuple[float, ...]
    median: tuple[float, ...]
    scale: tuple[float, ...]  # sigma estimate for the robust z (0 for a constant column)
    scale_method: tuple[ScaleMethod, ...]
    complete_rows: int  # rows with no missing value, used for the mean and covariance
    mahalanobis_columns: tuple[str, ...]  # the columns not constant in the complete rows
    mean: tuple[float, ...]  # over mahalanobis_columns
    covariance: tuple[tuple[float, ...], ...]  # with the ridge applied
    inverse_covariance: tuple[tuple[float, ...], ...]
    ridge: float

    @classmethod
    def fit(cls, reference: Table, *, columns: Sequence[str] | None = None, ridge: float = RIDGE) -> AnomalyModel:
        if isinstance(ridge, bool) or not isinstance(ridge, int | float) or not 0 <= ridge < math.inf:
            raise InvalidInput(f"ridge must be a number >= 0, got {ridge!r}")
        names, data = _reference(reference, columns)
        minimum: list[float] = []
        maximum: list[float] = []
        median: list[float] = []
        scale: list[float] = []
        method: list[ScaleMethod] = []
        for j in range(len(names)):
            values = data[:, j][~np.isnan(data[:, j])]
            centre = float(np.median(values))
            deviations = np.abs(values - centre)
            mad, mean_ad = float(np.median(deviations)), float(np.mean(deviations))
            minimum.append(float(values.min()))
            maximum.append(float(values.max()))
            median.append(centre)
            if mad > 0:
                scale.append(MAD_TO_SIGMA * mad)
                method.append("mad")
            elif mean_ad > 0:
                scale.append(MEAN_AD_TO_SIGMA * mean_ad)
                method.append("mean_absolute_deviation")
            else:
                scale.append(0.0)
                method.append("constant")
        complete = data[~np.isnan(data).any(axis=1)]
        if len(complete) < len(names) + 1:
            raise InvalidInput(
                f"reference: the covariance of {len(names)} column(s) needs at least {len(names) + 1} complete rows "
                f"(columns + 1, no value missing), got {len(complete):,}: give more rows, or fewer columns "
                "with columns=[...]"
            )
        covariance = np.cov(complete, rowvar=False, ddof=1).reshape(len(names), len(names))
        varying = np.ptp(complete, axis=0) > 0  # exact, where a variance may carry rounding error
        kept = [n for n, v in zip(names, varying, strict=True) if v]
        covariance = covariance[np.ix_(varying, varying)]
        covariance = covariance + float(ridge) * np.diag(np.diag(covariance))
        if kept and np.linalg.cond(_correlation(covariance)) > MAX_CONDITION:
            raise InvalidInput(
                f"reference: the covariance of {_names(kept)} is singular (a column is a linear combination "
                f"of others); use ridge > 0 (the default is {RIDGE})"
            )
        return cls(
            columns=names,
            rows=len(data),
            minimum=tuple(minimum),
            maximum=tuple(maximum),
            median=tuple(median),
            scale=tuple(scale),
            scale_method=tuple(method),
            complete_rows=len(complete),
            mahalanobis_columns=tuple(kept),
            mean=tuple(complete[:, varying].mean(axis=0).tolist()),
            covariance=tuple(tuple(row) for row in covariance.tolist()),
            inverse_covariance=tuple(tuple(row) for row in _inverse(covariance).tolist()),
            ridge=float(ridge),
        )

    def select(self, columns: Sequence[str]) -> AnomalyModel:
        """The model of ``columns`` alone: what :meth:`fit` on those columns of the complete rows gives (the
        per-column statistics are the same; the covariance is its sub-matrix), without the rows."""
        unknown = [c for c in columns if c not in self.columns]
        if unknown or not columns:
            raise InvalidInput(f"anomaly model: it has no column(s) {_names(unknown)}" if unknown else
                               "anomaly model: select at least one column")  # fmt: skip
        at = [self.columns.index(c) for c in columns]
        kept = [c for c in columns if c in self.mahalanobis_columns]
        inner = [self.mahalanobis_columns.index(c) for c in kept]
        size = len(self.mahalanobis_columns)
        covariance = np.array(self.covariance, dtype=float).reshape(size, size)[np.ix_(inner, inner)]
        return AnomalyModel(
            columns=tuple(columns), rows=self.rows,
            minimum=tuple(self.minimum[i] for i in at), maximum=tuple(self.maximum[i] for i in at),
            median=tuple(self.median[i] for i in at), scale=tuple(self.scale[i] for i in at),
            scale_method=tuple(self.scale_method[i] for i in at), complete_rows=self.complete_rows,
            mahalanobis_columns=tuple(kept), mean=tuple(self.mean[i] for i in inner),
            covariance=tuple(tuple(row) for row in covariance.tolist()),
            inverse_covariance=tuple(tuple(row) for row in _inverse(covariance).tolist()) if kept else (),
            ridge=self.ridge,
        )  # fmt: skip

    def score(self, current: Table, *, z_threshold: float = Z_THRESHOLD, quantile: float = QUANTILE) -> AnomalyScores:
        if isinstance(z_threshold, bool) or not isinstance(z_threshold, int | float) or not z_threshold > 0:
            raise InvalidInput(f"z_threshold must be a number above 0, got {z_threshold!r}")
        if isinstance(quantile, bool) or not isinstance(quantile, int | float) or not 0 < quantile < 1:
            raise InvalidInput(f"quantile must be a number between 0 and 1 (exclusive), got {quantile!r}")
        x = _matrix(current, self.columns, name="current")
        missing = np.isnan(x)
        out_of_range = ((x < np.array(self.minimum)) | (x > np.array(self.maximum))).sum(axis=1)
        deviation = x - np.array(self.median)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(deviation == 0, 0.0, deviation / np.array(self.scale))
        robust_z = np.max(np.where(missing, 0.0, np.abs(z)), axis=1, initial=0.0)

        index = [self.columns.index(c) for c in self.mahalanobis_columns]
        observed = ~missing[:, index]
        offset = np.where(observed, x[:, index] - np.array(self.mean), 0.0)
        infinite = ~np.isfinite(offset).all(axis=1)
        offset[~np.isfinite(offset)] = 0.0
        squared = np.zeros(len(x))
        if len(x) and index:
            covariance = np.array(self.covariance)
            if observed.all():  # nothing missing, the usual case: one pattern, without sorting the rows
                patterns, which = observed[:1], np.zeros(len(x), dtype=np.intp)
            else:
                patterns, which = np.unique(observed, axis=0, return_inverse=True)
            for p, pattern in enumerate(patterns):
                if not pattern.any():
                    continue
                rows = which.reshape(-1) == p
                if pattern.all():
                    inverse = np.array(self.inverse_covariance)
                else:
                    inverse = _inverse(covariance[np.ix_(pattern, pattern)])
                part = offset[np.ix_(rows, pattern)]
                squared[rows] = np.sum((part @ inverse) * part, axis=1)
        distance = np.sqrt(np.maximum(squared, 0.0))
        distance[infinite] = np.inf
        dof = observed.sum(axis=1)
        from scipy import stats  # loaded on first use (slow to import)

        limits = np.concatenate([[np.inf], np.sqrt(stats.chi2.ppf(quantile, np.arange(1, len(index) + 1)))])
        threshold = limits[dof]
        return AnomalyScores(
            columns=self.columns,
            z=_frozen(z),
            robust_z=_frozen(robust_z),
            out_of_range=_frozen(out_of_range.astype(np.int64)),
            mahalanobis=_frozen(distance),
            mahalanobis_threshold=_frozen(threshold),
            degrees_of_freedom=_frozen(dof.astype(np.int64)),
            missing=_frozen(missing.sum(axis=1).astype(np.int64)),
            anomalous=_frozen((robust_z > z_threshold) | (distance > threshold)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (lists, floats, ints, strings); :meth:`from_dict` gives back an equal model."""
        data: dict[str, Any] = {"format": FORMAT}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in ("covariance", "inverse_covariance"):
                value = [list(row) for row in value]
            elif isinstance(value, tuple):
                value = list(value)
            data[field.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnomalyModel:
        where = "anomaly model"
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise InvalidInput(f"{where}: format must be {FORMAT!r}, got {got!r}")
        expected = {f.name for f in fields(cls)}
        absent = sorted(expected - set(data))
        unknown = sorted(set(data) - expected - {"format"})
        if absent or unknown:
            problem = f"missing field(s) {_names(absent)}" if absent else f"unknown field(s) {_names(unknown)}"
            raise InvalidInput(f"{where}: {problem}")

        def strings(name: str, allowed: Sequence[str] | None = None) -> tuple[str, ...]:
            value = data[name]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput(f"{where}: {name} must be a list of strings")
            if allowed is not None and not set(value) <= set(allowed):
                raise InvalidInput(f"{where}: {name} must hold only {_names(allowed)}")
            return tuple(value)

        def numbers(name: str, length: int, value: Any, shape: str = "") -> tuple[float, ...]:
            if (
                not isinstance(value, list)
                or len(value) != length
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            ):
                raise InvalidInput(f"{where}: {name} must be {shape or f'a list of {length} finite numbers'}")
            return tuple(float(v) for v in value)

        def count(name: str) -> int:
            if isinstance(data[name], bool) or not isinstance(data[name], int) or data[name] < 0:
                raise InvalidInput(f"{where}: {name} must be a whole number >= 0")
            return int(data[name])

        columns = strings("columns")
        d = len(columns)
        methods = strings("scale_method", get_args(ScaleMethod))
        if len(methods) != d:
            raise InvalidInput(f"{where}: scale_method must hold {d} values, one per column")
        chosen = strings("mahalanobis_columns", columns)
        k = len(chosen)
        square = {}
        for name in ("covariance", "inverse_covariance"):
            shape = f"a {k} x {k} list of lists of finite numbers"
            if not isinstance(data[name], list) or len(data[name]) != k:
                raise InvalidInput(f"{where}: {name} must be {shape}")
            square[name] = tuple(numbers(name, k, row, shape) for row in data[name])
        ridge = data["ridge"]
        if isinstance(ridge, bool) or not isinstance(ridge, int | float):
            raise InvalidInput(f"{where}: ridge must be a number")
        return cls(
            columns=columns,
            rows=count("rows"),
            minimum=numbers("minimum", d, data["minimum"]),
            maximum=numbers("maximum", d, data["maximum"]),
            median=numbers("median", d, data["median"]),
            scale=numbers("scale", d, data["scale"]),
            scale_method=cast(tuple[ScaleMethod, ...], methods),
            complete_rows=count("complete_rows"),
            mahalanobis_columns=chosen,
            mean=numbers("mean", k, data["mean"]),
            covariance=square["covariance"],
            inverse_covariance=square["inverse_covariance"],
            ridge=float(ridge),
        )


def clean_share_bound(features: int, *, z_threshold: float = Z_THRESHOLD, quantile: float = QUANTILE) -> float:
    """The expected anomalous share of clean normal data at most (union bound, large reference).

    ``(1 - quantile) + features * P(|N(0, 1)| > z_threshold)``: 0.001 + 0.000465 per feature.
    """
    from scipy import stats

    return min(1.0, (1 - quantile) + features * 2 * float(stats.norm.sf(z_threshold)))


# --- isolation forest ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IsolationForestScores:
    columns: tuple[str, ...]
    score: FloatArray  # the anomaly score s(x) of Liu et al. in (0, 1]: -IsolationForest.score_samples
    anomalous: BoolArray  # score > 0.5, scikit-learn's rule with contamination="auto"


def isolation_forest(
    reference: Table,
    current: Table,
    *,
    columns: Sequence[str] | None = None,
    n_estimators: int = 100,
    random_state: int = 0,
) -> IsolationForestScores:
    """Scores from scikit-learn's ``IsolationForest`` fitted on the complete reference rows.

    Needs scikit-learn (not a dependency of Charter). A missing current value is replaced
    by the reference median; values are clipped to one reference range beyond
    ``[min, max]`` (the forest cannot split past its training range, so this changes no
    score, and ±inf becomes a number it accepts). The forest is refitted on every call
    (deterministic for a given ``random_state``) and is not serialisable.
    """
    try:
        ensemble = importlib.import_module("sklearn.ensemble")
    except ImportError:
        raise ConfigError(
            "isolation_forest needs scikit-learn, which is not installed: pip install scikit-learn"
        ) from None
    if isinstance(n_estimators, bool) or not isinstance(n_estimators, int) or n_estimators < 1:
        raise InvalidInput(f"n_estimators must be a whole number of at least 1, got {n_estimators!r}")
    names, data = _reference(reference, columns)
    complete = data[~np.isnan(data).any(axis=1)]
    if len(complete) < 2:
        raise InvalidInput(f"reference has {len(complete)} complete rows (no value missing); the forest needs 2")
    x = _matrix(current, names, name="current")
    low, high = complete.min(axis=0), complete.max(axis=0)
    span = high - low + 1.0
    x = np.where(np.isnan(x), np.nanmedian(data, axis=0), x)
    x = np.clip(x, low - span, high + span)
    forest = ensemble.IsolationForest(n_estimators=n_estimators, random_state=random_state).fit(complete)
    score = -np.asarray(forest.score_samples(x), dtype=np.float64) if len(x) else np.zeros(0)
    return IsolationForestScores(columns=names, score=_frozen(score), anomalous=_frozen(score > 0.5))


# --- window metrics --------------------------------------------------------------------


def _window(
    reference: Table | AnomalyModel,
    current: Table,
    columns: Sequence[str] | None,
    z_threshold: float,
    quantile: float,
) -> AnomalyScores:
    if isinstance(reference, AnomalyModel):
        if columns is not None:
            raise InvalidInput("columns: the model is already fitted on its columns; give columns= only with a table")
        model = reference
    else:
        model = AnomalyModel.fit(reference, columns=columns)
    scores = model.score(current, z_threshold=z_threshold, quantile=quantile)
    if len(scores.anomalous) == 0:
        raise InvalidInput("current has no rows: a window metric needs at least one")
    return scores


def anomalous_share(
    reference: Table | AnomalyModel,
    current: Table,
    *,
    columns: Sequence[str] | None = None,
    z_threshold: float = Z_THRESHOLD,
    quantile: float = QUANTILE,
) -> float:
    """The share of current rows flagged ``anomalous`` (see the module docstring)."""
    return float(np.mean(_window(reference, current, columns, z_threshold, quantile).anomalous))


def out_of_range_share(
    reference: Table | AnomalyModel, current: Table, *, columns: Sequence[str] | None = None
) -> float:
    """The share of current rows with at least one feature outside the reference's ``[min, max]``."""
    return float(np.mean(_window(reference, current, columns, Z_THRESHOLD, QUANTILE).out_of_range > 0))


def mahalanobis_mean(reference: Table | AnomalyModel, current: Table, *, columns: Sequence[str] | None = None) -> float:
    """The mean Mahalanobis distance of the current rows (inf if a row holds ±inf)."""
    return float(np.mean(_window(reference, current, columns, Z_THRESHOLD, QUANTILE).mahalanobis))


# --- registration ----------------------------------------------------------------------

_WORSE: Direction = "higher_is_worse"
_METRICS: tuple[tuple[str, Callable[..., Any], Direction, float | None, str], ...] = (
    (
        "anomaly.anomalous_share",
        anomalous_share,
        _WORSE,
        ANOMALOUS_SHARE,
        "Share of rows with a robust |z| > 3.5 or a squared Mahalanobis distance above chi2.ppf(0.999, k).",
    ),
    (
        "anomaly.out_of_range_share",
        out_of_range_share,
        _WORSE,
        OUT_OF_RANGE_SHARE,
        "Share of rows with a feature outside the reference's [min, max]; clean data: <= 2k / (n + 1).",
    ),
    (
        "anomaly.mahalanobis_mean",
        mahalanobis_mean,
        _WORSE,
        None,
        "Mean Mahalanobis distance to the reference (about sqrt(k - 1/2) for clean data); no default.",
    ),
)
for _id, _function, _direction, _threshold, _summary in _METRICS:
    register(_id, _function, direction=_direction, threshold=_threshold, summary=_summary)
