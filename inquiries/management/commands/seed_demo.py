"""manage.py seed_demo: a believable week of a small home-goods shop, for trying cstracker out.

Three accounts of one seller, two teams, agents and a manager; the week ending now that
`inquiries.demo_week.plan_week()` plans (messages in the day's rhythm, answers written per
topic, most on time, a few late, two product problems) and the Amazon account's orders,
shipments and feedback over 60 days, imported as the marketplace's own reports. Everything
goes through the services real messages and reports go through, so every clock, event,
cluster and health figure is real. Everything here is made up.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import holidays
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from inquiries import services
from inquiries.demo_week import PRODUCT_NAMES, PlannedInquiry, PlannedOrder, PlannedReply, plan_week, refused
from inquiries.ingestion.order_reports import FORMATS, RowRejected, parse_report
from inquiries.ingestion.types import Direction, IncomingMessage
from inquiries.models import (
    Account,
    Calendar,
    Channel,
    ChannelKind,
    Holiday,
    Inquiry,
    Marketplace,
    Membership,
    Message,
    Priority,
    Role,
    SlaPolicy,
    SlaTarget,
    Team,
    Topic,
)
from inquiries.services import delivery, health
from inquiries.services.complaints import sweep_clusters
from inquiries.services.config import create_channel
from inquiries.services.orders import import_orders, link_inquiries
from inquiries.services.recording import RecordResult
from inquiries.services.sweep import sweep

DEMO_PASSWORD = "cstracker-demo"  # noqa: S105 - printed for the demo on purpose


class Command(BaseCommand):
    help = "Load a demo week (accounts, teams, users, ~200 inquiries, orders). Skips if already loaded."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--inquiries", type=int, default=200, help="Ordinary inquiries of the week.")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, inquiries: int, seed: int, **options: Any) -> None:
        if Account.objects.filter(name__startswith="Acme Home").exists():
            self.stdout.write("Demo data is already loaded.")
            self._print_logins()
            return
        now = timezone.now().replace(microsecond=0)
        week = plan_week(seed=seed, now=now, inquiries=inquiries)
        with transaction.atomic():
            accounts, agents = self._configure()
        self._import_orders(accounts[0], week.orders, now)
        channels = [account.channels.get() for account in accounts]
        topics = {topic.key: topic for topic in Topic.objects.all()}
        for planned in week.inquiries:
            self._record(planned, accounts, channels, agents, topics, now)
        link_inquiries(account_id=accounts[0].pk)  # recorded after their orders were imported
        sweep(now=now)
        sweep_clusters(now=now, lookback=timedelta(days=8))
        health.refresh_today(now=now)
        self.stdout.write(f"Loaded {Inquiry.objects.count()} demo inquiries and {len(week.orders)} orders.")
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write(
            f"Log in as admin, maria (manager), alice or bob (agents); password: {DEMO_PASSWORD}"
        )

    def _configure(self) -> tuple[list[Account], list[Any]]:
        """The seller's accounts, channels, teams, people and SLA policies; the agents: alice, bob, carol."""
        users = _demo_users()
        calendar = _business_calendar()
        accounts = _accounts_and_channels()
        _teams(users, *accounts)
        _sla_policies(calendar)
        return accounts, [users["alice"], users["bob"], users["carol"]]

    def _import_orders(self, account: Account, orders: list[PlannedOrder], now: datetime) -> None:
        """The orders as Amazon's own reports list them, imported as a seller would import them."""
        for name, lines in _amazon_reports(orders):
            rejected: list[str] = []

            def refuse(
                line: int, rejection: RowRejected, name: str = name, rejected: list[str] = rejected
            ) -> None:
                rejected.append(f"{name} line {line}: {rejection}")

            rows = parse_report(io.StringIO("\n".join(lines) + "\n"), FORMATS[name])
            import_orders(account=account, fmt=FORMATS[name], rows=rows, on_rejected=refuse, now=now)
            if rejected:  # the demo writes its own reports: a refused row is a bug here
                raise CommandError("; ".join(rejected[:5]))

    def _record(
        self,
        planned: PlannedInquiry,
        accounts: list[Account],
        channels: list[Channel],
        agents: list[Any],
        topics: dict[str, Topic],
        now: datetime,
    ) -> None:
        account, channel = accounts[planned.account], channels[planned.account]
        opening = _record_customer_message(
            channel,
            planned,
            IncomingMessage(
                external_id=f"demo-{planned.index}-0",
                direction=Direction.INBOUND,
                sender_address=planned.address,
                sender_name=f"{planned.first_name} {planned.last_name}",
                subject=planned.subject,
                body_text=planned.body,
                received_at=planned.received_at,
                order_id=planned.order_id,
                sku=planned.sku,
            ),
            now,
        )
        inquiry = opening.inquiry
        assert inquiry is not None
        agent = agents[2] if account.marketplace == Marketplace.SHOP else agents[planned.index % 2]
        first_look = planned.received_at + timedelta(minutes=4)
        if first_look < now:
            inquiry = _pick_up(planned, inquiry, agent, topics, first_look)
        if planned.reply is None:
            return
        self._reply(planned, planned.reply, inquiry, agent, now)
        if planned.follow_up is not None:
            at, text = planned.follow_up
            _record_customer_message(
                channel,
                planned,
                IncomingMessage(
                    external_id=f"demo-{planned.index}-1",
                    direction=Direction.INBOUND,
                    sender_address=planned.address,
                    sender_name=f"{planned.first_name} {planned.last_name}",
                    subject=f"Re: {planned.subject}" if planned.subject else "",
                    body_text=text,
                    received_at=at,
                    in_reply_to=opening.external_id,
                ),
                now,
            )
            if planned.second_reply is not None:
                self._reply(planned, planned.second_reply, inquiry, agent, now)

    def _reply(
        self, planned: PlannedInquiry, reply: PlannedReply, inquiry: Inquiry, agent: Any, now: datetime
    ) -> None:
        order = planned.order
        text = reply.text.format(
            first=planned.first_name,
            product=PRODUCT_NAMES[planned.sku],
            order=planned.order_id,
            carrier=order.carrier if order and order.carrier else "UPS",
            tracking=order.tracking if order and order.tracking else "1Z" + planned.order_id[-10:],
            agent=agent.first_name,
        )
        with transaction.atomic():  # accepted before its send task could see it queued
            message = services.reply(
                inquiry=inquiry, author=agent, body_text=text, status=reply.status, now=reply.at
            )
            # The demo's relay: it accepts a reply seconds after it is written, and refuses
            # one in forty for good, as a mailbox that no longer exists would.
            if refused(planned.index):
                delivery.reply_not_delivered(
                    message_id=message.pk,
                    reason="550 5.1.1 <buyer>: Recipient address rejected: mailbox unavailable",
                    now=reply.at + timedelta(seconds=20),
                )
            else:
                delivery.accept_reply(
                    message_id=message.pk, at=reply.at + timedelta(seconds=5 + planned.index % 40), now=now
                )


def _demo_users() -> dict[str, Any]:
    """The superuser admin; maria (manager, staff), alice, bob and carol (agents), by name."""
    user_model = get_user_model()
    user_model.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
    return {
        name: user_model.objects.create_user(
            name, f"{name}@example.com", DEMO_PASSWORD, first_name=name.title(), is_staff=name == "maria"
        )
        for name in ("maria", "alice", "bob", "carol")
    }


def _business_calendar() -> Calendar:
    """US Eastern office hours, with the US holidays of last year, this year and next."""
    calendar = Calendar.objects.create(
        name="US Eastern business hours",
        timezone="America/New_York",
        hours={str(d): [["09:00", "18:00"]] for d in range(5)},
    )
    today = timezone.localdate()
    us = holidays.country_holidays("US", years=[today.year - 1, today.year, today.year + 1])
    Holiday.objects.bulk_create(Holiday(calendar=calendar, date=day, name=name) for day, name in us.items())
    return calendar


def _accounts_and_channels() -> list[Account]:
    """The Amazon, Walmart and shop accounts, in that order, each with its one channel."""
    amazon = Account.objects.create(
        name="Acme Home on Amazon US", marketplace=Marketplace.AMAZON, timezone="America/New_York"
    )
    walmart = Account.objects.create(
        name="Acme Home on Walmart", marketplace=Marketplace.WALMART, timezone="America/Chicago"
    )
    shop = Account.objects.create(
        name="Acme Home shop", marketplace=Marketplace.SHOP, timezone="America/New_York"
    )
    # Through the service: an Amazon mailbox takes Amazon's relay senders (the demo's buyers
    # write from marketplace.amazon.example, which they match).
    create_channel(
        channel=Channel(
            account=amazon,
            slug="amazon-us",
            name="Amazon buyer messages",
            kind=ChannelKind.EMAIL,
            address="amazon@acme-home.example",
        )
    )
    Channel.objects.create(
        account=walmart, slug="walmart", name="Walmart seller center", kind=ChannelKind.API
    )
    Channel.objects.create(
        account=shop,
        slug="shop-email",
        name="Shop support mailbox",
        kind=ChannelKind.EMAIL,
        address="help@acme-home.example",
    )
    return [amazon, walmart, shop]


def _teams(users: dict[str, Any], amazon: Account, walmart: Account, shop: Account) -> None:
    """Marketplaces (alice, bob) and Web shop (carol), both managed by maria."""
    marketplaces = Team.objects.create(name="Marketplaces")
    marketplaces.accounts.add(amazon, walmart)
    webshop = Team.objects.create(name="Web shop")
    webshop.accounts.add(shop)
    Membership.objects.create(team=marketplaces, user=users["maria"], role=Role.MANAGER)
    Membership.objects.create(team=webshop, user=users["maria"], role=Role.MANAGER)
    Membership.objects.create(team=marketplaces, user=users["alice"], role=Role.AGENT)
    Membership.objects.create(team=marketplaces, user=users["bob"], role=Role.AGENT)
    Membership.objects.create(team=webshop, user=users["carol"], role=Role.AGENT)


def _sla_policies(calendar: Calendar) -> None:
    """Urgent and high priorities on short targets; low and normal on the standard ones."""
    hour = 3600
    urgent = SlaPolicy.objects.create(
        name="Urgent and high",
        position=10,
        calendar=calendar,
        priorities=[Priority.URGENT, Priority.HIGH],
    )
    SlaTarget.objects.create(
        policy=urgent,
        priority=Priority.URGENT,
        first_reply_seconds=1 * hour,
        next_reply_seconds=2 * hour,
        resolution_seconds=8 * hour,
    )
    SlaTarget.objects.create(
        policy=urgent,
        priority=Priority.HIGH,
        first_reply_seconds=2 * hour,
        next_reply_seconds=4 * hour,
        resolution_seconds=16 * hour,
    )
    standard = SlaPolicy.objects.create(name="Standard", position=100, calendar=calendar)
    for priority in (Priority.LOW, Priority.NORMAL):
        SlaTarget.objects.create(
            policy=standard,
            priority=priority,
            first_reply_seconds=4 * hour,
            next_reply_seconds=8 * hour,
            resolution_seconds=27 * hour,
        )


_STAMP = "%Y-%m-%dT%H:%M:%S+00:00"


def _amazon_reports(orders: list[PlannedOrder]) -> list[tuple[str, list[str]]]:
    """The orders as Amazon's all-orders, FBA shipments and feedback reports: (format, lines)."""
    all_orders = [
        "amazon-order-id\tpurchase-date\torder-status\tfulfillment-channel\tsales-channel\tsku\tquantity\tcurrency"
    ]
    shipments = [
        "amazon-order-id\tshipment-id\tshipment-date\tsku\tquantity-shipped\tbuyer-email\tcarrier\ttracking-number\testimated-arrival-date"
    ]
    feedback = ["date\trating\tcomments\torder id\trater email"]
    for order in orders:
        all_orders.append(_all_orders_line(order))
        if order.shipped_at and order.tracking:
            shipments.append(_shipment_line(order, order.shipped_at))
        if order.feedback:
            rating, comment, left_at = order.feedback
            feedback.append(
                "\t".join([f"{left_at:%Y-%m-%d}", str(rating), comment, order.order_id, order.buyer_email])
            )
    return [
        ("amazon-all-orders", all_orders),
        ("amazon-fba-shipments", shipments),
        ("amazon-feedback", feedback),
    ]


def _all_orders_line(order: PlannedOrder) -> str:
    return "\t".join(
        [
            order.order_id,
            f"{order.purchased_at:{_STAMP}}",
            order.status,
            "Amazon" if order.fba else "Merchant",
            "Amazon.com",
            order.sku,
            str(order.quantity),
            "USD",
        ]
    )


def _shipment_line(order: PlannedOrder, shipped_at: datetime) -> str:
    arrival = shipped_at + timedelta(days=3)
    return "\t".join(
        [
            order.order_id,
            f"D{order.order_id[-7:]}",
            f"{shipped_at:{_STAMP}}",
            order.sku,
            str(order.quantity),
            order.buyer_email,
            order.carrier,
            order.tracking,
            f"{arrival:{_STAMP}}",
        ]
    )


def _record_customer_message(
    channel: Channel, planned: PlannedInquiry, incoming: IncomingMessage, now: datetime
) -> Message:
    result = services.record_message(channel=channel, incoming=incoming, now=now)
    if not isinstance(result, RecordResult):  # only an agent's reply or note is ever held
        raise CommandError(f"demo inquiry {planned.index}: the customer's message was held")
    return result.message


def _pick_up(
    planned: PlannedInquiry, inquiry: Inquiry, agent: Any, topics: dict[str, Topic], at: datetime
) -> Inquiry:
    """The agent who picks it up files it under what the customer asks about, as agents do when
    the model guessed otherwise (the answer is written for that topic), sets its priority and takes it."""
    if inquiry.topic is None or inquiry.topic.key != planned.topic:
        inquiry = services.change_topic(inquiry=inquiry, topic=topics[planned.topic], actor=agent, now=at)
    if planned.priority != Priority.NORMAL:
        services.change_priority(inquiry=inquiry, priority=planned.priority, actor=agent, now=at)
    services.assign(inquiry=inquiry, assignee=agent, actor=agent, now=at)
    return inquiry
