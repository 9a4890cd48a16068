"""Topic assignment at ingestion (issue 6 replaces this with rules plus a classifier)."""

from __future__ import annotations

from inquiries.models import Topic


def topic_for_text(text: str) -> tuple[Topic | None, str]:
    return None, ""
