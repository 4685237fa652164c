"""Email notifications through a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from charter.integrations.notify import deliver, email_message, notifier_for, target_from_dict
from tests.integrations.test_notify_http import free_port, notification


@dataclass
class Mailbox:
    """What the SMTP server accepted; ``refuse`` maps a recipient to the reply its RCPT gets."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


class PortZeroController(Controller):
    """aiosmtpd's Controller on port 0: it learns the port the system chose before its first self-test."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"charter", b"pa55word")
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = PortZeroController(box, hostname="127.0.0.1", port=0)
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def mailbox_with_login() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = PortZeroController(
        box, hostname="127.0.0.1", port=0, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    yield box, controller.port
    controller.stop()


def email_target(port: int, **extra: object) -> dict[str, object]:
    return {
        "kind": "email",
        "name": "oncall-mail",
        "host": "127.0.0.1",
        "port": port,
        "from": "charter@example.org",
        "to": ["oncall@example.org", "risk@example.org"],
        "timeout": 5,
        **extra,
    }


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    return str(plain.get_content()), str(rich.get_content())


def test_an_email_has_subject_recipients_and_both_parts(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    target = target_from_dict(email_target(port), "targets.yaml target 'oncall-mail'")
    sent = notification(summary="PSI <0.41> & rising", escalation_level=1, runbook_url="https://runbooks/drift")
    delivery = deliver(notifier_for(target), sent, sleep=pytest.fail)
    assert delivery.ok and delivery.kind == "email" and delivery.target == "oncall-mail"
    ((sender, recipients, message),) = box.messages
    assert sender == "charter@example.org"
    assert recipients == ["oncall@example.org", "risk@example.org"]
    assert message["Subject"] == "[HIGH] Data drift on credit-risk"
    assert message["From"] == "charter@example.org"
    assert message["To"] == "oncall@example.org, risk@example.org"
    assert message["X-Charter-Incident"] == "INC-7" and message["X-Charter-Event"] == "incident.triggered"
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = parts(message)
    assert plain.splitlines()[:9] == [
        "Data drift on credit-risk",
        "",
        "Event:       incident.triggered",
        "Severity:    high",
        "Status:      triggered",
        "Model:       credit-risk",
        "Monitor:     income-drift",
        "Incident:    INC-7",
        "Occurred:    2026-03-01T11:58:30.000000Z",
    ]
    assert "PSI <0.41> & rising" in plain
    assert "Incident: https://charter.example/incidents/INC-7" in plain
    assert "Runbook:  https://runbooks/drift" in plain
    assert "<h2>[HIGH] Data drift on credit-risk</h2>" in rich
    assert "PSI &lt;0.41&gt; &amp; rising" in rich
    assert '<a href="https://charter.example/incidents/INC-7">Open incident INC-7</a>' in rich
    assert '<th align="left" style="padding-right:1em">Escalation</th><td>level 1</td>' in rich


def test_a_single_recipient_may_be_a_string_and_login_is_used(mailbox_with_login: tuple[Mailbox, int]) -> None:
    box, port = mailbox_with_login
    target = target_from_dict(
        email_target(port, to="oncall@example.org", username="charter", password="pa55word"), "mail"
    )
    assert deliver(notifier_for(target), notification(severity="critical"), sleep=pytest.fail).ok
    ((_, recipients, message),) = box.messages
    assert recipients == ["oncall@example.org"] and message["Subject"] == "[CRITICAL] Data drift on credit-risk"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with cryptography (Charter's own dependency)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_starttls_then_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert_file, key_file = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the client trusts it as it would a public CA
    box = Mailbox()
    controller = PortZeroController(
        box, hostname="127.0.0.1", port=0, authenticator=authenticate, tls_context=server_context, require_starttls=True
    )
    controller.start()
    try:
        target = target_from_dict(
            email_target(controller.port, starttls=True, username="charter", password="pa55word"), "mail"
        )
        delivery = deliver(notifier_for(target), notification(), sleep=pytest.fail)
        assert delivery.ok, delivery.error
        assert len(box.messages) == 1
        monkeypatch.delenv("SSL_CERT_FILE")  # now the certificate is a stranger: permanent failure
        delivery = deliver(notifier_for(target), notification(), sleep=pytest.fail)
        assert not delivery.ok and delivery.attempts == 1
        assert delivery.error is not None and "TLS with SMTP server 127.0.0.1" in delivery.error
        assert "CERTIFICATE_VERIFY_FAILED" in delivery.error
    finally:
        controller.stop()


def test_a_refused_login_is_not_retried(mailbox_with_login: tuple[Mailbox, int]) -> None:
    box, port = mailbox_with_login
    target = target_from_dict(email_target(port, username="charter", password="wrong"), "mail")
    delivery = deliver(notifier_for(target), notification(), sleep=pytest.fail)
    assert not delivery.ok and delivery.attempts == 1 and box.messages == []
    assert (
        delivery.error
        == f"SMTP server 127.0.0.1:{port} refused the login: 535 5.7.8 Authentication credentials invalid"
    )


def test_starttls_that_the_server_does_not_offer_is_a_permanent_failure(mailbox: tuple[Mailbox, int]) -> None:
    _, port = mailbox
    target = target_from_dict(email_target(port, starttls=True), "mail")
    delivery = deliver(notifier_for(target), notification(), sleep=pytest.fail)
    assert not delivery.ok and delivery.attempts == 1
    assert delivery.error == f"SMTP server 127.0.0.1:{port} does not offer STARTTLS, which the target asks for"


def test_refused_recipients(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    box.refuse = {"oncall@example.org": "550 5.1.1 No such user", "risk@example.org": "550 5.1.1 No such user"}
    delivery = deliver(notifier_for(target_from_dict(email_target(port), "mail")), notification(), sleep=pytest.fail)
    assert not delivery.ok and delivery.attempts == 1
    assert delivery.error == (
        f"SMTP server 127.0.0.1:{port} refused every recipient: oncall@example.org (550 5.1.1 No such user); "
        "risk@example.org (550 5.1.1 No such user)"
    )
    # One refused, one taken: final, since another try would mail the second one twice.
    box.refuse = {"risk@example.org": "550 5.1.1 No such user"}
    delivery = deliver(notifier_for(target_from_dict(email_target(port), "mail")), notification(), sleep=pytest.fail)
    assert not delivery.ok and delivery.attempts == 1 and len(box.messages) == 1
    assert (
        delivery.error
        == f"SMTP server 127.0.0.1:{port} refused some recipients: risk@example.org (550 5.1.1 No such user)"
    )


def test_a_temporary_refusal_is_retried(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    box.refuse = {"oncall@example.org": "451 4.3.0 Try again later", "risk@example.org": "451 4.3.0 Try again later"}
    sleeps: list[float] = []
    delivery = deliver(
        notifier_for(target_from_dict(email_target(port), "mail")), notification(), attempts=2, sleep=sleeps.append
    )
    assert not delivery.ok and delivery.attempts == 2 and len(sleeps) == 1


def test_an_unreachable_smtp_server_is_retried() -> None:
    port = free_port()
    sleeps: list[float] = []
    delivery = deliver(
        notifier_for(target_from_dict(email_target(port), "mail")), notification(), attempts=3, sleep=sleeps.append
    )
    assert not delivery.ok and delivery.attempts == 3 and len(sleeps) == 2
    assert delivery.error == f"cannot send through SMTP server 127.0.0.1:{port}: Connection refused (after 3 attempts)"


def test_the_message_is_built_without_sending() -> None:
    target = target_from_dict(email_target(25), "mail")
    message = email_message(notification(url=""), target)
    plain, rich = parts(message)
    assert "Incident: http" not in plain and "Open incident" not in rich
    assert message["Message-ID"].endswith("@example.org>")
