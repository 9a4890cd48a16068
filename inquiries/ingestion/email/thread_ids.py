"""Message ids for threading (Message-ID, In-Reply-To, References, Content-ID): read
from the raw header, bounded in length and count.
"""

from __future__ import annotations

import hashlib
import re

from inquiries.ingestion.email.guards import MAX_ID_LENGTH

ID_IN_BRACKETS_RE = re.compile(r"<\s*([^<>\s\x00-\x1f\x7f]+)\s*>")
_BARE_ID_RE = re.compile(r"[^<>\s\x00-\x1f\x7f]+@[^<>\s\x00-\x1f\x7f]+")
CONTROL_OR_SPACE_RE = re.compile(r"[<>\s\x00-\x1f\x7f]")


def message_ids_in(value: str) -> list[str]:
    """Message ids in `value`, in order, without angle brackets; bare `x@y` tolerated."""
    ids = ID_IN_BRACKETS_RE.findall(value) or _BARE_ID_RE.findall(value)
    return [fit_id(message_id) for message_id in ids]


def fit_id(message_id: str) -> str:
    # Over-long ids become a digest of themselves, so a reply's In-Reply-To still matches.
    if len(message_id) <= MAX_ID_LENGTH:
        return message_id
    return "id-sha256:" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()
