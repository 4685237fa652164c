"""SHAP and LIME on real models: the algorithm chosen, additivity, oracles, determinism, limits, bad input."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from charter.errors import InvalidInput
from charter.integrations.explain_subjects import subject_from_adapter, subject_from_model
from charter.integrations.explainers import Limits, Subject, make_explainer
from charter.integrations.frameworks import load_model
from tests.explain.conftest import FEATURES, Models, logit

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")


def subject(models: Models, name: str, *, classifier: bool = True) -> Subject:
    return subject_from_adapter(load_model(models[f"{name}_file"]), FEATURES, classifier=classifier, name=name)


def rows(frame: pd.DataFrame, n: int = 40) -> np.ndarray:
    return frame[FEATURES].to_numpy(np.float64)[:n]


@pytest.mark.parametrize(
    ("name", "algorithm", "space"),
    [
        ("gbm", "tree", "log_odds"),
        ("forest", "tree", "probability"),
        ("xgboost", "tree", "log_odds"),
        ("lightgbm", "tree", "log_odds"),
        ("logistic", "linear", "log_odds"),
        ("torch", "kernel", "probability"),
    ],
)
def test_shap_adds_up_to_the_models_own_output(
    models: Models, train: pd.DataFrame, holdout: pd.DataFrame, name: str, algorithm: str, space: str
) -> None:
    explained = subject(models, name)
    explainer = make_explainer(explained, background=rows(train, 100))
    found = explainer.explain(rows(holdout))
    assert (found.method, found.algorithm, found.space) == ("shap", algorithm, space)
    assert found.values.shape == (40, 4) and found.features == tuple(FEATURES)
    probability = explained.predict(rows(holdout))  # the adapter's scores, as evaluation reads them
    expected = logit(probability) if space == "log_odds" else probability
    tolerance = 1e-4 if name in ("xgboost", "lightgbm", "torch") else 1e-9  # float32 models
    assert np.allclose(found.base + found.values.sum(axis=1), expected, atol=tolerance, rtol=0)
    assert found.additive().all() and found.additivity_errors().max() < tolerance


def test_tree_values_match_the_boosters_own_shap(models: Models, holdout: pd.DataFrame) -> None:
    """XGBoost and LightGBM compute TreeSHAP themselves: the oracle for what Charter reports."""
    import xgboost

    x = rows(holdout)
    xgb = make_explainer(subject(models, "xgboost")).explain(x)
    native = models["xgboost"].predict(xgboost.DMatrix(x, feature_names=FEATURES), pred_contribs=True)
    assert np.allclose(xgb.values, native[:, :-1], atol=1e-5) and np.allclose(xgb.base, native[:, -1], atol=1e-5)
    light = make_explainer(subject(models, "lightgbm")).explain(x)
    native = models["lightgbm"].predict(x, pred_contrib=True)
    assert np.allclose(light.values, native[:, :-1], atol=1e-9) and np.allclose(light.base, native[:, -1], atol=1e-9)


def test_a_linear_model_gets_coef_times_distance_from_the_background_mean(
    models: Models, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    model = models["logistic"]
    background = rows(train, 100)
    found = make_explainer(subject(models, "logistic"), background=background).explain(rows(holdout))
    coef = model.coef_[0]
    assert np.allclose(found.values, coef * (rows(holdout) - background.mean(axis=0)), atol=1e-12)
    assert np.allclose(found.base, coef @ background.mean(axis=0) + model.intercept_[0], atol=1e-12)
    assert np.allclose(found.total, model.decision_function(holdout[FEATURES][:40]), atol=1e-12)


def test_kernel_shap_of_any_function_meets_the_linear_oracle(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    """A model shap knows nothing about (a plain function) gets Kernel SHAP; exact for a linear one."""
    weights = np.array([1.5, -1.0, 0.3, 0.02])

    def score(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(matrix @ weights + 0.5)

    explained = subject_from_model(score, FEATURES, classifier=False, name="score")
    background = rows(train, 50)
    found = make_explainer(explained, background=background).explain(rows(holdout, 10))
    assert found.algorithm == "kernel" and found.space == "value"
    assert np.allclose(found.values, weights * (rows(holdout, 10) - background.mean(axis=0)), atol=1e-9)


def test_a_regressor_is_explained_in_its_own_units(models: Models, holdout: pd.DataFrame) -> None:
    found = make_explainer(subject(models, "regressor", classifier=False)).explain(rows(holdout))
    assert (found.algorithm, found.space) == ("tree", "value")
    assert np.allclose(found.total, models["regressor"].predict(holdout[FEATURES][:40]), atol=1e-9)
    assert found.probability is None


def test_a_pipeline_shap_cannot_read_falls_back_to_kernel_shap(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), GradientBoostingClassifier(n_estimators=10, random_state=0))
    pipeline.fit(train[FEATURES], train["default"])
    explained = subject_from_model(pipeline, FEATURES, name="pipeline")
    found = make_explainer(explained, background=rows(train, 30)).explain(rows(holdout, 5))
    assert (found.algorithm, found.space) == ("kernel", "probability")
    assert np.allclose(found.total, pipeline.predict_proba(holdout[FEATURES][:5])[:, 1], atol=1e-9)


def test_lime_explains_every_feature_the_same_way_each_time(
    models: Models, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    explained = subject(models, "gbm")
    limits = Limits(lime_samples=500, seed=7)
    first = make_explainer(explained, method="lime", background=rows(train, 100), limits=limits).explain(
        rows(holdout, 3)
    )
    again = make_explainer(explained, method="lime", background=rows(train, 100), limits=limits).explain(
        rows(holdout, 3)
    )
    assert (first.method, first.space, first.exact) == ("lime", "probability", False)
    assert (first.values != 0).all()  # a weight for every feature of every row
    assert np.array_equal(first.values, again.values) and np.array_equal(first.base, again.base)
    assert np.allclose(first.output, models["gbm"].predict_proba(holdout[FEATURES][:3])[:, 1])
    assert first.fit is not None and ((first.fit > -1) & (first.fit <= 1)).all()
    # Income and debt drive the model; LIME's surrogate agrees on the largest driver of each row.
    assert set(np.argmax(np.abs(first.values), axis=1)) <= {0, 1}
    single = make_explainer(explained, method="lime", background=rows(train, 100), limits=limits).explain(
        rows(holdout, 3)[2]
    )
    assert np.array_equal(single.values[0], first.values[2])  # a row's explanation does not depend on the others


def test_limits_bound_the_rows_a_model_agnostic_job_explains(models: Models, train: pd.DataFrame) -> None:
    limits = Limits(background_rows=40, max_evaluations=100_000, max_rows=500)
    kernel = make_explainer(subject(models, "torch"), background=rows(train, 200), limits=limits)
    assert kernel.background_rows == 40  # the background is cut to the limit
    assert kernel.row_budget() == 100_000 // ((2 * 4 + 256) * 40)
    assert make_explainer(subject(models, "gbm"), limits=limits).row_budget() == 500
    lime = make_explainer(subject(models, "gbm"), method="lime", background=rows(train), limits=limits)
    assert lime.row_budget() == 100
    assert (
        make_explainer(subject(models, "torch"), background=rows(train), limits=Limits(max_evaluations=1)).row_budget()
        == 1
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_rows": 0}, "explanation limits: max_rows must be a whole number of at least 1, not 0"),
        ({"background_rows": 2.5}, "explanation limits: background_rows must be a whole number of at least 1"),
        ({"kernel_samples": -1}, "explanation limits: kernel_samples must be 0 or more, not -1"),
    ],
)
def test_bad_limits_name_the_limit(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Limits(**change)
    assert str(caught.value).startswith(message)


def test_bad_input_is_a_clear_error(models: Models, train: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as caught:
        make_explainer(subject(models, "torch"))
    assert str(caught.value) == (
        "torch: Kernel SHAP needs background rows (a sample of the data the model sees); none were given"
    )
    with pytest.raises(InvalidInput, match=r"logistic: the linear explainer needs background rows"):
        make_explainer(subject(models, "logistic"))
    with pytest.raises(InvalidInput, match=r"method 'anchors' is not one of shap, lime"):
        make_explainer(subject(models, "gbm"), method="anchors")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"gbm: rows of shape \(2, 3\) given for 4 features"):
        make_explainer(subject(models, "gbm")).explain(np.zeros((2, 3)))


def test_a_multiclass_model_is_refused_by_name(train: pd.DataFrame) -> None:
    from sklearn.linear_model import LogisticRegression

    three = LogisticRegression(max_iter=5000).fit(
        train[FEATURES], (train["income"] > 0).astype(int) + (train["debt"] > 0)
    )
    explained = subject_from_model(three, FEATURES, name="three-classes")
    with pytest.raises(InvalidInput, match=r"three-classes: predict_proba gives 3 classes; explanations need two"):
        make_explainer(explained, background=rows(train, 20)).explain(rows(train, 2))


@pytest.mark.parametrize(("method", "package"), [("shap", "shap"), ("lime", "lime")])
def test_without_the_explain_extra_the_error_says_how_to_install_it(
    models: Models, train: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, method: str, package: str
) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        monkeypatch.setitem(sys.modules, name, None)  # an import of it now fails, as when it is not installed
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(InvalidInput) as caught:
        make_explainer(subject(models, "gbm"), method=method, background=rows(train, 20))  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"explanations need the Python package {package!r}, which is not installed; "
        "install it with pip install 'charter[explain]'"
    )
