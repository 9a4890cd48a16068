"""manage.py poll_mailboxes [--channel SLUG] [--force] [--idle]: import new mail from IMAP once.

Polls every enabled mailbox (or one) a single time in this process and prints what each
did. Mailboxes backing off after failures are skipped unless --force. Exit status 1 when
any mailbox failed. With --idle and one --channel, keeps an IMAP IDLE connection open and
polls whenever the server announces new mail (beat's minute poll goes on regardless).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from inquiries.ingestion.imap import MailboxError
from inquiries.models import MailboxConfig
from inquiries.secrets import SecretError
from inquiries.services import mailbox as service

IDLE_SECONDS = 600  # well under the 30 minutes after which servers drop idle clients


class Command(BaseCommand):
    help = "Poll the IMAP mailboxes of e-mail channels once (or keep one open with IDLE)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", help="Slug of one e-mail channel; default: every enabled mailbox.")
        parser.add_argument("--force", action="store_true", help="Poll mailboxes that are backing off too.")
        parser.add_argument(
            "--idle", action="store_true", help="Stay connected (IMAP IDLE); needs --channel."
        )

    def handle(self, *args: Any, channel: str | None, force: bool, idle: bool, **options: Any) -> None:
        if idle:
            if not channel:
                raise CommandError("--idle needs --channel")
            self._idle(self._mailbox(channel))
            return
        if channel:
            results = [service.poll_mailbox(mailbox_id=self._mailbox(channel).pk, force=True)]
        else:
            results = service.poll_due_mailboxes(force=force)
        if not results:
            self.stdout.write("no enabled mailboxes")
        for result in results:
            (self.stdout if result.ok else self.stderr).write(result.summary())
            for line in result.rejected:
                self.stderr.write(f"  rejected {line}")
        if any(not result.ok for result in results):
            raise SystemExit(1)

    def _mailbox(self, slug: str) -> MailboxConfig:
        mailbox = MailboxConfig.objects.select_related("channel").filter(channel__slug=slug).first()
        if mailbox is None:
            raise CommandError(f"channel {slug!r} has no mailbox configured")
        return mailbox

    def _idle(self, mailbox: MailboxConfig) -> None:
        while True:
            result = service.poll_mailbox(mailbox_id=mailbox.pk, force=True)
            self.stdout.write(f"{timezone.now():%H:%M:%S} {result.summary()}")
            if result.remaining:
                continue
            try:
                service.wait_for_mail(mailbox_id=mailbox.pk, timeout=IDLE_SECONDS)
            except (MailboxError, SecretError) as exc:
                mailbox.refresh_from_db()
                wait = service.backoff_seconds(max(mailbox.failures, 1))
                self.stderr.write(f"IDLE failed: {exc}; trying again in {wait} s")
                time.sleep(wait)
