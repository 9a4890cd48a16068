"""Read side: every query used twice lives here, with its joins built in.

All of them start from `visible_to(user)`, the one place access is scoped.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from inquiries.models import Clock, ClockState, Inquiry, InquiryEvent, Message


def inquiries_for(user: AbstractBaseUser) -> QuerySet[Inquiry]:
    return Inquiry.objects.visible_to(user).select_related("customer", "channel", "topic", "assignee", "account")


def inquiry_detail_for(user: AbstractBaseUser) -> QuerySet[Inquiry]:
    return inquiries_for(user).prefetch_related(
        Prefetch("messages", queryset=Message.objects.order_by("received_at", "id")),
        Prefetch("clocks", queryset=Clock.objects.select_related("calendar").order_by("started_at", "id")),
    )


def get_inquiry_for_user(user: AbstractBaseUser, pk: int, queryset: QuerySet[Inquiry] | None = None) -> Inquiry:
    """The inquiry if the user may see it; another team's inquiry is a 404, like a missing one."""
    queryset = queryset if queryset is not None else inquiries_for(user)
    try:
        return queryset.get(pk=pk)
    except (Inquiry.DoesNotExist, ValueError, TypeError):
        raise Http404("No such inquiry.") from None


def events_for(user: AbstractBaseUser, inquiry_pk: int) -> QuerySet[InquiryEvent]:
    inquiry = get_inquiry_for_user(user, inquiry_pk, Inquiry.objects.visible_to(user))
    return InquiryEvent.objects.filter(inquiry=inquiry).select_related("actor").order_by("at", "id")


def with_clock_state(queryset: QuerySet[Inquiry], state: str) -> QuerySet[Inquiry]:
    """Inquiries with at least one clock in `state` (breached, at_risk, running...)."""
    return queryset.filter(pk__in=Clock.objects.filter(state=state).values("inquiry_id"))


def clock_elapsed_seconds(clock: Clock, now: datetime | None = None) -> int | None:
    """Business seconds counted so far (or at the stop), excluding paused time."""
    if clock.elapsed_seconds is not None:
        return clock.elapsed_seconds
    from inquiries.services.clocks import business_calendar, marketplace_rule

    now = now or timezone.now()
    at = clock.paused_at if clock.state == ClockState.PAUSED and clock.paused_at else now
    if clock.kind == "marketplace_reply" and clock.calendar_id is None:
        rule = marketplace_rule(clock.inquiry.account)
        calendar = rule[1] if rule else business_calendar(None)
    else:
        calendar = business_calendar(clock.calendar)
    if at <= clock.started_at:
        return 0
    return max(0, calendar.elapsed(clock.started_at, at) - clock.paused_business_seconds)

