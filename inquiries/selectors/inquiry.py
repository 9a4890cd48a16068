"""The inquiry and what hangs off it: access (`inquiries_for`, `get_inquiry_for_user`: the one
place a user's inquiries are scoped, built on `visible_to(user)`), the inquiry page's thread,
timeline and attachments, the API's detail, events and outbox.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from inquiries.models import (
    Attachment,
    ChannelKind,
    Clock,
    Direction,
    Inquiry,
    InquiryEvent,
    Message,
    OrderLine,
)
from inquiries.models.inquiries import InquiryQuerySet


def inquiries_for(user: User | AnonymousUser) -> InquiryQuerySet:
    return Inquiry.objects.visible_to(user).select_related(
        "customer", "channel", "topic", "assignee", "account"
    )


def inquiry_detail_for(user: User | AnonymousUser) -> InquiryQuerySet:
    return inquiries_for(user).prefetch_related(
        Prefetch("messages", queryset=Message.objects.order_by("received_at", "id")),
        Prefetch("clocks", queryset=Clock.objects.select_related("calendar").order_by("started_at", "id")),
    )


def get_inquiry_for_user(
    user: User | AnonymousUser, pk: int, queryset: QuerySet[Inquiry] | None = None
) -> Inquiry:
    """The inquiry if the user may see it; another team's inquiry is a 404, like a missing one."""
    queryset = queryset if queryset is not None else inquiries_for(user)
    try:
        return queryset.get(pk=pk)
    except (Inquiry.DoesNotExist, ValueError, TypeError):
        raise Http404("No such inquiry.") from None


def outbox_for(user: User | AnonymousUser) -> QuerySet[Message]:
    """Queued replies on the channels cstracker cannot send on itself (API, CSV, webhook), of
    the inquiries the user may see, oldest first, with what an outbox item shows joined in."""
    return (
        Message.objects.filter(
            direction=Direction.OUTBOUND,
            delivery_state=Message.DeliveryState.QUEUED,
            inquiry__in=Inquiry.objects.visible_to(user).values("pk"),
        )
        .exclude(channel__kind=ChannelKind.EMAIL)
        .select_related("channel", "author", "inquiry__customer")
        .defer("raw")
    )


def get_reply_for_user(user: User | AnonymousUser, pk: int) -> Message:
    """A reply (outbound message) in an inquiry the user may see; otherwise a 404, like a missing one."""
    reply = (
        Message.objects.filter(
            pk=pk, direction=Direction.OUTBOUND, inquiry__in=Inquiry.objects.visible_to(user).values("pk")
        )
        .select_related("channel")
        .defer("raw")
        .first()
    )
    if reply is None:
        raise Http404("No such reply.")
    return reply


def events_for(user: User | AnonymousUser, inquiry_pk: int) -> QuerySet[InquiryEvent]:
    inquiry = get_inquiry_for_user(user, inquiry_pk, Inquiry.objects.visible_to(user))
    return InquiryEvent.objects.filter(inquiry=inquiry).select_related("actor").order_by("at", "id")


def with_clock_state(queryset: QuerySet[Inquiry], state: str) -> QuerySet[Inquiry]:
    """Inquiries with at least one clock in `state` (breached, at_risk, running...)."""
    return queryset.filter(pk__in=Clock.objects.filter(state=state).values("inquiry_id"))


def with_texts(queryset: InquiryQuerySet) -> InquiryQuerySet:
    """`Inquiry.objects.with_texts()` on any inquiry queryset: `preview` and `first_text`."""
    return queryset.with_texts()


def inquiry_page_for(user: User | AnonymousUser) -> InquiryQuerySet:
    """Inquiries with their thread (attachments without their bytes) and clocks prefetched, and
    their linked order joined (its lines' SKUs: one query more, only when there is an order)."""
    attachments = Attachment.objects.defer("content").order_by("id")
    messages = (
        Message.objects.defer("raw")
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=attachments))
        .order_by("received_at", "id")
    )
    return (
        inquiries_for(user)
        .select_related("linked_order")
        .prefetch_related(
            Prefetch("messages", queryset=messages),
            Prefetch("clocks", queryset=Clock.objects.order_by("started_at", "id")),
            Prefetch("linked_order__lines", queryset=OrderLine.objects.only("order_id", "sku", "quantity")),
        )
    )


def timeline(inquiry: Inquiry) -> QuerySet[InquiryEvent]:
    """The event history of an inquiry already fetched through the access check."""
    return InquiryEvent.objects.filter(inquiry=inquiry).select_related("actor").order_by("at", "id")


def customer_inquiries(user: User | AnonymousUser, inquiry: Inquiry, limit: int = 20) -> list[Inquiry]:
    """The customer's other inquiries the user may see, newest first, with their first words
    (`first_text`, the title of a subjectless one) and latest ones (`preview`)."""
    others = inquiries_for(user).filter(customer_id=inquiry.customer_id).exclude(pk=inquiry.pk)
    return list(with_texts(others).order_by("-opened_at", "-id")[:limit])


def attachment_for(user: User | AnonymousUser, inquiry_pk: int, attachment_pk: int) -> Attachment:
    """An attachment of an inquiry the user may see, with its bytes; otherwise a 404."""
    inquiry = get_inquiry_for_user(user, inquiry_pk, Inquiry.objects.visible_to(user))
    try:
        return Attachment.objects.get(pk=attachment_pk, message__inquiry=inquiry, content__isnull=False)
    except (Attachment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such attachment.") from None


def inline_image(inquiry_pk: int, attachment_pk: int, content_types: frozenset[str]) -> Attachment:
    """A picture attached to a message of this inquiry, with its bytes; otherwise a 404. The
    caller has checked the signed URL that names both ids."""
    item = (
        Attachment.objects.filter(pk=attachment_pk, message__inquiry_id=inquiry_pk, content__isnull=False)
        .exclude(content_id="")
        .first()
    )
    if item is None or item.content_type.split(";")[0].strip().lower() not in content_types:
        raise Http404("No such image.")
    return item
