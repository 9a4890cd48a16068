"""Real servers for the e-mail tests: a Dovecot IMAP server and an aiosmtpd SMTP sink, both
started here on 127.0.0.1 with free ports; plus channel/mailbox fixtures wired to them.

Dovecot runs as root with its own throw-away configuration: any user name logs in with the
password "secret" (static passdb), so each test takes a fresh user and thereby an empty
Maildir. Without the dovecot binary (or root) the tests skip on a developer machine and
fail in CI (CSTRACKER_REQUIRE_SERVICES).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from imapclient import IMAPClient

from inquiries import models as m
from tests.factories import AccountFactory
from tests.integration.helpers import free_port, require, wait_until
from tests.mail.helpers import PASSWORD, delivery_status_notification, email_channel, mailbox_for

_users = itertools.count(1)


@dataclass
class ImapServer:
    port: int
    base: Path

    def new_user(self) -> str:
        return f"user{os.getpid()}x{next(_users)}"

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, PASSWORD)
        return client

    def append(
        self,
        user: str,
        raw: bytes,
        *,
        folder: str = "INBOX",
        msg_time: datetime | None = None,
        flags: tuple[bytes, ...] = (),
    ) -> None:
        client = self.client(user)
        try:
            if folder != "INBOX" and not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw, flags=flags, msg_time=msg_time)
        finally:
            client.logout()

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        client = self.client(user)
        try:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            return (
                {uid: data[b"FLAGS"] for uid, data in client.fetch(uids, ["FLAGS"]).items()} if uids else {}
            )
        finally:
            client.logout()

    def count(self, user: str, folder: str = "INBOX") -> int:
        client = self.client(user)
        try:
            return int(client.select_folder(folder, readonly=True)[b"EXISTS"])
        finally:
            client.logout()


def _dovecot_config(base: Path, port: int) -> str:
    nobody = pwd.getpwnam("nobody")
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
mail_location = maildir:{base}/mail/%u
# The sent folder has a name no fallback guesses: it is found by its \\Sent flag (RFC 6154).
namespace inbox {{
  inbox = yes
  mailbox Gesendet {{
    special_use = \\Sent
  }}
}}
first_valid_uid = 1
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={nobody.pw_uid} gid={nobody.pw_gid} home={base}/mail/%u
}}
# Repeated failed logins from one address are otherwise delayed more and more (anvil).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@pytest.fixture(scope="session")
def imap_server() -> Iterator[ImapServer]:
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    require(binary is not None, "dovecot is not installed (apt-get install dovecot-imapd)")
    require(os.geteuid() == 0, "the Dovecot tests start the server as root")
    # Not under pytest's tmp_path: that is 0700 root, and Dovecot's login and mail
    # processes run as unprivileged users that must reach their directories.
    base = Path(tempfile.mkdtemp(prefix="cstracker-dovecot-"))
    base.chmod(0o755)
    nobody = pwd.getpwnam("nobody")
    (base / "mail").mkdir()
    os.chown(base / "mail", nobody.pw_uid, nobody.pw_gid)
    (base / "state").mkdir()
    port = free_port()
    config = base / "dovecot.conf"
    config.write_text(_dovecot_config(base, port))
    with (base / "stdout.log").open("wb") as out:
        process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=out, stderr=subprocess.STDOUT)
    server = ImapServer(port=port, base=base)

    def ready() -> bool:
        if process.poll() is not None:
            return True
        try:
            IMAPClient("127.0.0.1", port=port, ssl=False, timeout=2).logout()
            return True
        except Exception:
            return False

    try:
        wait_until(ready, timeout=30)
        if process.poll() is not None:
            log = (base / "stdout.log").read_text(errors="replace") + _read(base / "dovecot.log")
            pytest.fail(f"dovecot did not start:\n{log[-3000:]}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


# --- SMTP sink ---------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class SmtpSink:
    port: int
    messages: list[Received] = field(default_factory=list)
    # Replies to give to the next DATA commands instead of accepting, e.g. "451 4.3.0 try later".
    refuse_next: list[str] = field(default_factory=list)
    refuse_always: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(
        self, server: object, session: object, envelope: object
    ) -> str:  # aiosmtpd calls hooks by this name
        with self.lock:
            if self.refuse_always:
                return self.refuse_always
            if self.refuse_next:
                return self.refuse_next.pop(0)
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))  # type: ignore[attr-defined]
            )
        return "250 2.0.0 Message accepted"


@dataclass
class DsnRelay(SmtpSink):
    """A relay that accepts every message and later reports it undeliverable: for each one
    accepted, the delivery status notification it sends back is kept in `reports`."""

    reports: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            with self.lock:
                number = len(self.reports) + 1
                self.reports.append(
                    delivery_status_notification(bytes(envelope.original_content), number=number)  # type: ignore[attr-defined]
                )
        return answer


def _running(sink: SmtpSink) -> Iterator[SmtpSink]:
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A relay that accepts (250) unless told otherwise."""
    yield from _running(SmtpSink(port=free_port()))


@pytest.fixture
def refusing_smtp() -> Iterator[SmtpSink]:
    """A relay that refuses every message for good (550)."""
    yield from _running(
        SmtpSink(
            port=free_port(),
            refuse_always="550 5.1.1 <buyer@marketplace.example>: Recipient address rejected: User unknown",
        )
    )


@pytest.fixture
def dsn_relay() -> Iterator[DsnRelay]:
    """A relay that accepts, then sends a DSN back (kept in `reports`, to be recorded as mail)."""
    yield from _running(DsnRelay(port=free_port()))


# --- channels wired to the servers -------------------------------------------------------------


@pytest.fixture
def mail_account(db: None) -> m.Account:
    return AccountFactory.create(name="Acme Shop")


@pytest.fixture
def user(imap_server: ImapServer) -> str:
    return imap_server.new_user()


@pytest.fixture
def mailbox(support_channel: m.Channel, imap_server: ImapServer, user: str) -> m.MailboxConfig:
    return mailbox_for(support_channel, imap_server, user)


@pytest.fixture
def support_channel(mail_account: m.Account) -> m.Channel:
    return email_channel(mail_account, "support", "support@shop.example")
