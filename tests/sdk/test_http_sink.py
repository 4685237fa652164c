"""charter.connect("http://..."): decisions reach a real uvicorn server on 127.0.0.1 and its lake, through
outages (spooled, delivered after the restart, nothing lost, none twice), refusals and size limits."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import uvicorn
from fastapi import FastAPI

import charter
from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import NotFound
from charter.lake.schema import TIMESTAMP
from charter.sdk.http_sink import HttpSink, IngestFailed
from charter.sdk.uuids import new_decision_id
from charter.server import create_app
from charter.server.api.decisions import ingest_of
from charter.services import lake as lake_service
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.registry import ModelSpec, register_model, register_version
from charter.services.tokens import create_token

FEATURES = ["age", "income", "tenure"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 in a thread; yields its URL, stops it afterwards."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.fixture
def served(settings: Settings, clock: FixedClock, tmp_path: Path) -> dict[str, Any]:
    """A server home with credit-risk@1 (named features) and a developer's token."""
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as context:
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        (tmp_path / "model.bin").write_bytes(b"weights")
        schema = {"features": [{"name": name, "type": "number"} for name in FEATURES]}
        register_version(context, "credit-risk", digest_path(tmp_path / "model.bin"), input_schema=schema)
        _, secret = create_token(context, "svc:scorer", roles=("developer",), name="scorer")
    return {"settings": settings, "clock": clock, "token": secret, "client_home": tmp_path / "client"}


def lake_ids(settings: Settings, kind: str = "decisions") -> list[str]:
    with open_context(settings) as context:
        assert lake_service.verify_lake(context, "credit-risk").ok
        table = lake_service.lake_of(context).read_table("credit-risk", kind)  # type: ignore[arg-type]
        return sorted(table.column("decision_id").to_pylist())


def test_decisions_survive_a_server_outage(served: dict[str, Any]) -> None:
    settings, port = served["settings"], free_port()
    rng = np.random.default_rng(5)
    sent: list[str] = []
    with serving(create_app(settings, clock=served["clock"]), port) as url:
        cx = charter.connect(url=url, token=served["token"], home=served["client_home"])
        sent += cx.log_decisions("credit-risk@1", rng.normal(size=(300, 3)), np.arange(300) % 2)
        assert cx.flush(timeout=30)
        with open_context(settings) as context:
            table = lake_service.lake_of(context).read_table("credit-risk")
        assert set(FEATURES) <= set(table.column_names)  # named by the server's input schema
        assert all(table.column("registered").to_pylist())
    # The server is down: decisions go to the client's spool, none is lost.
    for _ in range(4):
        sent += cx.log_decisions("credit-risk@1", rng.normal(size=(100, 3)), np.zeros(100, dtype=int))
    assert not cx.flush(timeout=2)
    stats = cx.stats()["credit-risk@1"]
    assert stats.spooled >= 100 and stats.failed >= 1 and any("unreachable" in m for m in stats.last_errors)
    assert any((served["client_home"] / "spool").rglob("*-decisions.arrow"))
    with serving(create_app(settings, clock=served["clock"]), port):
        cx.log_outcomes("credit-risk", sent[:10], [1] * 10)
        assert cx.flush(timeout=60)
        cx.close()
    assert lake_ids(settings) == sorted(sent)  # every decision, each once
    assert lake_ids(settings, "outcomes") == sorted(sent[:10])
    assert not list((served["client_home"] / "spool").rglob("*.arrow"))


def test_a_batch_sent_twice_is_stored_once(served: dict[str, Any]) -> None:
    batch = pa.record_batch({
        "decision_id": [new_decision_id() for _ in range(5)], "ts": pa.array(range(5), pa.int64()).cast(TIMESTAMP),
        "model_version": pa.array([1] * 5, pa.int64()), "prediction": [0, 1, 0, 1, 1],
    })  # fmt: skip
    with serving(create_app(served["settings"], clock=served["clock"])) as url:
        sink = HttpSink(url, token=served["token"], compress=True)
        sink.write_decisions("credit-risk", batch)
        sink.write_decisions("credit-risk", batch)  # the answer was lost: the logger sends it again
        assert sink.resolve("credit-risk@1").input_schema is not None
        with pytest.raises(NotFound):
            sink.resolve("credit-risk@9")
        sink.close()
    assert lake_ids(served["settings"]) == sorted(batch.column("decision_id").to_pylist())


def test_refused_batches_are_kept_aside_and_large_ones_split(served: dict[str, Any], tmp_path: Path) -> None:
    app = create_app(served["settings"], clock=served["clock"])
    ids = [new_decision_id() for _ in range(400)]
    good = pa.record_batch({"decision_id": ids, "ts": pa.array(range(400), pa.int64()).cast(TIMESTAMP),
                            "prediction": [1.0] * 400})  # fmt: skip
    bad = pa.record_batch({"decision_id": ["not-an-id"], "ts": pa.array([0], pa.int64()).cast(TIMESTAMP)})
    with serving(app) as url:
        ingest_of(app).max_bytes = 8_000  # about 150 rows a request
        sink = HttpSink(url, token=served["token"], rejected_dir=tmp_path / "rejected")
        sink.write_decisions("credit-risk", good)  # 413: sent in halves until each fits
        sink.write_decisions("credit-risk", bad)  # 422: kept aside, not retried
        assert sink.rejected == 1 and "not a decision id" in sink.problems[-1]
        assert len(list((tmp_path / "rejected" / "credit-risk").glob("*-decisions-422.arrow"))) == 1
        with pytest.raises(IngestFailed, match="401"):
            HttpSink(url, token="ctk_wrong").write_decisions("credit-risk", good)
    assert lake_ids(served["settings"]) == sorted(ids)
    with pytest.raises(IngestFailed, match="unreachable"):
        HttpSink(url, token=served["token"]).write_decisions("credit-risk", good)


def test_connect_takes_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTER_HOME", str(tmp_path))
    monkeypatch.setenv("CHARTER_TOKEN", "ctk_from_env")
    cx = charter.connect("https://charter.example/prefix")
    assert isinstance(cx._sink, HttpSink) and cx._sink.url == "https://charter.example/prefix"
    assert cx._sink._headers == {"Authorization": "Bearer ctk_from_env"} and cx.settings.home == tmp_path
    cx.close()
    with pytest.raises(charter.CharterError, match="privacy"):
        charter.connect(url="http://127.0.0.1:1", privacy={"credit-risk": {"email": "keep"}}, home=tmp_path)
