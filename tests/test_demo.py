"""The demo tells the truth: its replies were delivered (a few refused, as real mail is)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from inquiries.models import Clock, ClockKind, ClockState, Direction, Message

pytestmark = pytest.mark.django_db


def test_the_demos_replies_are_accepted_by_its_relay_and_a_few_refused(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    call_command("seed_demo", "--inquiries", "60", stdout=open("/dev/null", "w"))  # noqa: SIM115

    replies = Message.objects.filter(direction=Direction.OUTBOUND, author__isnull=False)
    states = dict.fromkeys(Message.DeliveryState.values, 0)
    for state in replies.values_list("delivery_state", flat=True):
        states[state] += 1
    assert states["queued"] == 0, states  # nothing waits for a relay the demo does not have
    assert states["sent"] > 10 * states["failed"] > 0, states
    # A refused reply answered nobody: its first-reply clock was not met by it.
    failed = replies.filter(delivery_state="failed").first()
    assert failed.delivery_error.startswith("550 5.1.1")
    met_at = [
        c.stopped_at
        for c in Clock.objects.filter(inquiry_id=failed.inquiry_id, kind=ClockKind.FIRST_REPLY)
        if c.state == ClockState.MET
    ]
    assert all(at != failed.received_at for at in met_at)
