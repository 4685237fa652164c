"""Edge-case suites: named inputs and the behaviour a model must show on them (issue 6, "Evaluation").

A YAML ``kind: Suite`` lists cases of five kinds: ``range`` (outputs within bounds), ``expect`` (rows
get the expected label), ``monotonic`` (raising a feature never moves the output the wrong way),
``invariance`` (changing a protected attribute flips few labels), ``missing`` (null features do not
break the model); docs/evaluation.md has every field. A case without ``inputs`` runs on the
evaluation data, sampled (seeded by the case's name) to at most ``max_rows`` rows; a column an input
row leaves out takes the data's typical value (a number column's median, else its most frequent
value). A case that cannot run (the model raises, a column is missing) fails with the reason.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import CharterError, InvalidInput
from charter.integrations.frameworks import ModelAdapter, Predictions, describe
from charter.yamlfile import compose_file, known, to_python

API_VERSION = "charter.dev/v1"
KIND = "Suite"
#: kind -> (required fields, optional fields); every case also has name, kind, description, inputs.
CASE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "range": ((), ("min", "max", "output", "class")),
    "expect": (("inputs", "prediction"), ()),
    "monotonic": (("feature", "values"), ("direction", "tolerance", "output", "class")),
    "invariance": (("feature", "values"), ("maxFlipShare",)),
    "missing": (("features",), ("min", "max", "output", "class")),
}


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    line: int
    description: str = ""
    inputs: tuple[dict[str, Any], ...] | None = None  # None: the evaluation data
    feature: str = ""
    features: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    prediction: Any = None
    direction: str = "increasing"
    tolerance: float = 0.0
    max_flip_share: float = 0.0
    output: str = "score"
    class_: Any = None


@dataclass(frozen=True)
class Suite:
    name: str
    file: str
    cases: tuple[Case, ...]
    description: str = ""


@dataclass(frozen=True)
class CaseResult:
    name: str
    kind: str
    passed: bool
    message: str
    error: str | None = None  # the error that failed the case (the model raised, a column is missing ...)

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ("name", "kind", "passed", "message", "error")}


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    cases: tuple[CaseResult, ...]
    passed: int = field(init=False)
    failed: int = field(init=False)
    total: int = field(init=False)
    pass_rate: float = field(init=False)  # passed / total, 0 for an empty suite

    def __post_init__(self) -> None:
        passed, total = sum(case.passed for case in self.cases), len(self.cases)
        object.__setattr__(self, "passed", passed)
        object.__setattr__(self, "failed", total - passed)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "pass_rate", passed / total if total else 0.0)

    def to_dict(self) -> dict[str, Any]:
        """The counts (as the policy context's ``evaluation.suites.<name>`` holds them) and every case."""
        counts = {"passed": self.passed, "failed": self.failed, "total": self.total, "pass_rate": self.pass_rate}
        return {"suite": self.suite, **counts, "cases": [case.to_dict() for case in self.cases]}


def _error(label: str, line: int | None, message: str) -> CharterError:
    return InvalidInput(message if line is None else f"suite {label} line {line}: {message}")


def _number(low: float = -np.inf, high: float = np.inf) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and low <= v <= high


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _name(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _row(value: Any) -> bool:
    return isinstance(value, dict) and all(_scalar(v) or v is None for v in value.values())


def _list_of(item: Callable[[Any], bool], least: int = 1) -> Callable[[Any], bool]:
    """A list of at least ``least`` different items, each passing ``item``."""
    return lambda v: isinstance(v, list) and len(set(map(repr, v))) >= least and all(map(item, v))


#: YAML field -> (what it must be, its check, the Case attribute, how the value is kept)
_FIELDS: dict[str, tuple[str, Callable[[Any], bool], str, Callable[[Any], Any]]] = {
    "description": ("a string", lambda v: isinstance(v, str), "description", str),
    "inputs": ("a non-empty list of rows ({column: single value})", _list_of(_row), "inputs", tuple),
    "feature": ("a column name", _name, "feature", str),
    "features": ("a non-empty list of column names", _list_of(_name), "features", lambda v: tuple(dict.fromkeys(v))),
    "values": ("a list of at least two different single values", _list_of(_scalar, 2), "values", tuple),
    "min": ("a number", _number(), "min", float),
    "max": ("a number", _number(), "max", float),
    "prediction": ("a single value", _scalar, "prediction", lambda v: v),
    "class": ("a single value", _scalar, "class_", lambda v: v),
    "direction": ("increasing or decreasing", lambda v: v in ("increasing", "decreasing"), "direction", str),
    "output": ("score or prediction", lambda v: v in ("score", "prediction"), "output", str),
    "tolerance": ("a number >= 0", _number(0), "tolerance", float),
    "maxFlipShare": ("a number in [0, 1]", _number(0, 1), "max_flip_share", float),
}


def load_suite(path: Path) -> Suite:
    """The suite in a YAML file; a problem is an ``InvalidInput`` naming the file, line and field."""
    nodes, label = compose_file(path, error=_error), str(path)
    if len(nodes) != 1:
        raise _error(label, None, f"suite {label} must hold one YAML document, not {len(nodes)}")
    value, lines = to_python(nodes[0], label=label, error=_error)

    def fail(path: tuple[str, ...], message: str) -> NoReturn:
        raise _error(label, next(lines[path[:i]] for i in range(len(path), -1, -1) if path[:i] in lines), message)

    def mapping(value: Any, path: tuple[str, ...], fields: tuple[str, ...], where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            fail(path, f"{where} must be a mapping")
        for name in value:
            if name not in fields:
                fail((*path, name), f"unknown field {name!r} in {where} {known(fields)}")
        return value

    top = mapping(value, (), ("apiVersion", "kind", "metadata", "spec"), "the suite")
    for key, wanted in (("apiVersion", API_VERSION), ("kind", KIND)):
        if top.get(key) != wanted:
            fail((key,), f"{key} must be {wanted!r}, not {top.get(key)!r}")
    metadata = mapping(top.get("metadata"), ("metadata",), ("name", "description", "labels"), "metadata")
    if not isinstance(metadata.get("name"), str) or not metadata["name"]:
        fail(("metadata", "name"), "metadata.name must be a non-empty string")
    items = mapping(top.get("spec"), ("spec",), ("cases",), "spec").get("cases")
    if not isinstance(items, list) or not items:
        fail(("spec", "cases"), "spec.cases must be a non-empty list of cases")
    cases: list[Case] = []
    for i, item in enumerate(items):
        at = ("spec", "cases", str(i))
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            fail(at, "a case must be a mapping with a name and a kind")
        name, kind = item["name"], item.get("kind")
        if kind not in CASE_FIELDS:
            fail((*at, "kind"), f"case {name!r}: unknown kind {kind!r} {known(CASE_FIELDS)}")
        required, optional = CASE_FIELDS[kind]
        mapping(item, at, ("name", "kind", "description", "inputs", *required, *optional), f"{kind} case {name!r}")
        attributes: dict[str, Any] = {}
        for key, given in item.items():
            if key in _FIELDS:
                what, check, attribute, keep = _FIELDS[key]
                ok = check(given)
                if ok and key == "values" and kind == "monotonic":
                    what = "increasing numbers"
                    ok = all(map(_number(), given)) and all(b > a for a, b in itertools.pairwise(given))
                if not ok:
                    fail((*at, key), f"case {name!r}: {key} must be {what}, not {given!r}")
                attributes[attribute] = keep(given)
        for key in required:
            if key not in item:
                fail(at, f"{kind} case {name!r} needs {key!r}")
        low, high = attributes.get("min"), attributes.get("max")
        if kind == "range" and low is None and high is None:
            fail(at, f"range case {name!r} needs min, max or both")
        if low is not None and high is not None and low > high:
            fail((*at, "min"), f"case {name!r}: min {low:g} is above max {high:g}")
        if any(name == other.name for other in cases):
            fail((*at, "name"), f"case {name!r} appears twice")
        cases.append(Case(name, kind, lines[at], **attributes))
    return Suite(metadata["name"], label, tuple(cases), str(metadata.get("description", "")))


Namer = Callable[[int], str]  # how a message names row i of a case's table: "row 17", "input 2"


class _Problem(Exception):
    """A case cannot run on this model and data (a missing column, a class the model lacks ...)."""


def run_suite(
    suite: Suite, adapter: ModelAdapter, data: pa.Table, *, seed: int = 0, max_rows: int = 1000
) -> SuiteResult:
    """Every case of ``suite`` on the model; ``data`` is the evaluation data (the model's input columns)."""
    if seed < 0 or max_rows < 1:
        raise InvalidInput(f"run_suite needs seed >= 0 and max_rows >= 1, not {seed} and {max_rows}")
    run = _Run(adapter, data, seed, max_rows)
    results: list[CaseResult] = []
    for case in suite.cases:
        try:
            passed, message = _RUNNERS[case.kind](run, case, *run.rows(case))
            results.append(CaseResult(case.name, case.kind, passed, message))
        except Exception as exc:  # a case that cannot run fails; the others still run
            reason = str(exc) if isinstance(exc, _Problem | CharterError) else describe(exc)
            results.append(CaseResult(case.name, case.kind, False, f"{case.kind}: {reason}", reason))
    return SuiteResult(suite.name, tuple(results))


@dataclass(frozen=True)
class _Run:
    adapter: ModelAdapter
    data: pa.Table
    seed: int
    max_rows: int

    def predict(self, table: pa.Table) -> Predictions:
        predictions = self.adapter.predict(table)
        if len(predictions.labels) != table.num_rows:
            raise _Problem(f"the model returned {len(predictions.labels)} predictions for {table.num_rows} rows")
        return predictions

    def rows(self, case: Case) -> tuple[pa.Table, Namer]:
        """The case's input rows, or a seeded sample of the evaluation data, and how to name a row."""
        columns = self.data.column_names
        for name in (case.feature, *case.features, *(key for row in case.inputs or () for key in row)):
            if name and name not in columns:
                raise _Problem(f"{name!r} is not a column of the evaluation data ({', '.join(columns)})")
        if case.inputs is not None:
            typical = {name: _typical(self.data.column(name)) for name in columns}
            rows = [{name: row.get(name, typical[name]) for name in columns} for row in case.inputs]
            try:
                table = pa.Table.from_pylist(rows, schema=self.data.schema)
            except (pa.ArrowException, TypeError, ValueError) as exc:
                raise _Problem(f"the inputs do not fit the evaluation data's column types: {describe(exc)}") from None
            return table, lambda i: f"input {i + 1}"
        if self.data.num_rows == 0:
            raise _Problem("the evaluation data has no rows")
        index = np.arange(self.data.num_rows)
        if self.data.num_rows > self.max_rows:  # seeded by the case's name: adding a case changes no other's sample
            rng = np.random.default_rng([self.seed, zlib.crc32(case.name.encode())])
            index = np.sort(rng.choice(self.data.num_rows, size=self.max_rows, replace=False))
        return self.data.take(index), lambda i: f"row {index[i]}"


def _typical(column: pa.ChunkedArray) -> Any:
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        median = float(np.nanmedian(values)) if not np.isnan(values).all() else None
        return round(median) if median is not None and pa.types.is_integer(column.type) else median
    counts = pc.value_counts(pc.drop_null(column)).to_pylist()
    return max(counts, key=lambda c: c["counts"])["values"] if counts else None


def _set(table: pa.Table, name: str, value: Any) -> pa.Table:
    """``table`` with every value of column ``name`` replaced by ``value`` (null when value is None)."""
    kind = table.schema.field(name).type
    try:
        array = pa.nulls(table.num_rows, kind) if value is None else pa.array([value] * table.num_rows, type=kind)
    except (pa.ArrowException, TypeError, ValueError):
        raise _Problem(f"{value!r} does not fit column {name!r} ({kind})") from None
    return table.set_column(table.schema.get_field_index(name), table.schema.field(name), array)


def _values(predictions: Predictions, case: Case) -> npt.NDArray[np.float64]:
    """The number a case looks at per row: the prediction, or a score (of ``class`` when given)."""
    scores = predictions.scores
    if case.output == "prediction" or scores is None:
        try:
            return np.asarray(predictions.labels, dtype=np.float64)
        except (TypeError, ValueError):
            raise _Problem(f"the predictions are not numbers (e.g. {predictions.labels[0]!r})") from None
    if case.class_ is None and scores.ndim == 1:
        return scores
    classes = list(predictions.classes or range(2 if scores.ndim == 1 else scores.shape[1]))
    if case.class_ is None:
        raise _Problem(f"the model scores {len(classes)} classes; name one with class: ({_list(classes)})")
    at = next((i for i, c in enumerate(classes) if _equal(c, case.class_)), None)
    if at is None:
        raise _Problem(f"class {case.class_!r} is not one of the model's classes ({_list(classes)})")
    if scores.ndim == 1:
        return scores if at == len(classes) - 1 else 1.0 - scores
    return np.asarray(scores[:, at], dtype=np.float64)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _equal(a: Any, b: Any) -> bool:
    return bool(_plain(a) == b) or str(_plain(a)) == str(b)


def _fmt(value: Any) -> str:
    value = _plain(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _list(values: Any) -> str:
    return ", ".join(map(_fmt, values))


def _in_range(values: npt.NDArray[np.float64], case: Case, name: Namer) -> tuple[bool, str]:
    low, high = -np.inf if case.min is None else case.min, np.inf if case.max is None else case.max
    outside = np.flatnonzero(~((values >= low) & (values <= high)))  # NaN is never inside
    finite = values[~np.isnan(values)]
    span = f"lowest {_fmt(finite.min())}, highest {_fmt(finite.max())}" if finite.size else "all NaN"
    n, interval = len(values), f"[{_fmt(low)}, {_fmt(high)}]"
    if not outside.size:
        return True, f"all {n} {case.output}s in {interval} ({span})"
    first = f"first at {name(int(outside[0]))}: {_fmt(values[outside[0]])}"
    return False, f"{outside.size} of {n} {case.output}s outside {interval} ({span}; {first})"


def _range(run: _Run, case: Case, table: pa.Table, name: Namer) -> tuple[bool, str]:
    passed, message = _in_range(_values(run.predict(table), case), case, name)
    return passed, f"range: {message}"


def _expect(run: _Run, case: Case, table: pa.Table, name: Namer) -> tuple[bool, str]:
    labels = run.predict(table).labels
    wrong = [i for i, label in enumerate(labels) if not _equal(label, case.prediction)]
    if not wrong:
        return True, f"expect {_fmt(case.prediction)}: all {len(labels)} inputs predicted {_fmt(case.prediction)}"
    shown = ", ".join(f"{name(i)} got {_fmt(labels[i])}" for i in wrong[:5])
    return False, f"expect {_fmt(case.prediction)}: {len(wrong)} of {len(labels)} inputs differ ({shown})"


def _monotonic(run: _Run, case: Case, table: pa.Table, name: Namer) -> tuple[bool, str]:
    m, n = len(case.values), table.num_rows  # one call: the table once per value of the feature
    predictions = run.predict(pa.concat_tables([_set(table, case.feature, v) for v in case.values]))
    out = _values(predictions, case).reshape(m, n).T
    steps = np.diff(out, axis=1) * (1 if case.direction == "increasing" else -1)
    steps[np.isnan(steps)] = -np.inf  # a NaN output is never monotonic
    bad = int((steps < -case.tolerance).any(axis=1).sum())
    verb, values, where = ("fell" if case.direction == "increasing" else "rose"), case.values, case.feature
    if not bad:
        went = f"{_fmt(values[0])} -> {_fmt(values[-1])} ({m} values)"
        return True, f"monotonic in {where}: {case.output} never {verb} as {where} went {went} on {n} rows"
    r, j = (int(k) for k in np.unravel_index(int(np.argmin(steps)), steps.shape))
    change = f"{case.output} {verb} from {_fmt(out[r, j])} to {_fmt(out[r, j + 1])}"
    at = f"at {where} {_fmt(values[j])} -> {_fmt(values[j + 1])}"
    return False, f"monotonic in {where}: {change} {at} on {bad} of {n} rows (worst: {name(r)})"


def _invariance(run: _Run, case: Case, table: pa.Table, name: Namer) -> tuple[bool, str]:
    m, n = len(case.values), table.num_rows  # one call: the table once per value of the feature
    predictions = run.predict(pa.concat_tables([_set(table, case.feature, v) for v in case.values]))
    labels = np.asarray(predictions.labels, dtype=object).reshape(m, n).T
    flipped = np.flatnonzero((labels != labels[:, :1]).any(axis=1))
    share = flipped.size / n
    message = f"invariance to {case.feature}: prediction changed on {flipped.size} of {n} rows ({share:.1%}, "
    message += f"allowed {case.max_flip_share:.1%}) as {case.feature} took {_list(case.values)}"
    if flipped.size:
        r = int(flipped[0])
        example = ", ".join(f"{_fmt(labels[r, i])} with {_fmt(v)}" for i, v in enumerate(case.values))
        message += f"; e.g. {name(r)}: {example}"
    return share <= case.max_flip_share, message


def _missing(run: _Run, case: Case, table: pa.Table, name: Namer) -> tuple[bool, str]:
    for feature in case.features:
        table = _set(table, feature, None)
    nulls, predictions = f"{_list(case.features)} null", run.predict(table)  # a model that raises fails the case
    if case.min is None and case.max is None:
        return True, f"missing values: the model answered all {table.num_rows} rows with {nulls}"
    passed, message = _in_range(_values(predictions, case), case, name)
    return passed, f"missing values: with {nulls}, {message}"


_RUNNERS = {"range": _range, "expect": _expect, "monotonic": _monotonic, "invariance": _invariance, "missing": _missing}
