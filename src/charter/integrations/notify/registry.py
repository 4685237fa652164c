"""Which notifier sends to which kind of target: an explicit table, filled in one place."""

from __future__ import annotations

from collections.abc import Callable

from charter.clock import Clock, SystemClock
from charter.errors import InvalidInput
from charter.integrations.notify.model import Notifier, Target
from charter.integrations.notify.receivers import AlertmanagerNotifier, PagerDutyNotifier, SlackNotifier
from charter.integrations.notify.smtp import EmailNotifier
from charter.integrations.notify.webhook import WebhookNotifier

NotifierFactory = Callable[[Target, Clock], Notifier]

#: Target kind -> how to build its notifier. Every kind in ``KINDS`` has exactly one entry (a test says so).
NOTIFIERS: dict[str, NotifierFactory] = {
    "webhook": lambda target, clock: WebhookNotifier(target, clock=clock),
    "slack": lambda target, clock: SlackNotifier(target),
    "alertmanager": lambda target, clock: AlertmanagerNotifier(target),
    "pagerduty": lambda target, clock: PagerDutyNotifier(target),
    "email": lambda target, clock: EmailNotifier(target),
}


def notifier_for(
    target: Target, *, clock: Clock | None = None, registry: dict[str, NotifierFactory] | None = None
) -> Notifier:
    """The notifier for ``target``'s kind (``registry`` defaults to :data:`NOTIFIERS`)."""
    table = NOTIFIERS if registry is None else registry
    factory = table.get(target.kind)
    if factory is None:
        raise InvalidInput(
            f"target {target.name!r}: no notifier for kind {target.kind!r} (known: {', '.join(sorted(table))})"
        )
    return factory(target, clock or SystemClock())
