"""Models behind a command (a real Python script) or an HTTP endpoint (a real server on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from charter.errors import InvalidInput
from charter.integrations.frameworks import command_model, http_model


def invalid(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    assert info.value.code == "input.invalid"
    return info.value.message


@pytest.fixture
def table() -> pa.Table:
    return pa.table({"income": [10.0, -2.0, 3.5, float("nan"), 0.0], "sex": ["F", "M", None, "F", "M"]})


# command ------------------------------------------------------------------------------------------------------------


def script(tmp_path: Path, body: str) -> list[str]:
    """A Python script run by this interpreter; ``features`` is the input table, ``out`` the output path."""
    header = "import os, sys\nimport pyarrow.parquet as pq\n"
    header += "features = pq.read_table(os.environ['CHARTER_INPUT'])\nout = os.environ['CHARTER_OUTPUT']\n"
    path = tmp_path / "predict.py"
    path.write_text(header + textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_a_command_writes_csv_predictions_and_scores(tmp_path: Path, table: pa.Table) -> None:
    command = script(
        tmp_path,
        """
        incomes = features.column("income").to_pylist()
        with open(out, "w") as file:
            file.write("prediction,score\\n")
            for x in incomes:
                file.write(f"{int(x > 0)},{0.9 if x > 0 else 0.1}\\n")
        """,
    )
    adapter = command_model(command)
    got = adapter.predict(table)
    assert adapter.kind == "command"
    assert got.labels.tolist() == [1, 0, 1, 0, 0]
    assert got.scores is not None and got.scores.tolist() == [0.9, 0.1, 0.9, 0.1, 0.1]
    assert got.classes is None


def test_a_command_writes_parquet_with_a_score_per_class(tmp_path: Path, table: pa.Table) -> None:
    command = script(
        tmp_path,
        """
        import pyarrow as pa
        n = features.num_rows
        pq.write_table(pa.table({"prediction": ["a"] * n, "score_a": [0.5] * n, "score_b": [0.3] * n,
                                 "score_c": [0.2] * n}), out)
        """,
    )
    got = command_model(command).predict(table)
    assert got.labels.tolist() == ["a"] * 5 and got.classes == ("a", "b", "c")
    assert got.scores is not None and got.scores.shape == (5, 3) and got.scores[0].tolist() == [0.5, 0.3, 0.2]


def test_integer_classes_from_score_columns_and_the_workdir(tmp_path: Path, table: pa.Table) -> None:
    (tmp_path / "work").mkdir()
    command = script(
        tmp_path,
        """
        assert os.getcwd().endswith("work"), os.getcwd()
        assert features.column_names == ["income", "sex"] and features.num_rows == 5
        with open(out, "w") as file:
            file.write("prediction,score_0,score_1\\n" + "1,0.25,0.75\\n" * features.num_rows)
        """,
    )
    got = command_model(command, workdir=tmp_path / "work").predict(table)
    assert got.classes == (0, 1) and got.scores is not None and got.scores.tolist() == [0.75] * 5


def test_a_failing_command_shows_the_end_of_its_stderr(tmp_path: Path, table: pa.Table) -> None:
    command = script(tmp_path, "for i in range(15):\n    print(f'line {i}', file=sys.stderr)\nsys.exit(3)\n")
    tail = "".join(f"\n  line {i}" for i in range(5, 15))
    assert invalid(command_model(command).predict, table) == (
        f"model command {' '.join(command)} exited with status 3:{tail}"
    )
    quiet = script(tmp_path, "sys.exit(1)\n")
    assert invalid(command_model(quiet).predict, table) == (
        f"model command {' '.join(quiet)} exited with status 1: (its standard error is empty)"
    )


def test_a_command_that_runs_too_long_is_killed_with_its_children(tmp_path: Path, table: pa.Table) -> None:
    marker = tmp_path / "child-survived"
    command = script(
        tmp_path,
        f"""
        import subprocess, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5); open({str(marker)!r}, 'w').close()"])
        time.sleep(30)
        """,
    )
    started = time.monotonic()
    assert invalid(command_model(command, timeout=0.5).predict, table) == (
        f"model command {' '.join(command)} did not finish within 0.5 s and was killed"
    )
    assert time.monotonic() - started < 5
    time.sleep(2)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("pass\n", "exited 0 but wrote nothing at CHARTER_OUTPUT"),
        ("open(out, 'w').write('prediction\\n1\\n2\\n')\n", "wrote 2 predictions for 5 rows"),
        ("open(out, 'w').write('label\\n1\\n2\\n3\\n4\\n5\\n')\n", "wrote no 'prediction' column (columns: label)"),
        (
            "open(out, 'w').write('prediction,score,score_1\\n' + '1,0.5,0.5\\n' * 5)\n",
            "wrote both 'score' and score_1; write one or the other",
        ),
        (
            "open(out, 'w').write('prediction,score\\n' + '1,high\\n' * 5)\n",
            "wrote scores that are not numbers (score)",
        ),
    ],
    ids=["nothing", "too-few-rows", "no-prediction", "both-scores", "text-scores"],
)
def test_bad_command_output(tmp_path: Path, table: pa.Table, body: str, problem: str) -> None:
    command = script(tmp_path, body)
    assert invalid(command_model(command).predict, table) == f"model command {' '.join(command)} {problem}"


def test_output_that_is_not_a_table(tmp_path: Path, table: pa.Table) -> None:
    command = script(tmp_path, "open(out, 'w').write('a,b\\n1\\n')\n")
    assert invalid(command_model(command).predict, table).startswith(
        f"model command {' '.join(command)} wrote CHARTER_OUTPUT that is neither Parquet nor CSV: ArrowInvalid: "
    )


def test_commands_that_cannot_run(tmp_path: Path, table: pa.Table) -> None:
    assert invalid(command_model([str(tmp_path / "nope")]).predict, table) == (
        f"cannot run model command {tmp_path / 'nope'}: No such file or directory"
    )
    assert invalid(command_model, "python predict.py") == (
        "a model command is a non-empty list of strings (program and arguments)"
    )
    assert invalid(command_model, [sys.executable], timeout=0) == "a model command's timeout must be positive, not 0"


# HTTP ---------------------------------------------------------------------------------------------------------------

Handler = Callable[[dict[str, Any]], tuple[int, bytes]]


class Endpoint:
    """A real HTTP server on 127.0.0.1; ``answer`` turns each request body into (status, response bytes)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.answer: Handler = lambda body: (200, b"{}")
        endpoint = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append((body, dict(self.headers)))
                status, raw = endpoint.answer(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/invocations"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()
    thread.join()


def rows_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "instances" in body:
        return list(body["instances"])
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


def predict_income(body: dict[str, Any]) -> tuple[int, bytes]:
    rows = rows_of(body)
    positive = [row["income"] is not None and row["income"] > 0 for row in rows]
    answer = {"predictions": [int(p) for p in positive], "scores": [0.8 if p else 0.3 for p in positive]}
    return 200, json.dumps(answer).encode()


@pytest.mark.parametrize("request_format", ["columns", "instances"])
def test_rows_go_in_batches_and_predictions_come_back(endpoint: Endpoint, table: pa.Table, request_format: Any) -> None:
    endpoint.answer = predict_income
    adapter = http_model(
        endpoint.url, batch_rows=2, request_format=request_format, headers={"Authorization": "Bearer t"}
    )
    got = adapter.predict(table)
    assert adapter.kind == "http"
    assert got.labels.tolist() == [1, 0, 1, 0, 0]
    assert got.scores is not None and got.scores.tolist() == [0.8, 0.3, 0.8, 0.3, 0.3]
    assert [len(rows_of(body)) for body, _ in endpoint.requests] == [2, 2, 1]
    first, headers = endpoint.requests[0]
    assert headers["Authorization"] == "Bearer t" and headers["Content-Type"] == "application/json"
    if request_format == "columns":
        assert first == {"columns": ["income", "sex"], "rows": [[10.0, "F"], [-2.0, "M"]]}
    else:
        assert first == {"instances": [{"income": 10.0, "sex": "F"}, {"income": -2.0, "sex": "M"}]}
    assert rows_of(endpoint.requests[1][0])[1] == {"income": None, "sex": "F"}  # NaN is sent as null


def test_class_scores_dates_and_text_predictions(endpoint: Endpoint) -> None:
    def answer(body: dict[str, Any]) -> tuple[int, bytes]:
        n = len(body["rows"])
        document = {"predictions": ["b"] * n, "scores": [[0.1, 0.6, 0.3]] * n, "classes": ["a", "b", "c"]}
        return 200, json.dumps(document).encode()

    endpoint.answer = answer
    data = pa.table({"day": [dt.date(2024, 5, 1), dt.date(2024, 5, 2)], "at": [dt.datetime(2024, 5, 1, 12, 30)] * 2})
    got = http_model(endpoint.url).predict(data)
    assert got.labels.tolist() == ["b", "b"] and got.classes == ("a", "b", "c")
    assert got.scores is not None and np.array_equal(got.scores, [[0.1, 0.6, 0.3]] * 2)
    assert endpoint.requests[0][0]["rows"][0] == ["2024-05-01", "2024-05-01T12:30:00"]


@pytest.mark.parametrize(
    ("status", "raw", "problem"),
    [
        (500, b"boom", "answered HTTP 500 Internal Server Error: boom"),
        (200, b"<html>", "did not return JSON: JSONDecodeError: Expecting value: line 1 column 1 (char 0)"),
        (200, b'{"result": [1, 2]}', "(rows 0-4) answered without a 'predictions' list"),
        (200, b'{"predictions": [1, 2]}', "(rows 0-4) returned 2 predictions for 5 rows"),
        (
            200,
            b'{"predictions": [1, 1, 1, 1, 1], "scores": [0.5]}',
            "(rows 0-4) returned 'scores' that is not a list of 5 values",
        ),
        (
            200,
            b'{"predictions": [[1], [2], [3], [4], [5]]}',
            "returned predictions that are not single values (lists or objects)",
        ),
        (
            200,
            b'{"predictions": [1, 1, 1, 1, 1], "scores": ["a", 1, 1, 1, 1]}',
            "returned scores that are not numbers or equal-length lists of numbers",
        ),
    ],
)
def test_bad_answers(endpoint: Endpoint, table: pa.Table, status: int, raw: bytes, problem: str) -> None:
    endpoint.answer = lambda body: (status, raw)
    assert invalid(http_model(endpoint.url).predict, table) == f"model endpoint {endpoint.url} {problem}"


def test_endpoints_that_cannot_answer(endpoint: Endpoint, table: pa.Table) -> None:
    def slow(body: dict[str, Any]) -> tuple[int, bytes]:
        time.sleep(1)
        return predict_income(body)

    endpoint.answer = slow
    assert invalid(http_model(endpoint.url, timeout=0.2).predict, table) == (
        f"model endpoint {endpoint.url} did not answer within 0.2 s"
    )
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    assert invalid(http_model(closed).predict, table).startswith(f"cannot reach model endpoint {closed}: ")
    assert invalid(http_model, "file:///etc/passwd") == (
        "a model endpoint is an http:// or https:// URL, not 'file:///etc/passwd'"
    )
    assert invalid(http_model, "http://x", batch_rows=0) == "batch_rows must be at least 1, not 0"
    assert invalid(http_model, "http://x", request_format="split") == (
        "unknown request format 'split' (known: columns, instances)"
    )
    assert invalid(http_model(endpoint.url).predict, pa.table({"blob": [b"\x00"]})) == (
        f"cannot send the features to {endpoint.url} as JSON: TypeError: a bytes cannot be sent as JSON"
    )
