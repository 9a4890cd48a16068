"""Agent and manager actions on an inquiry: reply, note, status, priority, topic, assignment.

Each is one transaction with its InquiryEvent rows; the row is locked so that two agents
acting at once see each other's result instead of overwriting it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from inquiries import macro_text, reply_checks
from inquiries.ingestion.html import sanitize_html
from inquiries.ingestion.limits import CONTROL_RE
from inquiries.models import (
    ChannelKind,
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    OutboxOffer,
    Priority,
    ReplyDelivery,
    ReplyWebhook,
    Status,
    Team,
    Topic,
)
from inquiries.services import clocks, orders, topic_training
from inquiries.services.bulk import insert_rows
from inquiries.services.errors import Conflict, DomainError, ReplyChecksFailed
from inquiries.services.queue import enqueue_after_commit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

MAX_BODY = 1_000_000


def _locked(inquiry: Inquiry) -> Inquiry:
    # Lock the inquiry row only: PostgreSQL refuses FOR UPDATE on the nullable side of the
    # outer join that select_related("sla_policy") needs, and the joined rows need no lock.
    return (
        Inquiry.objects.select_for_update(of=("self",))
        .select_related("account", "customer", "channel", "sla_policy")
        .get(pk=inquiry.pk)
    )


def _event(inquiry: Inquiry, kind: str, at: datetime, actor: User | None, **data: object) -> None:
    InquiryEvent.objects.create(inquiry=inquiry, kind=kind, at=at, actor=actor, data=data)


@transaction.atomic
def reply(
    *,
    inquiry: Inquiry,
    author: User,
    body_text: str,
    body_html: str = "",
    internal: bool = False,
    status: str | None = None,
    confirmed_checks: Iterable[str] = (),
    macro_id: int | None = None,
    now: datetime | None = None,
) -> Message:
    """Record an agent's public reply (or internal note) written in cstracker.

    A public reply to a marketplace buyer is checked against that marketplace's messaging
    rules (`reply_checks`) first: one the agent has not confirmed by rule name refuses the
    reply with `ReplyChecksFailed`; the confirmed ones are kept in the reply's event. A reply
    still holding a macro's unfilled gap (`[[fill in: ...]]`) is refused.
    A public reply is stored queued and answers the customer only once it is accepted for
    delivery (`services.delivery`): until then the reply clocks keep running. On an e-mail
    channel a task sends it after commit; on other channels it waits in the outbox for the
    integration, which a task tells with a signed `reply.created` POST when the channel has a
    reply webhook (`services.outbox`).
    A note never stops a clock.
    """
    now = now or timezone.now()
    body_text = _reply_text(body_text, internal=internal)
    inquiry = _locked(inquiry)
    confirmed = [] if internal else _confirmed_checks(inquiry, body_text, confirmed_checks)
    user = author
    message = Message.objects.create(
        channel=inquiry.channel,
        inquiry=inquiry,
        direction=Direction.NOTE if internal else Direction.OUTBOUND,
        external_id=f"cstracker-{uuid.uuid4()}",
        author=user,
        sender_address=getattr(author, "email", "") or "",
        sender_name=user.get_full_name() or user.get_username(),
        subject=inquiry.subject
        if inquiry.subject.lower().startswith("re:")
        else f"Re: {inquiry.subject}"[:998],
        body_text=body_text,
        body_html=sanitize_html(body_html) if body_html else "",
        received_at=now,
        delivery_state="" if internal else Message.DeliveryState.QUEUED,
    )
    kind = EventKind.NOTE_ADDED if internal else EventKind.REPLY_WRITTEN
    data: dict[str, object] = {"confirmed_checks": confirmed} if confirmed else {}
    if macro_id is not None:
        data["macro"] = macro_id
    InquiryEvent.objects.create(inquiry=inquiry, kind=kind, at=now, actor=user, message=message, data=data)
    if not internal:
        _queue_for_delivery(inquiry, message, now=now)
        if inquiry.status == Status.NEW and status is None:
            status = Status.OPEN
    if status is not None and status != inquiry.status:
        _set_status(inquiry=inquiry, status=status, actor=author, now=now)
    return message


def _reply_text(body_text: str, *, internal: bool) -> str:
    """The reply's text without NUL characters and surrounding space; a DomainError when it is
    empty, too long, or (a public reply) still has a macro's gap to fill in."""
    body_text = body_text.replace("\x00", "").strip()
    if not body_text:
        raise DomainError(_("The reply is empty."), field="body_text")
    if len(body_text) > MAX_BODY:
        raise DomainError(
            _("The reply is longer than %(limit)s characters.") % {"limit": MAX_BODY}, field="body_text"
        )
    if not internal and macro_text.gaps_in(body_text):
        gaps = ", ".join(macro_text.gaps_in(body_text))
        raise DomainError(_("Fill in the gaps before sending: %(gaps)s.") % {"gaps": gaps}, field="body_text")
    return body_text


def _confirmed_checks(inquiry: Inquiry, body_text: str, confirmed_checks: Iterable[str]) -> list[str]:
    """The marketplace's messaging rules a public reply trips, every one confirmed by the agent;
    `ReplyChecksFailed` names those that are not."""
    findings = reply_checks.check(body_text, inquiry.account.marketplace)
    missing = reply_checks.unconfirmed(findings, confirmed_checks)
    if missing:
        raise ReplyChecksFailed(missing, policy=reply_checks.POLICY_PAGES[inquiry.account.marketplace])
    return [finding.rule for finding in findings]


def _queue_for_delivery(inquiry: Inquiry, reply: Message, *, now: datetime) -> None:
    """Send a public reply after commit (e-mail) or offer it to the channel's integration (its
    reply webhook; the outbox in any case); the inquiry waits for its delivery."""
    if inquiry.channel.kind == ChannelKind.EMAIL:
        enqueue_after_commit("send_reply_email", reply.pk)
    elif webhook := ReplyWebhook.objects.filter(channel=inquiry.channel, is_active=True).first():
        # Recorded with the reply, so that a lost task is found again (`outbox.pending_offer_ids`).
        OutboxOffer.objects.create(message=reply, webhook=webhook)
        enqueue_after_commit("offer_reply", reply.pk)
    Inquiry.objects.filter(pk=inquiry.pk).update(reply_delivery=ReplyDelivery.PENDING, updated_at=now)
    inquiry.reply_delivery = ReplyDelivery.PENDING


def _set_status(
    *,
    inquiry: Inquiry,
    status: str,
    actor: User | None,
    now: datetime,
    at: datetime | None = None,
) -> None:
    if status not in Status.values:
        raise DomainError(_("Unknown status %(status)r.") % {"status": status}, field="status")
    at = at or now
    old = inquiry.status
    if old == status:
        return
    updates: dict[str, object] = {"status": status, "updated_at": now}
    # Closed without being solved first: it was solved when it was closed.
    if status == Status.SOLVED or (status == Status.CLOSED and inquiry.solved_at is None):
        updates["solved_at"] = at
    elif status in (Status.NEW, Status.OPEN, Status.PENDING):
        updates["solved_at"] = None
    Inquiry.objects.filter(pk=inquiry.pk).update(**updates)
    for field, value in updates.items():
        setattr(inquiry, field, value)
    _event(inquiry, EventKind.STATUS_CHANGED, at, actor, **{"from": old, "to": status})
    clocks.on_status_change(inquiry=inquiry, old=old, new=status, at=at, now=now, actor=actor)


@transaction.atomic
def change_status(
    *,
    inquiry: Inquiry,
    status: str,
    actor: User | None,
    now: datetime | None = None,
    at: datetime | None = None,
) -> Inquiry:
    """Set the inquiry's status. `at` (default `now`) is when it happened: history brought in
    from an export is solved when it was solved, and its resolution clock judged then."""
    inquiry = _locked(inquiry)
    _set_status(inquiry=inquiry, status=status, actor=actor, now=now or timezone.now(), at=at)
    return inquiry


# Inquiries closed per transaction by `close_matching`: a lock held for a moment, not for the
# whole set, and a bounded statement per step however many match.
CLOSE_CHUNK = 1000


def close_matching(
    *,
    inquiries: QuerySet[Inquiry],
    actor: User | None,
    status: str = Status.CLOSED,
    now: datetime | None = None,
) -> int:
    """`change_status` to solved or closed for every inquiry of `inquiries` not already there,
    set-based: per chunk of `CLOSE_CHUNK` one lock, one UPDATE, one INSERT of events and the
    clocks' transitions written together (`clocks.on_close_many`), the same rows as closing each
    one by one. Returns how many were changed. The caller scopes `inquiries` (the queue's
    `inquiries_for(user)`, a command's account)."""
    if status not in (Status.SOLVED, Status.CLOSED):
        raise DomainError(
            _("Close as solved or closed, not %(status)r.") % {"status": status}, field="status"
        )
    now = now or timezone.now()
    ids = list(inquiries.exclude(status=status).order_by("pk").values_list("pk", flat=True))
    changed = 0
    for start in range(0, len(ids), CLOSE_CHUNK):
        changed += _close_chunk(ids[start : start + CLOSE_CHUNK], status=status, actor=actor, now=now)
    return changed


@transaction.atomic
def _close_chunk(ids: list[int], *, status: str, actor: User | None, now: datetime) -> int:
    # Locked in id order (as `_locked` takes one row), then read again: an agent may have
    # changed one meanwhile.
    rows = list(
        Inquiry.objects.select_for_update()
        .filter(pk__in=ids)
        .exclude(status=status)
        .order_by("pk")
        .values_list("pk", "status")
    )
    changed = [pk for pk, _ in rows]
    # As `_set_status`: solved now; closed without being solved first, solved when closed.
    solved_at = Value(now) if status == Status.SOLVED else Coalesce(F("solved_at"), Value(now))
    Inquiry.objects.filter(pk__in=changed).update(status=status, updated_at=now, solved_at=solved_at)
    insert_rows(
        InquiryEvent,
        [
            InquiryEvent(
                inquiry_id=pk,
                kind=EventKind.STATUS_CHANGED,
                at=now,
                actor=actor,
                data={"from": old, "to": status},
            )
            for pk, old in rows
        ],
    )
    clocks.on_close_many(inquiry_ids=changed, at=now, actor=actor)
    return len(changed)


@transaction.atomic
def change_priority(
    *, inquiry: Inquiry, priority: str, actor: User | None, now: datetime | None = None
) -> Inquiry:
    """A new priority picks new targets: running clocks are recomputed from their start."""
    if priority not in Priority.values:
        raise DomainError(_("Unknown priority %(priority)r.") % {"priority": priority}, field="priority")
    now = now or timezone.now()
    inquiry = _locked(inquiry)
    if inquiry.priority == priority:
        return inquiry
    old = inquiry.priority
    Inquiry.objects.filter(pk=inquiry.pk).update(priority=priority, updated_at=now)
    inquiry.priority = priority
    _event(inquiry, EventKind.PRIORITY_CHANGED, now, actor, **{"from": old, "to": priority})
    clocks.recompute_inquiry(inquiry=inquiry, now=now)
    return inquiry


@transaction.atomic
def change_topic(
    *, inquiry: Inquiry, topic: Topic | None, actor: User | None, now: datetime | None = None
) -> Inquiry:
    """An agent's topic (a re-tag or a confirmation) is stored with topic_source=agent and as a
    `TopicLabel`, which trains the account's model (`topic_training`)."""
    now = now or timezone.now()
    inquiry = _locked(inquiry)
    old_key = inquiry.topic.key if inquiry.topic else None
    new_key = topic.key if topic else None
    if old_key == new_key and inquiry.topic_source == "agent":
        return inquiry
    Inquiry.objects.filter(pk=inquiry.pk).update(topic=topic, topic_source="agent", updated_at=now)
    inquiry.topic = topic
    inquiry.topic_source = "agent"
    _event(
        inquiry,
        EventKind.TOPIC_CHANGED,
        now,
        actor,
        **{"from": old_key, "to": new_key, "correction": old_key != new_key},
    )
    if topic is not None:
        topic_training.record_label(
            inquiry=inquiry, topic=topic, actor=actor, corrected=old_key != new_key, now=now
        )
    if old_key != new_key:
        clocks.recompute_inquiry(inquiry=inquiry, now=now)
    return inquiry


@transaction.atomic
def set_order(
    *, inquiry: Inquiry, order_id: str, sku: str, actor: User | None, now: datetime | None = None
) -> Inquiry:
    """An agent sets or corrects the order and SKU an inquiry is about: the inquiry then links
    to that order when it is on file (its SKUs, dates and shipments show on the page), or to
    none; order-status questions asked after the order's delivery date become complaints."""
    order_id, sku = order_id.strip(), sku.strip()
    limit = Inquiry._meta.get_field("order_id").max_length or 100
    for field, value in (("order_id", order_id), ("sku", sku)):
        if len(value) > limit:
            raise DomainError(_("At most %(limit)s characters.") % {"limit": limit}, field=field)
        if CONTROL_RE.search(value):
            raise DomainError(_("One line, without control characters."), field=field)
    now = now or timezone.now()
    inquiry = _locked(inquiry)
    if (inquiry.order_id, inquiry.sku) == (order_id, sku):
        return inquiry
    before = {"order_id": inquiry.order_id, "sku": inquiry.sku}
    Inquiry.objects.filter(pk=inquiry.pk).update(order_id=order_id, sku=sku, updated_at=now)
    inquiry.order_id, inquiry.sku = order_id, sku
    _event(
        inquiry,
        EventKind.ORDER_CHANGED,
        now,
        actor,
        **{"from": before, "to": {"order_id": order_id, "sku": sku}},
    )
    orders.link_inquiries(inquiry_ids=[inquiry.pk])
    inquiry.refresh_from_db(fields=["linked_order", "topic"])
    return inquiry


@transaction.atomic
def assign(
    *,
    inquiry: Inquiry,
    assignee: User | None,
    actor: User | None,
    now: datetime | None = None,
) -> Inquiry:
    """Give the inquiry to `assignee` (None: to nobody). Nobody is given an inquiry they could
    not open: an assignee who does not work its account is refused with a DomainError."""
    now = now or timezone.now()
    inquiry = _locked(inquiry)
    if inquiry.assignee_id == (assignee.pk if assignee else None):
        return inquiry
    user = assignee
    if user is not None and not Inquiry.objects.visible_to(user).filter(pk=inquiry.pk).exists():
        raise DomainError(
            _("%(user)s does not work this inquiry's account.") % {"user": user.get_username()},
            field="assignee",
        )
    old = inquiry.assignee_id
    Inquiry.objects.filter(pk=inquiry.pk).update(assignee=assignee, updated_at=now)
    inquiry.assignee = user
    _event(inquiry, EventKind.ASSIGNED, now, actor, **{"from": old, "to": assignee.pk if assignee else None})
    return inquiry


def claim(*, inquiry: Inquiry, user: User, now: datetime | None = None) -> Inquiry:
    """Take an unassigned inquiry. Two agents claiming at once leave exactly one owner.

    The conditional UPDATE is the arbiter: only the one whose UPDATE finds the row still
    unassigned wins; the other gets a Conflict naming the owner.
    """
    now = now or timezone.now()
    with transaction.atomic():
        won = Inquiry.objects.filter(pk=inquiry.pk, assignee__isnull=True).update(
            assignee=user, updated_at=now
        )
        if won:
            _event(inquiry, EventKind.ASSIGNED, now, user, **{"from": None, "to": user.pk, "claimed": True})
            return Inquiry.objects.get(pk=inquiry.pk)
    current = Inquiry.objects.select_related("assignee").get(pk=inquiry.pk)
    if current.assignee_id == user.pk:
        return current
    owner = current.assignee.get_username() if current.assignee else _("someone")
    raise Conflict(_("Already claimed by %(owner)s.") % {"owner": owner}, field="assignee", code="claimed")


@transaction.atomic
def mark_no_response_needed(*, inquiry: Inquiry, actor: User | None, now: datetime | None = None) -> int:
    """Cancel the reply clocks and take the unanswered messages out of response metrics.

    A later customer message starts a new clock, as Amazon's own button does.
    """
    now = now or timezone.now()
    inquiry = _locked(inquiry)
    count = Message.objects.filter(
        inquiry=inquiry,
        direction=Direction.INBOUND,
        automatic=False,
        answered_at__isnull=True,
        no_response_needed=False,
        received_at__lte=now,
    ).update(no_response_needed=True)
    cancelled = clocks.cancel_reply_clocks(inquiry=inquiry, at=now, actor=actor, reason="no response needed")
    _event(inquiry, EventKind.NO_RESPONSE_NEEDED, now, actor, messages=count, clocks=cancelled)
    return count


@transaction.atomic
def reassign_team(
    *, inquiry: Inquiry, team: Team, actor: User | None, now: datetime | None = None
) -> Inquiry:
    """Move the inquiry to another team; the assignee is cleared so the new team picks it up."""
    now = now or timezone.now()
    inquiry = _locked(inquiry)
    if inquiry.team_id == team.pk and inquiry.assignee_id is None:
        return inquiry
    old_team, old_assignee = inquiry.team_id, inquiry.assignee_id
    Inquiry.objects.filter(pk=inquiry.pk).update(team=team, assignee=None, updated_at=now)
    inquiry.team, inquiry.assignee = team, None
    _event(
        inquiry,
        EventKind.ASSIGNED,
        now,
        actor,
        **{"from": old_assignee, "to": None, "from_team": old_team, "to_team": team.pk},
    )
    return inquiry
