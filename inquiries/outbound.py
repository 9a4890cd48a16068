"""Where cstracker may connect to: outgoing webhooks, SMTP and IMAP servers.

Admins type these addresses, so they are untrusted: without a policy a webhook URL of
http://169.254.169.254/ reads the cloud's metadata service and the delivery log shows the
answer, and a mailbox "host" of 127.0.0.1 port-scans the machine. The rules:

- only public addresses: every address a host name resolves to is checked *when we connect*,
  and we connect to the address we checked (a DNS answer that changes between the check and
  the connection, "DNS rebinding", gains nothing); loopback, private, link-local, shared,
  multicast, reserved and unspecified addresses are refused, IPv4-mapped IPv6 included;
- `CSTRACKER_OUTBOUND_ALLOW` lists the exceptions, host names or networks (CIDR) of
  on-premises servers, e.g. "mail.internal,10.20.0.0/16";
- webhooks: https only (http when `CSTRACKER_WEBHOOK_ALLOW_HTTP` is on), no user info in
  the URL, and redirects are never followed.
"""

from __future__ import annotations

import http.client
import imaplib
import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from imapclient import IMAPClient, imap4, tls

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedDestination(OSError):
    """The destination is not one cstracker may connect to; the message says why and what to do."""


@dataclass(frozen=True)
class Policy:
    hosts: frozenset[str]
    networks: tuple[Network, ...]
    allow_http: bool

    @classmethod
    def from_settings(cls) -> Policy:
        hosts: set[str] = set()
        networks: list[Network] = []
        for item in getattr(settings, "CSTRACKER_OUTBOUND_ALLOW", []):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.strip().lower().rstrip("."))
        return cls(
            hosts=frozenset(hosts),
            networks=tuple(networks),
            allow_http=bool(getattr(settings, "CSTRACKER_WEBHOOK_ALLOW_HTTP", False)),
        )

    def allows(self, host: str, address: Address) -> bool:
        if host.lower().rstrip(".") in self.hosts or any(address in network for network in self.networks):
            return True
        return why_refused(address) is None


def why_refused(address: Address) -> str | None:
    """None for a public unicast address; else what kind of address it is (in English; `gettext()`
    translates it)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind, test in (
        (gettext_noop("loopback"), address.is_loopback),
        (gettext_noop("link-local"), address.is_link_local),
        (gettext_noop("multicast"), address.is_multicast),
        (gettext_noop("unspecified"), address.is_unspecified),
        (gettext_noop("reserved"), address.is_reserved),
        (gettext_noop("private"), address.is_private),
    ):
        if test:
            return kind
    if not address.is_global:
        return gettext_noop("non-public")
    return None


def resolve(host: str, port: int, policy: Policy | None = None) -> list[tuple[Any, ...]]:
    """getaddrinfo() answers for `host` that the policy allows; BlockedDestination when none."""
    policy = policy or Policy.from_settings()
    if not host:
        raise BlockedDestination("no host given")
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise
    allowed = []
    refused = []
    for answer in answers:
        address = ipaddress.ip_address(str(answer[4][0]).split("%", 1)[0])
        if policy.allows(host, address):
            allowed.append(answer)
        else:
            refused.append(f"{address} ({why_refused(address)})")
    if not allowed:
        raise BlockedDestination(
            f"{host} resolves to {', '.join(dict.fromkeys(refused))}: cstracker connects only to public "
            "addresses; an on-premises server must be listed in CSTRACKER_OUTBOUND_ALLOW"
        )
    return allowed


def create_connection(address: tuple[str, int], timeout: float | None = None) -> socket.socket:
    """socket.create_connection() to an address the policy allows, resolved once and pinned."""
    host, port = address
    last_error: OSError | None = None
    for family, kind, proto, _, sockaddr in resolve(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error or OSError(f"cannot connect to {host}:{port}")


def check_webhook_url(url: str, policy: Policy | None = None) -> None:
    """ValueError with a message for a URL that can never be delivered to (checked on save;
    the address itself is checked again at every connection). The message is for the admin
    editing the URL, in the language active when it is raised."""
    policy = policy or Policy.from_settings()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not policy.allow_http):
        if policy.allow_http:
            raise ValueError(gettext("Use an http(s) URL."))
        raise ValueError(gettext("Use an https URL (or http, which CSTRACKER_WEBHOOK_ALLOW_HTTP allows)."))
    if parts.username or parts.password:
        raise ValueError(
            gettext("Put no user name or password in the URL; receivers check the signature header.")
        )
    if not parts.hostname:
        raise ValueError(gettext("The URL has no host."))
    check_literal_host(parts.hostname, policy)


def check_literal_host(host: str, policy: Policy | None = None) -> None:
    """ValueError when `host` is an IP address the policy refuses (names are checked on connect)."""
    policy = policy or Policy.from_settings()
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host.lower().rstrip(".") in {"localhost", "localhost.localdomain"} and not policy.allows(
            host, ipaddress.ip_address("127.0.0.1")
        ):
            raise ValueError(
                gettext("localhost is this server: cstracker connects only to public addresses.")
            ) from None
        return
    if not policy.allows(host, address):
        raise ValueError(
            gettext(
                "%(address)s is not a public address (%(kind)s): cstracker connects only to public "
                "addresses (an on-premises server must be listed in CSTRACKER_OUTBOUND_ALLOW)."
            )
            % {"address": address, "kind": gettext(why_refused(address) or gettext_noop("non-public"))}
        )


# --- the protocols, each connecting through create_connection() --------------------------------


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = create_connection((self.host, self.port), self.timeout)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        sock = create_connection((self.host, self.port), self.timeout)
        # The SSL context it was given, as http.client's own connect() wraps the socket with it.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]  # typeshed: HTTPSConnection._context is set in __init__ but missing from the stub


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    location: str


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
    """POST `body` to `url` under the policy; a redirect is an answer, never followed. A refusal
    is stored as the delivery's last error for every admin to read, so it is in English even
    when the delivery runs inside a request (eager tasks, the admin's redeliver action)."""
    with translation.override(None):
        check_webhook_url(url)
    parts = urlsplit(url)
    connection_class = _GuardedHTTPSConnection if parts.scheme == "https" else _GuardedHTTPConnection
    kwargs: dict[str, Any] = {"timeout": timeout}
    if parts.scheme == "https":
        kwargs["context"] = ssl.create_default_context()
    connection = connection_class(parts.hostname or "", parts.port, **kwargs)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # the receiver's answer is not ours to keep
        return HttpAnswer(status=response.status, location=response.getheader("Location") or "")
    finally:
        connection.close()


class SMTP(smtplib.SMTP):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return create_connection((host, port), timeout)


class SMTP_SSL(smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = create_connection((host, port), timeout)
        # The host name the SMTP object was made for, as smtplib's own SMTP_SSL checks the certificate against.
        return self.context.wrap_socket(sock, server_hostname=self._host)  # type: ignore[attr-defined]  # typeshed: SMTP._host is set in __init__ but missing from the stub


class _GuardedIMAP4(imap4.IMAP4WithTimeout):
    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return create_connection((self.host, self.port), timeout if timeout is not None else self._timeout)


class _GuardedIMAP4TLS(tls.IMAP4_TLS):
    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = create_connection((self.host, self.port), timeout if timeout is not None else self._timeout)
        return tls.wrap_socket(sock, self.ssl_context, self.host)


class GuardedIMAPClient(IMAPClient):
    """IMAPClient whose connection goes through the policy (plain and TLS; STARTTLS upgrades it)."""

    def _create_IMAP4(self) -> imaplib.IMAP4:
        connect_timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _GuardedIMAP4TLS(self.host, self.port, self.ssl_context, connect_timeout)
        return _GuardedIMAP4(self.host, self.port, connect_timeout)
