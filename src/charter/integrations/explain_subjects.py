"""What an explainer explains, built from a loaded artifact or from a model object in memory.

Both give a :class:`~charter.integrations.explainers.Subject`: the model's features in the order
it reads them, and a function from an (n, k) float matrix to the output explained (a binary
classifier's positive-class probability, a regressor's value).

- :func:`subject_from_adapter`: an artifact loaded by :mod:`.frameworks` (what ``charter
  evaluate`` and ``charter explain`` use). The adapter predicts, so the output is the one
  evaluation scores; the model object inside (a scikit-learn estimator, an XGBoost or LightGBM
  booster) is handed to shap's model-specific explainers.
- :func:`subject_from_model`: the object the SDK wraps (an estimator, a PyTorch module, a
  function), for explanations sampled while decisions are logged.

Multiclass models are not explained (which class would be?): a clear error says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from charter.errors import InvalidInput
from charter.integrations.explainers import FloatArray, Subject
from charter.integrations.frameworks import (
    LightGBMModel,
    ModelAdapter,
    Output,
    Predictions,
    SklearnModel,
    XGBoostModel,
    from_outputs,
)


def model_features(adapter: ModelAdapter, given: Sequence[str]) -> list[str]:
    """The columns the loaded model reads, in its order: its own stored names, else ``given``."""
    stored: list[str] = []
    if isinstance(adapter, SklearnModel):
        found = getattr(adapter.model, "feature_names_in_", None)
        stored = [] if found is None else [str(n) for n in found]
    elif isinstance(adapter, XGBoostModel):
        stored = list(adapter.booster.feature_names or [])
    elif isinstance(adapter, LightGBMModel):
        stored = [str(n) for n in adapter.booster.feature_name()]
        if all(name == f"Column_{i}" for i, name in enumerate(stored)):
            stored = []
    return stored or list(given)


def subject_from_adapter(adapter: ModelAdapter, features: Sequence[str], *, classifier: bool, name: str) -> Subject:
    """A loaded artifact as a subject; ``features`` name its columns when the model stores none."""
    names = tuple(model_features(adapter, features))
    native = None
    if isinstance(adapter, SklearnModel):
        native = adapter.model
    elif isinstance(adapter, XGBoostModel | LightGBMModel):
        native = adapter.booster

    def predict(matrix: FloatArray) -> FloatArray:
        by_column = np.ascontiguousarray(matrix.T, dtype=np.float64)  # one copy, then each column as it is
        table = pa.table({column: pa.array(by_column[j], pa.float64()) for j, column in enumerate(names)})
        return _output(adapter.predict(table), classifier, name)

    return Subject(features=names, predict=predict, classifier=classifier, native=native, name=name)


def subject_from_model(
    model: Any, features: Sequence[str], *, classifier: bool | None = None, name: str = "model"
) -> Subject:
    """An in-memory model as a subject (module docstring); ``classifier`` None: told by what it returns.

    An estimator with ``predict_proba`` is a classifier; a PyTorch module or a function is read as
    :func:`~charter.integrations.frameworks.from_outputs` reads TorchScript (``auto``, or ``values``
    when ``classifier`` is False); anything else with ``predict`` gives values.
    """
    names = tuple(features)
    frame = _needs_frame(model)
    if callable(getattr(model, "predict_proba", None)) and classifier is not False:

        def proba(matrix: FloatArray) -> FloatArray:
            found = np.asarray(model.predict_proba(_inputs(matrix, names, frame)), dtype=np.float64)
            if found.ndim != 2 or found.shape[1] != 2:
                raise InvalidInput(f"{name}: predict_proba gives {found.shape[-1]} classes; explanations need two")
            return np.asarray(found[:, 1], dtype=np.float64)

        return Subject(names, proba, True, native=model, name=name)
    torch = _torch_module(model)
    if torch is not None or not callable(getattr(model, "predict", None)):
        output: Output = "values" if classifier is False else "auto"

        def call(matrix: FloatArray) -> FloatArray:
            if torch is not None:
                with torch.no_grad():
                    raw = model(torch.from_numpy(matrix.astype(np.float32)))
                values = raw.detach().cpu().numpy()
            else:
                values = np.asarray(model(matrix))
            return _output(from_outputs(values, output, where=name), classifier is not False, name)

        return Subject(names, call, classifier is not False, native=None, name=name)

    def predict(matrix: FloatArray) -> FloatArray:
        return np.asarray(model.predict(_inputs(matrix, names, frame)), dtype=np.float64)

    if classifier:
        raise InvalidInput(f"{name}: a classifier without predict_proba gives no probability to explain")
    return Subject(names, predict, False, native=model, name=name)


def _output(predictions: Predictions, classifier: bool, name: str) -> FloatArray:
    if not classifier:
        return np.asarray(predictions.labels, dtype=np.float64)
    scores = predictions.scores
    if scores is None:
        raise InvalidInput(f"{name}: the model gives no scores; explanations of a classifier explain its probability")
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise InvalidInput(f"{name}: the model scores {values.shape[1]} classes; explanations cover binary models")
    return values


def _needs_frame(model: Any) -> bool:
    """An estimator fitted on a DataFrame wants one back (else scikit-learn warns on every call)."""
    return getattr(model, "feature_names_in_", None) is not None


def _inputs(matrix: FloatArray, names: tuple[str, ...], frame: bool) -> Any:
    if not frame:
        return matrix
    import importlib

    return importlib.import_module("pandas").DataFrame(matrix, columns=list(names))


def _torch_module(model: Any) -> Any:
    """The torch module, when ``model`` is a PyTorch module (torch is only looked up, never imported here)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module | torch.jit.ScriptModule):
        return None
    return torch
