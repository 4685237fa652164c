"""Models Charter does not load itself: a command that predicts a file, or an HTTP endpoint.

Made by :func:`charter.integrations.frameworks.command_model` and ``http_model``.

**Command** (``command_model``): Charter writes the features to a temporary Parquet file and
runs the command (no shell) with two environment variables:

- ``CHARTER_INPUT``: the Parquet file to read, one row per input, the feature columns;
- ``CHARTER_OUTPUT``: where to write the predictions, as Parquet or CSV (told apart by the
  Parquet magic bytes), one row per input row in the same order, with a column
  ``prediction`` and optionally ``score`` (binary: the positive class's probability) or
  ``score_<class>`` columns (one probability per class).

A non-zero exit is an error showing the last lines of the command's standard error; a command
still running after ``timeout`` seconds is killed with its process group.

**HTTP** (``http_model``): Charter POSTs the rows in batches of ``batch_rows`` as JSON, either
``{"columns": ["age", ...], "rows": [[41, ...], ...]}`` (``request_format="columns"``, the
default) or ``{"instances": [{"age": 41, ...}, ...]}`` (``"instances"``, as MLflow, KServe
and TensorFlow Serving accept). Nulls and NaN are sent as ``null``, dates and times as ISO
8601 text. The answer must be ``{"predictions": [...]}`` with one value per row, and may hold
``"scores"`` (a number per row, or a list of k class probabilities per row) and ``"classes"``
(the order of those lists). Only the standard library is used (``urllib``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from charter.errors import InvalidInput
from charter.integrations.frameworks import Predictions, describe

RequestFormat = Literal["columns", "instances"]
STDERR_LINES = 10


class CommandModel:
    kind = "command"

    def __init__(self, command: Sequence[str], *, timeout: float = 600, workdir: Path | None = None) -> None:
        if isinstance(command, str) or not command or not all(isinstance(part, str) for part in command):
            raise InvalidInput("a model command is a non-empty list of strings (program and arguments)")
        if timeout <= 0:
            raise InvalidInput(f"a model command's timeout must be positive, not {timeout:g}")
        self.command = list(command)
        self.timeout = timeout
        self.workdir = workdir
        self.name = " ".join(self.command)

    def predict(self, features: pa.Table) -> Predictions:
        with tempfile.TemporaryDirectory(prefix="charter-model-") as folder:
            given, wanted = Path(folder) / "features.parquet", Path(folder) / "predictions"
            pq.write_table(features, given)
            self._run({**os.environ, "CHARTER_INPUT": str(given), "CHARTER_OUTPUT": str(wanted)})
            if not wanted.is_file():
                raise InvalidInput(f"model command {self.name} exited 0 but wrote nothing at CHARTER_OUTPUT")
            table = self._read(wanted)
        return _from_table(table, features.num_rows, f"model command {self.name}")

    def _run(self, env: dict[str, str]) -> None:
        try:
            process = subprocess.Popen(
                self.command,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a timeout kills its children too
            )
        except OSError as exc:
            raise InvalidInput(f"cannot run model command {self.name}: {exc.strerror or describe(exc)}") from None
        try:
            _, stderr = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            process.communicate()
            raise InvalidInput(
                f"model command {self.name} did not finish within {self.timeout:g} s and was killed"
            ) from None
        if process.returncode != 0:
            tail = stderr.decode("utf-8", errors="replace").rstrip().splitlines()[-STDERR_LINES:]
            shown = "".join(f"\n  {line}" for line in tail) if tail else " (its standard error is empty)"
            raise InvalidInput(f"model command {self.name} exited with status {process.returncode}:{shown}")

    def _read(self, file: Path) -> pa.Table:
        try:
            with file.open("rb") as handle:
                parquet = handle.read(4) == b"PAR1"
            return pq.read_table(file) if parquet else pa_csv.read_csv(file)
        except (OSError, pa.ArrowException) as exc:
            raise InvalidInput(
                f"model command {self.name} wrote CHARTER_OUTPUT that is neither Parquet nor CSV: {describe(exc)}"
            ) from None


class HttpModel:
    kind = "http"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60,
        batch_rows: int = 1000,
        headers: Mapping[str, str] | None = None,
        request_format: RequestFormat = "columns",
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"a model endpoint is an http:// or https:// URL, not {url!r}")
        if batch_rows < 1:
            raise InvalidInput(f"batch_rows must be at least 1, not {batch_rows}")
        if request_format not in ("columns", "instances"):
            raise InvalidInput(f"unknown request format {request_format!r} (known: columns, instances)")
        self.url = url
        self.timeout = timeout
        self.batch_rows = batch_rows
        self.headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
        self.request_format = request_format

    def predict(self, features: pa.Table) -> Predictions:
        labels: list[Any] = []
        scores: list[Any] = []
        classes: list[Any] | None = None
        for start in range(0, features.num_rows, self.batch_rows):
            batch = _plain(features.slice(start, self.batch_rows))
            answer = self._post(self._body(batch))
            where = f"model endpoint {self.url} (rows {start}-{start + batch.num_rows - 1})"
            got = answer.get("predictions") if isinstance(answer, dict) else None
            if not isinstance(got, list):
                raise InvalidInput(f"{where} answered without a 'predictions' list")
            if len(got) != batch.num_rows:
                raise InvalidInput(f"{where} returned {len(got)} predictions for {batch.num_rows} rows")
            labels.extend(got)
            batch_scores = answer.get("scores")
            if batch_scores is not None:
                if not isinstance(batch_scores, list) or len(batch_scores) != batch.num_rows:
                    raise InvalidInput(f"{where} returned 'scores' that is not a list of {batch.num_rows} values")
                scores.extend(batch_scores)
            if isinstance(answer.get("classes"), list):
                classes = answer["classes"]
        if scores and len(scores) != len(labels):
            raise InvalidInput(f"model endpoint {self.url} returned scores for some batches only")
        return _assemble(labels, scores or None, classes, f"model endpoint {self.url}")

    def _body(self, batch: pa.Table) -> bytes:
        rows = batch.to_pylist()
        if self.request_format == "instances":
            document: dict[str, Any] = {"instances": rows}
        else:
            columns = batch.column_names
            document = {"columns": columns, "rows": [[row[c] for c in columns] for row in rows]}
        try:
            return json.dumps(document, default=_json_value, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"cannot send the features to {self.url} as JSON: {describe(exc)}") from None

    def _post(self, body: bytes) -> Any:
        request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", errors="replace").strip()
            raise InvalidInput(
                f"model endpoint {self.url} answered HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
            ) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise InvalidInput(f"model endpoint {self.url} did not answer within {self.timeout:g} s") from None
            raise InvalidInput(f"cannot reach model endpoint {self.url}: {exc.reason}") from None
        except TimeoutError:
            raise InvalidInput(f"model endpoint {self.url} did not answer within {self.timeout:g} s") from None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"model endpoint {self.url} did not return JSON: {describe(exc)}") from None


def _from_table(table: pa.Table, n: int, where: str) -> Predictions:
    """Predictions from a table with ``prediction`` and optional ``score`` or ``score_<class>`` columns."""
    names = table.column_names
    if "prediction" not in names:
        raise InvalidInput(f"{where} wrote no 'prediction' column (columns: {', '.join(names) or 'none'})")
    if table.num_rows != n:
        raise InvalidInput(f"{where} wrote {table.num_rows} predictions for {n} rows")
    labels = table.column("prediction").to_numpy(zero_copy_only=False)
    per_class = [name for name in names if name.startswith("score_")]
    if "score" in names and per_class:
        raise InvalidInput(f"{where} wrote both 'score' and {', '.join(per_class)}; write one or the other")
    if "score" in names:
        return Predictions(labels=labels, scores=_floats(table, ["score"], where)[:, 0])
    if not per_class:
        return Predictions(labels=labels)
    classes: list[Any] = [name[len("score_") :] for name in per_class]
    if pa.types.is_integer(table.column("prediction").type) and all(c.lstrip("-").isdigit() for c in classes):
        classes = [int(c) for c in classes]
    return _shaped(labels, _floats(table, per_class, where), tuple(classes))


def _floats(table: pa.Table, names: Sequence[str], where: str) -> npt.NDArray[np.float64]:
    try:
        columns = [pc.cast(table.column(name), pa.float64()).to_numpy(zero_copy_only=False) for name in names]
    except pa.ArrowException:
        raise InvalidInput(f"{where} wrote scores that are not numbers ({', '.join(names)})") from None
    return np.column_stack(columns).astype(np.float64)


def _assemble(labels: list[Any], scores: list[Any] | None, classes: list[Any] | None, where: str) -> Predictions:
    if any(isinstance(label, list | dict) for label in labels):
        raise InvalidInput(f"{where} returned predictions that are not single values (lists or objects)")
    array = np.asarray(labels, dtype=object if any(isinstance(v, str) for v in labels) else None)
    if scores is None:
        return Predictions(labels=array)
    try:
        matrix = np.asarray([np.nan if s is None else s for s in scores], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where} returned scores that are not numbers or equal-length lists of numbers") from None
    if matrix.ndim == 1:
        return Predictions(labels=array, scores=matrix, classes=tuple(classes) if classes else None)
    known = tuple(classes) if classes else tuple(range(matrix.shape[1]))
    if len(known) != matrix.shape[1]:
        raise InvalidInput(f"{where} returned {matrix.shape[1]} scores per row but {len(known)} classes")
    return _shaped(array, matrix, known)


def _shaped(labels: npt.NDArray[Any], matrix: npt.NDArray[np.float64], classes: tuple[Any, ...]) -> Predictions:
    """Per-class scores (n, k); two classes become the second class's probability (n,)."""
    scores = matrix[:, 1] if matrix.shape[1] == 2 else matrix[:, 0] if matrix.shape[1] == 1 else matrix
    return Predictions(labels=labels, scores=scores, classes=classes)


def _plain(table: pa.Table) -> pa.Table:
    """NaN as null, so the JSON holds ``null`` rather than the non-standard ``NaN``."""
    columns = []
    for column in table.columns:
        if pa.types.is_floating(column.type):
            column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"a {type(value).__name__} cannot be sent as JSON")


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (OSError, AttributeError):  # already gone, or no process groups (Windows)
        process.kill()
