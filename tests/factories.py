"""factory_boy factories for the domain; tests build what they need and nothing more."""

from __future__ import annotations

from datetime import UTC, datetime

import factory
from django.contrib.auth import get_user_model

from inquiries import models as m
from inquiries.ingestion.types import Direction, IncomingMessage


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("password")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Account

    name = factory.Sequence(lambda n: f"Account {n}")
    marketplace = m.Marketplace.SHOP
    timezone = "UTC"


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Channel

    account = factory.SubFactory(AccountFactory)
    slug = factory.Sequence(lambda n: f"channel-{n}")
    name = factory.LazyAttribute(lambda c: c.slug)
    kind = m.ChannelKind.API


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Team

    name = factory.Sequence(lambda n: f"Team {n}")


class CalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Calendar

    name = factory.Sequence(lambda n: f"Calendar {n}")
    timezone = "UTC"
    is_24x7 = True


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.SlaPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    position = 100
    calendar = None


def policy_with_targets(
    *,
    first_reply: int | None = 3600,
    next_reply: int | None = 7200,
    resolution: int | None = 86400,
    calendar: m.Calendar | None = None,
    warn_ratio: float = 0.75,
    **kwargs: object,
) -> m.SlaPolicy:
    """One policy with the same targets for every priority."""
    policy = SlaPolicyFactory.create(calendar=calendar, warn_ratio=warn_ratio, **kwargs)
    for priority in m.Priority.values:
        m.SlaTarget.objects.create(
            policy=policy,
            priority=priority,
            first_reply_seconds=first_reply,
            next_reply_seconds=next_reply,
            resolution_seconds=resolution,
        )
    return policy


_counter = iter(range(1, 10**9))


def incoming(**overrides: object) -> IncomingMessage:
    """An inbound customer message with sensible defaults; override any field."""
    values: dict[str, object] = {
        "external_id": f"ext-{next(_counter)}",
        "direction": Direction.INBOUND,
        "sender_address": "buyer@example.com",
        "sender_name": "Buyer",
        "subject": "Where is my order?",
        "body_text": "Hello, my parcel has not arrived.",
        "received_at": datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return IncomingMessage(**values)  # type: ignore[arg-type]


def delivered_reply(
    *, inquiry: m.Inquiry, author: object, at: datetime, body_text: str = "Thanks, on it.", **kwargs: object
) -> m.Message:
    """An agent's reply written at `at` and accepted for delivery at the same instant: the
    customer is answered at `at` (what a reply that left at once does)."""
    from inquiries import services
    from inquiries.services import delivery

    reply = services.reply(inquiry=inquiry, author=author, body_text=body_text, now=at, **kwargs)  # type: ignore[arg-type]
    delivery.accept_reply(message_id=reply.pk, at=at, now=at)
    reply.refresh_from_db()
    return reply
