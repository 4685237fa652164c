"""Model files loaded for real (scikit-learn, XGBoost, LightGBM, TorchScript, MLflow folders) predict as in memory."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from charter.errors import InvalidInput
from charter.integrations.frameworks import (
    ALIASES,
    FRAMEWORKS,
    OUTPUTS,
    SUFFIXES,
    ModelAdapter,
    Predictions,
    from_outputs,
    load_model,
)

FEATURES = ["income", "debt", "age", "tenure"]
# torch 2.13 deprecates TorchScript (in favour of torch.export); the format is still what Charter loads
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")


def invalid(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    assert info.value.code == "input.invalid"
    return info.value.message


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 200
    frame = pd.DataFrame({name: rng.normal(size=n) for name in FEATURES})
    frame["sex"] = rng.choice(["F", "M"], size=n)
    frame["label"] = (frame.income - frame.debt + 0.3 * rng.normal(size=n) > 0).astype(int)
    frame["grade"] = np.where(frame.income > 0.5, "a", np.where(frame.income < -0.5, "c", "b"))
    frame["amount"] = 3 * frame.income + frame.age**2
    return frame


@pytest.fixture
def table(frame: pd.DataFrame) -> pa.Table:
    # columns in another order than the models were trained with, plus columns the models do not read
    return pa.Table.from_pandas(frame[["label", "tenure", "sex", "age", "debt", "grade", "income", "amount"]])


def save_pickle(model: Any, path: Path) -> Path:
    if path.suffix == ".joblib":
        joblib.dump(model, path)
    else:
        path.write_bytes(pickle.dumps(model))
    return path


# scikit-learn -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pkl", ".pickle", ".joblib"])
def test_a_pickled_pipeline_predicts_as_in_memory(
    frame: pd.DataFrame, table: pa.Table, tmp_path: Path, suffix: str
) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame[FEATURES], frame.label)
    adapter = load_model(save_pickle(model, tmp_path / f"model{suffix}"))
    got = adapter.predict(table)
    assert adapter.kind == "sklearn"
    assert np.array_equal(got.labels, model.predict(frame[FEATURES]))
    assert got.scores is not None and np.array_equal(got.scores, model.predict_proba(frame[FEATURES])[:, 1])
    assert got.classes == (0, 1) and all(type(c) is int for c in got.classes)


def test_a_model_without_feature_names_reads_feature_names_in_order(
    frame: pd.DataFrame, table: pa.Table, tmp_path: Path
) -> None:
    matrix = frame[FEATURES].to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(matrix, frame.label)
    adapter = load_model(save_pickle(model, tmp_path / "model.pkl"), feature_names=FEATURES)
    got = adapter.predict(table)
    assert np.array_equal(got.labels, model.predict(matrix))
    # the same numbers; a matrix laid out differently in memory may round differently in the last bit
    assert got.scores is not None and np.allclose(got.scores, model.predict_proba(matrix)[:, 1], rtol=0, atol=1e-12)


def test_a_regressor_gives_values_and_no_scores(frame: pd.DataFrame, table: pa.Table, tmp_path: Path) -> None:
    model = GradientBoostingRegressor(n_estimators=20, random_state=0).fit(frame[FEATURES], frame.amount)
    got = load_model(save_pickle(model, tmp_path / "model.joblib"), framework="sklearn").predict(table)
    assert np.array_equal(got.labels, model.predict(frame[FEATURES]))
    assert got.scores is None and got.classes is None


def test_a_multiclass_pipeline_with_text_columns(frame: pd.DataFrame, table: pa.Table, tmp_path: Path) -> None:
    encode = make_column_transformer((StandardScaler(), FEATURES), (OneHotEncoder(), ["sex"]))
    model = make_pipeline(encode, LogisticRegression()).fit(frame[[*FEATURES, "sex"]], frame.grade)
    got = load_model(save_pickle(model, tmp_path / "model.pkl")).predict(table)
    assert np.array_equal(got.labels, model.predict(frame[[*FEATURES, "sex"]]))
    assert got.classes == ("a", "b", "c")
    assert got.scores is not None and np.array_equal(got.scores, model.predict_proba(frame[[*FEATURES, "sex"]]))


def test_an_empty_table_gives_no_predictions(frame: pd.DataFrame, table: pa.Table, tmp_path: Path) -> None:
    model = LogisticRegression().fit(frame[FEATURES], frame.label)
    got = load_model(save_pickle(model, tmp_path / "model.pkl")).predict(table.slice(0, 0))
    assert len(got.labels) == 0


# XGBoost, LightGBM ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_an_xgboost_classifier_in_its_native_format(
    frame: pd.DataFrame, table: pa.Table, tmp_path: Path, suffix: str
) -> None:
    import xgboost

    x = frame[FEATURES].to_numpy()
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(x, frame.label)
    model.save_model(tmp_path / f"model{suffix}")
    adapter = load_model(tmp_path / f"model{suffix}", feature_names=FEATURES)
    got = adapter.predict(table)
    assert adapter.kind == "xgboost" and got.classes == (0, 1)
    assert np.array_equal(got.labels, model.predict(x))
    assert got.scores is not None and np.allclose(got.scores, model.predict_proba(x)[:, 1], atol=1e-6)


def test_xgboost_multiclass_with_feature_names_and_a_regressor(
    frame: pd.DataFrame, table: pa.Table, tmp_path: Path
) -> None:
    import xgboost

    grades = frame.grade.map({"a": 0, "b": 1, "c": 2})
    classifier = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(frame[FEATURES], grades)
    classifier.save_model(tmp_path / "classes.json")
    got = load_model(tmp_path / "classes.json").predict(table)  # the model's own feature names pick the columns
    assert np.array_equal(got.labels, classifier.predict(frame[FEATURES])) and got.classes == (0, 1, 2)
    assert got.scores is not None and np.allclose(got.scores, classifier.predict_proba(frame[FEATURES]), atol=1e-6)
    regressor = xgboost.XGBRegressor(n_estimators=5, n_jobs=1).fit(frame[FEATURES], frame.amount)
    regressor.save_model(tmp_path / "amount.ubj")
    got = load_model(tmp_path / "amount.ubj").predict(table)
    assert np.allclose(got.labels, regressor.predict(frame[FEATURES]), atol=1e-6) and got.scores is None


def test_a_lightgbm_booster_in_its_text_format(frame: pd.DataFrame, table: pa.Table, tmp_path: Path) -> None:
    import lightgbm

    x = frame[FEATURES].to_numpy()
    model = lightgbm.LGBMClassifier(n_estimators=10, num_leaves=4, n_jobs=1, verbose=-1).fit(x, frame.label)
    model.booster_.save_model(tmp_path / "model.txt")
    adapter = load_model(tmp_path / "model.txt", feature_names=FEATURES)
    got = adapter.predict(table)
    assert adapter.kind == "lightgbm" and got.classes == (0, 1)
    assert np.array_equal(got.labels, model.predict(x))
    assert got.scores is not None and np.allclose(got.scores, model.predict_proba(x)[:, 1], atol=1e-6)


def test_lightgbm_multiclass_by_feature_name_and_regression(
    frame: pd.DataFrame, table: pa.Table, tmp_path: Path
) -> None:
    import lightgbm

    grades = frame.grade.map({"a": 0, "b": 1, "c": 2})
    params = {"num_leaves": 4, "verbose": -1, "num_threads": 1}
    multi = lightgbm.train(
        {**params, "objective": "multiclass", "num_class": 3}, lightgbm.Dataset(frame[FEATURES], grades), 5
    )
    multi.save_model(tmp_path / "grades.txt")
    got = load_model(tmp_path / "grades.txt").predict(table)
    expected = multi.predict(frame[FEATURES].to_numpy())
    assert np.array_equal(got.labels, expected.argmax(axis=1)) and got.classes == (0, 1, 2)
    assert got.scores is not None and np.allclose(got.scores, expected, atol=1e-6)
    regression = lightgbm.train(
        {**params, "objective": "regression"}, lightgbm.Dataset(frame[FEATURES], frame.amount), 5
    )
    regression.save_model(tmp_path / "amount.txt")
    got = load_model(tmp_path / "amount.txt").predict(table)
    assert np.allclose(got.labels, regression.predict(frame[FEATURES].to_numpy()), atol=1e-6) and got.scores is None


# TorchScript --------------------------------------------------------------------------------------------------------


def scripted(module: Any, path: Path, *, trace: bool = False) -> Path:
    import torch

    module.eval()
    saved = torch.jit.trace(module, torch.zeros(2, len(FEATURES))) if trace else torch.jit.script(module)
    saved.save(str(path))
    return path


def torch_out(module: Any, frame: pd.DataFrame) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(frame[FEATURES].to_numpy(np.float32).copy())).numpy().astype(np.float64)


@pytest.mark.parametrize("trace", [False, True], ids=["script", "trace"])
def test_a_torchscript_logit_is_a_binary_score(
    frame: pd.DataFrame, table: pa.Table, tmp_path: Path, trace: bool
) -> None:
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    adapter = load_model(
        scripted(module, tmp_path / "net.pt", trace=trace), framework="pytorch", feature_names=FEATURES
    )
    got = adapter.predict(table)
    expected = 1 / (1 + np.exp(-torch_out(module, frame)[:, 0]))
    assert adapter.kind == "torchscript" and got.classes == (0, 1)
    assert got.scores is not None and np.allclose(got.scores, expected, atol=1e-6)
    assert np.array_equal(got.labels, (expected > 0.5).astype(int))


def test_torchscript_probabilities_and_multiclass_logits(frame: pd.DataFrame, table: pa.Table, tmp_path: Path) -> None:
    import torch

    torch.manual_seed(1)
    sigmoid = torch.nn.Sequential(torch.nn.Linear(4, 1), torch.nn.Sigmoid())
    got = load_model(scripted(sigmoid, tmp_path / "p.pts"), feature_names=FEATURES).predict(table)
    assert got.scores is not None and np.allclose(got.scores, torch_out(sigmoid, frame)[:, 0], atol=1e-6)
    logits = torch.nn.Linear(4, 3)
    got = load_model(scripted(logits, tmp_path / "k.pt", trace=True), feature_names=FEATURES).predict(table)
    raw = torch_out(logits, frame)
    assert np.array_equal(got.labels, raw.argmax(axis=1)) and got.classes == (0, 1, 2)
    assert got.scores is not None and np.allclose(got.scores, torch.softmax(torch.tensor(raw), 1).numpy(), atol=1e-6)
    values = load_model(tmp_path / "p.pts", feature_names=FEATURES, output="values").predict(table)
    assert values.scores is None and np.allclose(values.labels, torch_out(sigmoid, frame)[:, 0], atol=1e-6)


@pytest.mark.parametrize(
    ("outputs", "output", "labels", "scores"),
    [
        ([0.2, 0.7], "auto", [0, 1], [0.2, 0.7]),
        ([[0.2], [0.7]], "probabilities", [0, 1], [0.2, 0.7]),
        ([0.0, 2.0], "auto", [0, 1], [0.5, 1 / (1 + np.exp(-2.0))]),
        ([-0.2, 0.7], "logits", [0, 1], [1 / (1 + np.exp(0.2)), 1 / (1 + np.exp(-0.7))]),
        ([[0.9, 0.1], [0.3, 0.7]], "auto", [0, 1], [0.1, 0.7]),
        ([[0.2, 0.1, 0.7]], "auto", [2], [[0.2, 0.1, 0.7]]),
        ([[0.0, 0.0, np.log(2.0)]], "auto", [2], [[0.25, 0.25, 0.5]]),
        ([1.5, -3.0], "values", [1.5, -3.0], None),
    ],
)
def test_from_outputs(outputs: Any, output: Any, labels: list[float], scores: Any) -> None:
    got = from_outputs(np.array(outputs), output, where="model m")
    assert np.allclose(got.labels, labels)
    assert (got.scores is None) if scores is None else np.allclose(got.scores, scores)


def test_from_outputs_errors() -> None:
    assert invalid(from_outputs, np.zeros((2, 3)), "values", where="model m") == (
        "model m returned 3 columns; output 'values' takes one"
    )
    assert invalid(from_outputs, np.zeros((2, 3, 1)), "auto", where="model m") == (
        "model m returned outputs of shape (2, 3, 1); expected (n,), (n, 1) or (n, k)"
    )


# folders and MLflow models -------------------------------------------------------------------------------------------


def test_a_folder_with_one_model_file(frame: pd.DataFrame, table: pa.Table, tmp_path: Path) -> None:
    model = LogisticRegression().fit(frame[FEATURES], frame.label)
    (tmp_path / "artifact" / "nested").mkdir(parents=True)
    (tmp_path / "artifact" / "README.md").write_text("notes")
    save_pickle(model, tmp_path / "artifact" / "nested" / "model.pkl")
    got = load_model(tmp_path / "artifact").predict(table)
    assert np.array_equal(got.labels, model.predict(frame[FEATURES]))
    save_pickle(model, tmp_path / "artifact" / "other.joblib")
    assert invalid(load_model, tmp_path / "artifact") == (
        f"{tmp_path / 'artifact'} must hold exactly one model file, not 2 (nested/model.pkl, other.joblib); "
        "pass the file"
    )
    (tmp_path / "empty").mkdir()
    assert invalid(load_model, tmp_path / "empty", framework="lightgbm") == (
        f"{tmp_path / 'empty'} must hold exactly one model file, not 0 (none of .txt); pass the file"
    )


def write_mlmodel(folder: Path, flavors: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "MLmodel").write_text(f"artifact_path: model\nflavors:\n{flavors}")
    return folder


def test_an_mlflow_folder_loads_its_sklearn_or_booster_flavour(
    frame: pd.DataFrame, table: pa.Table, tmp_path: Path
) -> None:
    import lightgbm

    model = LogisticRegression().fit(frame[FEATURES], frame.label)
    folder = write_mlmodel(tmp_path / "sk", "  python_function: {}\n  sklearn:\n    pickled_model: model.pkl\n")
    save_pickle(model, folder / "model.pkl")
    assert np.array_equal(load_model(folder).predict(table).labels, model.predict(frame[FEATURES]))
    booster = lightgbm.train({"verbose": -1, "num_threads": 1}, lightgbm.Dataset(frame[FEATURES], frame.amount), 3)
    folder = write_mlmodel(tmp_path / "lgb", "  lightgbm:\n    data: model.lgb\n")
    booster.save_model(folder / "model.lgb")
    assert np.allclose(load_model(folder).predict(table).labels, booster.predict(frame[FEATURES].to_numpy()))


@pytest.mark.filterwarnings("ignore::UserWarning")  # MLflow's note on the signature it infers
def test_an_mlflow_folder_saved_by_mlflow(frame: pd.DataFrame, table: pa.Table, tmp_path: Path) -> None:
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    model = LogisticRegression().fit(frame[FEATURES], frame.label)
    mlflow_sklearn.save_model(model, tmp_path / "saved", serialization_format="cloudpickle")
    assert np.array_equal(load_model(tmp_path / "saved").predict(table).labels, model.predict(frame[FEATURES]))


def test_mlflow_folders_charter_cannot_load(tmp_path: Path) -> None:
    folder = write_mlmodel(
        tmp_path / "skops", "  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n"
    )
    assert invalid(load_model, folder) == (
        f"the MLflow model {folder} is saved with skops, which Charter does not load; "
        "save it with serialization_format='cloudpickle'"
    )
    folder = write_mlmodel(tmp_path / "torch", "  python_function: {}\n  pytorch:\n    model_data: data\n")
    assert invalid(load_model, folder) == (
        f"the MLflow model {folder} has no sklearn, xgboost or lightgbm flavour (flavours: python_function, pytorch); "
        "for another framework, serve the model with a command or an HTTP endpoint"
    )
    folder = write_mlmodel(tmp_path / "gone", "  xgboost:\n    data: model.ubj\n")
    assert invalid(load_model, folder) == (
        f"the MLflow model {folder} names xgboost file 'model.ubj', which does not exist"
    )


# errors ---------------------------------------------------------------------------------------------------------------


def test_unknown_frameworks_extensions_and_paths(tmp_path: Path) -> None:
    assert invalid(load_model, tmp_path / "gone.pkl") == f"model file {tmp_path / 'gone.pkl'} does not exist"
    assert invalid(load_model, tmp_path, framework="keras") == (
        "unknown model framework 'keras' (known: lightgbm, pytorch, scikit-learn, sklearn, torch, torchscript, "
        "xgboost); for another framework, serve the model with a command or an HTTP endpoint"
    )
    (tmp_path / "model.bin").write_bytes(b"\0")
    assert invalid(load_model, tmp_path / "model.bin") == (
        "cannot tell the framework of model.bin from its extension "
        "(known: .joblib, .json, .pickle, .pkl, .pt, .pts, .txt, .ubj); pass it"
    )
    assert invalid(load_model, tmp_path / "model.bin", framework="sklearn", output="raw") == (
        "unknown output 'raw' (known: auto, logits, probabilities, values)"
    )


def test_a_file_of_another_framework(frame: pd.DataFrame, tmp_path: Path) -> None:
    import xgboost

    pickled = save_pickle(LogisticRegression().fit(frame[FEATURES], frame.label), tmp_path / "model.pkl")
    xgboost.XGBClassifier(n_estimators=2, n_jobs=1).fit(frame[FEATURES], frame.label).save_model(tmp_path / "x.json")
    assert invalid(load_model, tmp_path / "x.json", framework="sklearn") == (
        "cannot load x.json as a scikit-learn pickle: UnpicklingError: invalid load key, '{'."
    )
    assert invalid(load_model, pickled, framework="lightgbm") == (
        "cannot load model.pkl as a LightGBM model: ValueError: not a LightGBM text model"
    )
    assert invalid(load_model, pickled, framework="xgboost").startswith(
        "cannot load model.pkl as an XGBoost model (a native .json or .ubj file): "
    )
    assert invalid(load_model, pickled, framework="torch").startswith(
        "cannot load model.pkl as TorchScript: RuntimeError: PytorchStreamReader failed reading zip archive"
    )


def test_corrupt_pickles_non_models_and_missing_modules(frame: pd.DataFrame, tmp_path: Path) -> None:
    whole = pickle.dumps(LogisticRegression().fit(frame[FEATURES], frame.label))
    (tmp_path / "cut.pkl").write_bytes(whole[: len(whole) // 2])
    assert invalid(load_model, tmp_path / "cut.pkl").startswith("cannot load cut.pkl as a scikit-learn pickle: ")
    save_pickle({"weights": [1, 2]}, tmp_path / "dict.pkl")
    assert invalid(load_model, tmp_path / "dict.pkl") == (
        "dict.pkl holds a dict, not a fitted model (it has no predict method)"
    )
    (tmp_path / "alien.pkl").write_bytes(b"cnot_installed_anywhere\nModel\n.")
    assert invalid(load_model, tmp_path / "alien.pkl") == (
        "alien.pkl needs the Python module 'not_installed_anywhere'; install not_installed_anywhere"
    )


@pytest.mark.parametrize(("module", "file"), [("xgboost", "m.json"), ("lightgbm", "m.txt"), ("torch", "m.pt")])
def test_a_missing_extra_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, file: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    (tmp_path / file).write_bytes(b"{}")
    assert invalid(load_model, tmp_path / file) == (
        f"loading {file} needs the Python package {module!r}; install charter[{module}]"
    )


def test_columns_the_model_needs_but_the_data_lacks(frame: pd.DataFrame, table: pa.Table, tmp_path: Path) -> None:
    named = load_model(save_pickle(LogisticRegression().fit(frame[FEATURES], frame.label), tmp_path / "named.pkl"))
    assert invalid(named.predict, table.drop_columns(["debt", "tenure"])) == (
        "model named.pkl needs columns missing from the data: debt, tenure"
    )
    bare = LogisticRegression().fit(frame[FEATURES].to_numpy(), frame.label)
    unnamed = load_model(save_pickle(bare, tmp_path / "bare.pkl"))
    assert invalid(unnamed.predict, table.select(["income", "debt", "age"])) == (
        "model bare.pkl reads 4 features but was given 3 (income, debt, age); pass feature_names"
    )
    assert invalid(load_model(tmp_path / "bare.pkl", feature_names=["income", "wealth"]).predict, table) == (
        "model bare.pkl needs columns missing from the data: wealth"
    )


def test_a_model_that_raises_or_reads_text(frame: pd.DataFrame, table: pa.Table, tmp_path: Path) -> None:
    import torch
    import xgboost

    model = LogisticRegression().fit(frame[FEATURES], frame.label)
    holes = table.set_column(table.schema.get_field_index("age"), "age", pa.nulls(table.num_rows, pa.float64()))
    assert invalid(load_model(save_pickle(model, tmp_path / "model.pkl")).predict, holes).startswith(
        "model model.pkl failed to predict 200 rows: ValueError: Input X contains NaN"
    )
    xgboost.XGBClassifier(n_estimators=2, n_jobs=1).fit(frame[["income", "debt"]].to_numpy(), frame.label).save_model(
        tmp_path / "x.json"
    )
    assert invalid(load_model(tmp_path / "x.json", feature_names=["income", "sex"]).predict, table) == (
        "model x.json reads numbers, but column 'sex' holds large_string; "
        "encode it as numbers first (or use a scikit-learn pipeline that does)"
    )
    net = load_model(scripted(torch.nn.Linear(4, 1), tmp_path / "net.pt"), feature_names=FEATURES[:3])
    assert invalid(net.predict, table) == (
        "model net.pt failed on a 200x3 float32 matrix of columns income, debt, age: "
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (200x3 and 4x1)"
    )


def test_a_torchscript_module_that_returns_a_tuple(table: pa.Table, tmp_path: Path) -> None:
    import torch

    class Pair(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    torch.jit.script(Pair()).save(str(tmp_path / "pair.pt"))
    assert invalid(load_model(tmp_path / "pair.pt", feature_names=FEATURES).predict, table) == (
        "model pair.pt returned a tuple, not a tensor"
    )


def test_every_adapter_is_a_model_adapter(frame: pd.DataFrame, tmp_path: Path) -> None:
    adapter: ModelAdapter = load_model(
        save_pickle(LogisticRegression().fit(frame[FEATURES], frame.label), tmp_path / "m.pkl")
    )
    assert isinstance(adapter.predict(pa.Table.from_pandas(frame.head(3))), Predictions)


def test_every_framework_extension_and_output_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "evaluation.md").read_text()
    for name in [*FRAMEWORKS, *ALIASES, *SUFFIXES, *OUTPUTS]:
        assert f"`{name}`" in docs or f'`"{name}"`' in docs, name
