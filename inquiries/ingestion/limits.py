"""How much of a message's body is stored in its row: a cap on every path, the rest kept whole
as an attachment, and a note that says so. No Django import.

A 10 MB body made a 10.5 MB inquiry page that hung the agent's browser; search documents,
topic rules and the queue's preview all read the body too. Mail and chat rarely pass a few
thousand characters, so the caps only meet pasted logs, forwarded archives and attacks.
"""

from __future__ import annotations

import re
from dataclasses import replace

from inquiries.ingestion.html import sanitize_html
from inquiries.ingestion.types import IncomingAttachment, IncomingMessage

MAX_BODY_TEXT = 200_000
MAX_BODY_HTML = 500_000
FULL_TEXT_NAME = "full-message-text.txt"
FULL_HTML_NAME = "full-message.html"
# What a one-line value (an id, an address, a name) may not hold: C0 control characters (line
# breaks, NUL, escapes) and DEL. One definition for the API, the CSV and report importers and
# the agent's edits.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def bounded(incoming: IncomingMessage) -> IncomingMessage:
    """`incoming` with its bodies cut to the caps; what was cut is attached and noted."""
    text, html = incoming.body_text, incoming.body_html
    if len(text) <= MAX_BODY_TEXT and len(html) <= MAX_BODY_HTML:
        return incoming
    notes = list(incoming.notes)
    attachments = list(incoming.attachments)
    for body, cap, name, content_type, what in (
        (text, MAX_BODY_TEXT, FULL_TEXT_NAME, "text/plain; charset=utf-8", "body text"),
        (html, MAX_BODY_HTML, FULL_HTML_NAME, "text/html; charset=utf-8", "HTML body (sanitised)"),
    ):
        if len(body) > cap:
            whole = body.encode("utf-8", "surrogatepass")
            attachments.append(IncomingAttachment(name, content_type, len(whole), whole))
            notes.append(
                f"{what} cut at {cap:,} of {len(body):,} characters; the whole is attached as {name}"
            )
    if len(text) > MAX_BODY_TEXT:
        text = text[:MAX_BODY_TEXT]
    if len(html) > MAX_BODY_HTML:
        html = sanitize_html(html[:MAX_BODY_HTML])  # closes what the cut left open
    return replace(
        incoming, body_text=text, body_html=html, notes=tuple(notes), attachments=tuple(attachments)
    )
