"""The sender and the recipients of a message.

The sender is taken from `From` only when it holds exactly one valid address. An address that is
not plain ASCII (raw 8-bit bytes, or RFC 6532 UTF-8) is not accepted: we cannot be sure what the
bytes spell, and look-alike characters can impersonate a customer.
"""

from __future__ import annotations

import re
from email import errors as email_errors
from email import policy
from email.errors import MessageDefect
from email.headerregistry import Address
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Protocol, cast

from inquiries.ingestion.email.guards import MAX_HEADER_CHARS
from inquiries.ingestion.email.text import clean_text, decode_words, one_line, raw_header


class _AddressField(Protocol):
    """What the header registry makes of an address field: AddressHeader and BaseHeader combined."""

    @property
    def addresses(self) -> tuple[Address, ...]: ...

    @property
    def defects(self) -> tuple[MessageDefect, ...]: ...


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Deliberately narrower than RFC 5322: dot-atom local part, host name with at least one dot.
_ADDRESS_RE = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+")
_ANGLE_ADDR_RE = re.compile(r"^(?P<name>[^<>]*)<\s*(?P<address>[^<>\s]+)\s*>\s*$")
# A From or To value as most mail writes it: plain words, then one address in angle
# brackets, or the bare address. Nothing in it that the header registry could read in
# another way (quotes, comments, encoded words, groups, obsolete syntax), so it is read
# here directly: the registry's parser costs about a third of parsing a simple message.
_SIMPLE_ADDR = (
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_SIMPLE_MAILBOX_RE = re.compile(
    rf"(?:(?P<name>[A-Za-z0-9]+(?: [A-Za-z0-9]+)*) )?<(?P<angle>{_SIMPLE_ADDR})>|(?P<bare>{_SIMPLE_ADDR})"
)
# Header defects that do not make an address doubtful: obsolete-but-common syntax such as
# `John Q. Public <jqp@example.com>`, and 8-bit bytes in the display name.
_HARMLESS_ADDRESS_DEFECTS = (email_errors.ObsoleteHeaderDefect, email_errors.UndecodableBytesDefect)


# Where a delivered message names the address it was delivered to (the envelope recipient),
# then the visible recipients: BCC itself is stripped before delivery.
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")


def recipients(raw: bytes, *, limit: int = 64 * 1024) -> set[str]:
    """Every address a message was delivered or written to (lower-cased): the envelope headers
    of the delivering server and To/Cc. For recognising a copy BCC'd to a set address."""
    head = raw[:limit].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(head + b"\n\n", headersonly=True)
    except Exception:  # a header block the parser cannot read names no recipient
        return set()
    values = [str(value) for name in _RECIPIENT_HEADERS for value in (msg.get_all(name) or ())]
    return {_valid_address(address.strip().lower()) for _, address in getaddresses(values)} - {""}


def _valid_address(address: str) -> str:
    address = address.strip()
    local, _, _ = address.partition("@")
    if len(address) > 254 or len(local) > 64 or not _ADDRESS_RE.fullmatch(address):
        return ""
    return address.lower()


def sender_of(msg: Message) -> tuple[str, str]:
    """(address, display name) from From; the address is "" unless exactly one valid one.

    The header registry is lenient: for `alice@example.com <bob@example.com>` it reports
    alice@example.com, the display name. When it flags the header as invalid we only
    accept a single trailing <angle address>, which is where replies really go. A display
    name containing "@" is dropped: it would show an agent an address that is not the
    sender's.
    """
    address, name = "", ""
    raw_from = raw_header(msg, "From")
    if not raw_from:
        return "", ""
    simple = _SIMPLE_MAILBOX_RE.fullmatch(raw_from.strip())
    if simple:
        return _valid_address(simple["angle"] or simple["bare"]), simple["name"] or ""
    addresses: tuple[Address, ...] = ()
    trusted = False
    if len(raw_from) <= MAX_HEADER_CHARS:  # the registry is slow on very long values
        try:
            # policy.default parses an address field into an AddressHeader (typeshed: a str).
            header = cast("_AddressField", msg.get("From"))
            addresses = header.addresses
            trusted = all(isinstance(defect, _HARMLESS_ADDRESS_DEFECTS) for defect in header.defects)
        except Exception:  # a registry failure is handled like an invalid header
            addresses, trusted = (), False
    if trusted:
        # Several addresses (or none, e.g. a bare group) name no single sender.
        if len(addresses) == 1:
            address = _valid_address(clean_text(addresses[0].addr_spec))
            name = clean_text(addresses[0].display_name)
    else:
        match = _ANGLE_ADDR_RE.match(raw_from[:MAX_HEADER_CHARS])
        if match:
            address = _valid_address(match.group("address"))
            name = decode_words(match.group("name").strip().strip('"'))
    name = one_line(name)
    if "@" in name:
        name = ""
    return address, name


def recipient_of(msg: Message) -> str:
    """The mailbox that received the message: Delivered-To, else the first valid To address."""
    delivered_to = _valid_address(raw_header(msg, "Delivered-To"))
    raw_to = raw_header(msg, "To")
    if delivered_to or len(raw_to) > MAX_HEADER_CHARS:
        return delivered_to
    simple = _SIMPLE_MAILBOX_RE.fullmatch(raw_to.strip())
    if simple:
        return _valid_address(simple["angle"] or simple["bare"])
    try:
        header = cast("_AddressField | None", msg.get("To"))
        addresses = header.addresses if header is not None else ()
    except Exception:  # an unparsable To only costs us this convenience field
        return ""
    for candidate in addresses:
        address = _valid_address(clean_text(candidate.addr_spec))
        if address:
            return address
    return ""
