"""Work that follows a stored customer message: cluster detection and notifications, and
automatic assignment of the inquiries the messages arrived in.

Runs from a task after commit, or from the sweep when that task was lost. The
conditional UPDATE on `followed_up_at` makes it run once per message.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from inquiries.models import Message


def follow_up_message(*, message_id: int) -> int:
    """Returns 1 if this call did the work, 0 if it had been done already."""
    with transaction.atomic():
        claimed = Message.objects.filter(pk=message_id, followed_up_at__isnull=True).update(
            followed_up_at=timezone.now()
        )
        if not claimed:
            return 0
        from inquiries.services import complaints

        complaints.update_clusters_for_message(message_id=message_id)
    return 1


def follow_up_messages(*, message_ids: list[int]) -> int:
    """The follow-up of each message, then one set-based assignment pass for their inquiries
    (`services.assignment`): a batch of 10,000 costs the same few assignment queries as one."""
    from inquiries.services import assignment

    done = sum(follow_up_message(message_id=message_id) for message_id in message_ids)
    assignment.assign_for_messages(message_ids=message_ids)
    return done
