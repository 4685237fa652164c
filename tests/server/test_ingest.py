"""Decision ingest over HTTP: JSON and Arrow bodies, gzip, idempotence by decision id, masking, clear refusals."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from charter.lake.schema import TIMESTAMP
from charter.sdk import DecisionLogger, MemorySink
from charter.sdk.uuids import new_decision_id
from charter.server.api.decisions import ARROW, ingest_of
from charter.services import lake as lake_service
from charter.services.aliases import set_alias
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.datasets import DatasetSpec, add_dataset_version, register_dataset
from charter.services.registry import ModelSpec, register_model, register_version
from tests.server.conftest import auth

BATCH = "/api/v1/decisions:batch"
SCHEMA = {"features": [{"name": "age", "type": "integer"}, {"name": "income", "type": "number"},
                       {"name": "email", "type": "string"}]}  # fmt: skip


@pytest.fixture
def ingest(server: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The server with credit-risk@1 (prod) trained on a dataset whose email column is personal data."""
    with open_context(server["settings"], clock=server["clock"]) as context:
        register_dataset(context, DatasetSpec(name="applicants", legal_basis="contract"))
        (tmp_path / "applicants.csv").write_text("email,income\nada@example.org,10\nalan@example.org,20\n")
        add_dataset_version(context, "applicants", tmp_path / "applicants.csv")
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        (tmp_path / "model.bin").write_bytes(b"weights")
        register_version(context, "credit-risk", digest_path(tmp_path / "model.bin"), input_schema=SCHEMA,
                         trained_on=["applicants@1"])  # fmt: skip
        set_alias(context, "credit-risk@1", "prod")
    return server


def post(server: dict[str, Any], body: Any, *, role: str = "developer", **options: Any) -> Any:
    headers = {**auth(server["tokens"][role]), **options.pop("headers", {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return server["client"].post(options.pop("path", BATCH), content=content, headers=headers, **options)


def rows(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"decision_id": new_decision_id(), "ts": "2026-11-01T09:30:00Z", "prediction": i % 2,
             "inputs": {"age": 30 + i, "income": 1000 * i, "email": f"user{i}@example.org"},
             "scores": [0.4, 0.6], "latency_ms": 1.5, "subject_id": f"s{i}", "groups": {"sex": "FM"[i % 2]}, **extra}
            for i in range(count)]  # fmt: skip


def lake_table(server: dict[str, Any]) -> pa.Table:
    with open_context(server["settings"]) as context:
        assert lake_service.verify_lake(context, "credit-risk").ok
        return lake_service.lake_of(context).read_table("credit-risk").sort_by("decision_id")


def arrow_body(batch: pa.RecordBatch | pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write(batch)
    return bytes(sink.getvalue().to_pybytes())


def test_a_json_batch_is_written_masked_typed_and_anchored(ingest: dict[str, Any]) -> None:
    sent = rows(3)
    answer = post(ingest, {"reference": "credit-risk:prod", "decisions": sent})
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"table_version": 0} == {"model": "credit-risk", "received": 3, "written": 3,
                                                    "duplicates": 0, "table_version": 0}  # fmt: skip
    table = lake_table(ingest)
    assert table.column("decision_id").to_pylist() == sorted(r["decision_id"] for r in sent)
    assert table.column("email").to_pylist()[0].startswith("p1:")  # pseudonymised as the embedded sink does
    assert "user0@example.org" not in str(table.to_pydict())
    assert set(table.column("model_version").to_pylist()) == {1} and set(table.column("alias").to_pylist()) == {"prod"}
    assert all(table.column("registered").to_pylist())
    assert table.schema.field("income").type == pa.float64() and table.schema.field("age").type == pa.int64()
    assert table.column("score").to_pylist() == [0.6] * 3 and table.column("group_sex").to_pylist().count("F") == 2


def test_a_retried_batch_is_not_written_twice(ingest: dict[str, Any]) -> None:
    sent = rows(4)
    assert post(ingest, {"reference": "credit-risk@1", "decisions": sent}).json()["written"] == 4
    again = post(ingest, {"reference": "credit-risk@1", "decisions": sent}).json()
    assert (again["written"], again["duplicates"]) == (0, 4)
    mixed = post(ingest, {"reference": "credit-risk@1", "decisions": sent[:2] + rows(2)}).json()
    assert (mixed["written"], mixed["duplicates"]) == (2, 2)  # by decision id, not only by whole batch
    assert lake_table(ingest).num_rows == 6


def test_rows_whose_anchoring_failed_are_anchored_before_a_retry_answers_and_never_written_twice(
    ingest: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails between the lake commit and its anchor: the client is told to retry (503). The retry
    arrives grouped with other rows (another batch id): the committed rows are recognised by decision id,
    the first commit is anchored before the retry is answered, and the lake verifies."""
    from charter.errors import StoreUnreachable
    from charter.server.api.decisions import commit as module

    real, calls = module.anchor_commit, []

    def flaky(context: Any, done: Any, **options: Any) -> None:
        calls.append((done.batch_id, options.get("check", False)))
        if len(calls) == 1:
            raise StoreUnreachable("the database went away")
        real(context, done, **options)

    monkeypatch.setattr(module, "anchor_commit", flaky)
    sent = rows(4)
    failed = post(ingest, {"reference": "credit-risk@1", "decisions": sent})
    assert failed.status_code == 503 and failed.json()["code"] == "store.unreachable"
    retry = post(ingest, {"reference": "credit-risk@1", "decisions": rows(3) + sent})
    assert retry.status_code == 200, retry.text
    assert (retry.json()["written"], retry.json()["duplicates"]) == (3, 4)
    assert [check for _, check in calls] == [False, True, False]  # the failed anchor again, then the new one
    assert calls[0][0] == calls[1][0] != calls[2][0]
    table = lake_table(ingest)  # verify_lake: every commit is anchored
    assert table.num_rows == 7 and len(set(table.column("decision_id").to_pylist())) == 7


def test_an_sdk_batch_arrives_as_gzipped_arrow(ingest: dict[str, Any], tmp_path: Path) -> None:
    sink = MemorySink()
    logger = DecisionLogger(sink, model="credit-risk", version=1, registered=True, features=["age", "income", "x"],
                            spool_dir=tmp_path / "spool")  # fmt: skip
    ids = logger.log(np.arange(30.0).reshape(10, 3), np.arange(10) % 2, scores=np.full((10, 2), 0.5))
    assert logger.close(timeout=10)
    body = gzip.compress(arrow_body(sink.decisions("credit-risk")))
    headers = {"Content-Type": ARROW, "Content-Encoding": "gzip"}
    answer = post(ingest, body, headers=headers, params={"model": "credit-risk"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["written"] == 10
    assert post(ingest, body, headers=headers, params={"model": "credit-risk"}).json()["duplicates"] == 10
    table = lake_table(ingest)
    assert sorted(table.column("decision_id").to_pylist()) == sorted(ids)
    assert table.column("income").to_pylist()[:2] == [1.0, 4.0]


def test_the_server_says_which_version_is_registered(ingest: dict[str, Any]) -> None:
    claimed = pa.record_batch({
        "decision_id": [new_decision_id(), new_decision_id(), new_decision_id()],
        "ts": pa.array([0, 1, 2], pa.int64()).cast(TIMESTAMP),
        "model_version": pa.array([1, 7, None], pa.int64()), "alias": [None, None, "prod"],
        "registered": [True, True, False], "prediction": [1, 0, 1],
    })  # fmt: skip
    answer = post(ingest, arrow_body(claimed), headers={"Content-Type": ARROW}, params={"model": "credit-risk"})
    assert answer.status_code == 200, answer.text
    table = lake_table(ingest).sort_by("ts")
    assert table.column("registered").to_pylist() == [True, False, True]  # @7 is a shadow launch, whatever it says
    assert table.column("model_version").to_pylist() == [1, 7, 1]  # prod resolved to its version
    bare = post(ingest, {"model": "credit-risk", "decisions": rows(1, ts="2026-11-02T00:00:00Z")})
    assert bare.status_code == 200, bare.text
    latest = lake_table(ingest).sort_by("ts").slice(3)
    assert (latest.column("model_version")[0].as_py(), latest.column("registered")[0].as_py()) == (1, True)
    unknown = post(ingest, {"model": "fraud", "decisions": rows(1)})
    assert unknown.status_code == 200 and unknown.json()["written"] == 1  # unregistered models are recorded too


def test_concurrent_batches_share_commits_and_a_racing_retry_counts_once(ingest: dict[str, Any]) -> None:
    batches = [rows(50) for _ in range(8)]
    batches.append(batches[0])  # the same batch twice at once: a client retrying while the first is in flight
    answers: list[Any] = [None] * len(batches)

    def send(i: int) -> None:
        answers[i] = post(ingest, {"reference": "credit-risk@1", "decisions": batches[i]}).json()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a["written"] for a in answers) == 400 and sum(a["duplicates"] for a in answers) == 50
    assert all(a["written"] + a["duplicates"] == 50 for a in answers)
    assert lake_table(ingest).num_rows == 400


def test_outcomes_join_by_decision_id(ingest: dict[str, Any]) -> None:
    sent = rows(2)
    post(ingest, {"model": "credit-risk", "decisions": sent})
    outcomes = {"model": "credit-risk", "outcomes": [{"decision_id": r["decision_id"], "ts": "2026-11-02T00:00:00Z",
                                                      "label": 1} for r in sent]}  # fmt: skip
    first = post(ingest, outcomes, path="/api/v1/outcomes:batch")
    assert first.status_code == 200 and first.json()["written"] == 2, first.text
    assert post(ingest, outcomes, path="/api/v1/outcomes:batch").json()["duplicates"] == 2
    with open_context(ingest["settings"]) as context:
        assert lake_service.lake_of(context).read_table("credit-risk", "outcomes").num_rows == 2


def test_resolve_names_the_version_and_its_schema(ingest: dict[str, Any]) -> None:
    client, token = ingest["client"], ingest["tokens"]["viewer"]
    found = client.get("/api/v1/decisions:resolve", params={"reference": "credit-risk:prod"}, headers=auth(token))
    assert found.json() == {"model": "credit-risk", "version": 1, "alias": "prod", "registered": True,
                            "input_schema": SCHEMA}  # fmt: skip
    missing = client.get("/api/v1/decisions:resolve", params={"reference": "credit-risk@4"}, headers=auth(token))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_only_developers_and_admins_write(ingest: dict[str, Any]) -> None:
    body = {"model": "credit-risk", "decisions": rows(1)}
    assert post(ingest, body, role="admin").status_code == 200
    for role in ("viewer", "approver", "risk-officer"):
        refused = post(ingest, body, role=role)
        assert refused.status_code == 403 and refused.json()["code"] == "auth.forbidden"
    assert ingest["client"].post(BATCH, json=body).status_code == 401


def _bad_ts() -> dict[str, Any]:
    sent = rows(3)
    sent[1]["ts"] = "yesterday"
    return {"model": "credit-risk", "decisions": sent}


def _with(index: int, **changes: Any) -> dict[str, Any]:
    sent = rows(3)
    sent[index].update(changes)
    return {"reference": "credit-risk@1", "decisions": sent}


def _twice() -> dict[str, Any]:
    sent = rows(3)
    sent[2]["decision_id"] = sent[0]["decision_id"]
    return {"model": "credit-risk", "decisions": sent}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "the body is not JSON"),
        ({"model": "credit-risk"}, 422, "decisions: a non-empty list of decisions is required"),
        ({"model": "credit-risk", "decisions": [], "x": 1}, 422, "unknown field 'x' (known: decisions, model, refer"),
        ({"decisions": rows(1)}, 422, "model: name the model (?model=credit-risk, or model or reference in a JSON"),
        ({"model": "Credit Risk", "decisions": rows(1)}, 422, "model: model name 'Credit Risk' is not valid"),
        (_bad_ts(), 422, "decisions[1].ts: 'yesterday' is not a time with a zone (e.g. 2026-11-01T09:30:00Z)"),
        (_with(2, inputs={"income": "high"}), 422, "decisions[2].inputs.income: 'high' is not a number"),
        (_with(1, colour="red"), 422, "decisions[1]: unknown field 'colour' (known: decision_id, ts, inputs"),
        (_with(1, decision_id="42"), 422, "decisions[1].decision_id: '42' is not a decision id (lowercase UUID text)"),
        (_with(0, prediction={"a": 1}), 422, "decisions[0].prediction: {'a': 1} is not one value"),
        (_with(1, inputs=[1, 2]), 422, "decisions[1].inputs: [1, 2] is not an object"),
        (_with(2, inputs={"_secret": 1}), 422, "feature: '_secret' starts with '_'"),
        (_twice(), 422, "decisions[2].decision_id: "),
    ],
)
def test_bad_bodies_are_refused_naming_the_row_and_field(
    ingest: dict[str, Any], body: Any, status: int, message: str
) -> None:
    answer = post(ingest, body)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["code"] == "input.invalid" and problem["status"] == status
    assert problem["message"].startswith(message), problem["message"]
    assert not (ingest["settings"].home / "lake" / "credit-risk").exists()  # nothing partial


def test_media_types_encodings_and_sizes(ingest: dict[str, Any]) -> None:
    body = {"model": "credit-risk", "decisions": rows(20)}
    text = post(ingest, body, headers={"Content-Type": "text/csv"})
    assert text.status_code == 415 and text.json()["code"] == "input.unsupported_media_type"
    brotli = post(ingest, body, headers={"Content-Encoding": "br"})
    assert brotli.status_code == 415 and "Content-Encoding 'br'" in brotli.json()["message"]
    broken = post(ingest, b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"})
    assert broken.status_code == 400 and broken.json()["message"].startswith("the body is not valid gzip")
    arrow = post(ingest, b"not arrow", headers={"Content-Type": ARROW}, params={"model": "credit-risk"})
    assert arrow.status_code == 400 and arrow.json()["message"].startswith("the body is not an Arrow IPC stream")
    ingest_of(ingest["client"].app).max_bytes = 2000
    large = post(ingest, body)
    assert large.status_code == 413 and large.json()["code"] == "input.too_large"
    assert "over 2,000 bytes" in large.json()["message"] and "CHARTER_INGEST_MAX_BYTES" in large.json()["message"]
    bomb = post(ingest, gzip.compress(json.dumps(body).encode() + b" " * 100_000), headers={"Content-Encoding": "gzip"})
    assert bomb.status_code == 413 and bomb.json()["message"].startswith("the decompressed body is over 2,000 bytes")


def test_two_server_processes_never_write_the_same_decision_twice(ingest: dict[str, Any]) -> None:
    """`charter serve --workers 2`: each process has its own writer and index of committed ids.

    Two applications on one store stand for the two processes; overlapping batches reach both at
    once. Without the store's ingest lock both wrote the overlap (7 trials in 15 over real workers).
    """
    from fastapi.testclient import TestClient

    from charter.server.app import create_app

    other = {**ingest, "client": TestClient(create_app(ingest["settings"], clock=ingest["clock"]))}
    sent: set[str] = set()
    with other["client"]:
        for _ in range(8):
            batch = rows(300)
            sent |= {r["decision_id"] for r in batch}
            start = threading.Barrier(2)
            answers: list[Any] = []

            def send(
                server: dict[str, Any], part: list[dict[str, Any]], start: Any = start, answers: Any = answers
            ) -> None:
                start.wait()
                answers.append(post(server, {"reference": "credit-risk:prod", "decisions": part}))

            threads = [threading.Thread(target=send, args=(ingest, batch[:200])),
                       threading.Thread(target=send, args=(other, batch[100:]))]  # fmt: skip
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            assert sum(a.json()["written"] for a in answers) == 300
            assert sum(a.json()["duplicates"] for a in answers) == 100
    ids = lake_table(ingest).column("decision_id").to_pylist()
    assert len(ids) == len(set(ids)) == len(sent) == 2_400
