"""Benchmark `charter gate` cold from the shell: a fresh process per run, 50 rules, SQLite.

    .venv/bin/python benchmarks/gate.py [--quick]

Seeds a temporary home with a model, two versions (the first behind `prod`, the champion),
an evaluation of each with slices and fairness, and one stored policy of 50 CEL rules; then
runs `charter gate credit-risk@2 --stage prod` in a new process each time (what a CI job
does) and reports wall-clock p50/p90, with compiled modules cached as in any installation.
It does so twice: on the database itself (the SQLite file in the home), and with
`--server URL` against `charter serve` on that same home, as the CI templates run it (the
command then loads neither SQLAlchemy nor the policy engine; the server evaluates).
Target: p50 <= 300 ms. The floor it is compared with
is the same interpreter starting and exiting (`python -c pass`), and `python -c "import
sqlalchemy"` and the same with typer and rich: what any command of a Python CLI on this stack
pays before doing anything.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from charter.config import load_settings
from charter.services import access, policies
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.evaluation import record_evaluation
from charter.services.home import init_home
from charter.services.registry import ModelSpec, register_model, register_version
from charter.services.tokens import create_token

TARGET_MS = 300.0
#: What any command of this CLI imports before it does anything: the store's and the CLI's libraries.
FLOOR = "import sqlalchemy, sqlalchemy.engine, typer.main, rich.console"
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier", "ece")


def policy_text(rules: int) -> str:
    lines = [
        "apiVersion: charter.dev/v1",
        "kind: Policy",
        "metadata: {name: bench-50}",
        "spec:",
        "  appliesTo: {riskTier: [high], stage: [prod]}",
        "  rules:",
    ]
    for i in range(rules):
        metric = METRICS[i % len(METRICS)]
        kind = i % 5
        if kind == 0:
            expr = f"evaluation.metrics.{metric} >= 0.{i % 7 + 1}"
        elif kind == 1:
            expr = f"!has(champion.metrics) || evaluation.metrics.{metric} >= champion.metrics.{metric} - 0.05"
        elif kind == 2:
            expr = "fairness.all(a, fairness[a].disparate_impact >= 0.5)"
        elif kind == 3:
            expr = "evaluation.slices.all(c, evaluation.slices[c].all(v, evaluation.slices[c][v].accuracy >= 0.1))"
        else:
            expr = "datasets.all(d, d.legal_basis != 'unknown') && model.risk_tier == 'high'"
        lines += [
            f"    - name: rule-{i:02d}",
            f'      expr: "{expr}"',
            f"      message: rule {i} failed",
            "      action: warn",
        ]
    return "\n".join(lines) + "\n"


def seed(home: Path, work: Path) -> str:
    """The home described above; returns a CI token's secret (a developer's, as the templates suggest)."""
    settings = load_settings(env={}, home=home, actor="local:bench")
    init_home(settings)
    with open_context(settings) as context:
        access.grant(context, "local:bench", "risk-officer")
        _, token = create_token(context, "ci:bench", roles=("developer",), name="ci")
        register_model(context, ModelSpec(name="credit-risk", task="binary_classification", risk_tier="high"))
        slices = {"age_band": {b: {"rows": 200, "accuracy": 0.8} for b in ("18-29", "30-49", "50+")}}
        fairness = {"sex": {"disparate_impact": 0.9, "equalized_odds_difference": 0.05}}
        for number in (1, 2):
            artifact = work / f"model-{number}.pkl"
            artifact.write_bytes(f"weights {number}".encode())
            register_version(context, "credit-risk", digest_path(artifact), framework="sklearn")
            record_evaluation(context, f"credit-risk@{number}", dataset="holdout", rows=600, slices=slices,
                              fairness=fairness, metrics=dict.fromkeys(METRICS, 0.8 + number / 100))  # fmt: skip
        from charter.services.aliases import set_alias

        set_alias(context, "credit-risk@1", "prod")
        path = work / "bench-50.yaml"
        path.write_text(policy_text(50))
        policies.add_policies(context, [path])
    return token


def timed(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    found = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        found.append((time.perf_counter() - start) * 1000)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr}")
    return found


def main() -> None:
    from api import start_server  # benchmarks/api.py: `charter serve` on a free port, waited for

    runs = 5 if "--quick" in sys.argv else 21
    charter = str(Path(sys.executable).with_name("charter"))
    gate = [charter, "gate", "credit-risk@2", "--stage", "prod"]
    with tempfile.TemporaryDirectory(prefix="charter-bench-gate-") as scratch:
        work = Path(scratch)
        home = work / "home"
        token = seed(home, work)
        env = {**os.environ, "CHARTER_HOME": str(home), "CHARTER_ACTOR": "local:bench"}
        # As installed: Python caches compiled modules (an editable install under PYTHONDONTWRITEBYTECODE=1
        # would recompile Charter's own modules in every process, 150 ms that no user pays).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).parents[1] / "src")], check=True)
        server, port = start_server(home, 1)
        try:
            url = f"http://127.0.0.1:{port}"
            remote_env = {k: v for k, v in env.items() if k not in ("CHARTER_HOME", "CHARTER_ACTOR")}
            remote_env |= {"CHARTER_TOKEN": token}
            said = {}
            for label, command, where in (("here", gate, env), ("server", [*gate, "--server", url], remote_env)):
                check = subprocess.run(command, env=where, capture_output=True, text=True, check=False)
                if check.returncode not in (0, 1):
                    raise SystemExit(f"{' '.join(command)} failed: {check.stderr}")
                said[label] = " / ".join(check.stdout.splitlines()[:2])
            rows = [
                ("python -c pass", timed([sys.executable, "-c", "pass"], env, runs)),
                ("python -c 'import sqlalchemy'", timed([sys.executable, "-c", "import sqlalchemy"], env, runs)),
                ("  + typer, rich (the CLI's floor)", timed([sys.executable, "-c", FLOOR], env, runs)),
                ("charter gate (50 rules, SQLite)", timed(gate, env, runs)),
                ("charter gate --server (same home)", timed([*gate, "--server", url], remote_env, runs)),
                ("  of which the server's answer", served(url, token, runs)),
            ]
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"charter gate, cold process per run, {runs} runs; the gate said: {said['here']}")
    if said["server"] != said["here"]:
        raise SystemExit(f"the gate on the server said otherwise: {said['server']}")
    floor = statistics.median(rows[0][1])
    for label, times in rows:
        p50 = statistics.median(times)
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        print(f"  {label:<34} p50 {p50:7.1f} ms   p90 {p90:7.1f} ms   x{p50 / floor:5.1f} the bare interpreter")
    for label, times in (rows[3], rows[4]):
        p50 = statistics.median(times)
        verdict = "met" if p50 <= TARGET_MS else "NOT met"
        print(f"target p50 <= {TARGET_MS:.0f} ms, {label.strip()}: {verdict} ({p50:.0f} ms)")


def served(url: str, token: str, runs: int) -> list[float]:
    """The gate's request alone, from a warm client: what the server adds to the command's own start."""
    from charter.client import ApiClient

    client = ApiClient(url, token=token)
    found = []
    for _ in range(runs):
        start = time.perf_counter()
        client.call("POST", "/gates", {"ref": "credit-risk@2", "stage": "prod"})
        found.append((time.perf_counter() - start) * 1000)
    return found


if __name__ == "__main__":
    main()
