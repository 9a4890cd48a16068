"""Who wrote a message: an e-mail address (RFC 5322 addr-spec) or a marketplace buyer alias.

Sender addresses arrive from integrations and CSV files, are shown on every page, written
into reply headers and used as the customer's key, so markup, quotes, angle brackets,
whitespace and line breaks (header injection) are refused with a message. No Django import.
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

MAX_LENGTH = 320
# A buyer alias or handle with no "@" ("A1B2C3D4E5", "115712", "jane_doe"): visible characters
# other than the ones that would make it markup, a header list or a quoted string.
_ALIAS_RE = re.compile(r"[^\s<>\"'`\\,;:()\[\]@\x00-\x1f\x7f]{1,320}")
_FORBIDDEN_RE = re.compile(r"[\s<>\"'`\\,;()\[\]\x00-\x1f\x7f]")
# The everyday address, a dot-atom at a dotted host name (RFC 5322 3.4.1 and RFC 1035 labels):
# every string it matches the standard library's parser accepts too (a property test holds the
# two together), so only the rest pays for the parser, about a tenth of the API's time per message.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")


def sender_error(value: str, *, email_only: bool = False) -> str | None:
    """None when `value` is empty, an addr-spec or (unless `email_only`) a buyer alias; else
    what is wrong with it."""
    if not value:
        return None
    if len(value) > MAX_LENGTH:
        return f"at most {MAX_LENGTH} characters"
    if "@" not in value and email_only:
        return "not an e-mail address (name@example.com)"
    if "@" not in value:
        if _ALIAS_RE.fullmatch(value):
            return None
        return "not an e-mail address (name@example.com) or a buyer alias without spaces or markup"
    if _FORBIDDEN_RE.search(value):
        return "an e-mail address has no spaces, quotes, angle brackets or line breaks (give only name@example.com)"
    if _PLAIN_RE.fullmatch(value):
        return None
    return parser_error(value)


def parser_error(value: str) -> str | None:
    """What the standard library's addr-spec parser finds wrong with `value` (None: nothing)."""
    # Internationalised addresses (RFC 6531) are fine; the standard library's parser only
    # knows ASCII, so each other character stands in as a letter for the syntax check.
    probe = re.sub(r"[^\x00-\x7f]", "a", value)
    try:
        parsed = Address(addr_spec=probe)
    except (HeaderParseError, ValueError, IndexError):
        return "not an e-mail address (name@example.com)"
    if parsed.addr_spec != probe or not parsed.username or "." not in parsed.domain.strip("."):
        return "not an e-mail address (name@example.com)"
    return None
