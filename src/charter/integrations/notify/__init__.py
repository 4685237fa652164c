"""Incident notifications to real receivers, with retries; and Alertmanager's webhook, read inbound.

Build a :class:`Target` from configuration with :func:`target_from_dict`, get its
:class:`Notifier` from :func:`notifier_for`, and :func:`deliver` a :class:`Notification`:
the returned :class:`Delivery` is what the incident timeline records. docs/notifications.md
describes every target kind, payload format and the webhook signature.
"""

from __future__ import annotations

from charter.integrations.notify.delivery import Delivery, backoff_delay, deliver
from charter.integrations.notify.inbound import InboundAlert, parse_alertmanager_webhook
from charter.integrations.notify.model import (
    EVENTS,
    KINDS,
    PAGERDUTY_URL,
    SEVERITIES,
    STATUSES,
    DeliveryError,
    Event,
    Kind,
    Notification,
    Notifier,
    Severity,
    Status,
    Target,
    target_from_dict,
)
from charter.integrations.notify.receivers import (
    AlertmanagerNotifier,
    PagerDutyNotifier,
    SlackNotifier,
    alertmanager_alerts,
    pagerduty_event,
    slack_payload,
)
from charter.integrations.notify.registry import NOTIFIERS, notifier_for
from charter.integrations.notify.smtp import EmailNotifier, email_message
from charter.integrations.notify.webhook import (
    SCHEMA,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    sign,
    verify_signature,
    webhook_request,
)

__all__ = [
    "EVENTS",
    "KINDS",
    "NOTIFIERS",
    "PAGERDUTY_URL",
    "SCHEMA",
    "SEVERITIES",
    "SIGNATURE_HEADER",
    "STATUSES",
    "TIMESTAMP_HEADER",
    "AlertmanagerNotifier",
    "Delivery",
    "DeliveryError",
    "EmailNotifier",
    "Event",
    "InboundAlert",
    "Kind",
    "Notification",
    "Notifier",
    "PagerDutyNotifier",
    "Severity",
    "SlackNotifier",
    "Status",
    "Target",
    "WebhookNotifier",
    "alertmanager_alerts",
    "backoff_delay",
    "deliver",
    "email_message",
    "notifier_for",
    "pagerduty_event",
    "parse_alertmanager_webhook",
    "sign",
    "slack_payload",
    "target_from_dict",
    "verify_signature",
    "webhook_request",
]
