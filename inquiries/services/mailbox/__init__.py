"""Mail coming in: polling IMAP mailboxes, provider webhooks, and the loop guard.

Every message ends in the recording engine (`record_message()`, a list of one) through
`record_mail()`, which adds the loop guard: a sender who floods a mailbox is suspended, and
their further mail is stored as automatic ("loop guard: sender suspended") so it starts no
clock, kept for review.

Polling is safe to run concurrently (beat, `manage.py poll_mailboxes`, the admin's "poll
now"): a conditional UPDATE leases the mailbox to one poller at a time. A mailbox that
fails records why, counts the failure and waits (exponential backoff) before its next
turn; the others carry on.

One module per seam: `loop_guard` (`record_mail`), `polling` (IMAP) and `webhooks`. The webhook
views, the admin, the poll command and the tasks call the public functions, exposed here.
"""

from inquiries.services.mailbox.loop_guard import (
    LOOP_GUARD_REASON,
    SentMailSkipped,
    is_bcc_copy,
    own_addresses,
    record_mail,
    release_sender,
)
from inquiries.services.mailbox.polling import (
    PollResult,
    backoff_seconds,
    due_mailboxes,
    imap_settings,
    poll_due_mailboxes,
    poll_mailbox,
    sweep,
    wait_for_mail,
)
from inquiries.services.mailbox.webhooks import (
    ReplayError,
    note_webhook_refusal,
    record_webhook,
    webhook_secret,
)

__all__ = [
    "LOOP_GUARD_REASON",
    "PollResult",
    "ReplayError",
    "SentMailSkipped",
    "backoff_seconds",
    "due_mailboxes",
    "imap_settings",
    "is_bcc_copy",
    "note_webhook_refusal",
    "own_addresses",
    "poll_due_mailboxes",
    "poll_mailbox",
    "record_mail",
    "record_webhook",
    "release_sender",
    "sweep",
    "wait_for_mail",
    "webhook_secret",
]
