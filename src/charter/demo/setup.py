"""The story up to production: home and people, data with lineage, certification, two models, gates.

Each function is one step of the story: it calls the services as the person who would do it
(:mod:`charter.demo.world` lists them), keeps what later steps need in ``demo.facts``, and
returns what it found as lines for the reader. Every number in those lines is read back from
what the services returned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from charter.demo.modelling import CODE_REF, EDGE_CASES, TRANSFORM, build_features, fit, input_schema, save
from charter.demo.population import BRANCH, FEATURES, PROXY, applicants
from charter.demo.world import ADMIN, ALIAS, ENGINEER, MODEL, RISK_OFFICER, ROLES, Demo
from charter.errors import CharterError, DemoFailed
from charter.services import access, approvals, datasets, lineage, policies
from charter.services.artifacts import digest_path
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.promotion import Promotion, promote
from charter.services.registry import ModelSpec, register_model, register_version

Progress = Callable[[int, int], None]

#: Applicants with a known outcome, from the branch network, before the demo's day starts.
HISTORY_ROWS = 16_000
HOLDOUT_SHARE = 0.5
CERTIFIED_FOR = timedelta(days=180)
SIGN_OFF = """\
apiVersion: charter.dev/v1
kind: Policy
metadata:
  name: prod-sign-off
  description: A risk officer signs off every promotion to prod.
spec:
  appliesTo: {stage: [prod]}
  rules:
    - name: risk-officer-sign-off
      expr: approvals.exists(a, a.role == 'risk-officer' && a.decision == 'approved')
      action: require_approval
      message: a risk officer has not approved this promotion yet
"""
PACKS = ("baseline", "data-governance", "fairness")
DESCRIPTION = "Scores consumer loan applications: the probability that the applicant repays on schedule."
INTENDED_USE = "Decide consumer loan applications up to 50 k€, with a human review of declined applications."
LIMITATIONS = "Trained on applications from the branch network; applicants from other channels may differ."


def create_home(demo: Demo, progress: Progress) -> list[str]:
    """A new home; the admin grants each person their one role; the risk officer adopts the policies."""
    init_home(demo.settings, clock=demo.clock)
    demo.context = open_context(demo.settings, clock=demo.clock)
    admin = demo.as_(ADMIN)
    for principal, role in ROLES.items():
        access.grant(admin, principal, role, reason="charter demo")
    sign_off = demo.folder("policies") / "prod-sign-off.yaml"
    sign_off.write_text(SIGN_OFF, encoding="utf-8")
    changes = policies.add_policies(demo.as_(RISK_OFFICER), [sign_off], packs=PACKS)
    progress(1, 1)
    return [
        f"home {demo.home} (SQLite, local Delta lake), replaying from {_clock(demo)}",
        "people: " + ", ".join(f"{p} ({r})" for p, r in sorted(ROLES.items())) + f", {ADMIN} (admin)",
        "policies adopted by " + RISK_OFFICER + ": " + ", ".join(sorted(c.name for c in changes)),
    ]


def register_data(demo: Demo, progress: Progress) -> list[str]:
    """Generated applications, registered with provenance; a transform derives training and holdout data."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    engineer = demo.as_(ENGINEER)
    raw = applicants(HISTORY_ROWS, BRANCH, demo.rng)
    folder = demo.folder("data")
    raw_path = folder / "credit-applications.parquet"
    pq.write_table(pa.Table.from_pandas(raw, preserve_index=False), raw_path)
    since = (demo.clock.now() - timedelta(days=365)).date().isoformat()
    until = demo.clock.now().date().isoformat()
    datasets.register_dataset(engineer, datasets.DatasetSpec(
        name="credit-applications", owner="credit-data@example.com", licence="internal", legal_basis="contract",
        description="Loan applications from the branch network with their outcome (synthetic: charter.demo)",
        source_uri=f"synthetic:charter.demo.population?population=branch&seed={demo.options.seed}",
        collected_from=since, collected_to=until,
    ))  # fmt: skip
    raw_version = datasets.add_dataset_version(engineer, "credit-applications", raw_path)
    progress(1, 3)
    training, holdout = build_features(raw, holdout_share=HOLDOUT_SHARE)
    refs = {}
    for name, frame, what in (("credit-training", training, "training"), ("credit-holdout", holdout, "evaluation")):
        path = folder / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        datasets.register_dataset(engineer, datasets.DatasetSpec(
            name=name, owner="credit-ml@example.com", licence="internal", legal_basis="contract",
            description=f"Applications for {what}: no identifiers; split by a hash of the applicant id",
            source_uri=str(path), collected_from=since, collected_to=until,
        ))  # fmt: skip
        version = datasets.add_dataset_version(engineer, name, path)
        lineage.add_edge(engineer, raw_version.ref, to_dataset=version.ref, transform=TRANSFORM, code_ref=CODE_REF,
                         parameters={"holdout_share": HOLDOUT_SHARE, "split": "sha256(applicant_id)",
                                     "dropped": ["applicant_id", "name", "email"]})  # fmt: skip
        refs[name] = version
    progress(3, 3)
    demo.facts.update(raw=raw_version.ref, training=refs["credit-training"].ref, holdout=refs["credit-holdout"].ref)
    personal = [f"{c.name} ({c.pii_category})" for c in raw_version.columns if c.pii_category]
    protected = [c.name for c in raw_version.columns if c.protected]
    return [
        f"{raw_version.ref}: {raw_version.row_count:,} applications; personal data found: {', '.join(personal)}; "
        f"protected: {', '.join(protected)}",
        f"lineage: {raw_version.ref} -> {TRANSFORM} -> {refs['credit-training'].ref} "
        f"({refs['credit-training'].row_count:,} rows), {refs['credit-holdout'].ref} "
        f"({refs['credit-holdout'].row_count:,} rows)",
    ]


def certify_training_data(demo: Demo, progress: Progress) -> list[str]:
    """Only a risk officer may certify data for training; the engineer is refused, the officer certifies."""
    reference = str(demo.facts["training"])
    expires = demo.clock.now() + CERTIFIED_FOR
    try:
        datasets.certify(demo.as_(ENGINEER), reference, purpose="training credit-risk models", expires=expires)
    except CharterError as refused:
        denied = refused.message
    else:
        raise DemoFailed(
            f"the story cannot go on: {ENGINEER} was allowed to certify {reference}; only a risk officer should be"
        )
    cert = datasets.certify(demo.as_(RISK_OFFICER), reference, purpose="training credit-risk models", expires=expires,
                            note="checked: legal basis, PII classification, no identifiers")  # fmt: skip
    progress(1, 1)
    return [f"refused: {denied}", f"{reference} certified by {cert.certified_by} until {cert.expires_at[:10]}"]


def train_models(demo: Demo, progress: Progress) -> list[str]:
    """Version 1 reads five financial features; version 2 also reads weekly working hours."""
    import pandas as pd

    engineer = demo.as_(ENGINEER)
    training = pd.read_parquet(demo.folder("data") / "credit-training.parquet")
    register_model(engineer, ModelSpec(
        name=MODEL, task="binary_classification", risk_tier="high", owner="credit-ml@example.com", team="credit",
        description=DESCRIPTION, intended_use=INTENDED_USE, limitations=LIMITATIONS, tags=("credit", "demo"),
    ))  # fmt: skip
    found = []
    for number, features in ((1, FEATURES), (2, (*FEATURES, PROXY))):
        model = fit(training, features)
        path = save(model, demo.folder("models") / f"{MODEL}-{number}.pkl")
        version = register_version(
            engineer, MODEL, digest_path(path), framework="sklearn", input_schema=input_schema(features),
            trained_on=[str(demo.facts["training"])],
            training_run={"algorithm": "logistic regression (standardised)", "features": list(features),
                          "rows": len(training), "seed": demo.options.seed},
        )  # fmt: skip
        demo.facts[f"v{number}"] = version.ref
        found.append(f"{version.ref}: logistic regression on {', '.join(features)}")
        progress(number, 2)
    return found


def evaluate_models(demo: Demo, progress: Progress) -> list[str]:
    """Both versions on the holdout (metrics, fairness by sex) and on the edge-case suite."""
    suite = demo.folder("suites") / "credit-edge-cases.yaml"
    suite.write_text(EDGE_CASES, encoding="utf-8")
    demo.facts["suite"] = str(suite)
    lines = []
    for i, key in enumerate(("v1", "v2"), start=1):
        lines.append(evaluation_line(demo, str(demo.facts[key]), str(demo.facts["holdout"]), suite))
        progress(i, 2)
    return lines


def evaluation_line(demo: Demo, reference: str, dataset: str, suite: Path) -> str:
    """Evaluate ``reference`` on ``dataset`` as the engineer and describe the scorecard in one line."""
    from charter.services.evaluation import evaluate

    found = evaluate(demo.as_(ENGINEER), reference, dataset=dataset, label="repaid", slices=("sex",), suites=(suite,))
    fairness = found.fairness.get("sex", {})
    suites = found.suites.get("credit-edge-cases", {})
    return (
        f"{reference} on {dataset}: ROC AUC {found.metrics['roc_auc']:.3f}, accuracy {found.metrics['accuracy']:.3f}; "
        f"sex: disparate impact {fairness.get('disparate_impact', float('nan')):.3f}, equalized odds difference "
        f"{fairness.get('equalized_odds_difference', float('nan')):.3f}; edge cases "
        f"{suites.get('passed', 0)}/{suites.get('total', 0)} passed"
    )


def gate_first(demo: Demo, progress: Progress) -> list[str]:
    """Version 1 passes every rule and waits for the risk officer's sign-off; then it is promoted."""
    reference = str(demo.facts["v1"])
    lines, promoted = promote_with_sign_off(demo, reference, "the first credit-risk model for production")
    if not promoted:
        raise DemoFailed(
            f"the story cannot go on: {reference} should pass its gate but for the sign-off: {'; '.join(lines)}"
        )
    progress(1, 1)
    return lines


def promote_with_sign_off(demo: Demo, reference: str, why: str) -> tuple[list[str], bool]:
    """The engineer asks, the gate passes but for the sign-off, the risk officer approves, the engineer promotes.

    Returns the lines to show and whether the version was promoted (not when the gate blocks it).
    """
    engineer = demo.as_(ENGINEER)
    asked = promote(engineer, reference, ALIAS, justification=why)
    write_gate_report(demo, asked)
    if asked.status != "pending_approval" or asked.request is None:
        return blocked_lines(asked), False
    counts = asked.gate.decision.to_dict()["counts"]
    try:
        approvals.approve(engineer, asked.request.id, justification="my own model looks fine")
    except CharterError as refused:
        denied = refused.message
    else:
        raise DemoFailed(f"the story cannot go on: {ENGINEER} approved their own request {asked.request.id}")
    demo.wait(20)
    approvals.approve(demo.as_(RISK_OFFICER), asked.request.id,
                      justification="holdout, fairness and edge cases reviewed; data certified")  # fmt: skip
    demo.wait(2)
    done = promote(engineer, reference, ALIAS)
    write_gate_report(demo, done)
    if done.status != "promoted" or done.move is None:
        raise DemoFailed(f"the story cannot go on: {reference} was approved but not promoted: {_problems(done)}")
    return [
        f"gate {asked.gate.ref} -> {ALIAS}: {counts['pass']} rules pass; change request {asked.request.id} "
        f"waits for {asked.request.missing()}",
        f"refused: {denied}",
        f"approved by {RISK_OFFICER}; {MODEL}:{ALIAS} -> version {done.move.to_version}",
    ], True


def gate_second(demo: Demo, progress: Progress) -> list[str]:
    """Version 2 is more accurate, but the gate blocks it: it fails the four-fifths rule."""
    reference = str(demo.facts["v2"])
    blocked = promote(demo.as_(ENGINEER), reference, ALIAS, justification="higher ROC AUC on the holdout")
    write_gate_report(demo, blocked)
    progress(1, 1)
    return blocked_lines(blocked)


def blocked_lines(result: Promotion) -> list[str]:
    """The gate's outcome and every rule that blocks, with the values its message names."""
    lines = [f"gate {result.gate.ref} -> {ALIAS}: {result.status.upper()}"]
    return lines + [f"{v.effect.upper()} {v.policy}/{v.rule}: {v.message}" for v in result.gate.decision.blocking]


def write_gate_report(demo: Demo, result: Promotion) -> Path:
    """The gate's verdict as the Markdown report CI would attach (``charter gate --markdown``)."""
    from charter.policy.reports import render

    summary = {k: v for k, v in result.gate.to_dict().items() if k != "context"}
    name = f"{result.gate.ref.replace('@', '-')}-{result.gate.stage}-{result.gate.outcome}.md"
    path = demo.folder("reports") / "gates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(summary, "markdown"), encoding="utf-8")
    demo.facts.setdefault("gate_reports", []).append(str(path))
    return path


def _problems(result: Promotion) -> str:
    found = [f"{v.policy}/{v.rule}: {v.message}" for v in result.gate.decision.verdicts if v.effect != "none"]
    return "; ".join(found) or result.status


def _clock(demo: Demo) -> str:
    return demo.clock.now().strftime("%Y-%m-%d %H:%M UTC")
