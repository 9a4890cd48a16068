"""Customers, inquiries, messages, attachments and the append-only event log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Left
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from inquiries.models import names
from inquiries.models.choices import OPEN_STATUSES, Direction, Priority, Status
from inquiries.models.config import Account, Channel, Team, Topic

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class Customer(models.Model):
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="customers"
    )
    address = models.CharField(
        verbose_name=_("address"),
        max_length=320,
        help_text=_("Normalised e-mail address or marketplace buyer alias."),
    )
    name = models.CharField(verbose_name=_("name"), max_length=200, blank=True)
    tags = models.JSONField(
        verbose_name=_("tags"),
        default=list,
        blank=True,
        help_text=_('Tags used by SLA policies, e.g. ["vip"].'),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)

    class Meta:
        ordering = ["address"]
        constraints = [models.UniqueConstraint(fields=["account", "address"], name="customer_unique_address")]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.address = normalise_address(self.address)
        super().save(*args, **kwargs)


def normalise_address(address: str) -> str:
    return address.strip().lower()


# --- inquiries and messages -----------------------------------------------------------


# Characters of a message body the queue reads for its preview and subjectless titles.
PREVIEW_SOURCE_CHARS = 400


class InquiryQuerySet(models.QuerySet["Inquiry"]):
    def visible_to(self, user: User | AnonymousUser | None) -> InquiryQuerySet:
        """The one place that scopes inquiries: superusers see all, others their teams' accounts."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(account__in=Account.objects.visible_to(user))

    def open(self) -> InquiryQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def with_texts(self) -> InquiryQuerySet:
        """Each inquiry's latest customer words (`preview`) and first ones (`first_text`, the title
        of a subjectless, chat-style inquiry), from subqueries in the same query, each one look-up
        on the message index (inquiry, received_at): no query per row."""
        customer = Message.objects.filter(inquiry=OuterRef("pk"), direction=Direction.INBOUND)
        text = Left("body_text", PREVIEW_SOURCE_CHARS)
        # Ordered by the index's own columns only (no id tie-break), so each is one index walk
        # that stops at its first customer message, with no sort.
        return self.annotate(
            preview=Subquery(customer.order_by("-received_at").values(text=text)[:1]),
            first_text=Subquery(customer.order_by("received_at").values(text=text)[:1]),
        )


class ReplyDelivery(models.TextChoices):
    """The inquiry's copy of its latest reply's delivery, for the queue (set by the delivery service)."""

    NONE = "", _("Nothing outstanding")
    PENDING = "pending", _("Reply not delivered yet")
    FAILED = "failed", _("Reply not delivered")


class Inquiry(models.Model):
    # Every write of an inquiry writes each of its indexes, so there is none that another one
    # starts with: account lookups use the (account, ...) indexes, customer lookups
    # inquiry_customer_order.
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="inquiries", db_index=False
    )
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="inquiries"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="inquiries",
        db_index=False,
    )
    subject = models.CharField(verbose_name=_("subject"), max_length=998, blank=True)
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.NEW
    )
    priority = models.CharField(
        verbose_name=_("priority"), max_length=16, choices=Priority.choices, default=Priority.NORMAL
    )
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("topic"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inquiries",
    )
    topic_source = models.CharField(
        verbose_name=_("topic source"),
        max_length=16,
        blank=True,
        help_text=_("rules, classifier or agent: who set the topic."),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_inquiries",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inquiries",
    )
    # Indexed in Meta: equality only (no pattern-matching copy; searches go through the document).
    order_id = models.CharField(verbose_name=_("order id"), max_length=100, blank=True)
    sku = models.CharField(verbose_name=_("sku"), max_length=100, blank=True)
    # Not `order`: its column would be order_id, the order id text above. Set by
    # `services.orders.link_inquiries` when an Order of the account has that id.
    # Deliberately in no index: setting it then changes no indexed column, so PostgreSQL can
    # write the new row version as a heap-only tuple (HOT) on the same page, without an entry
    # in any of the table's indexes (two of them GIN over the search document); see the
    # fillfactor of migration 0054. An order's inquiries are found by their indexed order id
    # (`order_id`, the same text as the order's marketplace id while linked).
    # No database constraint either (migration 0056): PostgreSQL would check this unindexed
    # column with a scan of the whole table for every deleted order. Deleting orders goes
    # through `services.order_deletion.delete_orders`, which unlinks their inquiries through
    # the indexed (account, order_id) instead; nothing else does it (DO_NOTHING).
    linked_order = models.ForeignKey(
        "Order",
        verbose_name=_("linked order"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="inquiries",
        db_index=False,
        editable=False,
        help_text=_("The imported order whose marketplace order id is this inquiry's order id."),
    )
    thread_key = models.CharField(
        verbose_name=_("thread key"),
        max_length=255,
        blank=True,
        help_text=_("The source's own conversation id, when it has one."),
    )
    sla_policy = models.ForeignKey(
        "SlaPolicy",
        verbose_name=_("sla policy"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inquiries",
        help_text=_(
            "The policy whose targets the clocks use; picked at opening and on priority or topic change."
        ),
    )
    previous = models.ForeignKey(
        "self",
        verbose_name=_("previous"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
        help_text=_(
            "The solved inquiry this one follows, when a customer wrote again after the reopen window."
        ),
    )
    opened_at = models.DateTimeField(
        verbose_name=_("opened at"), help_text=_("Receipt time of the first message.")
    )
    last_inbound_at = models.DateTimeField(verbose_name=_("last inbound at"), null=True, blank=True)
    last_reply_at = models.DateTimeField(verbose_name=_("last reply at"), null=True, blank=True)
    solved_at = models.DateTimeField(verbose_name=_("solved at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=dj_timezone.now)
    # Copied from the active clocks (running, at risk, breached) by the clock service in the
    # transaction that changes them, so the queue sorts and filters on indexed columns of this
    # table alone. Null / empty: no active clock.
    next_due_at = models.DateTimeField(
        verbose_name=_("next due at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The earliest due time of the active clocks."),
    )
    next_warn_at = models.DateTimeField(
        verbose_name=_("next warn at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The earliest at-risk time of the active clocks."),
    )
    next_clock_kind = models.CharField(
        verbose_name=_("next clock kind"),
        max_length=32,
        blank=True,
        default="",
        db_default="",  # bulk SQL loads (bench/) may leave it out
        editable=False,
        help_text=_("The kind of the clock due first."),
    )
    market_due_at = models.DateTimeField(
        verbose_name=_("market due at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The due time of the active marketplace clock."),
    )
    reply_delivery = models.CharField(
        verbose_name=_("reply delivery"),
        max_length=16,
        choices=ReplyDelivery.choices,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text=_("What the latest reply written in cstracker is doing: not delivered yet, or failed."),
    )

    objects = InquiryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = _("inquiries")
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(
                fields=["channel", "thread_key"], name="inquiry_thread_key", condition=~Q(thread_key="")
            ),
            models.Index(fields=["customer", "order_id"], name="inquiry_customer_order"),
            models.Index(fields=["order_id"], name="inquiry_order_id"),
            models.Index(fields=["sku"], name="inquiry_sku"),
            models.Index(fields=["account", "status"], name="inquiry_account_status"),
            # The queue's buckets (see selectors.queue.queue_page): inquiries with an active clock in
            # deadline order, those at risk by warning time, and those without one newest first.
            models.Index(
                fields=["next_due_at", "-opened_at", "-id"],
                name="inquiry_queue_due",
                condition=Q(next_due_at__isnull=False),
            ),
            models.Index(
                fields=["next_warn_at"], name="inquiry_queue_warn", condition=Q(next_due_at__isnull=False)
            ),
            models.Index(
                fields=["-opened_at", "-id"], name="inquiry_queue_idle", condition=Q(next_due_at__isnull=True)
            ),
        ]
        verbose_name = _("inquiry")

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject[:60]}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class MessageQuerySet(models.QuerySet["Message"]):
    def public(self) -> MessageQuerySet:
        return self.exclude(direction=Direction.NOTE)

    def answers(self) -> MessageQuerySet:
        """The one definition of a reply that answers the customer, annotated with `answer_at`.

        A public reply by a person that reached the customer: accepted for delivery by the
        relay or provider (`sent`, `delivered`; it answers at `accepted_at`), or a reply we did
        not send ourselves (imported history, a reply made elsewhere; it answers at its
        `received_at`). Queued, failed and bounced replies answer nothing. The clock engine is
        the only reader that turns answers into facts (`answered_at` on customer messages, the
        reply clocks' stops), which reports and health read.
        """
        return self.filter(answering()).annotate(answer_at=Coalesce(F("accepted_at"), F("received_at")))


class Message(models.Model):
    class DeliveryState(models.TextChoices):
        NONE = "", _("Not sent by us")
        QUEUED = "queued", _("Not delivered yet")
        SENT = "sent", _("Accepted by the mail server")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")

    # Replies in these states answer the customer, from `accepted_at` on.
    ANSWERING_STATES = (DeliveryState.SENT, DeliveryState.DELIVERED)

    # Not indexed alone: (channel, external_id) and (inquiry, received_at) start with them.
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    inquiry = models.ForeignKey(
        Inquiry,
        verbose_name=_("inquiry"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
        help_text=_("Empty for automatic mail (bounces, auto-replies) that matched no inquiry."),
    )
    direction = models.CharField(verbose_name=_("direction"), max_length=16, choices=Direction.choices)
    automatic = models.BooleanField(
        verbose_name=_("automatic"),
        default=False,
        help_text=_("Auto-reply, bounce, list mail: starts and stops nothing."),
    )
    automatic_reason = models.CharField(verbose_name=_("automatic reason"), max_length=200, blank=True)
    external_id = models.CharField(
        verbose_name=_("external id"),
        max_length=255,
        help_text=_("Unique per channel (Message-ID, marketplace id...)."),
    )
    thread_id = models.CharField(verbose_name=_("thread id"), max_length=255, blank=True)
    in_reply_to = models.CharField(verbose_name=_("in reply to"), max_length=255, blank=True)
    references = models.JSONField(verbose_name=_("references"), default=list, blank=True)
    sender_address = models.CharField(verbose_name=_("sender address"), max_length=320, blank=True)
    sender_name = models.CharField(verbose_name=_("sender name"), max_length=200, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The agent who wrote a reply or note in cstracker."),
    )
    subject = models.CharField(verbose_name=_("subject"), max_length=998, blank=True)
    body_text = models.TextField(verbose_name=_("body text"), blank=True)
    body_html = models.TextField(
        verbose_name=_("body html"), blank=True, help_text=_("Sanitised HTML; never raw customer HTML.")
    )
    sent_at = models.DateTimeField(
        verbose_name=_("sent at"),
        null=True,
        blank=True,
        help_text=_("The sender's claimed date (e-mail Date)."),
    )
    received_at = models.DateTimeField(
        verbose_name=_("received at"),
        help_text=_("Our receipt time; orders the thread and drives the clocks."),
    )
    raw = models.BinaryField(
        verbose_name=_("raw"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Raw e-mail source, for audit."),
    )
    order_id = models.CharField(verbose_name=_("order id"), max_length=100, blank=True)
    sku = models.CharField(verbose_name=_("sku"), max_length=100, blank=True)
    no_response_needed = models.BooleanField(
        verbose_name=_("no response needed"),
        default=False,
        help_text=_("Marked by an agent: excluded from response metrics."),
    )
    answered_at = models.DateTimeField(
        verbose_name=_("answered at"),
        null=True,
        blank=True,
        help_text=_("For customer messages: the first public reply by a person at or after receipt."),
    )
    response_due_at = models.DateTimeField(
        verbose_name=_("response due at"),
        null=True,
        blank=True,
        help_text=_("For customer messages: the marketplace reply deadline."),
    )
    followed_up_at = models.DateTimeField(
        verbose_name=_("followed up at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "When the after-commit work (clusters, notifications) ran; the sweep retries it if empty."
        ),
    )
    parse_notes = models.JSONField(
        verbose_name=_("parse notes"),
        default=list,
        db_default=[],  # rows written by SQL of their own (bulk loads, older code) get [] too
        blank=True,
        help_text=_(
            "What ingestion had to leave out or change (parts over a cap, nesting flattened, a body "
            "cut); shown with the message."
        ),
    )
    # Where the source said the conversation stood after this message (an export's status and
    # solved time, `IncomingMessage.status`/`solved_at`), kept so that a conversation whose
    # messages came out of time order can be applied again in its own order (recording/replay.py).
    status_after = models.CharField(
        verbose_name=_("status after"),
        max_length=16,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text=_("The status the source gave the conversation after this message; empty: none."),
    )
    status_at = models.DateTimeField(
        verbose_name=_("status at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When that status took effect."),
    )
    delivery_state = models.CharField(
        verbose_name=_("delivery state"), max_length=16, choices=DeliveryState.choices, default="", blank=True
    )
    delivery_error = models.TextField(verbose_name=_("delivery error"), blank=True)
    accepted_at = models.DateTimeField(
        verbose_name=_("accepted at"),
        null=True,
        blank=True,
        help_text=_(
            "For replies sent by cstracker: when the mail server (or provider) accepted it; the reply "
            "answers the customer from then on, unless it fails or bounces later."
        ),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="message_unique_external_id"),
        ]
        indexes = [
            models.Index(fields=["inquiry", "received_at"], name="message_inquiry_received"),
            models.Index(
                fields=["channel", "thread_id"], name="message_thread_id", condition=~Q(thread_id="")
            ),
            # A customer's message stored before the message it answers (recording/early.py):
            # looked up by the parent's id when that arrives.
            models.Index(
                fields=["channel", "in_reply_to"],
                name="message_customer_reply_to",
                condition=Q(direction="inbound", automatic=False) & ~Q(in_reply_to=""),
            ),
            models.Index(
                fields=["received_at", "id"],
                name="message_queued_reply",
                condition=Q(delivery_state="queued"),
            ),
            models.Index(
                fields=["created_at"],
                name="message_followup_pending",
                condition=Q(followed_up_at__isnull=True, direction="inbound", automatic=False),
            ),
        ]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.external_id}"

    @property
    def needs_response(self) -> bool:
        return self.direction == Direction.INBOUND and not self.automatic and not self.no_response_needed


def answering(prefix: str = "") -> Q:
    """The condition of `MessageQuerySet.answers()`, for aggregates over messages (`prefix`
    leads from the queried model to the message)."""
    return Q(
        Q(**{f"{prefix}delivery_state": Message.DeliveryState.NONE})
        | Q(
            **{
                f"{prefix}delivery_state__in": Message.ANSWERING_STATES,
                f"{prefix}accepted_at__isnull": False,
            }
        ),
        **{f"{prefix}direction": Direction.OUTBOUND, f"{prefix}automatic": False},
    )


class Attachment(models.Model):
    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="attachments"
    )
    filename = models.CharField(verbose_name=_("filename"), max_length=255)
    content_type = models.CharField(
        verbose_name=_("content type"), max_length=255, default="application/octet-stream"
    )
    size = models.PositiveBigIntegerField(verbose_name=_("size"), default=0)
    content_id = models.CharField(verbose_name=_("content id"), max_length=255, blank=True)
    inline = models.BooleanField(verbose_name=_("inline"), default=False)
    content = models.BinaryField(verbose_name=_("content"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class EventKind(models.TextChoices):
    INQUIRY_OPENED = "inquiry_opened", _("Inquiry opened")
    INQUIRY_REOPENED = "inquiry_reopened", _("Inquiry reopened")
    MESSAGE_RECEIVED = "message_received", _("Customer message received")
    REPLY_SENT = "reply_sent", _("Reply sent")
    REPLY_WRITTEN = "reply_written", _("Reply written (not delivered yet)")
    REPLY_ACCEPTED = "reply_accepted", _("Reply accepted for delivery")
    REPLY_DELIVERED = "reply_delivered", _("Reply delivered")
    REPLY_FAILED = "reply_failed", _("Reply not delivered")
    REPLY_BOUNCED = "reply_bounced", _("Reply bounced")
    REPLY_RETRIED = "reply_retried", _("Reply sent again")
    NOTE_ADDED = "note_added", _("Note added")
    AUTOMATIC_RECEIVED = "automatic_received", _("Automatic message received")
    STATUS_CHANGED = "status_changed", _("Status changed")
    PRIORITY_CHANGED = "priority_changed", _("Priority changed")
    TOPIC_CHANGED = "topic_changed", _("Topic changed")
    ORDER_CHANGED = "order_changed", _("Order or SKU changed")
    ASSIGNED = "assigned", _("Assigned")
    NO_RESPONSE_NEEDED = "no_response_needed", _("Marked no response needed")
    CLOCK_STARTED = "clock_started", _("Clock started")
    CLOCK_PAUSED = "clock_paused", _("Clock paused")
    CLOCK_RESUMED = "clock_resumed", _("Clock resumed")
    CLOCK_AT_RISK = "clock_at_risk", _("Clock at risk")
    CLOCK_BREACHED = "clock_breached", _("Clock breached")
    CLOCK_MET = "clock_met", _("Clock met")
    CLOCK_MISSED = "clock_missed", _("Clock missed")
    CLOCK_CANCELLED = "clock_cancelled", _("Clock cancelled")
    CLOCK_RECOMPUTED = "clock_recomputed", _("Clock recomputed")


class InquiryEvent(models.Model):
    """Append-only facts; reports are built from these rows."""

    # Not indexed alone: event_inquiry_at starts with it.
    inquiry = models.ForeignKey(
        Inquiry, verbose_name=_("inquiry"), on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=32, choices=EventKind.choices)
    at = models.DateTimeField(
        verbose_name=_("at"), help_text=_("When it happened in the inquiry's time line.")
    )
    recorded_at = models.DateTimeField(verbose_name=_("recorded at"), default=dj_timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    message = models.ForeignKey(
        Message, verbose_name=_("message"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    clock = models.ForeignKey(
        "Clock",
        verbose_name=_("clock"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    data = models.JSONField(verbose_name=_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["inquiry", "at"], name="event_inquiry_at"),
            models.Index(fields=["kind", "at"], name="event_kind_at"),
        ]
        verbose_name = _("inquiry event")
        verbose_name_plural = _("inquiry events")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {names.moment(self.at)}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("InquiryEvent rows are append-only")
        super().save(*args, **kwargs)
