"""Gates: may this model version move to this stage? Build the evidence, evaluate the policies, keep the verdict.

``gate_context`` gathers what the store knows about a version into the documented
evaluation context (``charter.dev/context/v1``, :mod:`charter.policy.context`): the model
and version, the latest evaluation, the champion behind the target alias (its metrics on
the same dataset), fairness, the datasets lineage links to it with their certification,
the approvals on the open change request for this very promotion, logging and
documentation. ``run_gate`` evaluates every applicable policy — the stored ones, plus any
files or packs given (as CI does with the policies in its repository) — stores the result
and records ``gate.evaluated``.

Gates fail closed (DESIGN invariant 4): a rule that cannot be evaluated blocks unless it is
advisory, and when no policy at all applies to the version and stage the gate blocks too,
saying so: an ungoverned promotion is a decision someone must take on purpose.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from charter.clock import format_timestamp
from charter.errors import InvalidInput
from charter.ids import new_id
from charter.ledger import unit_of_work
from charter.policy.context import CONTEXT_VERSION, check_context
from charter.policy.document import Policy
from charter.policy.evaluate import Decision, RuleVerdict, evaluate_policies
from charter.services.approvals import ChangeRequest, find_open
from charter.services.context import Context
from charter.services.datasets import resolve_dataset_version
from charter.services.documents import documents_for
from charter.services.evaluation import Evaluation, list_evaluations
from charter.services.lineage import upstream
from charter.services.policies import active_policies, read_packs, read_policy_documents, read_policy_files
from charter.services.references import check_alias_name
from charter.services.registry import Model, ModelVersion, get_model, resolve_version
from charter.store.schema import gate_results

#: The verdict when no policy applies: a synthetic blocking rule, so every renderer shows it.
NO_POLICY = "no-applicable-policy"


@dataclass(frozen=True)
class GateResult:
    id: str
    ref: str
    stage: str
    decision: Decision
    context: dict[str, Any]
    created_by: str
    created_at: str
    change_request: str | None = None

    @property
    def outcome(self) -> str:
        return self.decision.decision

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "stage": self.stage,
            **self.decision.to_dict(),
            "change_request": self.change_request,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "context": self.context,
        }


def promotion_payload(version: ModelVersion, stage: str) -> dict[str, Any]:
    """The exact change a promotion asks for; approvals are bound to its hash."""
    return {
        "model": version.model,
        "version": version.version,
        "alias": stage,
        "artifact_sha256": version.artifact_sha256,
    }


def gate_context(
    context: Context, version: ModelVersion, stage: str, *, request: ChangeRequest | None = None
) -> dict[str, Any]:
    model = get_model(context, version.model)
    now = context.clock.now()
    evaluation = _latest(list_evaluations(context, version.ref))
    inputs = upstream(context, version.ref).inputs  # the lineage into the version: datasets, training or not
    training = {node.ref for edge, node in inputs if node.kind == "dataset" and edge.role == "training"}
    # A model card describes one version; the other documents may cover the whole model.
    kinds = {d.kind for d in documents_for(context, version.ref) if d.kind != "model_card" or d.version is not None}
    evidence = {
        "context_version": CONTEXT_VERSION,
        "now": _ts(now),
        "stage": stage,
        "requester": context.actor,
        "model": {
            "name": model.name, "task": model.task, "risk_tier": model.risk_tier, "owner": model.owner,
            "team": model.team, "tags": list(model.tags), "description": model.description,
            "intended_use": model.intended_use, "limitations": model.limitations,
        },
        "version": {
            "number": version.version, "ref": version.ref, "framework": version.framework,
            "artifact_sha256": version.artifact_sha256, "source_commit": version.source_commit,
            "created_by": version.creator, "created_at": version.created_at,
            "has_input_schema": version.input_schema is not None,
        },
        "evaluation": _evaluation(evaluation, training),
        "champion": _champion(context, model, version, stage, evaluation),
        "fairness": {} if evaluation is None else _fairness(evaluation),
        "explanations": _explanations(evaluation),
        "datasets": _datasets(context, inputs, now),
        "approvals": [
            {"principal": a.principal, "role": a.role, "decision": a.decision + "d", "at": a.at}
            for a in (request.approvals if request is not None else ())
        ],
        "incidents": _open_incidents(context, model.name),
        "monitors": _monitoring(context, model.name),
        "logging": {"enabled": _logging_enabled(context, model.name)},
        "documentation": {
            "model_card": "model_card" in kinds, "intended_use": bool(model.intended_use.strip()),
            "limitations": bool(model.limitations.strip()), "risk_assessment": "risk_assessment" in kinds,
        },
    }  # fmt: skip
    check_context(evidence)  # the store must only ever produce a valid context
    return evidence


def gate_policies(
    context: Context,
    *,
    files: Sequence[Path] = (),
    packs: Sequence[str] = (),
    documents: Sequence[tuple[str, str]] = (),
    stored: bool = True,
    replace_stored: bool = True,
) -> list[Policy]:
    """The policies a gate weighs: the stored ones, then files, documents and packs (each replacing a stored one of
    the same name). ``documents`` are ``(text, file)`` pairs: files read elsewhere (``charter gate --server``).

    With ``replace_stored=False`` (a promotion) a given policy may add to the stored ones but not change one:
    changing the rules that gate models is itself a governed change (``charter policy add``)."""
    chosen: dict[str, Policy] = {}
    digests: dict[str, tuple[str, int]] = {}
    if stored:
        with context.engine.connect() as connection:
            for found, policy in active_policies(connection):
                chosen[found.name] = policy
                digests[found.name] = (found.sha256, found.version)
    given = (*read_policy_files(files), *read_policy_documents(documents), *read_packs(packs))
    for text, origin, policy in given:
        held = digests.get(policy.name)
        if not replace_stored and held is not None and held[0] != hashlib.sha256(text.encode("utf-8")).hexdigest():
            raise InvalidInput(
                f"policy {policy.name!r} in {origin} differs from the stored {policy.name}@{held[1]}: a promotion is "
                "weighed against the stored policies; store the change first (`charter policy add`, which needs "
                "risk-officer or admin) or leave the file out"
            )
        chosen[policy.name] = policy
    return list(chosen.values())


def run_gate(
    context: Context,
    reference: str,
    stage: str,
    *,
    files: Sequence[Path] = (),
    packs: Sequence[str] = (),
    documents: Sequence[tuple[str, str]] = (),
    stored: bool = True,
    replace_stored: bool = True,
) -> GateResult:
    """Evaluate every applicable policy for moving ``reference`` to ``stage``; store and audit the result."""
    check_alias_name(stage)  # a stage is an alias: PROD would never match a policy's [prod]
    version = resolve_version(context, reference)
    policies = gate_policies(
        context, files=files, packs=packs, documents=documents, stored=stored, replace_stored=replace_stored
    )
    with context.engine.connect() as connection:
        request = find_open(connection, promotion_payload(version, stage), context.clock.now())
    evidence = gate_context(context, version, stage, request=request)
    decision = evaluate_policies(policies, evidence)
    if not decision.policies:
        decision = _no_policy(version, stage)
    return store_gate(context, version, stage, decision, evidence, request)


def store_gate(
    context: Context,
    version: ModelVersion,
    stage: str,
    decision: Decision,
    evidence: Mapping[str, Any],
    request: ChangeRequest | None,
) -> GateResult:
    now = format_timestamp(context.clock.now())
    row: dict[str, Any] = {
        "id": new_id(), "version_id": version.id, "stage": stage, "decision": decision.decision,
        "policies": list(decision.policies), "verdicts": [v.to_dict() for v in decision.verdicts],
        "context": dict(evidence), "created_by": context.actor, "created_at": now,
    }  # fmt: skip
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        uow.execute(gate_results.insert().values(row))
        uow.record("gate.evaluated", f"model:{version.model}", {
            "gate": row["id"], "version": version.version, "stage": stage, "decision": decision.decision,
            "policies": list(decision.policies),
            "failed": [f"{v.policy}/{v.rule}" for v in decision.verdicts if v.verdict != "pass"],
        })  # fmt: skip
    return GateResult(row["id"], version.ref, stage, decision, dict(evidence), context.actor, now,
                      None if request is None else request.id)  # fmt: skip


def gate_history(context: Context, reference: str) -> list[dict[str, Any]]:
    """A version's stored gate results, newest first (without their full context)."""
    version = resolve_version(context, reference)
    with context.engine.connect() as connection:
        rows = connection.execute(
            select(gate_results)
            .where(gate_results.c.version_id == version.id)
            .order_by(gate_results.c.created_at.desc(), gate_results.c.id.desc())
        ).mappings()
        return [
            {k: v for k, v in row.items() if k not in ("context", "version_id")} | {"ref": version.ref} for row in rows
        ]


def _no_policy(version: ModelVersion, stage: str) -> Decision:
    message = (
        f"no policy applies to {version.ref} for stage {stage!r}; add one (`charter policy add`, e.g. "
        "--pack baseline) so that the promotion is governed"
    )
    verdict = RuleVerdict(
        policy="(none)", rule=NO_POLICY, verdict="error", effect="block", action="block", severity="high",
        advisory=False, message=message, reason="no applicable policy", error_kind="missing_evidence",
        check="", references=(), file="", line=0,
    )  # fmt: skip
    return Decision("blocked", (), (verdict,))


def _latest(found: Sequence[Evaluation]) -> Evaluation | None:
    return found[0] if found else None


def _ts(when: datetime) -> str:
    return format_timestamp(when)


def _evaluation(evaluation: Evaluation | None, training: set[str]) -> dict[str, Any]:
    if evaluation is None:
        return {}
    return {
        "dataset": evaluation.dataset,
        "evaluated_at": evaluation.created_at,
        "source": evaluation.source,
        "on_training_data": evaluation.dataset in training,
        "metrics": dict(evaluation.metrics),
        "slices": {  # slices too small to have metrics are left out (the evaluation notes them)
            column: {
                value: metrics
                for value, m in values.items()
                if (metrics := {k: v for k, v in m.items() if k != "rows"})
            }
            for column, values in evaluation.slices.items()
        },
        "suites": {
            name: {k: found.get(k, 0) for k in ("passed", "failed", "total", "pass_rate")}
            for name, found in evaluation.suites.items()
        },
    }


def _fairness(evaluation: Evaluation) -> dict[str, dict[str, float]]:
    return {
        attribute: {k: v for k, v in found.items() if k != "groups" and isinstance(v, int | float)}
        for attribute, found in evaluation.fairness.items()
    }


def _explanations(evaluation: Evaluation | None) -> dict[str, Any]:
    found = None if evaluation is None else evaluation.explanations
    if not found:
        return {"available": False, "method": "", "top_features": [], "protected_share": None, "importance": {},
                "protected_features": [], "protected_rank": None}  # fmt: skip
    return {
        "available": True,
        "method": str(found.get("method", "")),
        "top_features": list(found.get("top_features", [])),
        "protected_share": found.get("protected_share"),
        "importance": dict(found.get("shares", {})),
        "protected_features": list(found.get("protected_features", [])),
        "protected_rank": found.get("protected_rank"),
    }


def _champion(
    context: Context, model: Model, version: ModelVersion, stage: str, evaluation: Evaluation | None
) -> dict[str, Any]:
    number = model.aliases.get(stage)
    if number is None or number == version.version:
        return {}
    ref = f"{model.name}@{number}"
    same = [e for e in list_evaluations(context, ref) if evaluation is not None and e.dataset == evaluation.dataset]
    return {"version": number, "ref": ref, "metrics": dict(same[0].metrics) if same else {}}


def _datasets(context: Context, inputs: Sequence[tuple[Any, Any]], now: datetime) -> list[dict[str, Any]]:
    found = []
    for edge, node in inputs:
        if node.kind != "dataset":
            continue
        data = resolve_dataset_version(context, node.ref)
        valid = [c for c in data.certifications if c.state(now) == "valid"]
        dataset = _dataset_fields(context, data.dataset)
        found.append({
            "ref": data.ref, "role": edge.role, "certified": bool(valid),
            "certification_expires": max(c.expires_at for c in valid) if valid else None,
            "pii_classified": bool(data.columns), "legal_basis": dataset.legal_basis, "licence": dataset.licence,
        })  # fmt: skip
    return found


def _dataset_fields(context: Context, name: str) -> Any:
    from charter.services.datasets import get_dataset

    return get_dataset(context, name)


def _open_incidents(context: Context, model: str) -> list[dict[str, Any]]:
    """The model's incidents not yet resolved (triggered, acknowledged or mitigated)."""
    from charter.services.incidents import list_incidents

    return [
        {"id": i.ref, "severity": i.severity, "monitor": i.monitor or "", "opened_at": i.opened_at}
        for i in list_incidents(context, model=model, open_only=True)
    ]


#: A monitor run's verdict -> the context's monitor status, worst last.
_MONITOR_STATUS = {"ok": "ok", "warning": "warning", "critical": "alerting"}


def _monitoring(context: Context, model: str) -> dict[str, Any]:
    """Whether active monitors watch the model, and the worst verdict of each one's latest judged window
    (``ok`` while none has judged a window yet: ``no_data`` and ``error`` runs judge nothing)."""
    from charter.services.monitors import list_monitors
    from charter.store.schema import monitor_runs, monitors

    watching = list_monitors(context, model=model)
    if not watching:
        return {"configured": False, "status": "none"}
    worst = "ok"
    with context.engine.connect() as connection:
        for monitor in watching:
            status = connection.execute(
                select(monitor_runs.c.status)
                .join(monitors, monitors.c.id == monitor_runs.c.monitor_id)
                .where(monitors.c.name == monitor.name, monitor_runs.c.status.in_(tuple(_MONITOR_STATUS)))
                .order_by(monitor_runs.c.window_end.desc())
                .limit(1)
            ).scalar_one_or_none()
            shown = _MONITOR_STATUS.get(status or "ok", "ok")
            if list(_MONITOR_STATUS.values()).index(shown) > list(_MONITOR_STATUS.values()).index(worst):
                worst = shown
    return {"configured": True, "status": worst}


def _logging_enabled(context: Context, model: str) -> bool:
    """Whether the model's decisions table exists; a local lake is checked without loading Delta."""
    lake = str(context.settings.lake)
    if "://" not in lake or lake.startswith("file://"):
        root = Path(lake.removeprefix("file://"))
        return (root / model / "decisions" / "_delta_log").is_dir()
    from charter.lake.table import DecisionLake

    try:
        return DecisionLake(lake).exists(model, "decisions")
    except Exception:  # an unreachable lake means logging is not shown to work
        return False
