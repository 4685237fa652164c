"""Model cards: one Markdown page about a model version, computed from what the store holds.

``render_model_card(context, "credit-risk@3")`` (or ``credit-risk:prod``) gathers the model's
inventory fields, the version's artifact and aliases, the datasets lineage links to it (with
their certification and their PII and protected columns), the newest evaluation on each
dataset (metrics, fairness, suites), the global explanation stored with the newest
evaluation that has one (as attribution monitors read it), the newest gate result per
stage and the model's open incidents. Nothing is canned: a section the store has nothing
for says so. Numbers show 3 significant digits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from charter.errors import NotFound
from charter.services.context import Context
from charter.services.datasets import resolve_dataset_version
from charter.services.evaluation import Evaluation, list_evaluations
from charter.services.gates import gate_history
from charter.services.incidents import list_incidents
from charter.services.lineage import LineageNode, upstream
from charter.services.registry import ModelVersion, get_model, resolve_version

NOT_COMPUTED = "not computed"


@dataclass(frozen=True)
class ModelCard:
    ref: str  # credit-risk@3, whatever reference was asked for
    markdown: str

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "markdown": self.markdown}


def render_model_card(context: Context, reference: str) -> ModelCard:
    """The card of the version ``reference`` names; :class:`NotFound` names a model or version that is not there."""
    version = resolve_version(context, reference)
    evaluations = list_evaluations(context, version.ref)
    lines = [f"# Model card: {version.ref}", ""]
    lines += _model(context, version)
    lines += _data(context, upstream(context, version.ref))
    lines += _evaluations(evaluations)
    lines += _explanations(next((e for e in evaluations if e.explanations), None))
    lines += _gates(gate_history(context, version.ref))
    lines += _incidents(context, version.model)
    return ModelCard(version.ref, "\n".join(lines).rstrip() + "\n")


def _model(context: Context, version: ModelVersion) -> list[str]:
    model = get_model(context, version.model)
    rows = [
        ("Name", model.name), ("Task", model.task), ("Risk tier", model.risk_tier), ("Owner", model.owner),
        ("Team", model.team), ("Description", model.description), ("Intended use", model.intended_use),
        ("Limitations", model.limitations), ("Version", str(version.version)), ("Status", version.status),
        ("Framework", version.framework), ("Artifact", version.artifact_uri),
        ("Artifact SHA-256", f"`{version.artifact_sha256}`"),
        ("Aliases", ", ".join(f"{version.model}:{a}" for a in version.aliases)),
        ("Created by", version.creator), ("Created at", version.created_at),
    ]  # fmt: skip
    return ["## Model", "", *_table(("Field", "Value"), [(k, v or "—") for k, v in rows])]


def _data(context: Context, tree: LineageNode) -> list[str]:
    lines = ["## Training data and lineage", ""]
    inputs = [(edge, node) for edge, node in tree.inputs if node.kind == "dataset"]
    if not inputs:
        return [*lines, "No datasets are linked to this version (`charter lineage add`).", ""]
    now = context.clock.now()
    rows = []
    for edge, node in inputs:
        try:
            found = resolve_dataset_version(context, node.ref)
        except NotFound:  # lineage names it, but it is gone: show what lineage knows
            rows.append((node.ref, edge.role or "—", "unknown", "—", "—", _ancestors(node)))
            continue
        pii = ", ".join(f"{c.name} ({c.pii_category})" for c in found.columns if c.pii_category) or "—"
        protected = ", ".join(c.name for c in found.columns if c.protected) or "—"
        rows.append((node.ref, edge.role or "—", found.certification_state(now), pii, protected, _ancestors(node)))
    return [*lines, *_table(("Dataset", "Role", "Certification", "PII columns", "Protected", "Derived from"), rows)]


def _ancestors(node: LineageNode) -> str:
    found: list[str] = []
    stack = [source for _, source in node.inputs]
    while stack:
        current = stack.pop(0)
        if current.ref not in found:
            found.append(current.ref)
        stack.extend(source for _, source in current.inputs)
    return ", ".join(found) or "—"


def _evaluations(evaluations: Sequence[Evaluation]) -> list[str]:
    lines = ["## Evaluation", ""]
    latest: dict[str, Evaluation] = {}
    for evaluation in evaluations:  # newest first: the first per dataset is its latest
        latest.setdefault(evaluation.dataset, evaluation)
    if not latest:
        return [*lines, f"No evaluation recorded: {NOT_COMPUTED}.", ""]
    for dataset, found in latest.items():
        rows = f", {found.rows} rows" if found.rows else ""
        by = f"Evaluated {found.created_at} by {found.created_by} ({found.source}{rows})."
        lines += [f"### On {dataset}", "", by, ""]
        lines += _table(("Metric", "Value"), [(name, _num(value)) for name, value in sorted(found.metrics.items())])
        for attribute, fairness in sorted(found.fairness.items()):
            numbers = [(k, _num(v)) for k, v in sorted(fairness.items()) if _is_number(v)]
            lines += [f"Fairness by **{attribute}**:", "", *_table(("Measure", "Value"), numbers)]
        if found.suites:
            suites = [
                (name, str(s.get("passed", 0)), str(s.get("failed", 0)), str(s.get("total", 0)))
                for name, s in sorted(found.suites.items())
            ]
            lines += ["Suites:", "", *_table(("Suite", "Passed", "Failed", "Total"), suites)]
    return lines


def _explanations(evaluation: Evaluation | None) -> list[str]:
    lines = ["## Explanations", ""]
    found = None if evaluation is None else evaluation.explanations
    if not found:
        return [*lines, f"Global feature importance: {NOT_COMPUTED}.", ""]
    assert evaluation is not None
    shares: Mapping[str, Any] = found.get("shares", {})
    protected = found.get("protected_share")
    lines += [
        f"Method: {found.get('method') or '—'} (evaluation on {evaluation.dataset}, {evaluation.created_at}).",
        "",
        *_table(
            ("Rank", "Feature", "Share of importance"),
            [(str(i), f, _share(shares.get(f))) for i, f in enumerate(found.get("top_features", []), start=1)],
        ),
        f"Share of importance on protected features: {NOT_COMPUTED if protected is None else _share(protected)}"
        + (f" ({', '.join(found['protected_features'])})." if found.get("protected_features") else "."),
        "",
    ]
    return lines


def _gates(history: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["## Gates", ""]
    latest: dict[str, Mapping[str, Any]] = {}
    for result in history:  # newest first
        latest.setdefault(str(result["stage"]), result)
    if not latest:
        return [*lines, "No gate has been evaluated for this version.", ""]
    rows = []
    for stage, result in sorted(latest.items()):
        failed = [f"{v['policy']}/{v['rule']}" for v in result.get("verdicts") or [] if v.get("verdict") != "pass"]
        policies = ", ".join(result.get("policies") or []) or "—"
        rows.append((stage, str(result["decision"]), policies, ", ".join(failed) or "—", str(result["created_at"])))
    return [*lines, *_table(("Stage", "Outcome", "Policies", "Rules not passed", "At"), rows)]


def _incidents(context: Context, model: str) -> list[str]:
    found = list_incidents(context, model=model, open_only=True)
    lines = ["## Open incidents", ""]
    if not found:
        return [*lines, "None.", ""]
    return [*lines, *_table(("Incident", "Severity", "Status", "Title", "Opened"),
                            [(i.ref, i.severity, i.status, i.title, i.opened_at) for i in found])]  # fmt: skip


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return [*out, ""]


def _cell(value: str) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num(value: Any) -> str:
    """3 significant digits (0.861, 0.00123, 41.2); integers and large numbers whole (12,345)."""
    if not _is_number(value):
        return str(value)
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _share(value: Any) -> str:
    return "—" if not _is_number(value) else f"{value * 100:.3g}%"
