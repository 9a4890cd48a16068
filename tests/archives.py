"""Seeded random mail archives: the input of `test_recording_equivalence.py`.

An `Archive(seed)` writes two things, each the same for the same seed:

- `history()`: what is stored before the archive, as steps to replay one by one: conversations
  of a handful of customers in every state (new, answered, pending, solved inside and after
  the reopen window, closed, an order last active near the end of the order-threading
  window), with explicit thread ids, order ids and agents' replies, a bounce that matched
  nothing, and sometimes an agent's reply held for a message the archive brings;
- `messages(inquiry_ids)`: the archive itself, (channel slug, IncomingMessage) in input order,
  a mix of everything the recording rules distinguish (see `Archive.ACTIONS`).

The generator keeps a rough model of the conversations (who wrote which message) only to make
plausible references; where a message actually lands is for the recording rules to decide.
Pure: no database. The caller stores the history and hands back the inquiry ids it got, which
ticket references ("[#123]") name.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from inquiries.ingestion.types import Direction, IncomingAttachment, IncomingMessage

MAIN, SECOND, OTHER, INACTIVE = "main", "second", "other", "inactive"  # channel slugs
ACCOUNT_CHANNELS = (MAIN, SECOND)  # one account; OTHER is another account's, INACTIVE refuses all
AGENT = "agent@shop.example"
VIP = "c0@example.com"  # the caller stores this customer with the tag "vip" before the history
BASE = datetime(2026, 4, 6, 7, 0, tzinfo=UTC)
UNKNOWN_INQUIRY = 987_654_321  # a ticket number no inquiry has

SUBJECTS = (
    "Where is my order?",
    "Parcel has not arrived",
    "Item arrived damaged",
    "The lamp stopped working",
    "Refund please",
    "Wrong item received",
    "Missing parts in the box",
    "Question about sizing",
    "Hello",
    "Invoice needed",
    "Paket nicht angekommen",
    "",
)
BODIES = (
    "Hello, my parcel has not arrived yet.",
    "The box was crushed and the glass is cracked.",
    "It stopped working after two days, can I get a refund?",
    "I received a blue one, I ordered red.",
    "Could you tell me if this fits a 42?",
    "Thanks!",
    "Please send me an invoice with VAT.",
    "",
)


@dataclass
class Conversation:
    """The generator's own idea of a conversation (the rules may well disagree)."""

    channel: str
    customer: str
    subject: str
    ids: list[str] = field(default_factory=list)  # external ids, customers' and agents', in order
    order_id: str = ""
    thread_id: str = ""
    inquiry_id: int | None = None  # history only, once stored


@dataclass(frozen=True)
class Step:
    """One step of the history: record `incoming` on `channel` (`now` = its receipt time), or
    give the inquiry opened by the message `opener` of `channel` the `status` at `at`."""

    at: datetime
    channel: str = ""
    incoming: IncomingMessage | None = None
    opener: str = ""
    status: str = ""


Item = tuple[str, IncomingMessage]


class Archive:
    """The history and the archive of one seed."""

    # What the archive is made of, with weights (methods `_<name>`).
    ACTIONS: tuple[tuple[str, float], ...] = (
        ("new", 22),  # a new conversation (maybe with an order id, sku, thread id, attachments)
        ("reply", 14),  # a customer's reply by In-Reply-To (sometimes from another address)
        ("references", 8),  # a customer's reply by References only
        ("thread", 5),  # a message with an explicit thread id of a known conversation
        ("ticket", 6),  # "[#id]" in the subject: own customer, another one, no such inquiry
        ("order", 8),  # the same order again, no references: order-id threading
        ("automatic", 5),  # bounces, auto-replies, list mail
        ("duplicate", 6),  # the same external id again: of the archive or already stored
        ("agent", 10),  # an agent's reply (outbound), some with nothing to attach to
        ("note", 4),  # an internal note
        ("invalid", 4),  # rejected by validation
        ("redelivery", 2),  # a rejected copy first, the good copy later
        ("forward", 2),  # a reply naming a message that comes later in the archive
        ("early", 4),  # an agent's reply or note before its parent: held, then attached (or never)
        ("other_channel", 3),  # an external id of the main channel on the second one
        ("tie", 0.5),  # a customer's two conversations at the same instant, then replies naming both
    )

    def __init__(self, seed: int, *, reopen_days: int, order_days: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        rng = self.rng
        self.reopen_days = reopen_days
        self.order_days = order_days
        self.t0 = BASE + timedelta(days=rng.randint(0, 150), minutes=rng.randrange(0, 24 * 60, 5))
        self.now = self.t0 + timedelta(hours=rng.randint(30, 80))
        self.marketplace = rng.choice(("amazon", "amazon", "shop", "ebay"))
        self.timezone = rng.choice(("UTC", "Europe/Berlin", "America/New_York"))
        self.history_starts_on: date | None = (
            (self.t0 - timedelta(days=70)).date() if rng.random() < 0.3 else None
        )
        self.customers = [f"c{n}@example.com" for n in range(8)]
        nameless = set(rng.sample(self.customers, 3))
        # Customers that write without a display name until they give one (`_name`).
        self.names = {
            address: "" if address in nameless else f"Customer {n}"
            for n, address in enumerate(self.customers)
        }
        self.given = {address: address not in nameless for address in self.customers}
        self.conversations: list[Conversation] = []
        self.sent: list[Item] = []  # every archive message so far, for duplicates
        self.stored: list[Item] = []  # every history message, for redeliveries
        self.deferred: list[Callable[[], list[Item]]] = []  # messages that come later
        self.reserved: list[str] = []  # ids named before the message that has them comes
        self.early_parents: list[str] = []  # a reply of the history waits for these (held)
        self.cursor = self.t0
        self.counter = 0
        # Subjects longer than their column, in a few archives only (`_new`).
        self.long_subjects = rng.random() < 0.05
        self.used: Counter[str] = Counter()  # the actions the archive was made of

    # --- history ---------------------------------------------------------------------------

    def history(self) -> list[Step]:
        """The steps to replay before the archive, in time order."""
        rng = self.rng
        fates = ["solved_edge", "order_edge"] + [
            rng.choice(("new", "answered", "pending", "solved", "solved_edge", "solved_old", "closed"))
            for _ in range(rng.randint(0, 2))
        ]
        rng.shuffle(fates)
        steps: list[Step] = []
        for n, fate in enumerate(fates):
            steps += self._history_conversation(n, fate)
        bounce = IncomingMessage(
            external_id="h-bounce",
            direction=Direction.INBOUND,
            sender_address="",
            subject="Undelivered Mail Returned to Sender",
            received_at=self.t0 - timedelta(days=2),
            automatic=True,
            automatic_reason="bounce",
        )
        steps.append(Step(at=bounce.received_at, channel=MAIN, incoming=bounce))  # type: ignore[arg-type]
        self.stored.append((MAIN, bounce))
        # Another account's inquiry, for ticket references across accounts.
        steps += self._history_conversation(len(fates), "new", channel=OTHER)
        if rng.random() < 0.4:
            # An agent's reply to a message the archive brings: held before the archive starts.
            early = IncomingMessage(
                external_id="h-early-reply",
                direction=Direction.OUTBOUND,
                sender_address=AGENT,
                sender_name="Agent",
                subject="Re: your message",
                body_text="Thank you, we are on it.",
                received_at=self.t0 - timedelta(hours=rng.randint(1, 30)),
                in_reply_to="h-early",
            )
            steps.append(Step(at=early.received_at, channel=MAIN, incoming=early))  # type: ignore[arg-type]
            self.early_parents.append("h-early")
        steps.sort(key=lambda step: step.at)  # stable: a conversation's steps keep their order
        return steps

    def _history_conversation(self, n: int, fate: str, channel: str | None = None) -> list[Step]:
        rng = self.rng
        t0 = self.t0
        customer = rng.choice(self.customers)
        channel = channel or rng.choice((MAIN, MAIN, MAIN, SECOND))
        conversation = Conversation(
            channel=channel,
            customer=customer,
            subject=rng.choice(SUBJECTS),
            order_id=f"111-{n:07d}-{self.seed % 10_000_000:07d}" if rng.random() < 0.5 else "",
            thread_id=f"h-thread-{n}" if rng.random() < 0.25 else "",
        )
        hours = lambda low, high: timedelta(minutes=rng.randint(low * 60, high * 60))  # noqa: E731
        end: datetime  # when the conversation's last step happens
        if fate == "new":
            end = t0 - hours(2, 120)
        elif fate in ("answered", "pending"):
            end = t0 - hours(24, 144)
        elif fate == "solved":
            end = t0 - hours(24, 240)
        elif fate == "solved_edge":  # the archive's replies fall both sides of the reopen window
            end = t0 - timedelta(days=self.reopen_days) + hours(-6, 40)
        elif fate == "solved_old":
            end = t0 - timedelta(days=self.reopen_days) - hours(24, 600)
        elif fate == "closed":
            end = t0 - hours(24, 480)
        else:  # order_edge: last active near the end of the order-threading window
            end = t0 - timedelta(days=self.order_days) + hours(-10, 40)
            conversation.order_id = f"222-{n:07d}-{self.seed % 10_000_000:07d}"
        answered = fate != "new" and rng.random() < 0.85
        opened = end - hours(3, 60)
        messages = [
            IncomingMessage(
                external_id=f"h{n}-open",
                direction=Direction.INBOUND,
                sender_address=customer,
                sender_name=self.names[customer],
                subject=conversation.subject,
                body_text=rng.choice(BODIES),
                received_at=opened,
                order_id=conversation.order_id,
                sku=rng.choice(("", "", "LAMP-1")),
                thread_id=conversation.thread_id,
            )
        ]
        if answered:
            messages.append(
                IncomingMessage(
                    external_id=f"h{n}-agent",
                    direction=Direction.OUTBOUND,
                    sender_address=AGENT,
                    sender_name="Agent",
                    subject=f"Re: {conversation.subject}",
                    body_text="We are looking into it.",
                    received_at=opened + (end - opened) / 3,
                    in_reply_to=f"h{n}-open",
                )
            )
            if rng.random() < 0.3:
                messages.append(
                    IncomingMessage(
                        external_id=f"h{n}-again",
                        direction=Direction.INBOUND,
                        sender_address=customer,
                        sender_name=self.names[customer],
                        subject=f"Re: {conversation.subject}",
                        body_text=rng.choice(BODIES),
                        received_at=opened + (end - opened) * 2 / 3,
                        in_reply_to=f"h{n}-agent",
                        references=(f"h{n}-open", f"h{n}-agent"),
                    )
                )
        if fate == "order_edge" and rng.random() < 0.5:
            # The order's last activity is a message at `end` itself.
            messages.append(
                replace(messages[0], external_id=f"h{n}-late", received_at=end, in_reply_to=f"h{n}-open")
            )
        conversation.ids = [m.external_id for m in messages]
        self.conversations.append(conversation)
        self.stored += [(channel, m) for m in messages]
        steps = [Step(at=m.received_at, channel=channel, incoming=m) for m in messages]  # type: ignore[arg-type]
        opener = messages[0].external_id
        if fate == "pending":
            steps.append(Step(at=end, channel=channel, opener=opener, status="pending"))
        elif fate in ("solved", "solved_edge", "solved_old"):
            steps.append(Step(at=end, channel=channel, opener=opener, status="solved"))
        elif fate == "closed":
            steps.append(Step(at=end - timedelta(hours=1), channel=channel, opener=opener, status="solved"))
            steps.append(Step(at=end, channel=channel, opener=opener, status="closed"))
        elif fate == "order_edge" and rng.random() < 0.4:
            steps.append(Step(at=end + timedelta(minutes=1), channel=channel, opener=opener, status="solved"))
        return steps

    # --- the archive -----------------------------------------------------------------------

    def messages(
        self,
        inquiry_ids: Mapping[str, int],
        *,
        hint: Callable[[str], tuple[str, str]] | None = None,
    ) -> list[Item]:
        """The archive: 10 to 60 messages or so, in input order.

        `inquiry_ids`: the inquiry of each history conversation, by its opening message's
        external id. `hint`: the topic hint a parsing adapter would attach to a text
        (`complaints.rules.topic_hint`); given to some messages.
        """
        rng = self.rng
        for conversation in self.conversations:
            conversation.inquiry_id = inquiry_ids.get(conversation.ids[0])
        size = 10 + int(50 * rng.random() ** 4)  # 10 to 60, mostly small: 20 on average
        for parent in self.early_parents:
            self.deferred.append(lambda parent=parent: self._new(external_id=parent, channel=MAIN))
        names, weights = zip(*self.ACTIONS, strict=True)
        items: list[Item] = []
        while len(items) < size:
            if self.deferred and rng.random() < 0.25:
                items += self.deferred.pop(0)()
                continue
            action = rng.choices(names, weights)[0]
            self.used[action] += 1
            items += getattr(self, f"_{action}")()
        while self.deferred:
            items += self.deferred.pop(0)()
        while self.reserved:  # a reply named it: it comes, after the reply
            items += self._new(external_id=self.reserved.pop(0))
        if hint is not None:
            items = [
                (channel, replace(m, topic_hint=hint(m.topic_text())) if rng.random() < 0.4 else m)
                for channel, m in items
            ]
        return items

    def _id(self, prefix: str = "a") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _when(self) -> datetime | None:
        """A receipt time: mostly later than the one before (ties included: equal times are
        where the rules must break ties alike), sometimes earlier, or none ("now")."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            return None
        if roll < 0.05:
            return self.now + timedelta(minutes=2)  # ahead of `now`, within the tolerance
        step = rng.choice((0, 0, 0, 1, 2, 5, 15, 30, 60, 120, 240, 720))
        self.cursor = min(self.cursor + timedelta(minutes=step), self.now)
        if roll < 0.17:  # out of time order: before messages listed ahead of it
            return self.cursor - timedelta(minutes=rng.choice((1, 30, 180, 1440, 4000)))
        return self.cursor

    def _customer(self, conversation: Conversation | None = None) -> str:
        """A customer address: the conversation's own mostly, else anyone's or a new one."""
        rng = self.rng
        if conversation is not None and rng.random() < 0.8:
            return conversation.customer
        if rng.random() < 0.6:
            return rng.choice(self.customers)
        address = f"n{len(self.customers)}@example.net"
        self.customers.append(address)
        self.names[address] = rng.choice(("", f"New {len(self.customers)}"))
        self.given[address] = bool(self.names[address])
        return address

    def _name(self, address: str) -> str:
        """Nameless customers give their name at some point; anyone may leave it out."""
        rng = self.rng
        if not self.given.get(address):
            if rng.random() < 0.35:
                self.given[address] = True
                self.names[address] = f"Named {address.split('@')[0]}"
            return ""
        roll = rng.random()
        if roll < 0.1:
            return ""
        if roll < 0.15:
            return f"Alias {address.split('@')[0]}"
        return self.names[address]

    def _written(self, address: str) -> str:
        """The address as the customer's mail program writes it (the rules normalise it)."""
        return address.upper() if self.rng.random() < 0.08 else address

    def _conversation(self, *, with_thread: bool = False, with_order: bool = False) -> Conversation | None:
        candidates = [
            c
            for c in self.conversations
            if (c.thread_id or not with_thread) and (c.order_id or not with_order) and c.ids
        ]
        if not candidates:
            return None
        # The later ones more often: conversations of the archive are where the replies go.
        return self.rng.choice(candidates[-6:] if self.rng.random() < 0.6 else candidates)

    def _message(self, channel: str, **fields: object) -> Item:
        rng = self.rng
        fields.setdefault("external_id", self._id())
        fields.setdefault("direction", Direction.INBOUND)
        fields.setdefault("body_text", rng.choice(BODIES))
        if "received_at" not in fields:
            fields["received_at"] = self._when()
        at = fields["received_at"]
        if at is not None and rng.random() < 0.3:
            fields.setdefault("sent_at", at - timedelta(minutes=rng.randint(0, 90)))
        item = (channel, IncomingMessage(**fields))  # type: ignore[arg-type]
        self.sent.append(item)
        return item

    def _new(
        self,
        *,
        external_id: str = "",
        customer: str = "",
        channel: str = "",
        order_id: str | None = None,
        thread_id: str | None = None,
        **fields: object,
    ) -> list[Item]:
        rng = self.rng
        channel = channel or rng.choice((MAIN,) * 15 + (SECOND,) * 3 + (OTHER,) * 2)
        customer = customer or self._customer()
        sku = ""
        if order_id is None:
            own_orders = [c for c in self.conversations if c.customer == customer and c.order_id]
            roll = rng.random()
            if roll < 0.2 and own_orders:
                order_id = rng.choice(own_orders).order_id  # inside or outside the threading window
            elif roll < 0.55:
                order_id = f"333-{self.counter:07d}-{rng.randrange(10_000_000):07d}"
            else:
                order_id = ""
        if rng.random() < 0.3:
            sku = rng.choice(("LAMP-1", "MUG-2", "SOCK-3"))
        subject = rng.choice(SUBJECTS)
        if self.long_subjects and rng.random() < 0.2:
            # Longer than the subject column (998): the words past the cut decide the topic.
            subject = "Question " + "about my purchase " * 60 + "it arrived damaged, refund"
        extra: dict[str, object] = {}
        if rng.random() < 0.08:
            extra["attachments"] = (
                IncomingAttachment("photo.jpg", "image/jpeg", 3, b"abc"),
                IncomingAttachment("label.pdf", "application/pdf", 10, None),
            )
        if rng.random() < 0.05:
            extra["raw"] = b"From: someone\r\nSubject: raw\r\n\r\nbody"
            extra["notes"] = ("a part over the cap was left out",)
        conversation = Conversation(
            channel=channel,
            customer=customer,
            subject=subject,
            order_id=order_id,
            thread_id=thread_id
            if thread_id is not None
            else f"thread-{self.counter}"
            if rng.random() < 0.12
            else "",
        )
        if "sender_name" not in fields:
            fields["sender_name"] = self._name(customer)
        item = self._message(
            channel,
            external_id=external_id or self._id(),
            sender_address=self._written(customer),
            subject=subject,
            order_id=order_id,
            sku=sku,
            thread_id=conversation.thread_id,
            **extra,
            **fields,
        )
        conversation.ids.append(item[1].external_id)
        self.conversations.append(conversation)
        return [item]

    def _reply(self, *, by_references: bool = False) -> list[Item]:
        rng = self.rng
        conversation = self._conversation()
        if conversation is None:
            return self._new()
        customer = self._customer(conversation)
        channel = conversation.channel if rng.random() < 0.9 else rng.choice((MAIN, SECOND))
        in_reply_to, references = "", ()
        if by_references:
            references = tuple(conversation.ids[: rng.randint(1, len(conversation.ids))])
            others = [c for c in self.conversations if c.customer == customer and c is not conversation]
            if others and rng.random() < 0.4:  # also quotes another of the customer's conversations
                references = (*rng.choice(others).ids[-1:], *references)
            if rng.random() < 0.3:
                references = ("<lost@mail.example>", *references)
        else:
            in_reply_to = rng.choice(conversation.ids[-3:])
            if rng.random() < 0.4:
                references = tuple(conversation.ids)
        item = self._message(
            channel,
            sender_address=self._written(customer),
            sender_name=self._name(customer),
            subject=f"Re: {conversation.subject}",
            in_reply_to=in_reply_to,
            references=references,
            order_id=conversation.order_id if rng.random() < 0.15 else "",
            sku=rng.choice(("", "", "", "LAMP-1")),
            thread_id=conversation.thread_id if rng.random() < 0.2 else "",
        )
        if customer == conversation.customer:
            conversation.ids.append(item[1].external_id)
        return [item]

    def _references(self) -> list[Item]:
        return self._reply(by_references=True)

    def _thread(self) -> list[Item]:
        rng = self.rng
        conversation = self._conversation(with_thread=True)
        if conversation is None:
            return self._new()
        roll = rng.random()
        if roll < 0.6:
            customer = self._customer(conversation)
            fields: dict[str, object] = {
                "sender_address": self._written(customer),
                "sender_name": self._name(customer),
            }
        else:
            fields = {
                "direction": Direction.OUTBOUND if roll < 0.85 else Direction.NOTE,
                "sender_address": AGENT,
                "sender_name": "Agent",
            }
        item = self._message(
            conversation.channel,
            subject=f"Re: {conversation.subject}",
            thread_id=conversation.thread_id,
            **fields,
        )
        conversation.ids.append(item[1].external_id)
        return [item]

    def _ticket(self) -> list[Item]:
        rng = self.rng
        stored = [c for c in self.conversations if c.inquiry_id is not None]
        if not stored:
            return self._new()
        conversation = rng.choice(stored)
        roll = rng.random()
        number = conversation.inquiry_id if roll < 0.9 else UNKNOWN_INQUIRY
        customer = conversation.customer if roll < 0.6 else self._customer()  # its own, or someone else
        channel = (
            rng.choice((MAIN, MAIN, SECOND)) if conversation.channel != OTHER else rng.choice((OTHER, MAIN))
        )
        item = self._message(
            channel,
            sender_address=self._written(customer),
            sender_name=self._name(customer),
            subject=f"Re: [#{number}] {conversation.subject}",
            order_id=conversation.order_id if rng.random() < 0.2 else "",
        )
        if customer == conversation.customer:
            conversation.ids.append(item[1].external_id)
        return [item]

    def _order(self) -> list[Item]:
        rng = self.rng
        conversation = self._conversation(with_order=True)
        if conversation is None:
            return self._new()
        customer = conversation.customer if rng.random() < 0.85 else self._customer()
        # The order rule looks at the customer's inquiries on every channel of the account.
        channel = conversation.channel if rng.random() < 0.8 else rng.choice(ACCOUNT_CHANNELS)
        item = self._message(
            channel,
            sender_address=self._written(customer),
            sender_name=self._name(customer),
            subject=rng.choice(SUBJECTS),
            order_id=conversation.order_id,
            sku=rng.choice(("", "MUG-2")),
        )
        if customer == conversation.customer:
            conversation.ids.append(item[1].external_id)
        return [item]

    def _automatic(self) -> list[Item]:
        rng = self.rng
        conversation = self._conversation()
        sender = rng.choice(("mailer-daemon@mx.example", "", conversation.customer if conversation else ""))
        fields: dict[str, object] = {}
        if conversation is not None and rng.random() < 0.6:
            fields["in_reply_to"] = rng.choice(conversation.ids)
        if conversation is not None and conversation.inquiry_id and rng.random() < 0.15:
            fields["subject"] = f"Auto: [#{conversation.inquiry_id}] {conversation.subject}"
        if conversation is not None and conversation.order_id and rng.random() < 0.15:
            fields["order_id"] = conversation.order_id
        fields.setdefault("subject", rng.choice(("Undelivered Mail Returned to Sender", "Out of office", "")))
        item = self._message(
            conversation.channel if conversation else MAIN,
            sender_address=sender,
            automatic=True,
            automatic_reason=rng.choice(("bounce", "auto-submitted: auto-replied", "list")),
            **fields,
        )
        return [item]

    def _duplicate(self) -> list[Item]:
        rng = self.rng
        if rng.random() < 0.3 or not self.sent:
            channel, message = rng.choice(self.stored)  # already stored before the archive
        else:
            channel, message = rng.choice(self.sent)
        if rng.random() < 0.3:  # redelivered, with another receipt time and subject
            message = replace(message, received_at=self._when(), subject=f"Fwd: {message.subject}")
        self.sent.append((channel, message))
        return [(channel, message)]

    def _agent(self, direction: Direction = Direction.OUTBOUND) -> list[Item]:
        rng = self.rng
        conversation = self._conversation()
        if conversation is None:
            return self._new()
        fields: dict[str, object] = {}
        roll = rng.random()
        if roll < 0.75:
            fields["in_reply_to"] = conversation.ids[-1]
        elif roll < 0.85 and conversation.thread_id:
            fields["thread_id"] = conversation.thread_id
        elif roll < 0.9:
            fields["references"] = tuple(conversation.ids)
        # else: nothing to attach it to (rejected), unless the rules find something anyway
        item = self._message(
            conversation.channel,
            direction=direction,
            sender_address=AGENT,
            sender_name="Agent",
            subject=f"Re: {conversation.subject}",
            body_text=rng.choice(("We are sorry, a replacement is on its way.", "Refund issued.", "")),
            **fields,
        )
        conversation.ids.append(item[1].external_id)
        return [item]

    def _note(self) -> list[Item]:
        return self._agent(Direction.NOTE)

    def _invalid(self, external_id: str = "", channel: str = MAIN) -> list[Item]:
        """A message validation rejects; with `external_id`, one of a good message's."""
        rng = self.rng
        customer = self._customer()
        fields: dict[str, object] = {
            "external_id": external_id or self._id(),
            "sender_address": customer,
            "sender_name": self.names[customer],
            "subject": rng.choice(SUBJECTS),
        }
        kinds = ("future", "sender", "naive", "long", "early")
        kind = rng.choice(kinds if external_id else (*kinds, "inactive", "empty"))
        if kind == "future":
            fields["received_at"] = self.now + timedelta(hours=rng.randint(1, 48))
        elif kind == "sender":
            fields["sender_address"] = ""
        elif kind == "naive":
            fields["received_at"] = self.cursor.replace(tzinfo=None)
        elif kind == "long":
            fields[rng.choice(("thread_id", "in_reply_to", "order_id"))] = "x" * 300
        elif kind == "inactive":
            channel = INACTIVE
        elif kind == "early":
            if self.history_starts_on is not None:
                fields["received_at"] = datetime.combine(
                    self.history_starts_on - timedelta(days=3), datetime.min.time(), tzinfo=UTC
                )
            else:
                fields["received_at"] = datetime(1999, 12, 31, tzinfo=UTC)
        else:
            fields["external_id"] = ""
        return [self._message(channel, **fields)]

    def _redelivery(self) -> list[Item]:
        """A copy that is rejected (or an agent's reply: naming nothing, rejected; or naming a
        message never sent, held, and the good copy is then its duplicate), then the good copy
        of the same external id: at once, or some messages later, and maybe another message of
        the same customer after it (the same order, another name)."""
        rng = self.rng
        good = rng.choice((self._new, self._new, self._new, self._order, self._reply))()
        channel, message = good[0]
        if channel == INACTIVE or not message.external_id:
            return good
        if message.sender_address and rng.random() < 0.4:
            customer = message.sender_address.lower()
            order_id = message.order_id if rng.random() < 0.6 else ""
            name = rng.choice(("", message.sender_name, f"Alias {customer.split('@')[0]}"))

            def then() -> list[Item]:
                return good + self._new(
                    customer=customer, channel=channel, order_id=order_id, sender_name=name
                )

        else:

            def then() -> list[Item]:
                return good

        if rng.random() < 0.7:
            bad = self._invalid(external_id=message.external_id, channel=channel)
        else:
            bad = [
                self._message(
                    channel,
                    external_id=message.external_id,
                    direction=Direction.OUTBOUND,
                    sender_address=AGENT,
                    in_reply_to="<lost@mail.example>" if rng.random() < 0.5 else "",
                )
            ]
        if rng.random() < 0.5:
            return bad + then()
        self.deferred.append(then)
        return bad

    def _tie(self) -> list[Item]:
        """Two conversations of one customer opened at the same instant, then replies naming
        both: which is "the newest message" is a tie the rules must break alike."""
        rng = self.rng
        customer = self._customer()
        channel = rng.choice(ACCOUNT_CHANNELS)
        at = self._when() or self.cursor
        first = self._new(customer=customer, channel=channel, received_at=at)
        second = self._new(customer=customer, channel=channel, received_at=at)
        ids = [first[0][1].external_id, second[0][1].external_id]

        def replies() -> list[Item]:
            rng.shuffle(ids)
            name = self._name(customer)
            named: dict[str, object] = {"references": tuple(ids)}
            if rng.random() < 0.5:
                named = {"in_reply_to": ids[0], "references": (ids[1],)}
            reply = self._message(
                channel, sender_address=customer, sender_name=name, subject="Re: both", **named
            )
            return [reply, *self._reply()]  # another customer's reply right after: a run of them

        self.deferred.append(replies)
        return first + second

    def _forward(self) -> list[Item]:
        """A reply naming a message that comes later in the archive (input out of order)."""
        rng = self.rng
        later = self._id("later-")
        customer = self._customer()
        reply = self._message(
            rng.choice(ACCOUNT_CHANNELS) if rng.random() < 0.2 else MAIN,
            sender_address=customer,
            sender_name=self._name(customer),
            subject="Re: my earlier mail",
            in_reply_to=later if rng.random() < 0.7 else "",
            references=(later,),
        )
        if rng.random() < 0.5:
            self.deferred.append(lambda: self._new(external_id=later, customer=customer))
        else:
            self.reserved.append(later)
        return [reply]

    def _early(self) -> list[Item]:
        """An agent's reply or note before the message it answers, named by In-Reply-To,
        References or a thread id: held until that message comes, right after it or later in
        the archive (a new conversation, a customer's reply, a thread that starts), or never.
        Sometimes a reply to the held one, also before the parent, or a copy of it follows."""
        rng = self.rng
        later = self._id("early-")
        channel = MAIN if rng.random() < 0.8 else rng.choice((SECOND, OTHER))
        fields: dict[str, object] = {}
        thread = ""
        roll = rng.random()
        if roll < 0.55:
            fields["in_reply_to"] = later
        elif roll < 0.8:
            fields["references"] = ("<lost@mail.example>", later) if rng.random() < 0.5 else (later,)
        else:
            thread = f"thread-{later}"
            fields["thread_id"] = thread
        agent = {"sender_address": AGENT, "sender_name": "Agent", "subject": "Re: your message"}
        direction = Direction.OUTBOUND if rng.random() < 0.75 else Direction.NOTE
        first = self._message(channel, direction=direction, **agent, **fields)
        items = [first]
        if rng.random() < 0.3:  # a reply to the held one: attached after it
            items.append(
                self._message(
                    channel, direction=Direction.OUTBOUND, in_reply_to=first[1].external_id, **agent
                )
            )
        if rng.random() < 0.15:  # the held one again: a duplicate of it
            items.append(first)
            self.sent.append(first)

        def parent() -> list[Item]:
            customer = self._customer()
            if thread:
                return self._new(customer=customer, channel=channel, thread_id=thread)
            own = [c for c in self.conversations if c.channel == channel and c.ids]
            if own and rng.random() < 0.35:  # a customer's reply in a conversation of theirs
                conversation = rng.choice(own)
                item = self._message(
                    channel,
                    external_id=later,
                    sender_address=self._written(conversation.customer),
                    sender_name=self._name(conversation.customer),
                    subject=f"Re: {conversation.subject}",
                    in_reply_to=conversation.ids[-1],
                )
                conversation.ids.append(later)
                return [item]
            return self._new(external_id=later, customer=customer, channel=channel)

        fate = rng.random()
        if fate < 0.35:
            items += parent()
        elif fate < 0.9:
            self.deferred.append(parent)
        # else: its parent never comes; it stays held
        return items

    def _other_channel(self) -> list[Item]:
        """An external id of the main channel again on the second one: not a duplicate there."""
        mains = [m for channel, m in self.sent if channel == MAIN and m.external_id]
        if not mains:
            return self._new()
        item = (SECOND, replace(self.rng.choice(mains), received_at=self._when()))
        self.sent.append(item)
        return [item]
