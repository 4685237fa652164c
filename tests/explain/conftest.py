"""Data and real models for the explanation tests: small, generated here, nothing downloaded."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

FEATURES = ["income", "debt", "tenure", "age"]


def applicants(seed: int, rows: int = 300) -> pd.DataFrame:
    """Independent inputs; default depends on income and debt, a little on tenure, not on age or sex."""
    rng = np.random.default_rng(seed)
    income = rng.normal(0, 1, rows)
    debt = rng.normal(0, 1, rows)
    tenure = rng.normal(0, 1, rows)
    age = rng.integers(18, 80, rows)
    sex = rng.choice(np.array(["F", "M"]), rows)
    logit = 1.5 * income - 1.0 * debt + 0.3 * tenure
    default = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"income": income, "debt": debt, "tenure": tenure, "age": age, "sex": sex, "default": default})


@pytest.fixture(scope="session")
def train() -> pd.DataFrame:
    return applicants(1)


@pytest.fixture(scope="session")
def holdout() -> pd.DataFrame:
    return applicants(2, rows=200)


def table_of(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def pickled(model: Any, path: Path) -> Path:
    path.write_bytes(pickle.dumps(model))
    return path


class Models:
    """Fitted models and their artifact files, each built on first use (torch and the boosters load slowly).

    Keys: ``gbm``, ``forest``, ``logistic``, ``regressor`` (scikit-learn), ``xgboost``, ``lightgbm``
    (boosters), and ``<name>_file`` for each artifact, plus ``torch_file`` (TorchScript).
    """

    def __init__(self, train: pd.DataFrame, folder: Path) -> None:
        self.train = train
        self.folder = folder
        self.built: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        name = key.removesuffix("_file")
        if key not in self.built:
            self._build(name)
        return self.built[key]

    def _build(self, name: str) -> None:
        x, y = self.train[FEATURES], self.train["default"]
        path = self.folder / name
        if name == "torch":
            self.built["torch_file"] = torch_model(path.with_suffix(".pt"))
        elif name == "xgboost":
            import xgboost

            booster = xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(x.to_numpy(), y).get_booster()
            booster.feature_names = FEATURES
            booster.save_model(path.with_suffix(".json"))
            self.built["xgboost"], self.built["xgboost_file"] = booster, path.with_suffix(".json")
        elif name == "lightgbm":
            import lightgbm

            light = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(x, y).booster_
            light.save_model(str(path.with_suffix(".txt")))
            self.built["lightgbm"], self.built["lightgbm_file"] = light, path.with_suffix(".txt")
        else:
            model = _sklearn(name)
            model.fit(x, self.train["income"] * 2 + self.train["debt"] if name == "regressor" else y)
            self.built[name], self.built[f"{name}_file"] = model, pickled(model, path.with_suffix(".pkl"))


def _sklearn(name: str) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    if name == "gbm":
        return GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0)
    if name == "forest":
        return RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0)
    if name == "regressor":
        return GradientBoostingRegressor(n_estimators=30, max_depth=2, random_state=0)
    assert name == "logistic", name
    return LogisticRegression()


@pytest.fixture(scope="session")
def models(train: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Models:
    return Models(train, tmp_path_factory.mktemp("models"))


def torch_model(path: Path) -> Path:
    """A small network ending in a sigmoid, saved as TorchScript (what Charter loads)."""
    import warnings

    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1), torch.nn.Sigmoid())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates TorchScript; Charter loads it
        torch.jit.script(net).save(str(path))
    return path
