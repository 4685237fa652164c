"""Models to predict on an Arrow table: a file (scikit-learn, XGBoost, LightGBM, TorchScript), a command, a URL.

:func:`load_model` never checks the artifact's hash: the evaluation service verifies its SHA-256 first
(a pickle runs code when loaded). Frameworks are imported when a model needs them (extras
``charter[xgboost]``, ``charter[lightgbm]``, ``charter[torch]``). A model's stored feature names pick
its columns, else ``feature_names``, else the whole table. Binary scores are the probability of
``classes[-1]``; boosters and TorchScript know no class names, so their classes are 0..k-1 (see
:func:`from_outputs` for TorchScript outputs). :func:`command_model` and :func:`http_model` serve any
other framework (protocols in :mod:`.remote_model`). docs/evaluation.md has every rule.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from charter.errors import CharterError, InvalidInput

Output = Literal["auto", "logits", "probabilities", "values"]
OUTPUTS = ("auto", "logits", "probabilities", "values")
FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "torchscript")
ALIASES = {"scikit-learn": "sklearn", "pytorch": "torchscript", "torch": "torchscript"}
SUFFIXES = (
    dict.fromkeys((".pkl", ".pickle", ".joblib"), "sklearn")
    | dict.fromkeys((".json", ".ubj"), "xgboost")
    | {".txt": "lightgbm", ".pt": "torchscript", ".pts": "torchscript"}
)
EXTRAS = {"xgboost": "charter[xgboost]", "lightgbm": "charter[lightgbm]", "torch": "charter[torch]"}
_LIGHTGBM_CLASSIFIERS = {"binary", "multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr"}
_OTHER = "for another framework, serve the model with a command or an HTTP endpoint"


@dataclass(frozen=True)
class Predictions:
    """A model's answer for n rows: labels (n,), scores (binary (n,), multiclass (n, k)) and class order."""

    labels: npt.NDArray[Any]
    scores: npt.NDArray[np.float64] | None = None
    classes: tuple[Any, ...] | None = None


class ModelAdapter(Protocol):
    """Anything that predicts on a table of features: a loaded artifact, a command, an HTTP endpoint."""

    kind: str

    def predict(self, features: pa.Table) -> Predictions: ...


def load_model(
    path: Path,
    *,
    framework: str = "",
    feature_names: Sequence[str] | None = None,
    output: Output = "auto",
) -> ModelAdapter:
    """The model stored at ``path``, ready to predict; ``output`` applies to TorchScript only."""
    path = Path(path)
    if output not in OUTPUTS:
        raise InvalidInput(f"unknown output {output!r} (known: {', '.join(OUTPUTS)})")
    wanted = ALIASES.get(framework.lower(), framework.lower())  # registries write "XGBoost", "PyTorch" ...
    if wanted and wanted not in FRAMEWORKS:
        known = ", ".join(sorted([*FRAMEWORKS, *ALIASES]))
        raise InvalidInput(f"unknown model framework {framework!r} (known: {known}); {_OTHER}")
    if not path.exists():
        raise InvalidInput(f"model file {path} does not exist")
    if path.is_dir():
        if (path / "MLmodel").is_file():
            path, wanted = _mlflow_file(path, wanted)
        else:
            path = _single_model_file(path, wanted)
    wanted = wanted or SUFFIXES.get(path.suffix.lower(), "")
    if not wanted:
        known = ", ".join(sorted(SUFFIXES))
        raise InvalidInput(f"cannot tell the framework of {path.name} from its extension (known: {known}); pass it")
    names = list(feature_names) if feature_names is not None else None
    if wanted == "torchscript":
        return TorchScriptModel(path, names, output)
    loader: type[_Loaded] = {"sklearn": SklearnModel, "xgboost": XGBoostModel, "lightgbm": LightGBMModel}[wanted]
    return loader(path, names)


def command_model(command: Sequence[str], *, timeout: float = 600, workdir: Path | None = None) -> ModelAdapter:
    """A model run as a command on a Parquet file of features (protocol: :mod:`.remote_model`)."""
    from charter.integrations.remote_model import CommandModel

    return CommandModel(command, timeout=timeout, workdir=workdir)


def http_model(
    url: str,
    *,
    timeout: float = 60,
    batch_rows: int = 1000,
    headers: Mapping[str, str] | None = None,
    request_format: Literal["columns", "instances"] = "columns",
) -> ModelAdapter:
    """A model behind an HTTP endpoint, sent rows as JSON in batches (protocol: :mod:`.remote_model`)."""
    from charter.integrations.remote_model import HttpModel

    return HttpModel(url, timeout=timeout, batch_rows=batch_rows, headers=headers, request_format=request_format)


class _Loaded:
    """What the file adapters share: the file, the columns they read, turning errors into InvalidInput."""

    kind = ""

    def __init__(self, path: Path, feature_names: list[str] | None) -> None:
        self.path = path
        self.feature_names = feature_names

    def predict(self, features: pa.Table) -> Predictions:
        n = features.num_rows
        if n == 0:
            return Predictions(labels=np.empty(0))
        try:
            predictions = self._predict(features)
        except CharterError:
            raise
        except Exception as exc:
            raise InvalidInput(f"model {self.path.name} failed to predict {n} rows: {describe(exc)}") from None
        if len(predictions.labels) != n:
            raise InvalidInput(f"model {self.path.name} returned {len(predictions.labels)} predictions for {n} rows")
        return predictions

    def _predict(self, features: pa.Table) -> Predictions:
        raise NotImplementedError

    def _columns(self, table: pa.Table, stored: Sequence[str] | None, width: int | None) -> list[str]:
        """The columns to read: the model's own names, else feature_names, else the whole table."""
        names = list(stored) if stored else self.feature_names
        hint = "" if names is not None else f" ({', '.join(table.column_names)}); pass feature_names"
        names = list(table.column_names) if names is None else names
        missing = [name for name in names if name not in table.column_names]
        if missing:
            raise InvalidInput(f"model {self.path.name} needs columns missing from the data: {', '.join(missing)}")
        if width is not None and len(names) != width:
            raise InvalidInput(f"model {self.path.name} reads {width} features but was given {len(names)}{hint}")
        return names

    def _matrix(self, table: pa.Table, names: Sequence[str], dtype: Any = np.float64) -> npt.NDArray[Any]:
        columns = []
        for name in names:
            kind = table.schema.field(name).type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)) and not (
                pa.types.is_decimal(kind) or pa.types.is_null(kind)
            ):
                raise InvalidInput(
                    f"model {self.path.name} reads numbers, but column {name!r} holds {kind}; "
                    "encode it as numbers first (or use a scikit-learn pipeline that does)"
                )
            columns.append(pc.cast(table.column(name), pa.float64()).to_numpy(zero_copy_only=False))
        return np.column_stack(columns).astype(dtype, copy=False)


class SklearnModel(_Loaded):
    """A fitted scikit-learn estimator or pipeline from a pickle or joblib file."""

    kind = "sklearn"

    def __init__(self, path: Path, feature_names: list[str] | None) -> None:
        super().__init__(path, feature_names)
        self.model = _unpickle(path)
        if not callable(getattr(self.model, "predict", None)):
            raise InvalidInput(
                f"{path.name} holds a {type(self.model).__name__}, not a fitted model (it has no predict method)"
            )

    def _predict(self, features: pa.Table) -> Predictions:
        stored = getattr(self.model, "feature_names_in_", None)
        width = getattr(self.model, "n_features_in_", None)
        names = self._columns(features, None if stored is None else [str(n) for n in stored], width)
        if stored is not None:
            data: Any = features.select(names).to_pandas()
        else:
            data = _object_matrix(features, names)
            if data is None:
                data = self._matrix(features, names)
        labels = np.asarray(self.model.predict(data))
        if not callable(getattr(self.model, "predict_proba", None)):
            return Predictions(labels=labels)
        proba = np.asarray(self.model.predict_proba(data), dtype=np.float64)
        known = getattr(self.model, "classes_", None)
        classes = tuple(np.asarray(known).tolist()) if known is not None else tuple(range(proba.shape[1]))
        scores = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
        return Predictions(labels=labels, scores=scores, classes=classes)


class XGBoostModel(_Loaded):
    """An XGBoost model in its native JSON or UBJSON format (a Booster or XGBClassifier/XGBRegressor)."""

    kind = "xgboost"

    def __init__(self, path: Path, feature_names: list[str] | None) -> None:
        super().__init__(path, feature_names)
        self._xgb = _module("xgboost", path)
        try:
            self.booster = self._xgb.Booster(model_file=str(path))
            config = yaml.safe_load(self.booster.save_config())
        except Exception as exc:
            raise InvalidInput(
                f"cannot load {path.name} as an XGBoost model (a native .json or .ubj file): {describe(exc)}"
            ) from None
        self.objective = str(config["learner"]["objective"]["name"])

    def _predict(self, features: pa.Table) -> Predictions:
        stored = self.booster.feature_names
        names = self._columns(features, stored, self.booster.num_features())
        matrix = self._xgb.DMatrix(self._matrix(features, names), feature_names=list(stored) if stored else None)
        values = np.asarray(self.booster.predict(matrix), dtype=np.float64)
        if self.objective in ("binary:logistic", "multi:softprob", "binary:logitraw"):
            return _classified(_sigmoid(values) if self.objective == "binary:logitraw" else values)
        if self.objective in ("multi:softmax", "binary:hinge"):
            return Predictions(labels=values.astype(np.int64))
        return Predictions(labels=values)


class LightGBMModel(_Loaded):
    """A LightGBM model in its native text format."""

    kind = "lightgbm"

    def __init__(self, path: Path, feature_names: list[str] | None) -> None:
        super().__init__(path, feature_names)
        lightgbm = _module("lightgbm", path)
        try:
            with path.open("rb") as file:
                if file.read(5) != b"tree\n":  # checked first: LightGBM logs a fatal error on stderr otherwise
                    raise ValueError("not a LightGBM text model")
            self.booster = lightgbm.Booster(model_file=str(path))
        except Exception as exc:
            raise InvalidInput(f"cannot load {path.name} as a LightGBM model: {describe(exc)}") from None
        self.objective = (str(self.booster.params.get("objective", "")).split() or [""])[0]

    def _predict(self, features: pa.Table) -> Predictions:
        stored = [str(n) for n in self.booster.feature_name()]
        if all(name == f"Column_{i}" for i, name in enumerate(stored)):
            stored = []  # trained without names
        names = self._columns(features, stored, self.booster.num_feature())
        values = np.asarray(self.booster.predict(self._matrix(features, names)), dtype=np.float64)
        return _classified(values) if self.objective in _LIGHTGBM_CLASSIFIERS else Predictions(labels=values)


class TorchScriptModel(_Loaded):
    """A TorchScript module (``torch.jit.script`` or ``torch.jit.trace``, then ``.save``) run on the CPU."""

    kind = "torchscript"

    def __init__(self, path: Path, feature_names: list[str] | None, output: Output = "auto") -> None:
        super().__init__(path, feature_names)
        self.output = output
        self._torch = _module("torch", path)
        try:
            self.module = self._torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:
            raise InvalidInput(
                f"cannot load {path.name} as TorchScript: {describe(exc)} "
                "(save the model with torch.jit.script(model).save(path))"
            ) from None

    def _predict(self, features: pa.Table) -> Predictions:
        names = self._columns(features, None, None)
        inputs = self._torch.from_numpy(self._matrix(features, names, np.float32))
        try:
            with self._torch.no_grad():
                result = self.module(inputs)
        except Exception as exc:  # TorchScript puts its own traceback first and the reason last
            raise InvalidInput(
                f"model {self.path.name} failed on a {inputs.shape[0]}x{inputs.shape[1]} float32 matrix of columns "
                f"{', '.join(names)}: {describe(exc, last=True)}"
            ) from None
        if not isinstance(result, self._torch.Tensor):
            raise InvalidInput(f"model {self.path.name} returned a {type(result).__name__}, not a tensor")
        return from_outputs(result.detach().cpu().numpy(), self.output, where=f"model {self.path.name}")


def from_outputs(values: npt.NDArray[Any], output: Output, *, where: str) -> Predictions:
    """Predictions from a network's outputs, shape (n,), (n, 1) or (n, k), as ``output`` says.

    - ``values``: a regression; one output column, returned as the labels, no scores.
    - ``probabilities`` / ``logits``: one column is the positive class's probability / logit
      (sigmoid), label 1 above 0.5; k >= 2 columns are class probabilities / logits (softmax),
      label = argmax.
    - ``auto``: probabilities when every output lies in [0, 1] (and, with k >= 2 columns, each
      row sums to 1 within 1e-4), else logits. A regression must say ``values``.
    """
    out = np.asarray(values, dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim not in (1, 2):
        raise InvalidInput(f"{where} returned outputs of shape {values.shape}; expected (n,), (n, 1) or (n, k)")
    if output == "values":
        if out.ndim != 1:
            raise InvalidInput(f"{where} returned {out.shape[1]} columns; output 'values' takes one")
        return Predictions(labels=out)
    finite = bool(np.isfinite(out).all())
    unit = finite and bool(((out >= 0) & (out <= 1)).all())
    if out.ndim == 1:
        return _classified(out if output == "probabilities" or (output == "auto" and unit) else _sigmoid(out))
    summed = unit and bool(np.allclose(out.sum(axis=1), 1.0, atol=1e-4))
    return _classified(out if output == "probabilities" or (output == "auto" and summed) else _softmax(out))


def describe(exc: BaseException, *, last: bool = False) -> str:
    """An exception as one short line (its first, or last, line; its first sentence if long): ``ValueError: ...``."""
    text = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = (text[-1] if last else text[0]).removeprefix(f"{type(exc).__name__}: ") if text else ""
    if len(reason) > 160:
        reason = reason[: reason.index(". ") + 1] if ". " in reason[:300] else reason[:297] + "..."
    return f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__


def _classified(p: npt.NDArray[np.float64]) -> Predictions:
    """Class probabilities (n,) of class 1 (label 1 above 0.5) or (n, k) (label = argmax) as Predictions."""
    if p.ndim == 1:
        return Predictions(labels=(p > 0.5).astype(np.int64), scores=p, classes=(0, 1))
    labels = np.argmax(p, axis=1).astype(np.int64)
    return Predictions(labels=labels, scores=p[:, 1] if p.shape[1] == 2 else p, classes=tuple(range(p.shape[1])))


def _sigmoid(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-values)), dtype=np.float64)


def _softmax(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


def _object_matrix(table: pa.Table, names: Sequence[str]) -> npt.NDArray[Any] | None:
    """Columns with text as an object matrix (for an estimator that encodes text itself); None if all numeric."""
    types = [table.schema.field(name).type for name in names]
    if not any(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t) for t in types):
        return None
    return np.column_stack([np.asarray(table.column(name).to_pylist(), dtype=object) for name in names])


def _module(name: str, path: Path) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        extra = EXTRAS.get(name, name)
        raise InvalidInput(f"loading {path.name} needs the Python package {name!r}; install {extra}") from None


def _unpickle(path: Path) -> Any:
    load: Any = _module("joblib", path).load if path.suffix.lower() == ".joblib" else pickle.load
    try:
        with path.open("rb") as file:
            return load(file)
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get(str(exc.name), str(exc.name))
        raise InvalidInput(f"{path.name} needs the Python module {exc.name!r}; install {extra}") from None
    except Exception as exc:
        raise InvalidInput(f"cannot load {path.name} as a scikit-learn pickle: {describe(exc)}") from None


def _single_model_file(folder: Path, framework: str) -> Path:
    suffixes = [suffix for suffix, name in SUFFIXES.items() if name == framework or not framework]
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
    if len(found) != 1:
        listed = ", ".join(str(p.relative_to(folder)) for p in found) or f"none of {', '.join(suffixes)}"
        raise InvalidInput(f"{folder} must hold exactly one model file, not {len(found)} ({listed}); pass the file")
    return found[0]


def _mlflow_file(folder: Path, framework: str) -> tuple[Path, str]:
    """The file inside an MLflow model folder and its framework: the sklearn, xgboost or lightgbm flavour."""
    try:
        flavors = dict(yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))["flavors"])
    except (OSError, UnicodeDecodeError, yaml.YAMLError, LookupError, TypeError, ValueError) as exc:
        raise InvalidInput(f"cannot read the MLflow model {folder / 'MLmodel'}: {describe(exc)}") from None
    for flavor in ("sklearn", "xgboost", "lightgbm"):
        conf = flavors.get(flavor)
        if not isinstance(conf, dict) or (framework and framework != flavor):
            continue
        name = str(conf.get("pickled_model" if flavor == "sklearn" else "data", ""))
        if conf.get("serialization_format") == "skops" or name.endswith(".skops"):
            skops = "save it with serialization_format='cloudpickle'"
            raise InvalidInput(f"the MLflow model {folder} is saved with skops, which Charter does not load; {skops}")
        file = folder / name
        if not name or not file.is_file():
            raise InvalidInput(f"the MLflow model {folder} names {flavor} file {name!r}, which does not exist")
        return file, "sklearn" if file.suffix.lower() in (".pkl", ".pickle") else flavor
    present = ", ".join(sorted(str(f) for f in flavors)) or "none"
    raise InvalidInput(
        f"the MLflow model {folder} has no sklearn, xgboost or lightgbm flavour (flavours: {present}); {_OTHER}"
    )
