"""The one write path for messages: `record_messages()` (see `engine.py`)."""

from inquiries.services.recording.careful import RecordResult
from inquiries.services.recording.engine import Outcome, record_message, record_messages, retry_held
from inquiries.services.recording.held import Held
from inquiries.services.recording.rules import owner

__all__ = ["Held", "Outcome", "RecordResult", "owner", "record_message", "record_messages", "retry_held"]
