"""Scheduled report digests: who is due, what the e-mail says, and sending it exactly once.

Beat runs `send_due_digests()` every 15 minutes. A subscription is due once its latest
scheduled instant (local `hour`:00, on `weekday` for weekly ones) is later than its last send
(or its creation). The send is claimed first with a conditional UPDATE on `last_sent_at`, so
two beats, or a retried task, never send the same digest twice; if sending fails the claim is
given back and the next beat tries again. A digest covers the day (or week) before its
scheduled instant, in the subscriber's time zone, over the accounts of the chosen teams that
the subscriber may see.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext

from inquiries import words
from inquiries.models import (
    Account,
    ClusterEvent,
    DigestFrequency,
    HealthStatus,
    Inquiry,
    ReportSubscription,
    Team,
)
from inquiries.reports import queries
from inquiries.reports.report import KIND_LABELS
from inquiries.reports.scope import ReportScope, visible_accounts_of_teams
from inquiries.reports.tables import duration, rounded_pct
from inquiries.services.people import language_of

logger = logging.getLogger(__name__)

WORST_WAITING = 5


# --- schedule -------------------------------------------------------------------------------


def scheduled_instant(subscription: ReportSubscription, now: datetime) -> datetime:
    """The latest instant at or before `now` at which this digest is scheduled (UTC).

    On a DST switch day a non-existent local hour resolves to the instant just after the gap,
    and a repeated one to its first occurrence.
    """
    zone = ZoneInfo(subscription.timezone)
    day = now.astimezone(zone).date()
    step = 7 if subscription.frequency == DigestFrequency.WEEKLY else 1
    if step == 7:
        day -= timedelta(days=(day.weekday() - subscription.weekday) % 7)
    at = datetime.combine(day, time(subscription.hour), tzinfo=zone)
    if at > now:
        at = datetime.combine(day - timedelta(days=step), time(subscription.hour), tzinfo=zone)
    return at.astimezone(UTC)


def window(subscription: ReportSubscription, scheduled: datetime) -> tuple[datetime, datetime]:
    """The local day (or week) before the scheduled instant, as UTC instants."""
    zone = ZoneInfo(subscription.timezone)
    local = scheduled.astimezone(zone)
    days = 7 if subscription.frequency == DigestFrequency.WEEKLY else 1
    start = datetime.combine(local.date() - timedelta(days=days), local.time(), tzinfo=zone)
    return start.astimezone(UTC), scheduled


def due_subscriptions(now: datetime) -> list[tuple[ReportSubscription, datetime]]:
    """Active subscriptions whose scheduled instant has passed since their last send."""
    due = []
    candidates = ReportSubscription.objects.filter(is_active=True, user__is_active=True).exclude(
        user__email=""
    )
    for subscription in candidates.select_related("user").order_by("pk"):
        scheduled = scheduled_instant(subscription, now)
        if scheduled > (subscription.last_sent_at or subscription.created_at):
            due.append((subscription, scheduled))
    return due


def claim(subscription: ReportSubscription, scheduled: datetime, now: datetime) -> bool:
    """Take this digest for sending; False when another process already did."""
    not_sent = Q(last_sent_at__lt=scheduled) | Q(last_sent_at__isnull=True, created_at__lt=scheduled)
    return (
        ReportSubscription.objects.filter(not_sent, pk=subscription.pk, is_active=True).update(
            last_sent_at=now
        )
        == 1
    )


# --- content --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KindLine:
    label: str | Promise  # translated when the digest is rendered, in the subscriber's language
    met: int
    missed: int
    breached: int
    compliance: float | None


@dataclass(frozen=True, slots=True)
class WaitingLine:
    inquiry: Inquiry
    waiting: str
    url: str


@dataclass(frozen=True, slots=True)
class HealthLine:
    account: str
    before: str | Promise
    after: str | Promise
    worse: bool


@dataclass(frozen=True, slots=True)
class Digest:
    subscription: ReportSubscription
    start: datetime
    end: datetime
    accounts: list[Account]
    compliance: list[KindLine]
    breaches: list[tuple[str | Promise, int]]
    waiting: list[WaitingLine]
    clusters: list[ClusterEvent]
    health: list[HealthLine]
    report_url: str

    @property
    def subject(self) -> str:
        first = next((line for line in self.compliance if line.label == KIND_LABELS["first_reply"]), None)
        figure = (
            gettext("first-reply compliance %(percent)s") % {"percent": words.percent(first.compliance, 1)}
            if first and first.compliance is not None
            else gettext("no first replies due")
        )
        breaches = sum(n for _, n in self.breaches)
        period = self.subscription.get_frequency_display().lower()
        return gettext("cstracker %(period)s report: %(figure)s, %(breaches)s") % {
            "period": period,
            "figure": figure,
            "breaches": ngettext("%(count)s breach", "%(count)s breaches", breaches)
            % {"count": words.number(breaches)},
        }

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.subscription.timezone))

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(ZoneInfo(self.subscription.timezone))


# "No data" ranks with healthy: gaining data and being healthy is no change worth a line.
HEALTH_RANK = {
    HealthStatus.NO_DATA: 0,
    HealthStatus.HEALTHY: 0,
    HealthStatus.AT_RISK: 1,
    HealthStatus.CRITICAL: 2,
}


def build_digest(subscription: ReportSubscription, scheduled: datetime, now: datetime) -> Digest:
    """Compliance, breaches, worst waiting inquiries, new clusters and health changes of the window."""
    start, end = window(subscription, scheduled)
    accounts = visible_accounts_of_teams(
        subscription.user, list(subscription.teams.values_list("pk", flat=True))
    )
    zone = ZoneInfo(subscription.timezone)
    scope = ReportScope(
        account_ids=tuple(a.pk for a in accounts),
        start=start,
        end=end,
        first_day=start.astimezone(zone).date(),
        last_day=(end - timedelta(microseconds=1)).astimezone(zone).date(),
        tz=subscription.timezone,
        now=now,
    )
    counts, _ = queries.compliance_counts(scope, "total")
    compliance = [
        KindLine(KIND_LABELS[row.kind], row.met, row.missed, row.breached, rounded_pct(row.compliance))
        for row in sorted(counts, key=lambda r: queries.KIND_ORDER.index(r.kind))
    ]
    breaches = queries.breaches_by_kind(scope)
    base = settings.CSTRACKER_BASE_URL.rstrip("/")
    waiting = [
        WaitingLine(
            inquiry,
            duration((now - inquiry.waiting_since).total_seconds()),
            base + reverse("inquiries:detail", args=[inquiry.pk]),
        )
        for inquiry in queries.oldest_waiting(scope, WORST_WAITING)
    ]
    names = {a.pk: a.name for a in accounts}
    health = [
        HealthLine(
            names[c.account_id],
            HealthStatus(c.before).label,
            HealthStatus(c.after).label,
            HEALTH_RANK[HealthStatus(c.after)] > HEALTH_RANK[HealthStatus(c.before)],
        )
        for c in queries.health_changes(scope.account_ids, start, end)
    ]
    return Digest(
        subscription=subscription,
        start=start,
        end=end,
        accounts=accounts,
        compliance=compliance,
        breaches=[(KIND_LABELS.get(kind, kind), n) for kind, n in sorted(breaches.items())],
        waiting=waiting,
        clusters=queries.clusters_opened(scope),
        health=health,
        report_url=base + reverse("inquiries:reports"),
    )


def render_digest(digest: Digest) -> EmailMultiAlternatives:
    context = {"digest": digest, "user": digest.subscription.user}
    with translation.override(language_of(digest.subscription.user)):
        text = render_to_string("email/report_digest.txt", context)
        html = render_to_string("email/report_digest.html", context)
    mail = EmailMultiAlternatives(
        subject=digest.subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[digest.subscription.user.email],
        headers={"Auto-Submitted": "auto-generated", "X-Cstracker-Loop": "report-digest"},
    )
    mail.attach_alternative(html, "text/html")
    return mail


# --- sending --------------------------------------------------------------------------------


def send_due_digests(*, now: datetime | None = None) -> int:
    """Send every digest that is due; returns how many were sent. One failure skips only itself."""
    now = now or timezone.now()
    sent = 0
    for subscription, scheduled in due_subscriptions(now):
        if not claim(subscription, scheduled, now):
            continue  # another beat took it
        try:
            render_digest(build_digest(subscription, scheduled, now)).send()
        except Exception:
            # Give the claim back so the next beat retries; the conditional keeps a newer claim.
            ReportSubscription.objects.filter(pk=subscription.pk, last_sent_at=now).update(
                last_sent_at=subscription.last_sent_at
            )
            logger.exception("report digest %s for %s failed", subscription.pk, subscription.user)
            continue
        sent += 1
    return sent


# --- subscribing ----------------------------------------------------------------------------


@transaction.atomic
def subscribe(
    *,
    user: User,
    frequency: str,
    hour: int,
    weekday: int,
    timezone_name: str,
    teams: list[Team],
) -> ReportSubscription:
    """Create or change the user's digest of this frequency; `teams` must be the user's own."""
    subscription, _ = ReportSubscription.objects.update_or_create(
        user=user,
        frequency=frequency,
        defaults={"hour": hour, "weekday": weekday, "timezone": timezone_name, "is_active": True},
    )
    subscription.teams.set(teams)
    return subscription


def unsubscribe(*, user: User, pk: int) -> bool:
    deleted, _ = ReportSubscription.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)


def subscriptions_of(user: User) -> list[ReportSubscription]:
    return list(ReportSubscription.objects.filter(user=user).prefetch_related("teams").order_by("frequency"))
