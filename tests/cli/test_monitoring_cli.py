"""Monitors, workers and incidents from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from charter.cli.main import app

runner = CliRunner()
MANIFEST = """\
apiVersion: charter.dev/v1
kind: Model
metadata: {name: credit-risk}
spec: {task: binary_classification, riskTier: high}
---
apiVersion: charter.dev/v1
kind: Monitor
metadata: {name: credit-risk-volume}
spec: {model: credit-risk, target: prod, kind: volume, window: {every: 1h}, warn: 100}
"""


def charter(home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args], env={"CHARTER_ACTOR": "local:ops"})
    return result.exit_code, result.stdout, result.stderr


def test_monitors_run_and_incidents_are_listed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    charter(home, "init")
    (tmp_path / "gov.yaml").write_text(MANIFEST)
    code, _, err = charter(home, "apply", "-f", str(tmp_path / "gov.yaml"), "--yes")
    assert code == 0, err
    code, out, _ = charter(home, "monitor", "list", "--json")
    [listed] = json.loads(out)
    assert (listed["name"], listed["kind"], listed["metric"]) == ("credit-risk-volume", "volume", "volume.decisions")
    code, out, err = charter(home, "monitor", "run", "--json")
    assert code == 0, err
    [run] = json.loads(out)
    assert (run["status"], run["notes"]) == ("no_data", ["no decisions logged for credit-risk yet"])
    code, out, _ = charter(home, "monitor", "run")
    assert "no_data" in out and "(already computed)" not in out  # a window that said nothing is looked at again
    code, out, err = charter(home, "worker", "--once", "--name", "w1")
    assert code == 0, err
    code, out, _ = charter(home, "monitor", "series", "credit-risk-volume", "--json")
    assert json.loads(out) == []  # no values for a window without decisions
    code, _, err = charter(home, "monitor", "run", "--backfill")
    assert (code, err.strip()) == (1, "Error: --backfill needs --from (and optionally --to)")
    code, _, err = charter(home, "monitor", "run", "nope")
    assert code == 1 and "no active monitor 'nope'" in err
    code, out, _ = charter(home, "incidents", "list", "--json")
    assert json.loads(out) == []
    code, _, err = charter(home, "incidents", "show", "INC-9")
    assert code == 1 and "no incident 'INC-9'" in err
    payload = {"version": "4", "status": "firing", "receiver": "charter", "groupKey": "{}", "externalURL": "",
               "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "alerts": [{
                   "status": "firing", "labels": {"alertname": "Down", "severity": "critical"},
                   "annotations": {"summary": "the scoring API is down"}, "startsAt": "2026-01-01T00:00:00Z",
                   "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "f"}]}  # fmt: skip
    (tmp_path / "alert.json").write_text(json.dumps(payload))
    code, out, err = charter(home, "incidents", "receive", str(tmp_path / "alert.json"))
    assert code == 0 and out.strip() == "INC-1 [critical] triggered: Down: the scoring API is down", err
    assert charter(home, "incidents", "ack", "INC-1", "--note", "on it")[1].strip() == "INC-1 is acknowledged"
    assert charter(home, "incidents", "assign", "1", "local:ops")[1].strip() == "INC-1 assigned to local:ops"
    assert charter(home, "incidents", "mitigate", "INC-1", "--note", "failover")[1].strip() == "INC-1 is mitigated"
    code, out, _ = charter(home, "incidents", "show", "INC-1")
    assert "incident.triggered" in out and "incident.acknowledged" in out and "incident.mitigated" in out
    assert "  assignee local:ops\n" in out
    code, out, err = charter(
        home, "postmortem", "INC-1", "--out", str(tmp_path / "pm"), "--action", "add a probe@local:ops"
    )
    assert code == 0, err
    assert (tmp_path / "pm" / "INC-1.md").exists() and (tmp_path / "pm" / "INC-1.html").exists()
    code, _, err = charter(home, "postmortem", "INC-1", "--action", "x@y@soon")
    assert code == 1 and "the due date 'soon' is not YYYY-MM-DD" in err
    assert charter(home, "incidents", "resolve", "INC-1", "--note", "restarted")[0] == 0
    assert charter(home, "audit", "verify")[0] == 0
