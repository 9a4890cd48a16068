"""Notifications for clock transitions and complaint clusters: in-app, e-mail, webhooks.

`notify_for_events()` runs in a task after the sweep commits. Every effect is keyed to
the fact that caused it (unique constraints on notification, delivery and escalation
rows), so re-running it after a crash or a duplicate delivery changes nothing.
Outbound e-mail and HTTP happen only in their own tasks, never inside a transaction.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from inquiries import outbound
from inquiries.models import (
    PRIORITY_RANK,
    ClusterEvent,
    EscalationAction,
    EscalationRule,
    EventKind,
    InquiryEvent,
    Membership,
    Message,
    Notification,
    NotificationKind,
    NotificationPreference,
    Priority,
    Role,
    UserPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from inquiries.services.notification_texts import clock_text, cluster_text, one_line, undelivered_text
from inquiries.services.people import language_of
from inquiries.services.queue import enqueue_after_commit

logger = logging.getLogger(__name__)

CLOCK_KINDS = (EventKind.CLOCK_AT_RISK, EventKind.CLOCK_BREACHED)
# A notification's title and body, written when called (in the language active then).
Texts = Callable[[], tuple[str, str]]


def _max_age() -> timedelta:
    return timedelta(hours=settings.CSTRACKER_NOTIFY_MAX_AGE_HOURS)


# --- recipients -------------------------------------------------------------------------


def _team_users(account_id: int, role: str | None = None) -> list[int]:
    members = Membership.objects.filter(team__accounts=account_id, user__is_active=True)
    if role:
        members = members.filter(role=role)
    return sorted(set(members.values_list("user_id", flat=True)))


def default_recipients(event: InquiryEvent) -> set[int]:
    """At risk: the assignee, or the account's agents when unassigned. Breached: also its managers."""
    inquiry = event.inquiry
    users = {inquiry.assignee_id} if inquiry.assignee_id else set(_team_users(inquiry.account_id, Role.AGENT))
    if event.kind == EventKind.CLOCK_BREACHED:
        users |= set(_team_users(inquiry.account_id, Role.MANAGER))
    return users


# --- escalation -------------------------------------------------------------------------


def _matching_rules(event: InquiryEvent) -> list[EscalationRule]:
    inquiry = event.inquiry
    clock_kind = event.data.get("clock_kind", "")
    rules = (
        EscalationRule.objects.filter(is_active=True, trigger=event.kind)
        .filter(Q(policy__isnull=True) | Q(policy_id=inquiry.sla_policy_id))
        .filter(Q(team__isnull=True) | Q(team__accounts=inquiry.account_id))
        .select_related("reassign_to_team")
    )
    return [rule for rule in rules.distinct() if not rule.clock_kinds or clock_kind in rule.clock_kinds]


def _escalate(event: InquiryEvent, now: datetime) -> set[int]:
    """Apply each matching rule once per clock transition; returns extra users to notify."""
    from inquiries.services import actions

    extra: set[int] = set()
    inquiry = event.inquiry
    for rule in _matching_rules(event):
        try:
            with transaction.atomic():
                EscalationAction.objects.create(rule=rule, event=event, acted_at=now)
        except IntegrityError:
            continue  # this rule already acted on this transition
        done = []
        if rule.notify_assignee and inquiry.assignee_id:
            extra.add(inquiry.assignee_id)
            done.append("notified the assignee")
        if rule.notify_managers:
            extra |= set(_team_users(inquiry.account_id, Role.MANAGER))
            done.append("notified the managers")
        if rule.raise_priority and inquiry.priority != Priority.URGENT:
            ranked = sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__)
            higher = ranked[min(PRIORITY_RANK[Priority(inquiry.priority)] + 1, len(ranked) - 1)]
            inquiry = actions.change_priority(inquiry=inquiry, priority=higher, actor=None, now=now)
            done.append(f"raised the priority to {higher}")
        if rule.reassign_to_team is not None:
            inquiry = actions.reassign_team(inquiry=inquiry, team=rule.reassign_to_team, actor=None, now=now)
            done.append(f"moved it to {rule.reassign_to_team.name}")
        EscalationAction.objects.filter(rule=rule, event=event).update(summary="; ".join(done)[:300])
    return extra


# --- fan-out ----------------------------------------------------------------------------


def notify_for_events(*, event_ids: Iterable[int], now: datetime | None = None) -> int:
    """Notifications for clock at-risk/breach events. Returns how many notifications were created."""
    now = now or timezone.now()
    created = 0
    events = (
        InquiryEvent.objects.filter(pk__in=list(event_ids), kind__in=CLOCK_KINDS)
        .select_related("inquiry__account", "inquiry__customer", "clock")
        .order_by("at", "id")
    )
    for event in events:
        with transaction.atomic():
            if event.at < now - _max_age():
                continue  # back-filled history: a breach from last month is a fact, not an alert
            recipients = default_recipients(event) | _escalate(event, now)
            created += _create_notifications(event, recipients, now)
            _queue_webhooks(event, now)
    return created


def _create_notifications(event: InquiryEvent, recipients: set[int], now: datetime) -> int:
    if not recipients:
        return 0
    url = reverse("inquiries:detail", args=[event.inquiry_id])
    kind = (
        NotificationKind.CLOCK_BREACHED
        if event.kind == EventKind.CLOCK_BREACHED
        else NotificationKind.CLOCK_AT_RISK
    )
    return _fan_out(
        users=recipients,
        kind=kind,
        texts=lambda: clock_text(event),
        url=url,
        inquiry_id=event.inquiry_id,
        event_id=event.pk,
        dedupe_key=f"event:{event.pk}",
        now=now,
    )


def _fan_out(
    *,
    users: Iterable[int],
    kind: str,
    texts: Texts,
    url: str,
    inquiry_id: int | None,
    event_id: int | None,
    dedupe_key: str,
    now: datetime,
) -> int:
    user_ids = sorted(set(users))
    preferences = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=user_ids)}
    already = set(
        Notification.objects.filter(user_id__in=user_ids, dedupe_key=dedupe_key).values_list(
            "user_id", flat=True
        )
    )
    languages = dict(
        UserPreference.objects.filter(user_id__in=user_ids)
        .exclude(language="")
        .values_list("user_id", "language")
    )
    written: dict[str, tuple[str, str]] = {}
    rows = []
    for user_id in user_ids:
        if user_id in already:
            continue
        preference = preferences.get(user_id) or NotificationPreference(user_id=user_id)
        if not preference.wants(kind):
            continue
        # Stored as written: each recipient's row is in their language (the e-mail is too).
        language = languages.get(user_id, settings.LANGUAGE_CODE)
        if language not in written:
            with translation.override(language):
                written[language] = texts()
        title, body = written[language]
        email = (
            ""
            if preference.email_mode == NotificationPreference.EmailMode.OFF
            else Notification.EmailState.PENDING
        )
        rows.append(
            Notification(
                user_id=user_id,
                kind=kind,
                title=title[:300],
                body=body,
                url=url,
                inquiry_id=inquiry_id,
                event_id=event_id,
                dedupe_key=dedupe_key,
                created_at=now,
                email_state=email,
                # Without in-app notifications the row still carries the e-mail, but is born read.
                read_at=None if preference.in_app else now,
            )
        )
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    for row in rows:
        saved = preferences.get(row.user_id)
        mode = saved.email_mode if saved else NotificationPreference.EmailMode.DIGEST
        if row.email_state and mode == NotificationPreference.EmailMode.IMMEDIATE:
            enqueue_after_commit("send_notification_email", row.user_id, dedupe_key)
    return len(created)


def notify_reply_not_delivered(*, event: InquiryEvent, reply: Message, now: datetime) -> int:
    """Tell the reply's author (and the assignee) that it failed or bounced: once per event."""
    inquiry = event.inquiry
    users = {user for user in (reply.author_id, inquiry.assignee_id) if user}
    if not users:
        users = set(_team_users(inquiry.account_id, Role.AGENT))
    return _fan_out(
        users=users,
        kind=NotificationKind.REPLY_NOT_DELIVERED,
        texts=lambda: undelivered_text(event),
        url=reverse("inquiries:detail", args=[inquiry.pk]),
        inquiry_id=inquiry.pk,
        event_id=event.pk,
        dedupe_key=f"event:{event.pk}",
        now=now,
    )


def notify_for_cluster_events(*, event_ids: Iterable[int], now: datetime | None = None) -> int:
    """Cluster flagged or moved along its lifecycle: tell the managers of the account's teams."""
    now = now or timezone.now()
    created = 0
    for event in ClusterEvent.objects.filter(pk__in=list(event_ids)).select_related(
        "cluster__account", "cluster__topic"
    ):
        cluster = event.cluster
        managers = _team_users(cluster.account_id, Role.MANAGER)
        with transaction.atomic():
            created += _fan_out(
                users=managers,
                kind=NotificationKind.CLUSTER,
                texts=functools.partial(cluster_text, event),
                url=reverse("inquiries:cluster_detail", args=[cluster.pk]),
                inquiry_id=None,
                event_id=None,
                dedupe_key=f"cluster-event:{event.pk}",
                now=now,
            )
    return created


# --- e-mail -----------------------------------------------------------------------------


def _send(user: User, subject: Callable[[], str], template: str, context: dict) -> None:
    """E-mail `user` in their language; `subject` is called in it too."""
    with translation.override(language_of(user)):
        text = render_to_string(f"email/{template}.txt", context)
        html = render_to_string(f"email/{template}.html", context)
        line = one_line(subject(), 180)
    mail = EmailMultiAlternatives(
        subject=line,
        body=text,
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated", "X-Cstracker-Loop": "notification"},
    )
    mail.attach_alternative(html, "text/html")
    mail.send()


def send_notification_email(*, user_id: int, dedupe_key: str) -> bool:
    """One e-mail for one notification; the conditional UPDATE claims it so it goes once."""
    notification = (
        Notification.objects.filter(user_id=user_id, dedupe_key=dedupe_key).select_related("user").first()
    )
    if notification is None or not notification.user.email:
        return False
    claimed = Notification.objects.filter(
        pk=notification.pk, email_state=Notification.EmailState.PENDING
    ).update(email_state=Notification.EmailState.SENT)
    if not claimed:
        return False
    try:
        _send(
            notification.user,
            lambda: notification.title,
            "notification",
            {"notification": notification, "base_url": settings.CSTRACKER_BASE_URL},
        )
    except Exception:
        Notification.objects.filter(pk=notification.pk).update(email_state=Notification.EmailState.PENDING)
        raise
    return True


def send_notification_digests(*, now: datetime | None = None) -> int:
    """One summary per user whose digest period has passed; 200 breaches make one e-mail."""
    now = now or timezone.now()
    sent = 0
    pending_users = (
        Notification.objects.filter(email_state=Notification.EmailState.PENDING)
        .values_list("user_id", flat=True)
        .distinct()
    )
    for user_id in list(pending_users):
        preference, _ = NotificationPreference.objects.get_or_create(user_id=user_id)
        if preference.email_mode != NotificationPreference.EmailMode.DIGEST:
            continue
        last = preference.last_digest_at
        if last is not None and now - last < timedelta(minutes=preference.digest_minutes):
            continue
        # Claim this digest period: a concurrent beat finds last_digest_at already moved.
        claimed = NotificationPreference.objects.filter(pk=preference.pk, last_digest_at=last).update(
            last_digest_at=now
        )
        if not claimed:
            continue
        with transaction.atomic():
            items = list(
                Notification.objects.select_for_update()
                .filter(user_id=user_id, email_state=Notification.EmailState.PENDING)
                .order_by("created_at")
            )
            Notification.objects.filter(pk__in=[n.pk for n in items]).update(
                email_state=Notification.EmailState.SENT
            )
        user = get_user_model().objects.get(pk=user_id)
        if not items or not user.email:
            continue
        try:
            _send(
                user,
                functools.partial(_digest_subject, len(items)),
                "digest",
                {"items": items, "user": user, "base_url": settings.CSTRACKER_BASE_URL},
            )
        except Exception:
            Notification.objects.filter(pk__in=[n.pk for n in items]).update(
                email_state=Notification.EmailState.PENDING
            )
            NotificationPreference.objects.filter(pk=preference.pk).update(last_digest_at=last)
            raise
        sent += 1
    return sent


def _digest_subject(count: int) -> str:
    return ngettext("cstracker: %(count)s notification", "cstracker: %(count)s notifications", count) % {
        "count": count
    }


# --- in-app -----------------------------------------------------------------------------


def mark_read(
    *, user: User, notification_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    now = now or timezone.now()
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=now)


# --- webhooks ---------------------------------------------------------------------------


def _queue_webhooks(event: InquiryEvent, now: datetime) -> None:
    inquiry = event.inquiry
    endpoints = (
        WebhookEndpoint.objects.filter(is_active=True)
        .filter(Q(teams__isnull=True) | Q(teams__accounts=inquiry.account_id))
        .distinct()
    )
    payload = {
        "type": event.kind,
        "event_id": event.pk,
        "at": event.at.isoformat(),
        "clock": {
            "kind": event.data.get("clock_kind"),
            "due_at": event.clock.due_at.isoformat() if event.clock else None,
        },
        "inquiry": {
            "id": inquiry.pk,
            "subject": inquiry.subject,
            "status": inquiry.status,
            "priority": inquiry.priority,
            "account": inquiry.account.name,
            "customer": inquiry.customer.address,
            "order_id": inquiry.order_id,
        },
    }
    for endpoint in endpoints:
        if endpoint.kinds and event.kind not in endpoint.kinds:
            continue
        delivery, created = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint,
            dedupe_key=f"event:{event.pk}",
            defaults={"payload": payload, "next_attempt_at": now},
        )
        if created:
            enqueue_after_commit("deliver_webhook", delivery.pk)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """X-Cstracker-Signature value: HMAC-SHA256 over "<timestamp>.<raw body>"."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookFailed(Exception):
    """The receiver did not accept the delivery; the task retries with backoff."""


def deliver_webhook(*, delivery_id: int, timeout: float = 10.0) -> bool:
    """POST one delivery. Redelivery after a worker crash is safe: the receiver gets the same
    X-Cstracker-Delivery id every time and a delivered row is never sent again."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, state__in=(WebhookDelivery.State.PENDING, WebhookDelivery.State.SENDING)
    ).update(state=WebhookDelivery.State.SENDING)
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    WebhookDelivery.objects.filter(pk=delivery_id).update(attempts=delivery.attempts + 1)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "cstracker-webhooks/1",
        "X-Cstracker-Delivery": str(delivery.pk),
        "X-Cstracker-Signature": sign(delivery.endpoint.secret, timestamp, body),
    }
    try:
        answer = outbound.post(delivery.endpoint.url, body, headers, timeout)
    except (ValueError, OSError, http.client.HTTPException) as exc:
        # A refused destination (outbound policy) or a bad URL will not fix itself: no retries.
        permanent = isinstance(exc, ValueError | outbound.BlockedDestination)
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            last_error=_describe(exc)[:2000],
            state=WebhookDelivery.State.FAILED if permanent else WebhookDelivery.State.PENDING,
        )
        if permanent:
            return False
        raise WebhookFailed(_describe(exc)) from exc
    status = answer.status
    if 300 <= status < 400:
        # Redirects are never followed: a receiver could point us at an internal address.
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=WebhookDelivery.State.PENDING,
            last_status_code=status,
            last_error=f"HTTP {status} redirect to {answer.location[:200]!r} not followed; "
            "set the endpoint's URL to where it points",
        )
        raise WebhookFailed(f"HTTP {status}")
    if 200 <= status < 300:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=WebhookDelivery.State.DELIVERED,
            last_status_code=status,
            delivered_at=timezone.now(),
            last_error="",
        )
        return True
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        state=WebhookDelivery.State.PENDING, last_status_code=status, last_error=f"HTTP {status}"
    )
    raise WebhookFailed(f"HTTP {status}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, outbound.BlockedDestination | ValueError):
        return f"refused: {exc}"
    return f"{type(exc).__name__}: {exc}"


def pending_webhook_ids(
    *, now: datetime | None = None, grace: timedelta = timedelta(minutes=10)
) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            state__in=(WebhookDelivery.State.PENDING, WebhookDelivery.State.SENDING),
            next_attempt_at__lte=now - grace,
        ).values_list("pk", flat=True)[:500]
    )


def postpone_webhook(*, delivery_id: int, seconds: int) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        next_attempt_at=timezone.now() + timedelta(seconds=seconds)
    )


def give_up_webhook(*, delivery_id: int, error: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).exclude(state=WebhookDelivery.State.DELIVERED).update(
        state=WebhookDelivery.State.FAILED, last_error=error[:2000]
    )
