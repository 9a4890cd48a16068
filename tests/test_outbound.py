"""The outbound policy: webhooks, SMTP and IMAP reach only public addresses, checked when we
connect (DNS rebinding gains nothing), with an allow-list for on-premises servers; webhook
URLs are https, carry no credentials, and redirects are never followed."""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError

from inquiries import models as m
from inquiries import outbound
from inquiries.ingestion import imap
from inquiries.services.notifications import deliver_webhook

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "10.1.2.3": "private",
    "172.16.0.5": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # cloud metadata
    "100.64.0.1": "non-public",  # carrier-grade NAT
    "224.0.0.1": "multicast",
    "0.0.0.0": "unspecified",
    "240.0.0.1": "reserved",
    "::1": "loopback",
    "fe80::1": "link-local",
    "fc00::1": "private",
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped IPv6
    "::ffff:169.254.169.254": "link-local",
    "::": "unspecified",
}


@pytest.fixture
def strict(settings):
    settings.CSTRACKER_OUTBOUND_ALLOW = []
    settings.CSTRACKER_WEBHOOK_ALLOW_HTTP = False


@pytest.mark.parametrize(("address", "kind"), REFUSED.items())
def test_each_non_public_range_is_refused_with_its_name(address, kind):
    assert outbound.why_refused(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert outbound.why_refused(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("file:///etc/passwd", "https"),
        ("gopher://hooks.example.com/", "https"),
        ("https://user:pw@hooks.example.com/", "user name"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://127.0.0.1:6379/", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://10.0.0.8/", "private"),
        ("https://localhost/", "localhost"),
    ],
)
def test_webhook_urls_that_can_never_be_delivered_are_refused_on_save(strict, url, message):
    endpoint = m.WebhookEndpoint(name="x", url=url, secret="s")

    with pytest.raises(ValidationError) as error:
        endpoint.clean()

    assert message in str(error.value)


def test_an_allow_listed_network_and_http_are_accepted_when_the_admin_says_so(settings):
    settings.CSTRACKER_OUTBOUND_ALLOW = ["10.20.0.0/16", "mail.internal"]
    settings.CSTRACKER_WEBHOOK_ALLOW_HTTP = True

    m.WebhookEndpoint(name="x", url="http://10.20.1.2/hook", secret="s").clean()
    assert outbound.Policy.from_settings().allows("mail.internal", ipaddress.ip_address("10.99.0.1"))
    with pytest.raises(ValidationError):
        m.WebhookEndpoint(name="x", url="http://10.21.1.2/hook", secret="s").clean()


@pytest.mark.django_db
def test_mailbox_hosts_on_private_addresses_are_refused_on_save(strict, account):
    from tests.mail.helpers import email_channel

    mailbox = m.MailboxConfig(
        channel=email_channel(account, "support", "support@shop.example"),
        imap_host="169.254.169.254",
        imap_username="x",
        smtp_host="127.0.0.1",
    )

    with pytest.raises(ValidationError) as error:
        mailbox.clean()

    assert set(error.value.message_dict) >= {"imap_host", "smtp_host"}


# --- at connect time --------------------------------------------------------------------------


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    yield server.getsockname()[1]
    server.close()


def test_a_name_that_resolves_to_loopback_is_refused_when_connecting(strict, listener, monkeypatch):
    """A name passes the save-time check; what it resolves to is judged when we connect."""
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "hooks.attacker.example":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    with pytest.raises(outbound.BlockedDestination) as error:
        outbound.create_connection(("hooks.attacker.example", listener), timeout=2)

    assert "127.0.0.1 (loopback)" in str(error.value)


def test_we_connect_to_the_address_we_checked(settings, listener, monkeypatch):
    settings.CSTRACKER_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    calls = []
    real = socket.getaddrinfo

    def counting(host, port, *args, **kwargs):
        calls.append(host)
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)

    sock = outbound.create_connection(("changes.example", listener), timeout=2)
    try:
        assert sock.getpeername() == ("127.0.0.1", listener)
    finally:
        sock.close()
    assert calls == ["changes.example"]  # resolved once: no second answer to rebind


class _Answer(BaseHTTPRequestHandler):
    status = 200
    location = ""
    hits: list[str] = []

    def do_POST(self) -> None:
        _Answer.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_receiver():
    _Answer.hits = []
    _Answer.status, _Answer.location = 200, ""
    server = HTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


@pytest.mark.django_db
def test_a_webhook_to_a_loopback_address_is_never_sent(settings, http_receiver):
    endpoint = m.WebhookEndpoint.objects.create(
        name="x", url=f"http://127.0.0.1:{http_receiver}/", secret="s"
    )
    delivery = m.WebhookDelivery.objects.create(endpoint=endpoint, dedupe_key="k", payload={})
    settings.CSTRACKER_OUTBOUND_ALLOW = []

    assert deliver_webhook(delivery_id=delivery.pk) is False

    delivery.refresh_from_db()
    assert delivery.state == m.WebhookDelivery.State.FAILED
    assert delivery.last_error.startswith("refused:") and delivery.last_status_code is None
    assert _Answer.hits == []


@pytest.mark.django_db
def test_a_redirect_is_not_followed(http_receiver):
    from inquiries.services.notifications import WebhookFailed

    _Answer.status, _Answer.location = 302, "http://169.254.169.254/latest/meta-data/"
    endpoint = m.WebhookEndpoint.objects.create(
        name="x", url=f"http://127.0.0.1:{http_receiver}/a", secret="s"
    )
    delivery = m.WebhookDelivery.objects.create(endpoint=endpoint, dedupe_key="k", payload={})

    with pytest.raises(WebhookFailed):
        deliver_webhook(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert _Answer.hits == ["/a"]
    assert delivery.last_status_code == 302 and "not followed" in delivery.last_error


def test_imap_to_a_private_address_fails_with_the_policy_named(strict, listener):
    settings_ = imap.ImapSettings(
        host="127.0.0.1",
        port=listener,
        tls_mode="none",
        username="u",
        password="p",
        folder="INBOX",
        timeout=2,
    )

    with pytest.raises(imap.MailboxError) as error:
        imap._connect(settings_)

    assert "outbound policy" in str(error.value)


@pytest.mark.parametrize("tls", [False, True])
def test_smtp_to_a_private_address_is_refused_before_connecting(strict, listener, tls):
    smtp = outbound.SMTP_SSL if tls else outbound.SMTP

    with pytest.raises(outbound.BlockedDestination):
        smtp("127.0.0.1", listener, timeout=2)
