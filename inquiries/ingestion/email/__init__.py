"""Parse raw e-mail (RFC 5322 / MIME) into `IncomingMessage`, and read mail files.

Pure: standard library `email`, nh3 through `html.py`; no Django. One module per seam:

- `parsing`: `parse_email()`, one message into an `IncomingMessage` or `Rejected` (never
  anything else, whatever the bytes), and the small readers over a parsed message;
- `guards`: the limits on hostile input, checked before the stdlib parser (the MAX_* values);
- `text`: charsets, encoded words and cleaning, for headers and bodies alike;
- `senders`, `thread_ids`: the sender and recipients; the ids that thread a conversation;
- `bodies`: the MIME tree walked into body text, HTML and attachments;
- `automatic`: auto-replies, bounces and bulk mail told apart;
- `sources`: .eml files, folders of them and mbox files, streamed.

The mailbox service, the webhooks, the import command and the CSV importers call the public
functions, so they are exposed here.
"""

from inquiries.ingestion.email.bodies import safe_filename
from inquiries.ingestion.email.guards import (
    MAX_DELIMITER_LINES,
    MAX_DEPTH,
    MAX_MESSAGE_BYTES,
    MAX_MIME_FIELD_CHARS,
    MAX_PARTS,
)
from inquiries.ingestion.email.parsing import (
    content_hash,
    find_order_id,
    parse_email,
    receipt_time,
    sent_reply,
)
from inquiries.ingestion.email.senders import recipients
from inquiries.ingestion.email.sources import iter_mail_source, mail_source_size

__all__ = [
    "MAX_DELIMITER_LINES",
    "MAX_DEPTH",
    "MAX_MESSAGE_BYTES",
    "MAX_MIME_FIELD_CHARS",
    "MAX_PARTS",
    "content_hash",
    "find_order_id",
    "iter_mail_source",
    "mail_source_size",
    "parse_email",
    "receipt_time",
    "recipients",
    "safe_filename",
    "sent_reply",
]
