"""Remediation from an incident: rollback, retraining, suppression — each a change request under approval.

Each call asks for one exact change, bound by hash (:mod:`charter.services.approvals`). Called
again once the request is approved, it carries the change out in one unit of work with the
request marked executed and a step on the incident's timeline:

- **rollback** moves the monitor's alias back to the version it pointed at before, the most
  recent one whose gate passed for that alias (``model.alias_moved`` names the request and the
  incident), and marks the incident mitigated;
- **retrain** runs the command the monitor declares (``options.retrain_command``, a list of
  arguments, with ``CHARTER_INCIDENT`` and ``CHARTER_MODEL`` set), recording
  its exit status, or posts to its pipeline's webhook (``options.retrain_webhook``: a URL or
  ``{url, secret_env}``; JSON ``charter.retrain.v1``, signed as notifications are), recording
  whether it was taken; retraining always needs a human approval. The command runs before the unit of
  work that records it, so it may itself write to Charter (register the version it trained);
- **suppress** silences the incident's alerts until a time (at most 7 days): alerts still join it
  but no longer notify.

The safe zone: a monitor whose ``options.auto_rollback`` names a status (``critical``) rolls back
at once when it opens an incident at that status — audited as an executed request made by
``charter:safe-zone``, and notified — without waiting for an approval.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from charter.clock import format_timestamp
from charter.errors import Conflict, InvalidInput, NotFound
from charter.ledger import unit_of_work
from charter.services import approvals
from charter.services.aliases import move_in
from charter.services.approvals import ChangeRequest
from charter.services.context import Context
from charter.services.incidents import Incident, get_incident, mitigate, record
from charter.services.monitors import Monitor, get_monitor
from charter.services.registry import ModelVersion, get_model, resolve_version
from charter.store.schema import alias_history, gate_results, model_versions, models

MAX_SUPPRESSION = timedelta(days=7)
#: The body a retraining webhook receives.
RETRAIN_SCHEMA = "charter.retrain.v1"
SAFE_ZONE_ACTOR = "charter:safe-zone"


@dataclass(frozen=True)
class Remediation:
    action: str
    status: str  # executed, pending_approval
    request: ChangeRequest
    result: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "status": self.status, "request": self.request.to_dict(), "result": self.result}


def rollback_target(context: Context, model: str, alias: str) -> tuple[ModelVersion, ModelVersion]:
    """(current, previous): the version the alias serves now and the last earlier one whose gate passed for it."""
    current = get_model(context, model).aliases.get(alias)
    if current is None:
        raise Conflict(f"{model}:{alias} points at no version; there is nothing to roll back")
    with context.engine.connect() as connection:
        moves = connection.execute(
            select(model_versions.c.version, model_versions.c.id)
            .join(alias_history, alias_history.c.to_version_id == model_versions.c.id)
            .join(models, models.c.id == alias_history.c.model_id)
            .where(models.c.name == model, alias_history.c.alias == alias)
            .order_by(alias_history.c.ledger_seq.desc())
        ).all()
        passed = set(connection.execute(
            select(gate_results.c.version_id).where(gate_results.c.stage == alias, gate_results.c.decision == "passed")
        ).scalars())  # fmt: skip
    for version, version_id in moves:
        if version != current and version_id in passed:
            return resolve_version(context, f"{model}@{current}"), resolve_version(context, f"{model}@{version}")
    raise NotFound(
        f"{model}:{alias} has no earlier version whose gate passed for {alias}; promote a known-good version instead"
    )


def rollback(context: Context, reference: str, *, justification: str) -> Remediation:
    incident, monitor = _subject(context, reference)
    if monitor.alias is None:
        raise InvalidInput(
            f"{incident.ref} watches {monitor.model}@{monitor.version}, not an alias; nothing to roll back"
        )
    current, previous = rollback_target(context, monitor.model, monitor.alias)
    payload = {"action": "rollback", "model": monitor.model, "alias": monitor.alias, "from_version": current.version,
               "to_version": previous.version, "incident": incident.ref}  # fmt: skip
    return _request_or_run(context, incident, "rollback", payload, justification)


def retrain(context: Context, reference: str, *, justification: str) -> Remediation:
    incident, monitor = _subject(context, reference)
    command, hook = monitor.options.get("retrain_command"), monitor.options.get("retrain_webhook")
    payload: dict[str, Any] = {"action": "retrain", "model": monitor.model, "incident": incident.ref}
    if command is not None and hook is not None:
        raise InvalidInput(f"monitor {monitor.name} declares retrain_command and retrain_webhook; keep one")
    if hook is not None:
        payload["webhook"] = _retrain_hook(monitor.name, hook)
    elif isinstance(command, list) and command and all(isinstance(a, str) for a in command):
        payload["command"] = command
    else:
        raise InvalidInput(
            f"monitor {monitor.name} declares no retraining: set options.retrain_command to the command's "
            "arguments (a list), e.g. [make, retrain], or options.retrain_webhook to {url: ..., secret_env: ...}"
        )
    return _request_or_run(context, incident, "retrain", payload, justification)


def _retrain_hook(monitor: str, hook: Any) -> dict[str, str]:
    """``options.retrain_webhook``: a URL, or ``{url, secret_env}`` (the secret is read from that variable)."""
    found = {"url": hook} if isinstance(hook, str) else hook
    if not isinstance(found, dict) or set(found) - {"url", "secret_env"} or not isinstance(found.get("url"), str):
        raise InvalidInput(f"monitor {monitor}: retrain_webhook must be a URL or {{url: ..., secret_env: NAME}}")
    if not found["url"].startswith(("http://", "https://")):
        raise InvalidInput(f"monitor {monitor}: retrain_webhook url {found['url']!r} is not an http(s) URL")
    return {"url": found["url"], "secret_env": str(found.get("secret_env", ""))}


def suppress(context: Context, reference: str, *, duration: timedelta, justification: str) -> Remediation:
    incident, _ = _subject(context, reference)
    if not timedelta(0) < duration <= MAX_SUPPRESSION:
        raise InvalidInput(f"a suppression lasts more than 0 and at most {MAX_SUPPRESSION.days} days")
    payload = {"action": "suppress", "incident": incident.ref, "seconds": int(duration.total_seconds())}
    return _request_or_run(context, incident, "suppress", payload, justification)


def auto_rollback(context: Context, incident: Incident, monitor: Monitor, *, status: str = "") -> Remediation | None:
    """The safe zone: roll back at once when the monitor allows it for this status (see the module docstring).

    ``status`` is the alert's (default: the one the incident opened with). Once per incident: one
    already mitigated or resolved is not rolled back again, whatever joins it."""
    status = status or str(incident.details.get("status", ""))
    if monitor.alias is None or status != monitor.options.get("auto_rollback"):
        return None
    if incident.status not in ("triggered", "acknowledged"):
        return None
    from dataclasses import replace as replaced

    robot = replaced(context, settings=replaced(context.settings, actor=SAFE_ZONE_ACTOR))
    try:
        current, previous = rollback_target(context, monitor.model, monitor.alias)
    except (Conflict, NotFound) as exc:
        record(robot, incident, "incident.auto_rollback_skipped", {"reason": exc.message})
        return None
    payload = {"action": "rollback", "model": monitor.model, "alias": monitor.alias, "from_version": current.version,
               "to_version": previous.version, "incident": incident.ref, "safe_zone": True}  # fmt: skip
    with unit_of_work(robot.engine, actor=SAFE_ZONE_ACTOR, clock=robot.clock) as uow:
        why = f"safe zone: {monitor.name} is {status}"
        request = approvals.open_in(uow, robot, "rollback", f"model:{monitor.model}", payload, break_glass=True,
                                    justification=why)  # fmt: skip
        result = _execute(uow, robot, incident, request)
        approvals.mark_executed(uow, request, format_timestamp(robot.clock.now()), result)
    _after(robot, incident, request, result)
    return Remediation("rollback", "executed", approvals.get_request(context, request.id), result)


def _request_or_run(
    context: Context, incident: Incident, action: str, payload: dict[str, Any], justification: str
) -> Remediation:
    with context.engine.connect() as connection:
        existing = approvals.find_open(connection, payload, context.clock.now())
    if existing is None or existing.state != "approved":
        request = approvals.open_request(context, action, f"incident:{incident.id}", payload,
                                         justification=justification or f"{action} for {incident.ref}")  # fmt: skip
        record(context, incident, "incident.remediation_requested",
               {"action": action, "change_request": request.id, "payload": payload})  # fmt: skip
        if existing is None:  # a new request: those the incident has reached are asked to look at it
            from charter.services.escalation import notify_level

            notify_level(context, get_incident(context, incident.ref), level=incident.escalation_level,
                         event="remediation.requested")  # fmt: skip
        return Remediation(action, "pending_approval", request, {})
    # A retraining command runs before the transaction opens: it usually registers its new version in this
    # very store, which inside the unit of work would wait for the write lock it holds until the store timed out.
    ran = _retrain_command(incident, existing.payload, existing) if action == "retrain" else None
    with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
        result = ran if ran is not None else _execute(uow, context, incident, existing)
        approvals.mark_executed(uow, existing, format_timestamp(context.clock.now()), result)
    _after(context, incident, existing, result)
    return Remediation(action, "executed", approvals.get_request(context, existing.id), result)


def _execute(uow: Any, context: Context, incident: Incident, request: ChangeRequest) -> dict[str, Any]:
    payload = request.payload
    if payload["action"] == "rollback":
        target = resolve_version(context, f"{payload['model']}@{payload['to_version']}")
        move = move_in(uow, target, payload["alias"], {"change_request": request.id, "incident": incident.ref,
                                                      "rollback": True})  # fmt: skip
        return {"alias": payload["alias"], "from_version": move.from_version, "to_version": move.to_version}
    until = context.clock.now() + timedelta(seconds=int(payload["seconds"]))
    return {"suppressed_until": format_timestamp(until)}


def _retrain_command(incident: Incident, payload: dict[str, Any], request: ChangeRequest) -> dict[str, Any]:
    """Run the monitor's retraining command, or call its webhook (outside any transaction); say how it ended."""
    if "webhook" in payload:
        return _call_retrain_hook(incident, payload, request)
    env = {**os.environ, "CHARTER_INCIDENT": incident.ref, "CHARTER_MODEL": str(payload["model"])}
    try:
        done = subprocess.run(payload["command"], env=env, capture_output=True, text=True, timeout=3600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"command": payload["command"], "exit_code": None, "error": str(exc)}
    return {"command": payload["command"], "exit_code": done.returncode, "output": done.stdout[-2000:],
            "errors": done.stderr[-2000:]}  # fmt: skip


def _call_retrain_hook(incident: Incident, payload: dict[str, Any], request: ChangeRequest) -> dict[str, Any]:
    """POST the approved retraining to the pipeline's webhook, signed as notifications are (``X-Charter-Signature``)."""
    import time

    from charter.integrations.notify.model import DeliveryError
    from charter.integrations.notify.webhook import origin, post_json, signed_request

    hook = payload["webhook"]
    secret = os.environ.get(hook["secret_env"], "") if hook["secret_env"] else ""
    where = origin(hook["url"])
    if hook["secret_env"] and not secret:
        return {"webhook": where, "delivered": False, "error": f"the variable {hook['secret_env']} is not set"}
    body, headers = signed_request({
        "schema": RETRAIN_SCHEMA, "incident": incident.ref, "model": payload["model"], "change_request": request.id,
        "requested_by": request.requester, "approved_by": [a.principal for a in request.approved_by()],
    }, "retrain.requested", int(time.time()), secret)  # fmt: skip
    try:
        answer = post_json(hook["url"], body, headers=headers, timeout=30.0)
    except DeliveryError as exc:
        return {"webhook": where, "delivered": False, "error": str(exc)}
    return {"webhook": where, "delivered": True, "status": answer.status}


def _after(context: Context, incident: Incident, request: ChangeRequest, result: dict[str, Any]) -> None:
    from charter.services.escalation import notify_level
    from charter.services.incidents import suppress_until

    action = request.payload["action"]
    record(context, incident, "incident.remediated", {"action": action, "change_request": request.id, **result})
    if action == "suppress":
        suppress_until(context, incident.ref, result["suppressed_until"])
    if action == "rollback" and get_incident(context, incident.ref).status in ("triggered", "acknowledged"):
        mitigate(context, incident.ref, note=f"rolled back {request.payload['alias']} to version "
                                              f"{request.payload['to_version']} ({request.id})")  # fmt: skip
    notify_level(context, get_incident(context, incident.ref), level=incident.escalation_level,
                 event="remediation.executed")  # fmt: skip


def _subject(context: Context, reference: str) -> tuple[Incident, Monitor]:
    incident = get_incident(context, reference)
    if incident.status == "resolved":
        raise Conflict(f"{incident.ref} is resolved; open remediation on a live incident")
    if incident.monitor is None:
        raise InvalidInput(f"{incident.ref} did not come from a monitor; remediate it with `charter promote`")
    return incident, get_monitor(context, incident.monitor)
