"""The scorecard against scikit-learn and fairlearn on the same arrays."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio, equalized_odds_difference
from sklearn import metrics as sk

from charter.errors import InvalidInput
from charter.metrics.scorecard import MAX_GROUPS, fairness_metrics, performance_metrics, slice_metrics


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 2, 2000)
    scores = np.clip(y_true * 0.3 + rng.uniform(0, 0.7, 2000), 0.001, 0.999)
    y_pred = (scores > 0.5).astype(int)
    groups = rng.choice(["F", "M", "X"], 2000, p=[0.45, 0.45, 0.1])
    return y_true, y_pred, scores, groups


def test_binary_metrics_match_scikit_learn(binary: tuple[np.ndarray, ...]) -> None:
    y_true, y_pred, scores, _ = binary
    found = performance_metrics("binary_classification", y_true, y_pred, scores=scores)
    expected = {
        "accuracy": sk.accuracy_score(y_true, y_pred),
        "precision": sk.precision_score(y_true, y_pred),
        "recall": sk.recall_score(y_true, y_pred),
        "f1": sk.f1_score(y_true, y_pred),
        "roc_auc": sk.roc_auc_score(y_true, scores),
        "pr_auc": sk.average_precision_score(y_true, scores),
        "log_loss": sk.log_loss(y_true, scores),
        "brier": sk.brier_score_loss(y_true, scores),
    }
    assert set(found) == {*expected, "ece"}
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, abs=1e-9), name


def test_string_labels_use_the_positive_class() -> None:
    y_true = np.array(["yes", "no", "yes", "no", "yes"], dtype=object)
    y_pred = np.array(["yes", "yes", "no", "no", "yes"], dtype=object)
    found = performance_metrics("binary_classification", y_true, y_pred, positive="yes")
    assert found["precision"] == pytest.approx(sk.precision_score(y_true, y_pred, pos_label="yes"))
    assert found["recall"] == pytest.approx(sk.recall_score(y_true, y_pred, pos_label="yes"))


def test_multiclass_and_regression_match_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    found = performance_metrics("multiclass_classification", y_true, y_pred)
    assert found["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert found["f1"] == pytest.approx(sk.f1_score(y_true, y_pred, average="macro"))
    true, pred = rng.normal(10, 2, 500), rng.normal(10, 2, 500)
    found = performance_metrics("regression", true, pred)
    assert found["mae"] == pytest.approx(sk.mean_absolute_error(true, pred))
    assert found["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(true, pred)))
    assert found["r2"] == pytest.approx(sk.r2_score(true, pred))
    assert found["mape"] == pytest.approx(sk.mean_absolute_percentage_error(true, pred))
    notes: list[str] = []
    assert "mape" not in performance_metrics("regression", np.array([0.0, 1.0]), np.array([0.5, 1.0]), notes=notes)
    with pytest.raises(InvalidInput, match=r"task 'generative' has no scorecard"):
        performance_metrics("generative", true, pred)


def test_undefined_metrics_are_left_out_and_noted() -> None:
    notes: list[str] = []
    found = performance_metrics(
        "binary_classification", np.ones(20, int), np.ones(20, int), scores=np.full(20, 0.9), notes=notes
    )
    assert "roc_auc" not in found and "pr_auc" not in found
    assert notes == ["roc_auc, pr_auc: not defined here (only one class is present)"]


def test_fairness_matches_fairlearn(binary: tuple[np.ndarray, ...]) -> None:
    y_true, y_pred, _, groups = binary
    found = fairness_metrics(y_true, y_pred, groups.tolist(), attribute="sex")
    assert found is not None
    assert found["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
    )
    assert found["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y_true, y_pred, sensitive_features=groups)
    )
    assert found["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
    )
    assert set(found["groups"]) == {"F", "M", "X"}
    assert sum(g["rows"] for g in found["groups"].values()) == 2000
    female = groups == "F"
    assert found["groups"]["F"]["selection_rate"] == pytest.approx(y_pred[female].mean())


def test_ungroupable_attributes_are_noted() -> None:
    notes: list[str] = []
    y = np.array([0, 1] * 50)
    assert fairness_metrics(y, y, list(range(100)), attribute="age", notes=notes) is None
    assert fairness_metrics(y, y, ["F"] * 100, attribute="sex", notes=notes) is None
    assert notes == [
        f"fairness on age: 100 distinct values is too many groups (at most {MAX_GROUPS}); register a banded column "
        "(e.g. age_band) and mark it protected",
        "fairness on sex: only one group (F) in the data",
    ]


def test_slices_compute_per_value_and_skip_small_ones(binary: tuple[np.ndarray, ...]) -> None:
    y_true, y_pred, scores, groups = binary
    values = groups.tolist()
    values[:5] = ["tiny"] * 5
    notes: list[str] = []
    found = slice_metrics("binary_classification", y_true, y_pred, values, scores=scores, notes=notes)
    assert found["tiny"] == {"rows": 5}
    mask = np.array(values) == "M"
    assert found["M"]["rows"] == int(mask.sum())
    assert found["M"]["roc_auc"] == pytest.approx(sk.roc_auc_score(y_true[mask], scores[mask]))
    assert notes == ["slices with fewer than 10 rows have no metrics: tiny"]
