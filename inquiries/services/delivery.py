"""Whether a reply reached the customer, and what that does to the clocks.

A reply written in cstracker is stored `queued` and answers nobody yet: its inquiry's reply
clocks keep running against their deadlines. What happens next is reported here by the
sender (the SMTP task today; an integration's acknowledgement later):

- accepted (`accept_reply`): the relay or provider took it. The reply is `sent` with its
  `accepted_at`, and from that instant it answers the customer: the reply clocks stop and the
  customer messages before it are answered (`clocks.on_reply`), exactly as a reply recorded
  at that instant would.
- delivered (`mark_delivered`): a provider or a success DSN said it arrived; it already
  answered at its acceptance, so no clock moves.
- failed or bounced (`reply_not_delivered`): it answers nothing. If it had answered, the
  clocks and messages are put back as if it never had (`clocks.on_answer_withdrawn`); the
  agent is notified (bell, and e-mail by their preferences).

Each is one transaction with the inquiry row locked and conditional on the reply's state,
so a report that arrives twice changes nothing the second time. Which replies answer is
`Message.objects.answers()`, the one definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message as EmailMessage
from email.parser import BytesHeaderParser, HeaderParser

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from inquiries.models import (
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    ReplyDelivery,
)
from inquiries.services import clocks
from inquiries.services.queue import enqueue_after_commit

State = Message.DeliveryState
ALERT_KINDS = (EventKind.CLOCK_AT_RISK, EventKind.CLOCK_BREACHED)
MAX_REASON = 1000


def accept_reply(*, message_id: int, at: datetime, now: datetime | None = None) -> bool:
    """The relay accepted the queued reply at `at`: from then on it answers the customer.

    Returns False (and changes nothing) when the reply is not queued any more.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_reply(message_id)
        if locked is None or locked.reply.delivery_state != State.QUEUED:
            return False
        reply, inquiry = locked.reply, locked.inquiry
        Message.objects.filter(pk=reply.pk).update(
            delivery_state=State.SENT, delivery_error="", accepted_at=at
        )
        InquiryEvent.objects.create(inquiry=inquiry, kind=EventKind.REPLY_ACCEPTED, at=at, message=reply)
        clocks.on_reply(inquiry=inquiry, at=at, now=now, actor=reply.author)
        also: dict[str, object] = {}
        if inquiry.last_reply_at is None or at > inquiry.last_reply_at:
            also["last_reply_at"] = at
        refresh_reply_delivery(inquiry, **also)
    return True


def mark_delivered(*, message_id: int, at: datetime) -> bool:
    """A provider (or a success DSN) reports the accepted reply delivered; it answered already."""
    with transaction.atomic():
        locked = _locked_reply(message_id)
        if locked is None or locked.reply.delivery_state != State.SENT:
            return False
        Message.objects.filter(pk=locked.reply.pk).update(delivery_state=State.DELIVERED)
        InquiryEvent.objects.create(
            inquiry=locked.inquiry, kind=EventKind.REPLY_DELIVERED, at=at, message=locked.reply
        )
    return True


def reply_not_delivered(
    *, message_id: int, reason: str, bounced: bool = False, now: datetime | None = None
) -> bool:
    """The reply failed (given up on, or refused for good) or, with `bounced`, came back after
    it was accepted: it answers nothing. Clocks it had stopped run again, the agent is told.

    Returns False (and changes nothing) when the reply is not in a state this can apply to:
    only a queued reply fails, only an accepted or delivered one bounces.
    """
    now = now or timezone.now()
    reason = reason[:MAX_REASON]
    with transaction.atomic():
        locked = _locked_reply(message_id)
        allowed = (State.SENT, State.DELIVERED) if bounced else (State.QUEUED,)
        if locked is None or locked.reply.delivery_state not in allowed:
            return False
        reply, inquiry = locked.reply, locked.inquiry
        answered_at = reply.accepted_at if reply.delivery_state in Message.ANSWERING_STATES else None
        Message.objects.filter(pk=reply.pk).update(
            delivery_state=State.BOUNCED if bounced else State.FAILED, delivery_error=reason
        )
        event = InquiryEvent.objects.create(
            inquiry=inquiry,
            kind=EventKind.REPLY_BOUNCED if bounced else EventKind.REPLY_FAILED,
            at=now,
            message=reply,
            data={"reason": reason},
        )
        withdrawn = []
        if answered_at is not None:
            withdrawn = clocks.on_answer_withdrawn(inquiry=inquiry, at=answered_at, now=now)
        refresh_reply_delivery(inquiry)
        from inquiries.services.notifications import notify_reply_not_delivered

        notify_reply_not_delivered(event=event, reply=reply, now=now)
        # Warnings and breaches of the clocks that run again alert like the sweep's own.
        alerts = [e.pk for e in withdrawn if e.kind in ALERT_KINDS and e.pk is not None]
        if alerts:
            enqueue_after_commit("notify_events", alerts)
    return True


def retry_reply(*, message_id: int, actor: User | None = None, now: datetime | None = None) -> bool:
    """Queue a failed or bounced reply again, unchanged; the caller starts its sender.

    Returns False when the reply is neither failed nor bounced.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_reply(message_id)
        if locked is None or locked.reply.delivery_state not in (State.FAILED, State.BOUNCED):
            return False
        Message.objects.filter(pk=locked.reply.pk).update(delivery_state=State.QUEUED, delivery_error="")
        InquiryEvent.objects.create(
            inquiry=locked.inquiry, kind=EventKind.REPLY_RETRIED, at=now, actor=actor, message=locked.reply
        )
        refresh_reply_delivery(locked.inquiry)
    return True


def refresh_reply_delivery(inquiry: Inquiry, **also: object) -> None:
    """Copy the delivery of the inquiry's latest public reply onto the inquiry, for the queue.

    Pending while it is queued, failed when it failed or bounced; nothing outstanding once it
    was accepted, or when the latest reply was not sent by us. `also`: other columns to set in
    the same UPDATE.
    """
    latest = (
        Message.objects.filter(inquiry=inquiry, direction=Direction.OUTBOUND, automatic=False)
        .order_by("-received_at", "-id")
        .values_list("delivery_state", flat=True)
        .first()
    )
    outstanding: dict[str | None, ReplyDelivery] = {
        State.QUEUED: ReplyDelivery.PENDING,
        State.FAILED: ReplyDelivery.FAILED,
        State.BOUNCED: ReplyDelivery.FAILED,
    }
    state = outstanding.get(latest, ReplyDelivery.NONE)
    Inquiry.objects.filter(pk=inquiry.pk).update(reply_delivery=state, **also)
    inquiry.reply_delivery = state
    for field, value in also.items():
        setattr(inquiry, field, value)


@dataclass(frozen=True, slots=True)
class _LockedReply:
    reply: Message
    inquiry: Inquiry  # also `reply.inquiry`


def _locked_reply(message_id: int) -> _LockedReply | None:
    """The reply with its inquiry row locked (the lock every action on the inquiry takes first)."""
    inquiry_id = (
        Message.objects.filter(pk=message_id, direction=Direction.OUTBOUND, inquiry__isnull=False)
        .values_list("inquiry_id", flat=True)
        .first()
    )
    if inquiry_id is None:
        return None
    inquiry = (
        Inquiry.objects.select_for_update(of=("self",))
        .select_related("account", "customer", "channel", "sla_policy")
        .get(pk=inquiry_id)
    )
    reply = Message.objects.select_related("author").defer("raw").get(pk=message_id)
    reply.inquiry = inquiry
    return _LockedReply(reply, inquiry)


# --- delivery status notifications (RFC 3464) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a DSN says: `action` is failed, delayed, delivered, relayed or expanded ("" if unknown)."""

    action: str
    reason: str
    original_ids: tuple[str, ...]


_ID_RE = re.compile(r"<([^<>\s]+)>")
_HEADER_BYTES = 65536
_REPORT_PARTS = 200  # the message passed ingestion's caps; this bounds the walk once more
_ORIGINAL_TYPES = ("message/rfc822", "message/global", "message/global-headers", "text/rfc822-headers")


def read_delivery_report(raw: bytes, subject: str = "") -> DeliveryReport:
    """The action, reason and original Message-IDs of a bounce. Pure; never raises.

    Per recipient blocks of the message/delivery-status part: failed if any recipient failed,
    delivered if all were, else the first action (delayed...). A bounce without that part
    (an old-style mailer-daemon message) is a failure, its subject the reason.
    """
    try:
        msg = message_from_bytes(raw, policy=policy.compat32)
    except Exception:  # already stored: whatever the parser dislikes, the report says nothing
        return DeliveryReport("", "", ())
    actions: list[str] = []
    reasons: list[str] = []
    originals: list[str] = []
    report_found = False
    for count, part in enumerate(msg.walk()):
        if count > _REPORT_PARTS:
            break
        content_type = part.get_content_type()
        if content_type in ("message/delivery-status", "message/global-delivery-status"):
            report_found = True
            for block in _blocks(part):
                action = str(block.get("Action", "")).strip().lower()
                if not action:
                    continue
                actions.append(action)
                if action == "failed":
                    status = str(block.get("Status", "")).strip()
                    diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
                    reasons.append(" ".join(x for x in (status, diagnostic) if x))
        elif content_type in _ORIGINAL_TYPES:
            originals.extend(_original_ids(part))
    if "failed" in actions:
        action = "failed"
    elif actions and all(a == "delivered" for a in actions):
        action = "delivered"
    elif actions:
        action = actions[0]
    else:
        action = "" if report_found else "failed"
    reason = "; ".join(r for r in reasons if r) or " ".join(subject.split()) or "the mail was returned"
    return DeliveryReport(action, reason[:MAX_REASON], tuple(dict.fromkeys(originals)))


def _blocks(part: EmailMessage) -> list[EmailMessage]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, EmailMessage)]
    # Not parsed into blocks (an unusual transfer encoding): read the text as header blocks.
    text = _payload_bytes(part)
    return [HeaderParser().parsestr(chunk) for chunk in text.decode("utf-8", "replace").split("\n\n")]


def _payload_bytes(part: EmailMessage) -> bytes:
    """A part that is not a list of parts, decoded (empty when it has no payload)."""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _original_ids(part: EmailMessage) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], EmailMessage):
        headers = payload[0]
    else:
        text = _payload_bytes(part)
        headers = HeaderParser().parsestr(text.decode("utf-8", "replace"))
    return _ID_RE.findall(str(headers.get("Message-ID", "")))


def is_delivery_report(raw: bytes, automatic_reason: str) -> bool:
    """A bounce by ingestion's rules, or any mail whose top-level type is an RFC 3464 report
    (Postfix and others mark theirs Auto-Submitted, which ingestion names first)."""
    if automatic_reason == "bounce":
        return True
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:_HEADER_BYTES])
        report_type = str(headers.get_param("report-type", "", header="content-type") or "")
        return headers.get_content_type() == "multipart/report" and report_type.lower() == "delivery-status"
    except Exception:  # a header the parser refuses: not a report we can read
        return False


def record_delivery_report(*, report: Message, raw: bytes | None, now: datetime | None = None) -> str:
    """Apply a stored automatic message, if it is a delivery report, to the reply it is about
    (found by its threading headers or the original message it quotes), and put the report in
    that reply's conversation; returns what it did."""
    if not report.automatic or not is_delivery_report(raw or b"", report.automatic_reason):
        return "not a delivery report"
    facts = read_delivery_report(raw or b"", report.subject)
    ids = [report.in_reply_to, *(r for r in report.references if isinstance(r, str)), *facts.original_ids]
    reply = (
        Message.objects.filter(
            channel_id=report.channel_id,
            direction=Direction.OUTBOUND,
            external_id__in=[i for i in ids if i],
        )
        .exclude(delivery_state=State.NONE)
        .order_by("-received_at", "-id")
        .first()
    )
    if reply is None:
        return "report about no reply of ours"
    if report.inquiry_id is None:
        # The engine threads a message only into its own sender's conversations, and the relay
        # is not the customer: the report joins the conversation of the reply it is about.
        Message.objects.filter(pk=report.pk, inquiry__isnull=True).update(inquiry=reply.inquiry_id)
        report.inquiry_id = reply.inquiry_id
    if facts.action == "failed":
        done = reply_not_delivered(message_id=reply.pk, reason=facts.reason, bounced=True, now=now)
        return (
            f"reply {reply.pk} bounced"
            if done
            else f"reply {reply.pk}: bounce ignored ({reply.delivery_state})"
        )
    if facts.action == "delivered":
        done = mark_delivered(message_id=reply.pk, at=report.received_at)
        return f"reply {reply.pk} delivered" if done else f"reply {reply.pk}: already {reply.delivery_state}"
    return f"reply {reply.pk}: report {facts.action or 'unread'}, nothing to do"
