"""/metrics: the store's monitors, decisions, incidents and gates for Prometheus; the deploy/ rules and dashboard
checked by promtool and by Debian's real Prometheus scraping a running Charter. Under CI=true a missing
prometheus or promtool fails these tests; elsewhere they are skipped (scripts/test-services.sh installs them)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from charter.server import create_app
from charter.services.aliases import set_alias
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.gates import run_gate
from charter.services.monitoring import run_monitor
from charter.services.monitors import define_monitor, monitor_from_spec
from charter.services.registry import ModelSpec, register_model, register_version
from tests.conftest import IN_CI
from tests.sdk.test_http_sink import free_port, serving
from tests.server.conftest import auth
from tests.server.test_ingest import rows

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MONITOR = {"model": "credit-risk", "monitor": "credit-risk-volume", "alias": "prod"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


def require(binary: str) -> str:
    found = f"/usr/bin/{binary}" if Path(f"/usr/bin/{binary}").exists() else shutil.which(binary)
    if found is not None:
        return found
    message = f"{binary} is missing (apt-get install prometheus; scripts/test-services.sh does)"
    if IN_CI:
        pytest.fail(f"{binary} is required under CI=true: {message}")
    pytest.skip(message)


@pytest.fixture
def seeded(server: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """credit-risk@1 on prod with 120 decisions ingested, a volume monitor gone critical (an incident), a gate."""
    with open_context(server["settings"], clock=server["clock"]) as context:
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        (tmp_path / "model.bin").write_bytes(b"weights")
        register_version(context, "credit-risk", digest_path(tmp_path / "model.bin"))
        set_alias(context, "credit-risk@1", "prod")
    sent = {"reference": "credit-risk:prod", "decisions": rows(120, ts="2026-01-01T00:30:00Z")}
    answer = server["client"].post("/api/v1/decisions:batch", json=sent, headers=auth(server["tokens"]["developer"]))
    assert answer.status_code == 200, answer.text
    with open_context(server["settings"], clock=server["clock"]) as context:
        define_monitor(context, monitor_from_spec("credit-risk-volume", {
            "model": "credit-risk", "target": "prod", "kind": "volume", "window": {"every": "1h"}, "critical": 1000,
        }))  # fmt: skip
        result = run_monitor(context, "credit-risk-volume", at=datetime(2026, 1, 1, 1, 5, tzinfo=UTC))
        assert (result.status, result.rows, result.incident) == ("critical", 120, "INC-1")
        assert run_gate(context, "credit-risk@1", "prod").decision.decision == "blocked"  # no policy: blocked
    return server


def scrape(client: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_the_store_is_read_at_scrape_time(seeded: dict[str, Any]) -> None:
    client = seeded["client"]
    samples = scrape(client)
    assert value(samples, "charter_monitor_value", **MONITOR, metric="volume.decisions") == 120
    assert value(samples, "charter_monitor_status", **MONITOR) == 2
    end = datetime(2026, 1, 1, 1, tzinfo=UTC).timestamp()
    assert value(samples, "charter_monitor_window_end_timestamp_seconds", **MONITOR) == end
    assert value(samples, "charter_decisions_logged_total", model="credit-risk") == 120
    assert [value(samples, "charter_incidents_open", severity=s) for s in ("low", "medium", "high", "critical")] == [
        0, 0, 1, 0]  # fmt: skip
    assert value(samples, "charter_gate_results_total", decision="blocked") == 1
    assert value(samples, "charter_gate_results_total", decision="passed") == 0
    assert value(samples, "charter_ingest_requests_total", kind="decisions", format="json") == 1
    assert value(samples, "charter_ingest_rows_total", kind="decisions", result="written") == 120
    assert value(samples, "charter_ingest_seconds_count", kind="decisions") == 1
    assert not any(UUID.search(v) for _, labels in samples for _, v in labels)  # no per-decision labels

    token = seeded["tokens"]["developer"]
    more = client.post("/api/v1/decisions:batch", json={"model": "credit-risk", "decisions": rows(30)},
                       headers=auth(token))  # fmt: skip
    assert more.json()["written"] == 30
    refused = client.post("/api/v1/decisions:batch", json={"model": "credit-risk"}, headers=auth(token))
    assert refused.status_code == 422
    samples = scrape(client)
    assert value(samples, "charter_decisions_logged_total", model="credit-risk") == 150  # only new anchors read
    assert value(samples, "charter_ingest_errors_total", kind="decisions", status="422") == 1
    assert value(samples, "charter_ingest_seconds_count", kind="decisions") == 3


def test_each_app_has_its_own_registry(seeded: dict[str, Any]) -> None:
    with TestClient(create_app(seeded["settings"], clock=seeded["clock"])) as other:
        samples = scrape(other)
    assert value(samples, "charter_decisions_logged_total", model="credit-risk") == 120  # the store's, shared
    assert ("charter_ingest_requests_total", (("format", "json"), ("kind", "decisions"))) not in samples  # its own


def test_a_scrape_secret_can_be_required(server: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTER_METRICS_TOKEN", "s3cret-scrape")
    client = server["client"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, auth(server["tokens"]["admin"])):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.json()["code"] == "auth.unauthenticated"
    assert "charter_incidents_open" in str(scrape(client, Authorization="Bearer s3cret-scrape"))


@pytest.mark.parametrize(
    "command",
    [
        ["check", "rules", "deploy/prometheus/rules.yml"],
        ["test", "rules", "deploy/prometheus/rules_test.yml"],
        ["check", "config", "deploy/prometheus/prometheus.yml"],
    ],
)
def test_promtool_accepts_the_rules_and_their_tests(command: list[str]) -> None:
    done = subprocess.run([require("promtool"), *command], cwd=DEPLOY.parent, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "charter.json").read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    for topic in ("Drift", "Accuracy", "Fairness", "latency quantiles", "Decisions logged per second",
                  "Open incidents", "Gate outcomes"):  # fmt: skip
        assert any(topic in title for title in titles), topic
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def test_the_dashboard_uses_only_exported_metrics(seeded: dict[str, Any]) -> None:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    families = text_string_to_metric_families(seeded["client"].get("/metrics").text)  # series or not, all declared
    exported = {f.name + suffix for f in families for suffix in suffixes.get(f.type, ())}
    for expr in dashboard_queries():
        for name in re.findall(r"\bcharter_[a-z_]+", expr):
            assert name in exported, f"{name} in {expr!r} is not exported"


@pytest.fixture
def prometheus(tmp_path: Path) -> tuple[str, Path]:
    """Where Debian's prometheus will listen on 127.0.0.1, and its config file (skipped if it is missing)."""
    require("prometheus")
    return f"http://127.0.0.1:{free_port()}", tmp_path / "prometheus.yml"


def start_prometheus(url: str, config: Path, target: str) -> subprocess.Popen[bytes]:
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DEPLOY / "prometheus" / "rules.yml")],
        "scrape_configs": [{"job_name": "charter", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [target]}]}],
    }))  # fmt: skip
    log = (config.parent / "prometheus.log").open("wb")
    return subprocess.Popen(
        [require("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={config.parent / 'data'}",
         f"--web.listen-address={url.removeprefix('http://')}"], stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def query(url: str, promql: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout=5) as r:
        answer = json.load(r)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def eventually(check: Any, what: str, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (OSError, ValueError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus: {what} within {timeout:.0f} s")
        time.sleep(0.25)


def test_prometheus_scrapes_a_running_charter(seeded: dict[str, Any], prometheus: tuple[str, Path]) -> None:
    url, config = prometheus
    with serving(create_app(seeded["settings"], clock=seeded["clock"])) as charter_url:
        process = start_prometheus(url, config, charter_url.removeprefix("http://"))
        try:
            incidents = eventually(lambda: query(url, 'charter_incidents_open{severity="high"}'), "a scrape")
            assert incidents[0]["metric"]["job"] == "charter" and incidents[0]["value"][1] == "1"
            volume = query(url, 'charter_monitor_value{metric="volume.decisions"}')
            assert [(v["metric"]["monitor"], v["metric"]["alias"], v["value"][1]) for v in volume] == [
                ("credit-risk-volume", "prod", "120")]  # fmt: skip
            assert query(url, 'charter_monitor_status{monitor="credit-risk-volume"}')[0]["value"][1] == "2"
            assert query(url, 'up{job="charter"}')[0]["value"][1] == "1"

            def rules_evaluated() -> list[dict[str, Any]] | None:
                with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=5) as r:
                    groups = json.load(r)["data"]["groups"]
                found = [rule for group in groups for rule in group["rules"]]
                pending = any(rule["alerts"] for rule in found if rule["name"] == "CharterMonitorCritical")
                return found if pending and all(rule["health"] == "ok" for rule in found) else None

            rules = eventually(rules_evaluated, "the rules evaluated over the scraped series")
            assert {rule["name"] for rule in rules} >= {"CharterMonitorCritical", "CharterNoDecisionsLogged",
                                                        "CharterIngestErrors"}  # fmt: skip
            critical = next(rule for rule in rules if rule["name"] == "CharterMonitorCritical")
            assert critical["alerts"][0]["state"] == "pending"  # critical now; fires after 5 minutes
            for expr in dashboard_queries():  # every panel's query is valid PromQL against real series
                query(url, expr.replace("$model", ".*").replace("$__range", "1h"))
        finally:
            process.terminate()
            process.wait(30)
