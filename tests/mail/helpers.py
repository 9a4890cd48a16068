"""Building test mail and wiring channels to the test servers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inquiries import models as m
from inquiries import secrets
from tests.factories import ChannelFactory
from tests.integration.helpers import wait_until

if TYPE_CHECKING:
    from tests.mail.conftest import ImapServer, SmtpSink

PASSWORD = "secret"


def email_channel(account: m.Account, slug: str, address: str) -> m.Channel:
    return ChannelFactory.create(account=account, slug=slug, kind=m.ChannelKind.EMAIL, address=address)


def mailbox_for(
    channel: m.Channel,
    server: ImapServer | None,
    user: str = "",
    *,
    smtp: SmtpSink | None = None,
    **overrides: object,
) -> m.MailboxConfig:
    """A mailbox on the test Dovecot (password stored encrypted) sending through the sink."""
    values: dict[str, object] = {
        "channel": channel,
        "imap_host": "127.0.0.1" if server else "",
        "imap_port": server.port if server else 993,
        "imap_tls": m.TlsMode.NONE,
        "imap_username": user,
        "imap_password_encrypted": secrets.encrypt(PASSWORD),
        "smtp_host": "127.0.0.1" if smtp else "",
        "smtp_port": smtp.port if smtp else 587,
        "smtp_tls": m.TlsMode.NONE,
    }
    values.update(overrides)
    return m.MailboxConfig.objects.create(**values)


def wait_for_sink(sink: SmtpSink, count: int, timeout: float = 30) -> bool:
    return wait_until(lambda: len(sink.messages) >= count, timeout=timeout)


def raw_mail(*headers: str, body: str = "Hello, my order has not arrived.") -> bytes:
    """A CRLF mail from header lines; a Date is added when none is given."""
    lines = list(headers)
    if not any(h.lower().startswith("date:") for h in lines):
        lines.append("Date: Mon, 02 Mar 2026 10:00:00 +0000")
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


def customer_mail(
    number: int | str,
    *,
    sender: str = "buyer@marketplace.example",
    subject: str = "Where is my order?",
    extra: tuple[str, ...] = (),
    body: str = "Hello, my order has not arrived.",
) -> bytes:
    return raw_mail(
        f"From: Buyer <{sender}>",
        "To: support@shop.example",
        f"Subject: {subject}",
        f"Message-ID: <customer-{number}@mail.example>",
        *extra,
        body=body,
    )


def delivery_status_notification(
    original: bytes,
    *,
    number: int = 1,
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <buyer@marketplace.example>: Recipient address rejected: User unknown",
    threaded: bool = True,
) -> bytes:
    """An RFC 3464 report about `original` as a relay writes it (Postfix's shape): the original's
    headers enclosed, Auto-Submitted set; with `threaded` it also names the original in
    In-Reply-To, as many relays do, so it threads to the conversation."""
    headers = original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    message_id = next(
        (
            line.split(":", 1)[1].strip()
            for line in headers.split("\r\n")
            if line.lower().startswith("message-id:")
        ),
        "",
    )
    status = "5.1.1" if action == "failed" else "4.4.1" if action == "delayed" else "2.0.0"
    lines = [
        "From: Mail Delivery System <MAILER-DAEMON@relay.example>",
        "To: support@shop.example",
        "Subject: Undelivered Mail Returned to Sender",
        f"Message-ID: <dsn-{number}@relay.example>",
        "Date: Mon, 02 Mar 2026 13:00:00 +0000",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-boundary"',
    ]
    if threaded:
        lines.append(f"In-Reply-To: {message_id}")
    body = (
        "--dsn-boundary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host relay.example. Your message could not be delivered.\r\n"
        "--dsn-boundary\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; relay.example\r\n\r\n"
        "Final-Recipient: rfc822; buyer@marketplace.example\r\n"
        f"Action: {action}\r\nStatus: {status}\r\nDiagnostic-Code: {diagnostic}\r\n\r\n"
        "--dsn-boundary\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{headers}\r\n"
        "--dsn-boundary--\r\n"
    )
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")
