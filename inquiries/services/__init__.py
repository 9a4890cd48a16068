"""Write side of cstracker: every change to inquiries goes through these functions."""

from inquiries.services.actions import (
    assign,
    change_priority,
    change_status,
    change_topic,
    claim,
    close_matching,
    mark_no_response_needed,
    reply,
    set_order,
)
from inquiries.services.errors import Conflict, DomainError, ReplyChecksFailed
from inquiries.services.people import set_preferences
from inquiries.services.recording import RecordResult, record_message, record_messages

__all__ = [
    "Conflict",
    "DomainError",
    "RecordResult",
    "ReplyChecksFailed",
    "assign",
    "change_priority",
    "change_status",
    "change_topic",
    "claim",
    "close_matching",
    "mark_no_response_needed",
    "record_message",
    "record_messages",
    "reply",
    "set_order",
    "set_preferences",
]
