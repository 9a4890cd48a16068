"""Decoding the text of headers and bodies: charsets, RFC 2047 encoded words, cleaning.

Text that cannot be decoded (unknown or wrong charsets, raw 8-bit header bytes) is decoded as
UTF-8 with U+FFFD replacement characters; NUL bytes are removed. `FoundParts` is what walking the
MIME tree found; the decoders note on it what they had to replace.
"""

from __future__ import annotations

import binascii
import codecs
import re
from dataclasses import dataclass, field
from email.message import Message

from inquiries.ingestion.types import IncomingAttachment

# RFC 2047 encoded word; RFC 2231 allows a "*language" suffix on the charset.
_ENCODED_WORD_RE = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?\s]*)\?=")
_WHITESPACE_RE = re.compile(r"\s+")
# Mail labelled with a legacy charset is routinely written in its Windows/superset
# variant (GBK as "gb2312", windows-1252 as "iso-8859-1"); browsers decode it the same way
# (WHATWG Encoding Standard).
_SUPERSET_CODECS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
}


# --- what a walk of the MIME tree found ----------------------------------------------------


@dataclass
class FoundParts:
    """What walking the MIME tree found."""

    plain: str | None = None
    html: str | None = None
    attachments: list[IncomingAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def decode_bytes(data: bytes, charset: str | None, found: FoundParts | None = None) -> str:
    """Declared charset, else UTF-8, else replacement characters: never raises."""
    if not data:
        return ""
    codec = _text_codec(charset)
    if codec:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if charset and not codec and found is not None:
        found.note(f"unknown charset {charset[:40]!r}: decoded as UTF-8 with replacement characters")
    # An undeclared charset defaults to US-ASCII, which would turn every 8-bit byte into
    # U+FFFD; UTF-8 at least keeps the valid sequences.
    fallback = codec if codec and codec != "ascii" else "utf-8"
    return data.decode(fallback, errors="replace")


def _text_codec(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError, TypeError):
        return None
    # codecs.lookup() also finds bytes-to-bytes codecs ("zlib", "base64"): not charsets.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return _SUPERSET_CODECS.get(info.name, info.name)


# --- headers ---------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Make parser output safe to store: raw 8-bit bytes (kept by the parser as lone
    surrogates) decoded as UTF-8 with replacement characters, NUL bytes removed."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # surrogates that do not stand for bytes
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text.replace("\x00", "")


def one_line(text: str) -> str:
    return _WHITESPACE_RE.sub(" ", text).strip()


def raw_header(msg: Message, name: str) -> str:
    """The first `name` header as it appeared, unfolded, without the header registry.

    Used for headers we interpret ourselves (ids, dates, flags), so a hostile value can
    never reach the registry's parsers.
    """
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return clean_text(str(value).replace("\r", "").replace("\n", ""))
    return ""


def decode_words(text: str) -> str:
    """`text` with RFC 2047 encoded words decoded; never raises.

    Our own decoder rather than the header registry: the registry takes quadratic time on
    long headers. Adjacent encoded words in one charset are joined before decoding, since
    mailers split multi-byte characters across words; whitespace between encoded words
    is dropped (RFC 2047 section 6.2). A word that does not decode stays as written.
    """
    out: list[str] = []
    pending = b""
    pending_charset = ""
    position = 0
    for match in _ENCODED_WORD_RE.finditer(text):
        between = text[position : match.start()]
        charset, encoding, payload = match.groups()
        data = _encoded_word_bytes(encoding, payload)
        if data is None:
            continue  # left in place: it is copied with the next stretch of plain text
        if not (pending_charset and not between.strip()):
            out.append(decode_bytes(pending, pending_charset))
            out.append(between)
            pending, pending_charset = b"", ""
        elif charset.lower() != pending_charset.lower():
            out.append(decode_bytes(pending, pending_charset))
            pending = b""
        pending += data
        pending_charset = charset
        position = match.end()
    out.append(decode_bytes(pending, pending_charset))
    out.append(text[position:])
    return clean_text("".join(out))


def _encoded_word_bytes(encoding: str, payload: str) -> bytes | None:
    data = payload.encode("ascii", "replace")
    try:
        if encoding in "Bb":
            # Strict: the lenient mode skips invalid characters and "decodes" garbage to b"".
            return binascii.a2b_base64(data + b"=" * (-len(data) % 4), strict_mode=True)
        return binascii.a2b_qp(data, header=True)  # Q encoding: "_" is a space
    except (binascii.Error, ValueError):
        return None


def header_param(msg: Message, name: str) -> str:
    try:
        value = msg.get_param(name, header="content-type")
    except Exception:  # an unparsable Content-Type has no usable parameters
        return ""
    return clean_text(value) if isinstance(value, str) else ""
