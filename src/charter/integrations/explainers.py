"""SHAP and LIME behind one small interface: explain rows of a model's inputs, within declared limits.

:func:`make_explainer` picks the algorithm for a :class:`Subject` (a model, its features and a
function giving its output):

- ``shap``: ``shap.TreeExplainer`` when the model is a tree ensemble shap reads (scikit-learn
  gradient boosting and forests, XGBoost, LightGBM), exact and fast, no background needed;
  ``shap.LinearExplainer`` for a scikit-learn linear model (on the background's means); else
  ``shap.KernelExplainer`` on the model's output function, model-agnostic, over a bounded
  background and a bounded number of coalitions per row. (shap's permutation explainer compiles
  numba code for several seconds in every new process; with the inputs bounded, Kernel SHAP gives
  the same additive estimates without that.)
- ``lime``: LIME's tabular explainer in regression mode on the same output function, with a
  fixed random seed, so the same row gives the same explanation.

What is explained (the *output space*): for a classifier, the positive class's (``classes[-1]``)
log-odds when the explainer reads the model's margin (boosted trees, logistic regression), else
its probability (forests, Kernel SHAP, LIME); for a regressor, the predicted value. SHAP is
additive in that space: ``base + sum(values) == output``. LIME is a local linear surrogate:
``base + sum(values)`` is the surrogate's prediction, which may differ from the model's output
(its ``fit`` is the surrogate's R²).

:class:`Limits` bound the work: background rows, rows explained in one job, model evaluations
(the KernelExplainer trap of hours on a large input is a row budget here). shap and lime are
imported when first needed; without them the error names ``pip install 'charter[explain]'``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from charter.errors import CharterError, InvalidInput

FloatArray = npt.NDArray[np.float64]
Method = Literal["shap", "lime"]
METHODS: tuple[Method, ...] = ("shap", "lime")
Space = Literal["log_odds", "probability", "value"]
EXTRA = "pip install 'charter[explain]'"
#: SHAP values are additive when |base + sum - output| <= ADDITIVITY_TOLERANCE * max(1, |output|).
ADDITIVITY_TOLERANCE = 1e-4
#: Below this p(1 - p), a probability (often float32) cannot give its log-odds back: compare probabilities.
SATURATED = 1e-6
_TREE_SPACES = {"log_odds": "log_odds", "probability": "probability", "raw_value": "value"}


@dataclass(frozen=True)
class Limits:
    """How much work one explanation job may do (docs/explainability.md, "Limits")."""

    background_rows: int = 100  # rows the expectation is taken over (Linear, Kernel SHAP, LIME statistics)
    max_rows: int = 500  # rows one job explains (the rest of a large input is sampled)
    max_evaluations: int = 1_000_000  # model rows a Kernel SHAP or LIME job may predict in all
    kernel_samples: int = 0  # coalitions per row for Kernel SHAP; 0: 2 x features + 256
    lime_samples: int = 1000  # perturbed rows per LIME explanation
    seed: int | None = 0  # None: leave NumPy's global random state alone (Kernel SHAP samples from it)

    def __post_init__(self) -> None:
        for name in ("background_rows", "max_rows", "max_evaluations", "lime_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"explanation limits: {name} must be a whole number of at least 1, not {value!r}")
        if self.kernel_samples < 0:
            raise InvalidInput(f"explanation limits: kernel_samples must be 0 or more, not {self.kernel_samples!r}")


@dataclass(frozen=True)
class Subject:
    """What is explained: the model's features (in the order ``predict`` reads them) and its output.

    ``predict`` maps an (n, k) float matrix to (n,) outputs: the positive class's probability for a
    classifier, the value for a regressor. ``native`` is the model object shap's model-specific
    explainers read (a tree ensemble, a linear model), or None.
    """

    features: tuple[str, ...]
    predict: Callable[[FloatArray], FloatArray]
    classifier: bool
    native: Any = None
    name: str = "model"


@dataclass(frozen=True)
class Attributions:
    """Explanations of n rows: a value per row and feature, the base per row, and the model's output."""

    method: Method
    algorithm: str  # tree, linear, kernel, lime
    space: Space
    features: tuple[str, ...]
    values: FloatArray  # (n, k)
    base: FloatArray  # (n,)
    output: FloatArray  # (n,): the model's own output in ``space``, from ``predict`` (not from the explanation)
    probability: FloatArray | None = None  # (n,): a classifier's probability, for saturated log-odds
    fit: FloatArray | None = None  # (n,): LIME's R² of its local surrogate
    notes: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        """Whether ``base + sum(values)`` is meant to equal the output (SHAP), not approximate it (LIME)."""
        return self.method == "shap"

    @property
    def total(self) -> FloatArray:
        return np.asarray(self.base + self.values.sum(axis=1), dtype=np.float64)

    def additivity_errors(self) -> FloatArray:
        """Per row |base + sum - output|; for saturated log-odds, |sigmoid(base + sum) - probability|."""
        errors = np.abs(self.total - self.output)
        if self.space == "log_odds" and self.probability is not None:
            p = self.probability
            saturated = p * (1 - p) < SATURATED
            errors = np.where(saturated, np.abs(_sigmoid(self.total) - p), errors)
        return np.asarray(errors, dtype=np.float64)

    def additive(self) -> npt.NDArray[np.bool_]:
        """Per row, whether the explanation adds up to the output within :data:`ADDITIVITY_TOLERANCE`."""
        return np.asarray(self.additivity_errors() <= ADDITIVITY_TOLERANCE * np.maximum(1.0, np.abs(self.output)))


class Explainer:
    """One algorithm set up for a subject and its background; explains any number of rows."""

    def __init__(
        self, subject: Subject, method: Method, algorithm: str, space: Space, limits: Limits, notes: Sequence[str]
    ) -> None:
        self.subject = subject
        self.method = method
        self.algorithm = algorithm
        self.space = space
        self.limits = limits
        self.notes = tuple(notes)
        self._run: Callable[[FloatArray], tuple[FloatArray, FloatArray, FloatArray | None]] = _unset
        self.background_rows = 0
        self.quiet = True

    def row_budget(self) -> int:
        """How many rows one job explains within the limits (the caller samples that many)."""
        limits = self.limits
        if self.algorithm == "kernel":
            per_row = _kernel_samples(self.subject, limits) * max(self.background_rows, 1)
        elif self.algorithm == "lime":
            per_row = limits.lime_samples
        else:
            return limits.max_rows
        return max(1, min(limits.max_rows, limits.max_evaluations // per_row))

    def explain(self, rows: Any) -> Attributions:
        """Attributions of every row of an (n, k) matrix whose columns are the subject's features."""
        matrix = _matrix(rows, self.subject)
        probability = self.subject.predict(matrix) if len(matrix) else np.empty(0)
        probability = np.asarray(probability, dtype=np.float64)
        output = to_space(probability, self.space)
        values: FloatArray = np.empty(matrix.shape)
        base: FloatArray = np.empty(0)
        fit: FloatArray | None = None
        try:
            with _quiet(self.quiet):
                if len(matrix):
                    values, base, fit = self._run(matrix)
        except CharterError:
            raise
        except Exception as exc:
            raise InvalidInput(f"{self.subject.name}: the {self.method} {self.algorithm} explainer failed: "
                               f"{_describe(exc)}") from None  # fmt: skip
        return Attributions(
            method=self.method, algorithm=self.algorithm, space=self.space, features=self.subject.features,
            values=np.asarray(values, dtype=np.float64), base=np.broadcast_to(base, len(matrix)).astype(np.float64),
            output=output, probability=probability if self.subject.classifier else None, fit=fit, notes=self.notes,
        )  # fmt: skip


def make_explainer(
    subject: Subject,
    *,
    method: Method = "shap",
    background: Any = None,
    limits: Limits | None = None,
    quiet: bool = True,
) -> Explainer:
    """The explainer for ``subject`` (module docstring); ``background`` rows in the subject's feature order.

    ``background`` may also be a function returning the rows (or None): it is called only when the
    algorithm needs them (a tree ensemble does not), so a caller can gather them lazily.

    ``quiet`` silences shap's and lime's warnings while they run; a library thread inside someone
    else's process (the SDK's writer) passes False, as Python's warning filters are process-wide.
    """
    limits = limits or Limits()
    with _quiet(quiet):
        found = _make(subject, method, background, limits)
    found.quiet = quiet
    return found


def _make(subject: Subject, method: Method, background: Any, limits: Limits) -> Explainer:
    if method not in METHODS:
        raise InvalidInput(f"method {method!r} is not one of {', '.join(METHODS)}")

    def data(what: str) -> FloatArray:
        found = background() if callable(background) else background
        rows = None if found is None else _matrix(found, subject)[: limits.background_rows]
        if rows is None or len(rows) == 0:
            raise InvalidInput(
                f"{subject.name}: {what} needs background rows (a sample of the data the model sees); none were given"
            )
        return rows

    if method == "lime":
        return _lime(subject, data("LIME"), limits)
    shap = load("shap")
    notes: list[str] = []
    if subject.native is not None:
        for build in (_tree, _linear):
            try:
                found = build(shap, subject, data, limits, notes)
            except _NotThisKind:
                continue
            if found is not None:
                return found
    return _kernel(shap, subject, data("Kernel SHAP"), limits, notes)


def load(name: str) -> Any:
    """Import shap or lime (or one of their modules), or say how to install them."""
    try:
        return importlib.import_module(name)
    except ImportError:
        package = name.split(".")[0]
        raise InvalidInput(
            f"explanations need the Python package {package!r}, which is not installed; install it with {EXTRA}"
        ) from None


def to_space(probability: FloatArray, space: Space) -> FloatArray:
    """Model outputs (a probability, or a value) in the explained space; log-odds of probabilities clipped off 0, 1."""
    values = np.asarray(probability, dtype=np.float64)
    if space != "log_odds":
        return values
    clipped = np.clip(values, 1e-15, 1 - 1e-15)
    return np.asarray(np.log(clipped) - np.log1p(-clipped), dtype=np.float64)


# --- the algorithms ------------------------------------------------------------------------


class _NotThisKind(Exception):
    """The model is not of the kind this explainer reads."""


#: The background rows, asked for by what it is for (named in the error when there are none).
_Rows = Callable[[str], FloatArray]


def _tree(shap: Any, subject: Subject, data: _Rows, limits: Limits, notes: list[str]) -> Explainer | None:
    try:
        explainer = shap.TreeExplainer(subject.native)
    except Exception:
        raise _NotThisKind from None
    tree_output = str(getattr(explainer.model, "tree_output", ""))
    space = _TREE_SPACES.get(tree_output)
    if space is None or (space == "value") == subject.classifier:
        notes.append(f"TreeExplainer reads this model's trees as {tree_output or 'unknown'} output; Kernel SHAP used")
        return None
    found = Explainer(subject, "shap", "tree", space, limits, notes)  # type: ignore[arg-type]

    def run(matrix: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        values = np.asarray(explainer.shap_values(matrix, check_additivity=False), dtype=np.float64)
        expected = np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)
        if values.ndim == 3:  # one slice per class: the positive class is the last
            values = values[:, :, -1]
        return values, np.full(len(matrix), expected[-1]), None

    found._run = run
    return found


def _linear(shap: Any, subject: Subject, data: _Rows, limits: Limits, notes: list[str]) -> Explainer | None:
    native = subject.native
    if not type(native).__module__.startswith("sklearn.linear_model"):
        raise _NotThisKind
    coef = np.asarray(getattr(native, "coef_", None), dtype=np.float64)
    if coef.ndim > 2 or (coef.ndim == 2 and coef.shape[0] != 1) or coef.size != len(subject.features):
        raise _NotThisKind  # several classes' coefficients, or not one per feature
    rows = data("the linear explainer")
    explainer = shap.LinearExplainer(native, shap.maskers.Independent(rows, max_samples=limits.background_rows))
    space: Space = "log_odds" if subject.classifier else "value"
    found = Explainer(subject, "shap", "linear", space, limits, notes)
    found.background_rows = len(rows)

    def run(matrix: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        values = np.asarray(explainer.shap_values(matrix), dtype=np.float64)
        base = float(np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)[-1])
        return values, np.full(len(matrix), base), None

    found._run = run
    return found


def _kernel(shap: Any, subject: Subject, data: FloatArray, limits: Limits, notes: list[str]) -> Explainer:
    space: Space = "probability" if subject.classifier else "value"
    found = Explainer(subject, "shap", "kernel", space, limits, notes)
    found.background_rows = len(data)
    samples = _kernel_samples(subject, limits)
    explainer = shap.KernelExplainer(subject.predict, data, link="identity")

    def run(matrix: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        with _seeded(limits.seed):
            values = explainer.shap_values(matrix, nsamples=samples, l1_reg=False, silent=True)
        base = float(np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)[-1])
        return np.asarray(values, dtype=np.float64).reshape(len(matrix), -1), np.full(len(matrix), base), None

    found._run = run
    return found


def _lime(subject: Subject, data: FloatArray, limits: Limits) -> Explainer:
    tabular = load("lime.lime_tabular")
    space: Space = "probability" if subject.classifier else "value"
    found = Explainer(subject, "lime", "lime", space, limits, ())
    found.background_rows = len(data)
    seed = 0 if limits.seed is None else limits.seed
    try:
        explainer = tabular.LimeTabularExplainer(
            data, feature_names=list(subject.features), mode="regression", discretize_continuous=True,
            random_state=seed,
        )  # fmt: skip
    except Exception as exc:
        raise InvalidInput(f"{subject.name}: LIME cannot use the background rows: {_describe(exc)}") from None
    k = len(subject.features)

    def run(matrix: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        values, base, fit = np.zeros(matrix.shape), np.zeros(len(matrix)), np.zeros(len(matrix))
        for i, row in enumerate(matrix):
            # The same seed for every row: a row's explanation does not depend on which rows came before.
            state = np.random.RandomState(seed)
            explainer.random_state = explainer.base.random_state = state
            if explainer.discretizer is not None:  # it draws values inside the bins from its own state
                explainer.discretizer.random_state = state
            found = explainer.explain_instance(row, subject.predict, num_features=k, num_samples=limits.lime_samples)
            for j, weight in found.local_exp[1]:  # regression mode: label 1 holds the weights (0 their negation)
                values[i, int(j)] = weight
            base[i], fit[i] = float(found.intercept[1]), float(found.score)
        return values, base, fit

    found._run = run
    return found


# --- helpers -----------------------------------------------------------------------------------


def _unset(matrix: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    raise InvalidInput("explainer used before it was set up")


def _kernel_samples(subject: Subject, limits: Limits) -> int:
    return limits.kernel_samples or 2 * len(subject.features) + 256


def _matrix(rows: Any, subject: Subject) -> FloatArray:
    try:
        matrix = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{subject.name}: explanations read numbers; the rows given are not ({exc})") from None
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2 or matrix.shape[1] != len(subject.features):
        raise InvalidInput(
            f"{subject.name}: rows of shape {matrix.shape} given for {len(subject.features)} features "
            f"({', '.join(subject.features)})"
        )
    return matrix


def _sigmoid(values: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-values)), dtype=np.float64)


def _describe(exc: BaseException) -> str:
    from charter.integrations.frameworks import describe

    return describe(exc)


@contextlib.contextmanager
def _quiet(quiet: bool = True) -> Iterator[None]:
    """shap and lime warn and log progress freely; none of it is for Charter's users."""
    if not quiet:
        yield
        return
    logger = logging.getLogger("shap")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Kernel SHAP samples coalitions from NumPy's global state: seed it for the call, then put it back."""
    if seed is None:
        yield
        return
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


__all__ = [
    "ADDITIVITY_TOLERANCE",
    "EXTRA",
    "METHODS",
    "Attributions",
    "Explainer",
    "Limits",
    "Method",
    "Space",
    "Subject",
    "load",
    "make_explainer",
    "to_space",
]
