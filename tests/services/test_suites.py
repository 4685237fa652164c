"""Edge-case suites: the YAML format with located errors, and every case kind run on real scikit-learn models."""

from __future__ import annotations

import functools
import pickle
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from charter.errors import InvalidInput
from charter.integrations.frameworks import ModelAdapter, Predictions, load_model
from charter.services.suites import CASE_FIELDS, Case, Suite, SuiteResult, load_suite, run_suite

NUMBERS = ["income", "debt", "age"]


@functools.cache
def frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    data = pd.DataFrame(
        {
            "income": rng.normal(50_000, 15_000, n).round(),
            "debt": rng.uniform(0, 40, n),
            "age": rng.integers(18, 80, n),
            "sex": rng.choice(["F", "M"], n),
        }
    )
    data["approved"] = (data.income / 10_000 - data.debt / 10 + rng.normal(0, 1, n) > 1.5).astype(int)
    data["biased"] = data.income / 10_000 - data.debt / 10 + 2 * (data.sex == "M") + rng.normal(0, 1, n) > 2.5
    data["grade"] = np.where(data.income > 60_000, "a", np.where(data.income < 40_000, "c", "b"))
    return data


def table(n: int = 400) -> pa.Table:
    return pa.Table.from_pandas(frame(n)[[*NUMBERS, "sex"]], preserve_index=False)


@functools.cache
def models() -> dict[str, Any]:
    data = frame()
    encode = make_column_transformer((StandardScaler(), NUMBERS), (OneHotEncoder(), ["sex"]))
    return {
        # logistic regression on income and debt only: the income coefficient is positive, so monotonic by construction
        "fair": make_pipeline(StandardScaler(), LogisticRegression()).fit(data[NUMBERS], data.approved),
        "biased": make_pipeline(encode, LogisticRegression()).fit(data[[*NUMBERS, "sex"]], data.biased.astype(int)),
        "tolerant": HistGradientBoostingClassifier(max_iter=20).fit(data[NUMBERS], data.approved),  # reads NaN
        "grades": make_pipeline(StandardScaler(), LogisticRegression()).fit(data[NUMBERS], data.grade),
    }


@functools.cache
def _saved(name: str, folder: str) -> Path:
    path = Path(folder) / f"{name}.pkl"
    path.write_bytes(pickle.dumps(models()[name]))
    return path


def adapter(name: str, tmp_path: Path) -> ModelAdapter:
    return load_model(_saved(name, str(tmp_path)))


def suite_file(tmp_path: Path, cases: str, *, name: str = "edge-cases") -> Path:
    path = tmp_path / "suite.yaml"
    head = f"apiVersion: charter.dev/v1\nkind: Suite\nmetadata: {{name: {name}}}\nspec:\n  cases:\n"
    path.write_text(head + textwrap.indent(textwrap.dedent(cases), "    "))
    return path


def run(tmp_path: Path, model: str, cases: str, data: pa.Table | None = None, **options: Any) -> SuiteResult:
    return run_suite(
        load_suite(suite_file(tmp_path, cases)), adapter(model, tmp_path), table() if data is None else data, **options
    )


def messages(result: SuiteResult) -> dict[str, tuple[bool, str]]:
    return {case.name: (case.passed, case.message) for case in result.cases}


# running ------------------------------------------------------------------------------------------------------------

EVERY_KIND = """\
- {name: probabilities, kind: range, min: 0, max: 1}
- name: rich-approved
  kind: expect
  inputs: [{income: 250000, debt: 0, age: 40, sex: F}, {income: 200000}]
  prediction: 1
- {name: income-helps, kind: monotonic, feature: income, values: [20000, 40000, 60000, 90000]}
- {name: debt-hurts, kind: monotonic, feature: debt, values: [0, 10, 20, 40], direction: decreasing}
- {name: sex-blind, kind: invariance, feature: sex, values: [F, M]}
- {name: missing-income, kind: missing, features: [income, debt], min: 0, max: 1}
"""


def test_a_fair_logistic_regression_passes_every_kind_but_missing_values(tmp_path: Path) -> None:
    result = run(tmp_path, "fair", EVERY_KIND)
    assert (result.passed, result.failed, result.total, result.pass_rate) == (5, 1, 6, 5 / 6), messages(result)
    assert [case.name for case in result.cases if not case.passed] == ["missing-income"]  # logistic regression: NaN
    lowest = models()["fair"].predict_proba(frame()[NUMBERS])[:, 1]
    assert messages(result)["probabilities"] == (
        True,
        f"range: all 400 scores in [0, 1] (lowest {lowest.min():.4g}, highest {lowest.max():.4g})",
    )
    assert messages(result)["income-helps"] == (
        True,
        "monotonic in income: score never fell as income went 20000 -> 90000 (4 values) on 400 rows",
    )
    assert messages(result)["sex-blind"] == (
        True,
        "invariance to sex: prediction changed on 0 of 400 rows (0.0%, allowed 0.0%) as sex took F, M",
    )
    assert result.to_dict()["cases"][0] == {
        "name": "probabilities",
        "kind": "range",
        "passed": True,
        "message": messages(result)["probabilities"][1],
        "error": None,
    }
    assert {k: v for k, v in result.to_dict().items() if k != "cases"} == {
        "suite": "edge-cases",
        "passed": 5,
        "failed": 1,
        "total": 6,
        "pass_rate": 5 / 6,
    }


def test_a_model_that_uses_the_protected_attribute_fails_invariance(tmp_path: Path) -> None:
    result = run(
        tmp_path, "biased", "- {name: sex-blind, kind: invariance, feature: sex, values: [F, M], maxFlipShare: 0.05}\n"
    )
    data = frame()[[*NUMBERS, "sex"]]
    as_f = models()["biased"].predict(data.assign(sex="F"))
    as_m = models()["biased"].predict(data.assign(sex="M"))
    flipped = np.flatnonzero(as_f != as_m)
    assert flipped.size > 20  # the oracle: sex moves the decision for many applicants
    first = flipped[0]
    assert messages(result)["sex-blind"] == (
        False,
        f"invariance to sex: prediction changed on {flipped.size} of 400 rows ({flipped.size / 400:.1%}, allowed 5.0%)"
        f" as sex took F, M; e.g. row {first}: {as_f[first]} with F, {as_m[first]} with M",
    )


def test_failures_report_actual_values(tmp_path: Path) -> None:
    cases = """\
    - {name: narrow, kind: range, min: 0.4, max: 0.6}
    - {name: poor-approved, kind: expect, inputs: [{income: 1000, debt: 40}, {income: 300000, debt: 0}], prediction: 1}
    - {name: income-hurts, kind: monotonic, feature: income, values: [20000, 40000, 60000], direction: decreasing}
    """
    result = run(tmp_path, "fair", cases)
    model, data = models()["fair"], frame()[NUMBERS]
    scores = model.predict_proba(data)[:, 1]
    outside = np.flatnonzero((scores < 0.4) | (scores > 0.6))
    span = f"lowest {scores.min():.4g}, highest {scores.max():.4g}"
    assert messages(result)["narrow"] == (
        False,
        f"range: {outside.size} of 400 scores outside [0.4, 0.6] ({span}; first at row {outside[0]}: "
        f"{scores[outside[0]]:.4g})",
    )
    assert messages(result)["poor-approved"] == (False, "expect 1: 1 of 2 inputs differ (input 1 got 0)")
    grid = np.column_stack([model.predict_proba(data.assign(income=v))[:, 1] for v in (20000, 40000, 60000)])
    rises = np.diff(grid, axis=1)
    r, j = np.unravel_index(np.argmax(rises), rises.shape)
    assert messages(result)["income-hurts"] == (
        False,
        f"monotonic in income: score rose from {grid[r, j]:.4g} to {grid[r, j + 1]:.4g} at income "
        f"{[20000, 40000, 60000][j]} -> {[20000, 40000, 60000][j + 1]} on 400 of 400 rows (worst: row {r})",
    )


def test_a_model_that_crashes_on_missing_values_fails_that_case_only(tmp_path: Path) -> None:
    cases = "- {name: no-income, kind: missing, features: [income]}\n- {name: ok, kind: range, min: 0, max: 1}\n"
    result = run(tmp_path, "fair", cases)
    failed = result.cases[0]
    assert not failed.passed and failed.error is not None
    assert failed.message.startswith(
        "missing: model fair.pkl failed to predict 400 rows: ValueError: Input X contains NaN"
    )
    assert failed.message == f"missing: {failed.error}"
    assert result.cases[1].passed and (result.passed, result.failed) == (1, 1)
    tolerant = run(tmp_path, "tolerant", "- {name: no-income, kind: missing, features: [income], max: 1}\n")
    assert messages(tolerant)["no-income"][0] is True


def test_cases_that_cannot_run_fail_with_the_reason(tmp_path: Path) -> None:
    cases = """\
    - {name: typo, kind: monotonic, feature: incme, values: [1, 2]}
    - {name: which-class, kind: range, min: 0, max: 1}
    - {name: class-b, kind: range, min: 0, max: 1, class: b}
    - {name: no-such-class, kind: range, min: 0, max: 1, class: z}
    - {name: unfit, kind: expect, inputs: [{age: old}], prediction: a}
    - {name: no-numbers, kind: range, min: 0, max: 1, output: prediction}
    """
    result = messages(run(tmp_path, "grades", cases))
    assert result["typo"] == (
        False,
        "monotonic: 'incme' is not a column of the evaluation data (income, debt, age, sex)",
    )
    assert result["which-class"] == (False, "range: the model scores 3 classes; name one with class: (a, b, c)")
    assert result["class-b"][0] is True
    assert result["no-such-class"] == (False, "range: class 'z' is not one of the model's classes (a, b, c)")
    assert result["unfit"][1].startswith("expect: the inputs do not fit the evaluation data's column types: ")
    assert result["no-numbers"][1] == "range: the predictions are not numbers (e.g. 'a')"


class Broken:
    """A model adapter whose model raises, as a buggy model server would."""

    kind = "broken"

    def predict(self, features: pa.Table) -> Predictions:
        raise RuntimeError("segfault in the scoring library")


class Recorder:
    """A model adapter that answers 0.5 for every row and keeps the tables it was given."""

    kind = "recorder"

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []

    def predict(self, features: pa.Table) -> Predictions:
        self.tables.append(features)
        return Predictions(labels=np.zeros(features.num_rows), scores=np.full(features.num_rows, 0.5))


def test_a_model_that_raises_fails_every_case_and_run_suite_returns(tmp_path: Path) -> None:
    suite = load_suite(suite_file(tmp_path, EVERY_KIND))
    result = run_suite(suite, Broken(), table())
    assert result.passed == 0 and result.total == 6 and result.pass_rate == 0.0
    assert result.cases[0].message == "range: RuntimeError: segfault in the scoring library"
    assert result.cases[0].error == "RuntimeError: segfault in the scoring library"


def test_input_rows_are_completed_with_typical_values(tmp_path: Path) -> None:
    recorder = Recorder()
    cases = "- {name: one, kind: expect, inputs: [{income: 1, sex: M}, {debt: 2, age: null}], prediction: 0}\n"
    result = run_suite(load_suite(suite_file(tmp_path, cases)), recorder, table())
    assert result.passed == 1
    data = frame()
    typical = {"income": data.income.median(), "debt": data.debt.median(), "age": round(data.age.median())}
    typical["sex"] = data.sex.value_counts().idxmax()
    assert recorder.tables[0].to_pylist() == [
        {**typical, "income": 1.0, "sex": "M"},
        {**typical, "debt": 2.0, "age": None},
    ]
    assert recorder.tables[0].schema == table().schema


def test_samples_are_seeded_and_per_case(tmp_path: Path) -> None:
    big = table(3000)
    recorder = Recorder()
    one = "- {name: a, kind: range, min: 0, max: 1}\n"
    run_suite(load_suite(suite_file(tmp_path, one)), recorder, big, max_rows=100)
    run_suite(
        load_suite(suite_file(tmp_path, "- {name: other, kind: range, max: 1}\n" + one)), recorder, big, max_rows=100
    )
    run_suite(load_suite(suite_file(tmp_path, one)), recorder, big, max_rows=100, seed=1)
    first, other, again, reseeded = (t.to_pylist() for t in recorder.tables)
    assert len(first) == 100 and first == again  # adding a case leaves this case's sample alone
    assert other != first and reseeded != first
    assert run_suite(load_suite(suite_file(tmp_path, one)), Recorder(), big.slice(0, 0)).cases[0].message == (
        "range: the evaluation data has no rows"
    )
    assert "on 100 rows" in messages(run(tmp_path, "fair", EVERY_KIND, big, max_rows=100))["income-helps"][1]


def test_bad_arguments_raise(tmp_path: Path) -> None:
    suite = load_suite(suite_file(tmp_path, "- {name: a, kind: range, min: 0}\n"))
    with pytest.raises(InvalidInput, match=r"run_suite needs seed >= 0 and max_rows >= 1, not -1 and 1000"):
        run_suite(suite, Recorder(), table(), seed=-1)


# properties ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fair(tmp_path_factory: pytest.TempPathFactory) -> ModelAdapter:
    return adapter("fair", tmp_path_factory.mktemp("models"))


@settings(max_examples=25, deadline=None)
@given(
    incomes=st.lists(st.floats(0, 500_000, allow_nan=False), min_size=2, max_size=6, unique=True),
    rows=st.lists(
        st.fixed_dictionaries({"debt": st.floats(0, 60), "age": st.integers(18, 90)}), min_size=1, max_size=5
    ),
)
def test_logistic_regression_is_monotonic_in_income_and_blind_to_sex(
    fair: ModelAdapter, incomes: list[float], rows: list[dict[str, Any]]
) -> None:
    cases = (
        Case("more", "monotonic", 1, inputs=tuple(rows), feature="income", values=tuple(sorted(incomes))),
        Case("blind", "invariance", 2, inputs=tuple(rows), feature="sex", values=("M", "F")),
    )
    result = run_suite(Suite("props", "<test>", cases), fair, table())
    assert result.passed == 2, messages(result)


@settings(max_examples=25, deadline=None)
@given(low=st.floats(0, 1), width=st.floats(0, 1))
def test_range_passes_exactly_when_every_score_is_inside(fair: ModelAdapter, low: float, width: float) -> None:
    high = low + width
    result = run_suite(Suite("props", "<test>", (Case("r", "range", 1, min=low, max=high),)), fair, table())
    scores = models()["fair"].predict_proba(frame()[NUMBERS])[:, 1]
    assert result.cases[0].passed == bool(((scores >= low) & (scores <= high)).all())
    assert result.passed + result.failed == result.total == 1


# the format -----------------------------------------------------------------------------------------------------------


def test_a_suite_file_reads_into_cases(tmp_path: Path) -> None:
    suite = load_suite(suite_file(tmp_path, EVERY_KIND))
    assert suite.name == "edge-cases" and suite.file == str(tmp_path / "suite.yaml")
    assert [(c.name, c.kind, c.line) for c in suite.cases] == [
        ("probabilities", "range", 6),
        ("rich-approved", "expect", 7),
        ("income-helps", "monotonic", 11),
        ("debt-hurts", "monotonic", 12),
        ("sex-blind", "invariance", 13),
        ("missing-income", "missing", 14),
    ]
    assert suite.cases[1].inputs == ({"income": 250000, "debt": 0, "age": 40, "sex": "F"}, {"income": 200000})
    assert suite.cases[3].direction == "decreasing" and suite.cases[3].values == (0, 10, 20, 40)
    assert suite.cases[5].features == ("income", "debt") and suite.cases[5].max == 1.0


CASE_ERRORS = [
    (
        "- {name: a, kind: ranges}",
        "line 6: case 'a': unknown kind 'ranges' (known: expect, invariance, missing, monotonic, range)",
    ),
    (
        "- {name: a, kind: range, min: 0, maxx: 1}",
        "line 6: unknown field 'maxx' in range case 'a' "
        "(known: class, description, inputs, kind, max, min, name, output)",
    ),
    ("- {name: a, kind: range}", "line 6: range case 'a' needs min, max or both"),
    ("- {name: a, kind: range, min: 2, max: 1}", "line 6: case 'a': min 2 is above max 1"),
    ("- {name: a, kind: range, min: '0'}", "line 6: case 'a': min must be a number, not '0'"),
    ("- {name: a, kind: expect, inputs: [{x: 1}]}", "line 6: expect case 'a' needs 'prediction'"),
    (
        "- {name: a, kind: expect, inputs: [{x: [1]}], prediction: 1}",
        "line 6: case 'a': inputs must be a non-empty list of rows ({column: single value}), not [{'x': [1]}]",
    ),
    (
        "- {name: a, kind: monotonic, feature: x, values: [3, 2]}",
        "line 6: case 'a': values must be increasing numbers, not [3, 2]",
    ),
    (
        "- {name: a, kind: invariance, feature: x, values: [F, F]}",
        "line 6: case 'a': values must be a list of at least two different single values, not ['F', 'F']",
    ),
    (
        "- {name: a, kind: invariance, feature: x, values: [F, M], maxFlipShare: 2}",
        "line 6: case 'a': maxFlipShare must be a number in [0, 1], not 2",
    ),
    (
        "- {name: a, kind: monotonic, feature: x, values: [1, 2], direction: up}",
        "line 6: case 'a': direction must be increasing or decreasing, not 'up'",
    ),
    (
        "- {name: a, kind: missing, features: income}",
        "line 6: case 'a': features must be a non-empty list of column names, not 'income'",
    ),
    ("- {name: a, kind: range, min: 0}\n- {name: a, kind: range, max: 1}", "line 7: case 'a' appears twice"),
    ("- {kind: range, min: 0}", "line 6: a case must be a mapping with a name and a kind"),
    (
        "- {name: a, kind: range,\n  min: 0, bogus: 1}",
        "line 7: unknown field 'bogus' in range case 'a' "
        "(known: class, description, inputs, kind, max, min, name, output)",
    ),
]


@pytest.mark.parametrize(("cases", "problem"), CASE_ERRORS)
def test_case_errors_name_the_line_and_field(tmp_path: Path, cases: str, problem: str) -> None:
    path = suite_file(tmp_path, cases + "\n")
    with pytest.raises(InvalidInput) as info:
        load_suite(path)
    assert info.value.code == "input.invalid"
    assert info.value.message == f"suite {path} {problem}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("apiVersion: v2\nkind: Suite\n", "line 1: apiVersion must be 'charter.dev/v1', not 'v2'"),
        ("apiVersion: charter.dev/v1\nkind: Policy\n", "line 2: kind must be 'Suite', not 'Policy'"),
        (
            "apiVersion: charter.dev/v1\nkind: Suite\nsepc: {}\n",
            "line 3: unknown field 'sepc' in the suite (known: apiVersion, kind, metadata, spec)",
        ),
        (
            "apiVersion: charter.dev/v1\nkind: Suite\nmetadata: {}\nspec: {cases: []}\n",
            "line 3: metadata.name must be a non-empty string",
        ),
        (
            "apiVersion: charter.dev/v1\nkind: Suite\nmetadata: {name: s}\nspec: {cases: []}\n",
            "line 4: spec.cases must be a non-empty list of cases",
        ),
        ("apiVersion: charter.dev/v1\nkind: Suite\nmetadata: {name: s}\nspec: [1]\n", "line 4: spec must be a mapping"),
        (
            "apiVersion: charter.dev/v1\nkind: [Suite\n",
            "line 3: not valid YAML (expected ',' or ']', but got '<stream end>')",
        ),
    ],
)
def test_document_errors_name_the_line(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as info:
        load_suite(path)
    assert info.value.message == f"suite {path} {problem}"


def test_files_that_are_not_one_suite(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^cannot read .*gone\.yaml: No such file or directory$"):
        load_suite(tmp_path / "gone.yaml")
    (tmp_path / "two.yaml").write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(InvalidInput) as info:
        load_suite(tmp_path / "two.yaml")
    assert info.value.message == f"suite {tmp_path / 'two.yaml'} must hold one YAML document, not 2"


def test_every_case_kind_and_field_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "evaluation.md").read_text()
    for kind, (required, optional) in CASE_FIELDS.items():
        section = docs[docs.index(f"### `{kind}`") :].split("\n### ")[0]
        for field in (*required, *optional):
            assert f"`{field}" in section or f"`{field}` " in docs, (kind, field)
