"""The body and attachments of a message: walking the MIME tree.

An attached message (message/rfc822) becomes one `.eml` attachment; its inner parts are not
walked, its text does not join the body. Machine-readable report parts (message/delivery-status,
message/feedback-report...) are not kept as attachments; the human-readable part is the body and
`raw` keeps everything.
"""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata
from email import policy
from email.message import EmailMessage, Message
from typing import cast

from inquiries.ingestion.email.guards import MAX_FILENAME_BYTES
from inquiries.ingestion.email.text import FoundParts, clean_text, decode_bytes, raw_header
from inquiries.ingestion.email.thread_ids import CONTROL_OR_SPACE_RE, ID_IN_BRACKETS_RE, fit_id
from inquiries.ingestion.types import IncomingAttachment

_UNSAFE_FILENAME_CHARS_RE = re.compile(r'[<>:"|?*]')
_ENCLOSED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_EXTENSIONS = {"text/plain": ".txt", "message/rfc822": ".eml", "message/global": ".eml"}
# The built-in table only: /etc/mime.types differs between machines.
_MIME_TYPES = mimetypes.MimeTypes()


_WINDOWS_RESERVED_RE = re.compile(
    r"(?:CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³]|CONIN\$|CONOUT\$)(?:\.|$)", re.IGNORECASE
)


def safe_filename(name: str | None, *, index: int, content_type: str) -> str:
    """A file name that is safe to store and to offer for download.

    Drops directories (both separators), control and invisible format characters (which
    include right-to-left overrides that disguise extensions), characters Windows forbids
    and leading dots; prefixes Windows device names (CON, NUL, COM1...); caps the length
    at 255 UTF-8 bytes keeping the extension. Falls back
    to "attachment-<index><extension guessed from content_type>".
    """
    cleaned = clean_text(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in cleaned if not unicodedata.category(ch).startswith("C"))
    cleaned = _UNSAFE_FILENAME_CHARS_RE.sub("_", cleaned).lstrip(". ").rstrip(". ")
    if not cleaned:
        return f"attachment-{index}{_extension(content_type)}"
    if _WINDOWS_RESERVED_RE.match(cleaned):
        # "CON.txt", "nul", "LPT1.pdf": Windows opens a device, not a file, whatever the extension.
        cleaned = "_" + cleaned
    if len(cleaned.encode("utf-8")) > MAX_FILENAME_BYTES:
        stem, ext = os.path.splitext(cleaned)
        if len(ext.encode("utf-8")) > 16:
            stem, ext = cleaned, ""
        budget = MAX_FILENAME_BYTES - len(ext.encode("utf-8"))
        stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
        cleaned = stem + ext
    return cleaned


def walk_parts(msg: EmailMessage, *, max_depth: int, max_parts: int) -> FoundParts:
    """Visit the MIME tree in document order without recursion, within the caps."""
    found = FoundParts()
    stack: list[tuple[Message, int]] = [(msg, 0)]
    visited = 0
    while stack:
        part, depth = stack.pop()
        visited += 1
        if visited > max_parts:
            found.note(f"stopped after {max_parts} MIME parts; the rest is only in the raw message")
            break
        if depth > max_depth:
            found.note(f"skipped parts nested over {max_depth} levels deep; they are only in the raw message")
            continue
        content_type = content_type_of(part)
        payload = part.get_payload()
        if isinstance(payload, list):
            if content_type in _ENCLOSED_MESSAGE_TYPES and payload:
                index = len(found.attachments) + 1
                found.attachments.append(_enclosed_message(part, index=index, found=found))
            elif content_type.startswith("multipart/"):
                stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
            continue
        _leaf(part, content_type, found)
    return found


def _leaf(part: Message, content_type: str, found: FoundParts) -> None:
    disposition = _disposition(part)
    filename = _filename(part)
    maintype = content_type.partition("/")[0]
    # A multipart whose boundary never appears arrives as one opaque leaf: its text is
    # still the best body we have.
    is_text_body = content_type in ("text/plain", "text/html") or maintype == "multipart"
    if is_text_body and disposition != "attachment" and not filename:
        if content_type == "text/html":
            if found.html is None:
                found.html = _decode_text(part, found)
                return
        elif found.plain is None:
            found.plain = _decode_text(part, found)
            return
    content = _payload_bytes(part)
    content_id = _content_id(part)
    found.attachments.append(
        IncomingAttachment(
            filename=safe_filename(filename, index=len(found.attachments) + 1, content_type=content_type),
            content_type=content_type[:255],
            size=len(content),
            content=content,
            content_id=content_id,
            inline=disposition == "inline" or (disposition is None and bool(content_id)),
        )
    )


def _enclosed_message(part: Message, *, index: int, found: FoundParts) -> IncomingAttachment:
    # The payload of a message/rfc822 part is a list holding the one enclosed message.
    inner = cast("list[Message]", part.get_payload())[0]
    content: bytes | None
    try:
        # compat32 regenerates without re-folding headers: byte-faithful for well-formed
        # mail and several times faster than policy.default on large enclosures.
        content = inner.as_bytes(policy=policy.compat32)
    except Exception:  # a structure too broken or deep to regenerate; raw keeps the original
        content = None
        found.note("an attached message could not be extracted; it is only in the raw message")
    return IncomingAttachment(
        filename=safe_filename(_filename(part), index=index, content_type="message/rfc822"),
        content_type=content_type_of(part),
        size=len(content) if content is not None else 0,
        content=content,
        inline=False,
    )


def content_type_of(part: Message) -> str:
    try:
        return part.get_content_type()  # already "text/plain" for an invalid value
    except Exception:  # the header registry failed on a hostile value: an opaque blob
        return "application/octet-stream"


def _content_id(part: Message) -> str:
    """Content-ID without angle brackets; some mailers leave the brackets out."""
    value = raw_header(part, "Content-ID").strip()
    match = ID_IN_BRACKETS_RE.search(value)
    if match:
        return fit_id(match.group(1))
    return fit_id(value) if value and not CONTROL_OR_SPACE_RE.search(value) else ""


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # an unparsable Content-Disposition counts as absent
        return None


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()  # RFC 2231 and encoded-word names, decoded
    except Exception:  # a malformed parameter list gives no name; a safe one is made up
        return ""
    return clean_text(name) if isinstance(name, str) else ""


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # broken transfer encodings are tolerated by the stdlib; be sure anyway
        data = None
    return data if isinstance(data, bytes) else b""


def _decode_text(part: Message, found: FoundParts) -> str:
    data = _payload_bytes(part)
    try:
        charset = part.get_content_charset()
    except Exception:  # an unparsable Content-Type: treat the charset as undeclared
        charset = None
    text = clean_text(decode_bytes(data, charset, found))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _extension(content_type: str) -> str:
    known = _EXTENSIONS.get(content_type) or _MIME_TYPES.guess_extension(content_type)
    return known or (".txt" if content_type.startswith("text/") else ".bin")
