"""manage.py seed_demo: invented demo data for trying cstracker out.

Three accounts of one seller, two teams, agents and a manager, and a few hundred
inquiries over the last 30 days, all recorded through the same services real
messages go through, so every clock and event is real. Everything here is made up.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import holidays
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from inquiries import services
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
    Priority,
    Role,
    SlaPolicy,
    SlaTarget,
    Status,
    Team,
)
from inquiries.services import delivery
from inquiries.services.config import create_channel

DEMO_PASSWORD = "cstracker-demo"  # noqa: S105 - printed for the demo on purpose

PRODUCTS = [
    ("AH-KETTLE-02", "glass electric kettle"),
    ("AH-LAMP-11", "bedside lamp"),
    ("AH-MUG-SET4", "set of four stoneware mugs"),
    ("AH-THROW-07", "knitted throw blanket"),
    ("AH-FRAME-35", "oak picture frame"),
    ("AH-CANDLE-3", "soy candle trio"),
    ("AH-VASE-09", "ceramic vase"),
]

FIRST_NAMES = [
    "Maya",
    "Jonas",
    "Priya",
    "Tomás",
    "Aisha",
    "Liam",
    "Sofia",
    "Kenji",
    "Olga",
    "Daniel",
    "Chloé",
    "Mateo",
    "Hannah",
    "Yusuf",
    "Grace",
    "Noah",
    "Ines",
    "Ravi",
    "Emma",
    "Lucas",
]
LAST_NAMES = [
    "Keller",
    "Okafor",
    "Novak",
    "Silva",
    "Larsen",
    "Moreau",
    "Tanaka",
    "Brennan",
    "Haddad",
    "Weiss",
    "Costa",
    "Nguyen",
    "Schmidt",
    "Romero",
    "Patel",
]

# (topic hint, subject, body); {product} and {order} are filled in.
TEMPLATES = [
    (
        "damaged",
        "Item arrived broken",
        "Hi, my {product} arrived broken today, the box was crushed. Order {order}. "
        "Can you send a replacement?",
    ),
    (
        "damaged",
        "Damaged in shipping",
        "The {product} came cracked and there is glass all over the parcel. What should I do? Order {order}",
    ),
    (
        "quality",
        "Stopped working after a week",
        "The {product} stopped working after one week of normal use. "
        "Really disappointed with the quality. Order {order}.",
    ),
    (
        "quality",
        "Poor quality",
        "The {product} feels cheap and the finish is peeling already. Not as described.",
    ),
    (
        "delivery",
        "Where is my order?",
        "Hello, my order {order} was supposed to arrive three days ago and "
        "tracking has not updated since. Where is my package?",
    ),
    (
        "delivery",
        "Package not delivered",
        "Tracking says delivered but I never received the {product}. Order {order}.",
    ),
    (
        "wrong_item",
        "Wrong item received",
        "I ordered the {product} but received something completely different. Order {order}. Please advise.",
    ),
    (
        "missing",
        "Missing parts",
        "The {product} arrived but the box is missing parts, there is no cable. Order {order}.",
    ),
    ("refund", "Return and refund", "I would like to return the {product} and get a refund. Order {order}."),
    (
        "refund",
        "Refund not received",
        "I sent the {product} back two weeks ago and still have no refund. Order {order}.",
    ),
    (
        "billing",
        "Charged twice",
        "I was charged twice for order {order}. Please refund the duplicate payment.",
    ),
    (
        "question",
        "Question about the {product}",
        "Is the {product} dishwasher safe? And does it come in blue?",
    ),
    ("question", "Gift wrapping?", "Can you gift wrap the {product} if I order today?"),
]

# Customers write in their own words: these vary the invented messages around each template.
GREETINGS = [
    "Hi,",
    "Hello,",
    "Good morning.",
    "Hi there!",
    "Dear seller,",
    "Hey,",
    "To whom it may concern:",
    "",
]
DETAILS = [
    "I have been a customer for years and this never happened before.",
    "It was meant to be a birthday present for my sister.",
    "I attached a photo.",
    "Please let me know what you need from me.",
    "The tracking page has not changed in days.",
    "This is the second time I am writing about it.",
    "I paid for faster shipping.",
    "",
]
CLOSINGS = [
    "Thanks.",
    "Regards",
    "Thank you in advance!",
    "Please help.",
    "Best,",
    "Waiting for your answer.",
    "",
]

REPLIES = [
    "Thank you for reaching out, and I'm sorry about this. I have arranged a replacement; you will receive "
    "tracking details within 24 hours.",
    "Thanks for your message. I have checked with the carrier and opened an investigation; I will update you "
    "as soon as I hear back.",
    "Sorry for the trouble! I have issued a full refund to your original payment method.",
    "Happy to help: yes, it is. Let me know if there is anything else.",
]


class Command(BaseCommand):
    help = (
        "Load invented demo data (accounts, teams, users, a few hundred inquiries). Skips if already loaded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--inquiries", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, inquiries: int, seed: int, **options: Any) -> None:
        if Account.objects.filter(name__startswith="Acme Home").exists():
            self.stdout.write("Demo data is already loaded.")
            self._print_logins()
            return
        rng = random.Random(seed)
        now = timezone.now()
        with transaction.atomic():
            accounts, agents = self._configure()
        channels = {a.pk: a.channels.first() for a in accounts}
        for index in range(inquiries):
            self._one_inquiry(rng, index, accounts, channels, agents, now)
        self._burst(rng, accounts[0], channels[accounts[0].pk], now)
        from inquiries.services.sweep import sweep

        sweep(now=now)
        self.stdout.write(f"Loaded {Inquiry.objects.count()} demo inquiries.")
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write(
            f"Log in as admin, maria (manager), alice or bob (agents); password: {DEMO_PASSWORD}"
        )

    def _configure(self) -> tuple[list[Account], list[Any]]:
        user_model = get_user_model()
        user_model.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
        users = {
            name: user_model.objects.create_user(
                name, f"{name}@example.com", DEMO_PASSWORD, first_name=name.title(), is_staff=name == "maria"
            )
            for name in ("maria", "alice", "bob", "carol")
        }
        calendar = Calendar.objects.create(
            name="US Eastern business hours",
            timezone="America/New_York",
            hours={str(d): [["09:00", "18:00"]] for d in range(5)},
        )
        today = timezone.localdate()
        us = holidays.country_holidays("US", years=[today.year - 1, today.year, today.year + 1])
        Holiday.objects.bulk_create(
            Holiday(calendar=calendar, date=day, name=name) for day, name in us.items()
        )
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
        marketplaces = Team.objects.create(name="Marketplaces")
        marketplaces.accounts.add(amazon, walmart)
        webshop = Team.objects.create(name="Web shop")
        webshop.accounts.add(shop)
        Membership.objects.create(team=marketplaces, user=users["maria"], role=Role.MANAGER)
        Membership.objects.create(team=webshop, user=users["maria"], role=Role.MANAGER)
        Membership.objects.create(team=marketplaces, user=users["alice"], role=Role.AGENT)
        Membership.objects.create(team=marketplaces, user=users["bob"], role=Role.AGENT)
        Membership.objects.create(team=webshop, user=users["carol"], role=Role.AGENT)
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
        return [amazon, walmart, shop], [users["alice"], users["bob"], users["carol"]]

    def _one_inquiry(
        self,
        rng: random.Random,
        index: int,
        accounts: list[Account],
        channels: dict[int, Channel],
        agents: list[Any],
        now: datetime,
    ) -> None:
        account = rng.choices(accounts, weights=[6, 3, 2])[0]
        channel = channels[account.pk]
        sku, product = rng.choice(PRODUCTS)
        _topic, subject, body = rng.choice(TEMPLATES)
        order = f"{rng.randint(100, 999)}-{rng.randint(1000000, 9999999)}-{rng.randint(1000000, 9999999)}"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if account.marketplace == Marketplace.AMAZON:
            address = (
                f"{''.join(rng.choices('abcdefghjkmnpqrstvwxyz0123456789', k=14))}@marketplace.amazon.example"
            )
        else:
            address = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com"
        received = now - timedelta(days=rng.uniform(0, 30))
        received = received.replace(microsecond=0)
        result = services.record_message(
            channel=channel,
            incoming=IncomingMessage(
                external_id=f"demo-{index}-0",
                direction=Direction.INBOUND,
                sender_address=address,
                sender_name=f"{first} {last}",
                subject=subject.format(product=product, order=order),
                body_text=" ".join(
                    [
                        rng.choice(GREETINGS),
                        body.format(product=product, order=order),
                        rng.choice(DETAILS),
                        rng.choice(CLOSINGS),
                    ]
                ),
                received_at=received,
                order_id=order if account.marketplace != Marketplace.SHOP else "",
                sku=sku,
            ),
            now=now,
        )
        inquiry = result.message.inquiry
        assert inquiry is not None
        agent = agents[2] if account.marketplace == Marketplace.SHOP else rng.choice(agents[:2])
        if rng.random() < 0.15:
            services.change_priority(
                inquiry=inquiry,
                priority=rng.choice([Priority.HIGH, Priority.URGENT]),
                actor=agent,
                now=received + timedelta(minutes=5),
            )
        if rng.random() < 0.7:
            services.assign(
                inquiry=inquiry, assignee=agent, actor=agent, now=received + timedelta(minutes=10)
            )
        # Most get a reply, some late; the newest are still waiting, which fills the queue.
        delay = timedelta(hours=rng.choice([0.5, 1, 2, 3, 5, 8, 20, 30, 50]))
        # Old conversations were nearly all answered and closed; the last days fill the queue.
        answered = 0.97 if now - received > timedelta(days=3) else 0.6
        if received + delay < now and rng.random() < answered:
            reply_at = received + delay
            settled = now - reply_at > timedelta(days=2)
            status = (
                Status.SOLVED
                if settled and rng.random() < 0.9
                else rng.choice([Status.SOLVED, Status.PENDING, Status.OPEN])
            )
            with transaction.atomic():  # accepted before its send task could see it queued
                reply = services.reply(
                    inquiry=inquiry, author=agent, body_text=rng.choice(REPLIES), status=status, now=reply_at
                )
                # The demo's relay: it accepts a reply seconds after it is written, and refuses
                # one in forty for good, as a mailbox that no longer exists would.
                if index % 40 == 7:
                    delivery.reply_not_delivered(
                        message_id=reply.pk,
                        reason="550 5.1.1 <buyer>: Recipient address rejected: mailbox unavailable",
                        now=reply_at + timedelta(seconds=20),
                    )
                else:
                    delivery.accept_reply(
                        message_id=reply.pk, at=reply_at + timedelta(seconds=5 + index % 40), now=now
                    )
            follow_at = reply_at + timedelta(hours=rng.uniform(1, 30))
            if follow_at < now and rng.random() < 0.3:
                services.record_message(
                    channel=channel,
                    incoming=IncomingMessage(
                        external_id=f"demo-{index}-1",
                        direction=Direction.INBOUND,
                        sender_address=address,
                        sender_name=f"{first} {last}",
                        subject=f"Re: {subject.format(product=product, order=order)}",
                        body_text="Thanks, but I still have not heard anything back. Any update?",
                        received_at=follow_at,
                        thread_id="",
                        in_reply_to=result.message.external_id,
                    ),
                    now=now,
                )

    def _burst(self, rng: random.Random, account: Account, channel: Channel, now: datetime) -> None:
        """A recent run of 'arrived cracked' complaints about one kettle: the demo's cluster."""
        for index in range(9):
            received = (now - timedelta(hours=rng.uniform(1, 40))).replace(microsecond=0)
            order = f"{rng.randint(100, 999)}-{rng.randint(1000000, 9999999)}-{rng.randint(1000000, 9999999)}"
            services.record_message(
                channel=channel,
                incoming=IncomingMessage(
                    external_id=f"demo-burst-{index}",
                    direction=Direction.INBOUND,
                    sender_address=f"buyer{index}{rng.randint(100, 999)}@marketplace.amazon.example",
                    sender_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    subject="Kettle arrived cracked",
                    body_text=f"My glass electric kettle arrived cracked, the glass is broken. Order {order}.",
                    received_at=received,
                    order_id=order,
                    sku="AH-KETTLE-02",
                ),
                now=now,
            )
