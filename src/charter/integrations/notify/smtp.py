"""Email over SMTP (smtplib): a plain-text and an HTML part, subject ``[SEVERITY] title``.

SMTP answers in 4xx are temporary (retryable); 5xx are permanent (not). A refused or dropped
connection and a timeout are retryable; a failed login or a server without STARTTLS, when the
target asks for it, are not.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from charter.clock import format_timestamp
from charter.integrations.notify.model import DeliveryError, Notification, Target


def email_message(notification: Notification, target: Target) -> EmailMessage:
    """The message for one notification: ``multipart/alternative`` with text and HTML."""
    n = notification
    message = EmailMessage()
    message["Subject"] = f"[{n.severity.upper()}] {n.title}"
    message["From"] = target.email_from
    message["To"] = ", ".join(target.email_to)
    message["Date"] = format_datetime(n.occurred_at)
    message["Message-ID"] = make_msgid(domain=target.email_from.rpartition("@")[2] or None)
    message["X-Charter-Event"] = n.event
    message["X-Charter-Incident"] = n.incident_id
    message["X-Charter-Dedup-Key"] = n.dedup_key
    rows = _rows(n)
    text = [n.title, "", *(f"{name + ':':<12} {value}" for name, value in rows), ""]
    if n.summary:
        text += [n.summary, ""]
    if n.url:
        text.append(f"Incident: {n.url}")
    if n.runbook_url:
        text.append(f"Runbook:  {n.runbook_url}")
    message.set_content("\n".join(text).rstrip() + "\n")
    message.add_alternative(_html(n, rows), subtype="html")
    return message


def _rows(n: Notification) -> list[tuple[str, str]]:
    rows = [
        ("Event", n.event),
        ("Severity", n.severity),
        ("Status", n.status),
        ("Model", n.model),
        ("Monitor", n.monitor),
        ("Incident", n.incident_id),
        ("Occurred", format_timestamp(n.occurred_at)),
    ]
    if n.escalation_level:
        rows.append(("Escalation", f"level {n.escalation_level}"))
    return rows


def _html(n: Notification, rows: list[tuple[str, str]]) -> str:
    e = html.escape
    cells = "".join(
        f'<tr><th align="left" style="padding-right:1em">{e(name)}</th><td>{e(value)}</td></tr>' for name, value in rows
    )
    parts = [f"<h2>{e(f'[{n.severity.upper()}] {n.title}')}</h2>", f"<table>{cells}</table>"]
    if n.summary:
        parts.append(f'<p style="white-space:pre-wrap">{e(n.summary)}</p>')
    links = [f'<a href="{e(n.url)}">Open incident {e(n.incident_id)}</a>'] if n.url else []
    if n.runbook_url:
        links.append(f'<a href="{e(n.runbook_url)}">Runbook</a>')
    if links:
        parts.append(f"<p>{' · '.join(links)}</p>")
    body = "\n".join(parts)
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>\n'


class EmailNotifier:
    """Sends the notification by SMTP to the target's recipients (STARTTLS and login when configured)."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def send(self, notification: Notification) -> None:
        t = self.target
        where = f"SMTP server {t.smtp_host}:{t.smtp_port}"
        message = email_message(notification, t)
        try:
            with smtplib.SMTP(t.smtp_host, t.smtp_port, timeout=t.timeout) as smtp:
                if t.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if t.username:
                    smtp.login(t.username, t.password)
                refused = smtp.send_message(message, from_addr=t.email_from, to_addrs=list(t.email_to))
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"{where} refused every recipient: {_refused(exc.recipients)}", retryable=_temporary(exc.recipients)
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                f"{where} does not offer STARTTLS, which the target asks for", retryable=False
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{where} refused the login: {exc.smtp_code} {_text(exc.smtp_error)}", retryable=False
            ) from None
        except smtplib.SMTPResponseException as exc:
            retryable = 400 <= exc.smtp_code < 500
            raise DeliveryError(
                f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}", retryable=retryable
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise DeliveryError(f"{where} closed the connection: {exc}", retryable=True) from None
        except TimeoutError:
            raise DeliveryError(f"no answer from {where} within {t.timeout:g} s", retryable=True) from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS with {where} failed: {exc.reason or exc}", retryable=False) from None
        except (OSError, smtplib.SMTPException) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise DeliveryError(f"cannot send through {where}: {reason}", retryable=True) from None
        if refused:
            # Some recipients took it; sending again would send them a duplicate, so this is final.
            raise DeliveryError(f"{where} refused some recipients: {_refused(refused)}", retryable=False)


def _text(error: bytes | str) -> str:
    return error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)


def _refused(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{address} ({code} {_text(reason)})" for address, (code, reason) in sorted(recipients.items()))


def _temporary(recipients: dict[str, tuple[int, bytes]]) -> bool:
    return all(400 <= code < 500 for code, _ in recipients.values())
