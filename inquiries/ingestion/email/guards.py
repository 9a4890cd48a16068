"""The limits on hostile input, and the cheap checks made before the standard library's parser.

The stdlib parser is slow on some shapes (thousands of parts, deep nesting over many lines,
huge Content-Type fields); such input is rejected before parsing so that one hostile message
cannot stall an import.
"""

from __future__ import annotations

import re

from inquiries.ingestion.types import Rejected

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
MAX_DEPTH = 10  # multipart levels below the top-level message
MAX_PARTS = 200  # MIME parts visited per message
MAX_ID_LENGTH = 255  # the Message.external_id and in_reply_to columns
MAX_REFERENCES = 100
MAX_FILENAME_BYTES = 255  # common file-system limit, and the Attachment.filename column

# Guards checked on the raw bytes before the stdlib parser runs. Its cost grows with the
# number of parts, with lines times enclosing multipart levels (every line is matched
# against every open boundary), and faster than linearly with the length of a Content-Type
# or Content-Disposition field: a 1 MB crafted message could otherwise take minutes.
MAX_DELIMITER_LINES = 10_000  # lines starting with "--": bounds the number of parts
MAX_BOUNDARY_CHECKS = 50_000_000  # lines x multipart sections
MAX_MIME_FIELD_CHARS = 16 * 1024  # one Content-Type / Content-Disposition field, unfolded
# Longest header value handed to the header registry or our decoder; longer values are
# cut (Subject) or not trusted (From): a stored subject is at most 998 characters anyway.
MAX_HEADER_CHARS = 16 * 1024
_FIELD_NAME_RE = re.compile(rb"[!-9;-~]+[ \t]*:")
_MIME_FIELD_RE = re.compile(rb"^content-(?:type|disposition)[ \t]*:", re.IGNORECASE | re.MULTILINE)
_MULTIPART_FIELD_RE = re.compile(rb"^content-type:\s*multipart/", re.IGNORECASE | re.MULTILINE)


def starts_with_header(raw: bytes) -> bool:
    """Whether the first meaningful line is a header field (an mbox "From " line is skipped)."""
    pos = 0
    skipped_envelope = False
    # Real mail sometimes starts with blank or whitespace-only lines; a few are tolerated.
    for _ in range(20):
        end = raw.find(b"\n", pos)
        line = raw[pos:] if end < 0 else raw[pos:end]
        if line.strip():
            if line.startswith(b"From ") and not skipped_envelope:
                skipped_envelope = True
            else:
                return bool(_FIELD_NAME_RE.match(line))
        if end < 0:
            return False
        pos = end + 1
    return False


def check_parse_cost(raw: bytes) -> None:
    """Reject input whose shape would make the stdlib parser run for minutes."""
    delimiter_lines = raw.count(b"\n--")
    if delimiter_lines > MAX_DELIMITER_LINES:
        raise Rejected(f"too many MIME parts: {delimiter_lines} boundary lines (limit {MAX_DELIMITER_LINES})")
    lines = raw.count(b"\n") + 1
    for multiparts, _ in enumerate(_MULTIPART_FIELD_RE.finditer(raw), start=1):
        if multiparts * lines > MAX_BOUNDARY_CHECKS:
            raise Rejected(f"MIME structure too complex: {multiparts}+ multipart sections in {lines} lines")
    for match in _MIME_FIELD_RE.finditer(raw):
        if _field_length(raw, match.start()) > MAX_MIME_FIELD_CHARS:
            name = match.group(0).rstrip(b": \t").decode("ascii")
            raise Rejected(f"a {name} header field is over {MAX_MIME_FIELD_CHARS} characters")


def _field_length(raw: bytes, start: int) -> int:
    """Length of the header field at `start` with its continuation lines; the scan stops
    just past MAX_MIME_FIELD_CHARS, so it never runs through a large body."""
    limit = min(len(raw), start + MAX_MIME_FIELD_CHARS + 1)
    end = raw.find(b"\n", start, limit)
    while end != -1 and raw[end + 1 : end + 2] in (b" ", b"\t"):
        end = raw.find(b"\n", end + 1, limit)
    return (limit if end == -1 else end) - start
