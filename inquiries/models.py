"""cstracker's data model.

Every write goes through `inquiries.services`; `save()` only normalises its own row.
Deadlines are stored (Clock.due_at / warn_at) and indexed so the sweep is one query.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'.") from None


class Marketplace(models.TextChoices):
    AMAZON = "amazon", "Amazon"
    WALMART = "walmart", "Walmart"
    EBAY = "ebay", "eBay"
    SHOP = "shop", "Own shop"
    OTHER = "other", "Other"


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Manager"


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending (waiting on customer)"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound (customer)"
    OUTBOUND = "outbound", "Outbound (reply)"
    NOTE = "note", "Internal note"


class ChannelKind(models.TextChoices):
    API = "api", "API"
    EMAIL = "email", "E-mail"
    CSV = "csv", "CSV import"
    WEBHOOK = "webhook", "Signed webhook"


# --- configuration ----------------------------------------------------------------


class Calendar(models.Model):
    """Business hours in a time zone plus holidays; `hours` empty and 24x7 on means always open."""

    name = models.CharField(max_length=100, unique=True, help_text="Shown when picking a calendar.")
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], help_text="IANA time zone name."
    )
    is_24x7 = models.BooleanField(
        default=False, help_text="Open all day every day (holidays still close unless none are listed)."
    )
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="Bumped on every change so cached calendars are rebuilt."
    )
    hours = models.JSONField(
        default=dict,
        blank=True,
        help_text='Weekday (0=Monday) to a list of ["HH:MM", "HH:MM"] pairs; "00:00" as an end means midnight. '
        'Example: {"0": [["09:00", "17:00"]], "1": [["09:00", "12:00"], ["13:00", "17:00"]]}',
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Reject hours the calendar engine would refuse, with its message (overlaps, never open...)."""
        from inquiries.sla.calendar import BusinessCalendar
        from inquiries.sla.hours import parse_hours

        try:
            hours = None if self.is_24x7 else parse_hours(self.hours)
            BusinessCalendar(self.timezone, hours)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValidationError({"hours": str(exc)}) from None


class Holiday(models.Model):
    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(help_text="A whole local day on which the calendar is closed.")
    name = models.CharField(max_length=200, blank=True, help_text="For people reading the list.")

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_per_calendar")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class AccountQuerySet(models.QuerySet["Account"]):
    def visible_to(self, user: settings.AUTH_USER_MODEL) -> AccountQuerySet:  # type: ignore[valid-type]
        """Accounts of the user's teams; every other scoping in the app builds on this."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(teams__memberships__user=user).distinct()


class Account(models.Model):
    """One seller storefront on one marketplace."""

    name = models.CharField(max_length=200, help_text='For example "Acme on Amazon US".')
    marketplace = models.CharField(
        max_length=16,
        choices=Marketplace.choices,
        default=Marketplace.OTHER,
        help_text="Picks the marketplace's reply rule and health targets.",
    )
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], help_text="IANA time zone of the account."
    )
    reply_target_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The marketplace reply rule in seconds; empty uses the marketplace preset "
        "(Amazon 24 h, Walmart 48 h, eBay 3 business days).",
    )
    reply_calendar = models.ForeignKey(
        Calendar,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Calendar of the marketplace reply rule; empty means calendar time (24x7), as Amazon counts.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive accounts ingest nothing.")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True, help_text="A group of agents and managers.")
    accounts = models.ManyToManyField(
        Account, blank=True, related_name="teams", help_text="Members see the inquiries of these accounts only."
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT, help_text="Agent or manager.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Channel(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="channels")
    slug = models.SlugField(max_length=64, unique=True, help_text="Used by the API and import commands.")
    name = models.CharField(max_length=200, help_text="For people reading the queue.")
    kind = models.CharField(max_length=16, choices=ChannelKind.choices, default=ChannelKind.API)
    is_active = models.BooleanField(default=True, help_text="Inactive channels reject new messages.")
    address = models.EmailField(blank=True, help_text="The mailbox address of an e-mail channel.")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Topic(models.Model):
    class HealthCategory(models.TextChoices):
        PRODUCT_CONDITION = "product_condition", "Product condition"
        DELIVERY = "delivery", "Delivery"
        NONE = "none", "None"

    key = models.SlugField(max_length=32, unique=True, help_text="Stable identifier used in the API.")
    name = models.CharField(max_length=100, help_text="Shown to agents.")
    is_complaint = models.BooleanField(default=True, help_text="Counts in complaint rates and clusters.")
    health_category = models.CharField(
        max_length=32,
        choices=HealthCategory.choices,
        default=HealthCategory.NONE,
        help_text="Which account-health metric complaints of this topic feed.",
    )
    position = models.PositiveSmallIntegerField(default=100, help_text="Order in lists; ties by name.")

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class TopicRule(models.Model):
    class Kind(models.TextChoices):
        KEYWORD = "keyword", "Keyword or phrase"
        REGEX = "regex", "Regular expression"

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.KEYWORD)
    pattern = models.CharField(max_length=500, help_text="Whole words, case- and accent-insensitive.")
    language = models.CharField(max_length=8, default="en", help_text="ISO 639-1 code, e.g. en, de, es, fr.")
    weight = models.FloatField(default=1.0, help_text="Higher wins when several topics match.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["topic", "language", "pattern"]

    def __str__(self) -> str:
        return f"{self.topic.key}: {self.pattern}"


class Customer(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="customers")
    address = models.CharField(max_length=320, help_text="Normalised e-mail address or marketplace buyer alias.")
    name = models.CharField(max_length=200, blank=True)
    tags = models.JSONField(default=list, blank=True, help_text='Tags used by SLA policies, e.g. ["vip"].')
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        ordering = ["address"]
        constraints = [models.UniqueConstraint(fields=["account", "address"], name="customer_unique_address")]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address

    def save(self, *args: object, **kwargs: object) -> None:
        self.address = normalise_address(self.address)
        super().save(*args, **kwargs)


def normalise_address(address: str) -> str:
    return address.strip().lower()


# --- inquiries and messages -----------------------------------------------------------


class InquiryQuerySet(models.QuerySet["Inquiry"]):
    def visible_to(self, user: settings.AUTH_USER_MODEL) -> InquiryQuerySet:  # type: ignore[valid-type]
        """The one place that scopes inquiries: superusers see all, others their teams' accounts."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(account__in=Account.objects.visible_to(user))

    def open(self) -> InquiryQuerySet:
        return self.filter(status__in=OPEN_STATUSES)


class Inquiry(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="inquiries")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="inquiries")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="inquiries")
    subject = models.CharField(max_length=998, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.SET_NULL, related_name="inquiries")
    topic_source = models.CharField(
        max_length=16, blank=True, help_text="rules, classifier or agent: who set the topic."
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_inquiries"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="inquiries")
    order_id = models.CharField(max_length=100, blank=True, db_index=True)
    sku = models.CharField(max_length=100, blank=True, db_index=True)
    thread_key = models.CharField(
        max_length=255, blank=True, help_text="The source's own conversation id, when it has one."
    )
    sla_policy = models.ForeignKey(
        "SlaPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="inquiries",
        help_text="The policy whose targets the clocks use; picked at opening and on priority or topic change.",
    )
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups",
        help_text="The solved inquiry this one follows, when a customer wrote again after the reopen window.",
    )
    opened_at = models.DateTimeField(help_text="Receipt time of the first message.")
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_reply_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    objects = InquiryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "inquiries"
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["channel", "thread_key"], name="inquiry_thread_key",
                         condition=~Q(thread_key="")),
            models.Index(fields=["customer", "order_id"], name="inquiry_customer_order"),
            models.Index(fields=["account", "status"], name="inquiry_account_status"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject[:60]}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class MessageQuerySet(models.QuerySet["Message"]):
    def public(self) -> MessageQuerySet:
        return self.exclude(direction=Direction.NOTE)


class Message(models.Model):
    class DeliveryState(models.TextChoices):
        NONE = "", "Not sent by us"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
    inquiry = models.ForeignKey(
        Inquiry, null=True, blank=True, on_delete=models.CASCADE, related_name="messages",
        help_text="Empty for automatic mail (bounces, auto-replies) that matched no inquiry.",
    )
    direction = models.CharField(max_length=16, choices=Direction.choices)
    automatic = models.BooleanField(default=False, help_text="Auto-reply, bounce, list mail: starts and stops nothing.")
    automatic_reason = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(max_length=255, help_text="Unique per channel (Message-ID, marketplace id...).")
    thread_id = models.CharField(max_length=255, blank=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.JSONField(default=list, blank=True)
    sender_address = models.CharField(max_length=320, blank=True)
    sender_name = models.CharField(max_length=200, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The agent who wrote a reply or note in cstracker.",
    )
    subject = models.CharField(max_length=998, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True, help_text="Sanitised HTML; never raw customer HTML.")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="The sender's claimed date (e-mail Date).")
    received_at = models.DateTimeField(help_text="Our receipt time; orders the thread and drives the clocks.")
    raw = models.BinaryField(null=True, blank=True, editable=False, help_text="Raw e-mail source, for audit.")
    order_id = models.CharField(max_length=100, blank=True)
    sku = models.CharField(max_length=100, blank=True)
    no_response_needed = models.BooleanField(
        default=False, help_text="Marked by an agent: excluded from response metrics."
    )
    answered_at = models.DateTimeField(
        null=True, blank=True,
        help_text="For customer messages: the first public reply by a person at or after receipt.",
    )
    response_due_at = models.DateTimeField(
        null=True, blank=True, help_text="For customer messages: the marketplace reply deadline."
    )
    followed_up_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When the after-commit work (clusters, notifications) ran; the sweep retries it if empty.",
    )
    delivery_state = models.CharField(max_length=16, choices=DeliveryState.choices, default="", blank=True)
    delivery_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="message_unique_external_id"),
        ]
        indexes = [
            models.Index(fields=["inquiry", "received_at"], name="message_inquiry_received"),
            models.Index(fields=["channel", "thread_id"], name="message_thread_id", condition=~Q(thread_id="")),
            models.Index(fields=["created_at"], name="message_followup_pending",
                         condition=Q(followed_up_at__isnull=True, direction="inbound", automatic=False)),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.external_id}"

    @property
    def needs_response(self) -> bool:
        return self.direction == Direction.INBOUND and not self.automatic and not self.no_response_needed


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    content_id = models.CharField(max_length=255, blank=True)
    inline = models.BooleanField(default=False)
    content = models.BinaryField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return self.filename


class EventKind(models.TextChoices):
    INQUIRY_OPENED = "inquiry_opened", "Inquiry opened"
    INQUIRY_REOPENED = "inquiry_reopened", "Inquiry reopened"
    MESSAGE_RECEIVED = "message_received", "Customer message received"
    REPLY_SENT = "reply_sent", "Reply sent"
    NOTE_ADDED = "note_added", "Note added"
    AUTOMATIC_RECEIVED = "automatic_received", "Automatic message received"
    STATUS_CHANGED = "status_changed", "Status changed"
    PRIORITY_CHANGED = "priority_changed", "Priority changed"
    TOPIC_CHANGED = "topic_changed", "Topic changed"
    ASSIGNED = "assigned", "Assigned"
    NO_RESPONSE_NEEDED = "no_response_needed", "Marked no response needed"
    CLOCK_STARTED = "clock_started", "Clock started"
    CLOCK_PAUSED = "clock_paused", "Clock paused"
    CLOCK_RESUMED = "clock_resumed", "Clock resumed"
    CLOCK_AT_RISK = "clock_at_risk", "Clock at risk"
    CLOCK_BREACHED = "clock_breached", "Clock breached"
    CLOCK_MET = "clock_met", "Clock met"
    CLOCK_MISSED = "clock_missed", "Clock missed"
    CLOCK_CANCELLED = "clock_cancelled", "Clock cancelled"
    CLOCK_RECOMPUTED = "clock_recomputed", "Clock recomputed"


class InquiryEvent(models.Model):
    """Append-only facts; reports are built from these rows."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    at = models.DateTimeField(help_text="When it happened in the inquiry's time line.")
    recorded_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    clock = models.ForeignKey("Clock", null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["inquiry", "at"], name="event_inquiry_at"),
                   models.Index(fields=["kind", "at"], name="event_kind_at")]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("InquiryEvent rows are append-only")
        super().save(*args, **kwargs)


# --- SLA ------------------------------------------------------------------------------


class SlaPolicy(models.Model):
    """Ordered rules: the first active policy whose conditions all match an inquiry wins."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=100, help_text="Lower positions are tried first.")
    is_active = models.BooleanField(default=True)
    accounts = models.ManyToManyField(Account, blank=True, help_text="Empty matches every account.")
    channels = models.ManyToManyField(Channel, blank=True, help_text="Empty matches every channel.")
    topics = models.ManyToManyField(Topic, blank=True, help_text="Empty matches every topic.")
    priorities = models.JSONField(
        default=list, blank=True, help_text='Priorities this policy applies to; empty matches all. e.g. ["high"].'
    )
    customer_tags = models.JSONField(
        default=list, blank=True, help_text="Matches when the customer has any of these tags; empty matches all."
    )
    calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.PROTECT, related_name="policies",
        help_text="Business hours the targets count in; empty means 24x7 in UTC.",
    )
    warn_ratio = models.FloatField(
        default=0.75, help_text="A clock is at risk once this share of its target has elapsed (0 < r < 1)."
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not 0 < self.warn_ratio < 1:
            raise ValidationError({"warn_ratio": "The at-risk threshold must be between 0 and 1, e.g. 0.75."})


class SlaTarget(models.Model):
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=16, choices=Priority.choices)
    first_reply_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no clock.")
    next_reply_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no clock.")
    resolution_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no clock.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority"], name="sla_target_unique_priority"),
            models.CheckConstraint(
                condition=(Q(first_reply_seconds__isnull=True) | Q(first_reply_seconds__gt=0))
                & (Q(next_reply_seconds__isnull=True) | Q(next_reply_seconds__gt=0))
                & (Q(resolution_seconds__isnull=True) | Q(resolution_seconds__gt=0)),
                name="sla_target_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} / {self.priority}"


class ClockKind(models.TextChoices):
    FIRST_REPLY = "first_reply", "First reply"
    NEXT_REPLY = "next_reply", "Next reply"
    RESOLUTION = "resolution", "Resolution"
    MARKETPLACE_REPLY = "marketplace_reply", "Marketplace reply"


class ClockState(models.TextChoices):
    RUNNING = "running", "Running"
    AT_RISK = "at_risk", "At risk"
    PAUSED = "paused", "Paused"
    BREACHED = "breached", "Breached"
    MET = "met", "Met"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_CLOCK_STATES = (ClockState.RUNNING, ClockState.AT_RISK, ClockState.BREACHED)


class Clock(models.Model):
    inquiry = models.ForeignKey(Inquiry, on_delete=models.CASCADE, related_name="clocks")
    kind = models.CharField(max_length=32, choices=ClockKind.choices)
    state = models.CharField(max_length=16, choices=ClockState.choices, default=ClockState.RUNNING)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks",
        help_text="The customer message that started it (reply clocks).",
    )
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks")
    calendar = models.ForeignKey(Calendar, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target_seconds = models.PositiveIntegerField()
    warn_ratio = models.FloatField(default=0.75)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    warn_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_business_seconds = models.PositiveIntegerField(
        default=0, help_text="Business seconds spent paused (pending), added to the due time."
    )
    breached_at = models.DateTimeField(null=True, blank=True)
    elapsed_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Business seconds when stopped.")

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [
            # The sweep's two queries: running clocks reaching warn_at, active ones reaching due_at.
            models.Index(fields=["warn_at"], name="clock_warn_running", condition=Q(state="running")),
            models.Index(fields=["due_at"], name="clock_due_active", condition=Q(state__in=["running", "at_risk"])),
            models.Index(fields=["inquiry", "kind", "state"], name="clock_inquiry_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.state}"

    def remaining(self, now: datetime) -> float:
        return (self.due_at - now).total_seconds()
