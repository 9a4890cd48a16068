"""Complaint clusters and the learned topic classifier.

A cluster groups recent complaints about one thing: one product (a burst of one topic
about one SKU) or one text (near-identical complaints from different customers). At most
one cluster per (account, topic, sku, kind, signature) is open at a time, enforced by a
partial unique constraint, so concurrent workers cannot open the same cluster twice.
Cluster changes go through `inquiries.services.complaints`; `ClusterEvent` rows record
every transition and are never changed afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries.models import names
from inquiries.models.config import Account, Topic
from inquiries.models.inquiries import Customer, Inquiry, Message

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class TopicModelOutcome(models.TextChoices):
    KEPT = "kept", _("Kept: scored better than the model it replaced")
    REJECTED = "rejected", _("Rejected: scored no better on the held-out labels")


class TopicModel(models.Model):
    """One trained version of a seller's topic classifier (the shipped model plus the account's
    labels); at most one active row per account, used for that account's new messages.

    A version that scored no better than the active one on the held-out labels is stored as
    `rejected`, with its scores but without its bytes. A row without an account is a model
    for every account that has none of its own (made before models were per account)."""

    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="topic_models",
    )
    version = models.PositiveIntegerField(
        verbose_name=_("version"), unique=True, editable=False, help_text=_("1, 2, 3... in training order.")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    outcome = models.CharField(
        verbose_name=_("outcome"),
        max_length=16,
        choices=TopicModelOutcome.choices,
        default=TopicModelOutcome.KEPT,
        editable=False,
    )
    trained_labels = models.PositiveIntegerField(
        verbose_name=_("trained labels"),
        default=0,
        editable=False,
        help_text=_("Agents' labels it was trained on (besides the shipped data)."),
    )
    holdout_labels = models.PositiveIntegerField(
        verbose_name=_("holdout labels"),
        default=0,
        editable=False,
        help_text=_("Agents' labels held out to score it (never trained on)."),
    )
    labels = models.JSONField(
        verbose_name=_("labels"),
        default=list,
        editable=False,
        help_text=_("Topic keys the model can predict."),
    )
    metrics = models.JSONField(
        verbose_name=_("metrics"),
        default=dict,
        blank=True,
        editable=False,
        help_text=_(
            "Labels per topic and the held-out scores of this model and of the one it was "
            "compared with (macro-F1, precision and recall per topic)."
        ),
    )
    sklearn_version = models.CharField(verbose_name=_("sklearn version"), max_length=32, editable=False)
    blob = models.BinaryField(
        verbose_name=_("blob"),
        editable=False,
        help_text=_("The fitted model, as written by TrainedModel.dumps(); empty if rejected."),
    )
    threshold = models.FloatField(
        verbose_name=_("threshold"),
        default=0.7,
        help_text=_(
            "The model's topic is used before the rules when its confidence is at least this "
            "(0-1); below it the rules decide, then the model where it is confident and has evidence."
        ),
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"),
        default=False,
        help_text=_(
            "The account's model used at ingestion; activating one deactivates the account's others."
        ),
    )

    class Meta:
        verbose_name = _("topic model")
        verbose_name_plural = _("topic models")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_active=True), name="topic_model_one_active_per_account"
            ),
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True, account__isnull=True),
                name="topic_model_one_active_shared",
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=0) & Q(threshold__lte=1), name="topic_model_threshold_0_1"
            ),
        ]

    def __str__(self) -> str:
        return gettext("topic model v%(version)s") % {"version": self.version}


class TopicLabel(models.Model):
    """A topic an agent set or corrected: the training data of the account's model.

    Written by `services.change_topic` (the inquiry page, the write API, bulk actions and
    macros all end there). `text` is the inquiry's opening customer message as the
    classifier saw it; the newest label of an inquiry is the one that counts."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="topic_labels"
    )
    team = models.ForeignKey(
        "inquiries.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    inquiry = models.ForeignKey(
        Inquiry, verbose_name=_("inquiry"), on_delete=models.CASCADE, related_name="topic_labels"
    )
    topic = models.ForeignKey(Topic, verbose_name=_("topic"), on_delete=models.CASCADE, related_name="labels")
    text = models.TextField(verbose_name=_("text"))
    labelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("labelled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    labelled_at = models.DateTimeField(verbose_name=_("labelled at"))
    corrected = models.BooleanField(
        verbose_name=_("corrected"),
        default=False,
        help_text=_("The agent changed the topic (rather than confirming it)."),
    )

    class Meta:
        verbose_name = _("topic label")
        verbose_name_plural = _("topic labels")
        indexes = [models.Index(fields=["account", "id"], name="topic_label_account_id")]

    def __str__(self) -> str:
        return gettext("%(topic)s for inquiry %(inquiry)s") % {
            "topic": self.topic_id,
            "inquiry": self.inquiry_id,
        }


class ClusterKind(models.TextChoices):
    BURST = "burst", _("Burst about one product")
    NEAR_DUPLICATE = "near_duplicate", _("Near-identical texts")
    SKU_RATE = "sku_rate", _("Complaint rate of one product")
    CARRIER_RATE = "carrier_rate", _("Delivery complaint rate of one carrier")


# Clusters judged on an absolute rate (complaints per units sold, per shipment) by the sweep,
# rather than complaint by complaint (`inquiries.services.cluster_rates`).
RATE_CLUSTER_KINDS = (ClusterKind.SKU_RATE, ClusterKind.CARRIER_RATE)


class ClusterState(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ACTION_TAKEN = "action_taken", _("Action taken")
    RESOLVED = "resolved", _("Resolved")


# States in which a cluster still collects complaints; a resolved cluster is history.
ACTIVE_CLUSTER_STATES = (ClusterState.OPEN, ClusterState.ACKNOWLEDGED, ClusterState.ACTION_TAKEN)


class Severity(models.IntegerChoices):
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    CRITICAL = 4, _("Critical")


class ClusterQuerySet(models.QuerySet["Cluster"]):
    def visible_to(self, user: User | AnonymousUser | None) -> ClusterQuerySet:
        """Clusters of the accounts the user may see (the same scoping as inquiries)."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(account__in=Account.objects.visible_to(user))

    def active(self) -> ClusterQuerySet:
        return self.filter(state__in=ACTIVE_CLUSTER_STATES)


class Cluster(models.Model):
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="clusters"
    )
    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), null=True, on_delete=models.SET_NULL, related_name="clusters"
    )
    sku = models.CharField(
        verbose_name=_("SKU"),
        max_length=100,
        blank=True,
        help_text=_("The product of a burst; empty for text clusters."),
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=ClusterKind.choices)
    signature = models.CharField(
        verbose_name=_("signature"),
        max_length=64,
        blank=True,
        help_text=_(
            "Identifies a text cluster (its first member); empty for bursts, which the product identifies."
        ),
    )
    state = models.CharField(
        verbose_name=_("state"), max_length=16, choices=ClusterState.choices, default=ClusterState.OPEN
    )
    first_seen = models.DateTimeField(
        verbose_name=_("first seen"), help_text=_("When the earliest member inquiry was opened.")
    )
    last_seen = models.DateTimeField(
        verbose_name=_("last seen"), help_text=_("When the latest member inquiry was opened.")
    )
    member_count = models.PositiveIntegerField(
        verbose_name=_("member count"), default=0, help_text=_("Member inquiries (one per complaint).")
    )
    customer_count = models.PositiveIntegerField(
        verbose_name=_("customer count"), default=0, help_text=_("Distinct customers among the members.")
    )
    window_count = models.PositiveIntegerField(
        verbose_name=_("window count"),
        default=0,
        help_text=_("Complaints in the rolling window at the last update."),
    )
    expected = models.FloatField(
        verbose_name=_("expected"),
        null=True,
        blank=True,
        help_text=_("Complaints expected in the window from the product's baseline (bursts)."),
    )
    p_value = models.FloatField(
        verbose_name=_("p-value"),
        null=True,
        blank=True,
        help_text=_("Poisson P(X >= window count) at the last update."),
    )
    severity = models.PositiveSmallIntegerField(
        verbose_name=_("severity"), choices=Severity.choices, default=Severity.LOW
    )
    growth = models.PositiveIntegerField(
        verbose_name=_("growth"),
        default=0,
        help_text=_("Members opened in the 24 hours before the last update."),
    )
    carrier = models.CharField(
        verbose_name=_("carrier"),
        max_length=100,
        blank=True,
        help_text=_("The carrier of a carrier-rate cluster, as the shipments name it."),
    )
    service = models.CharField(
        verbose_name=_("service"),
        max_length=100,
        blank=True,
        help_text=_("Its service (carrier-rate clusters)."),
    )
    warehouse = models.CharField(
        verbose_name=_("warehouse"),
        max_length=32,
        blank=True,
        help_text=_("The warehouse the shipments left from (carrier-rate clusters)."),
    )
    rate_numerator = models.PositiveIntegerField(
        verbose_name=_("rate numerator"),
        null=True,
        blank=True,
        help_text=_(
            "Rate clusters: orders with a complaint signal in the rate window (an inquiry, a "
            "complaint return, negative feedback; an order counts once), plus complaints naming the SKU "
            "without an order."
        ),
    )
    rate_denominator = models.PositiveIntegerField(
        verbose_name=_("rate denominator"),
        null=True,
        blank=True,
        help_text=_(
            "Rate clusters: units sold of the SKU (orders purchased in the window, cancelled "
            "ones left out), or shipments of the carrier, service and warehouse shipped in the window."
        ),
    )
    rate_threshold = models.FloatField(
        verbose_name=_("rate threshold"),
        null=True,
        blank=True,
        help_text=_("Rate clusters: the house threshold the rate was tested against (0.05 = 5%)."),
    )
    rate_window_days = models.PositiveSmallIntegerField(
        verbose_name=_("rate window days"),
        null=True,
        blank=True,
        help_text=_("Rate clusters: the window the rate counts, in days up to the last update."),
    )
    signals = models.JSONField(
        verbose_name=_("signals"),
        default=dict,
        blank=True,
        help_text=_(
            "Rate clusters: the signals behind the numerator by source "
            "(inquiries, returns, feedback), before an order's signals are counted once."
        ),
    )
    said = models.CharField(
        verbose_name=_("said"),
        max_length=200,
        blank=True,
        help_text=_(
            "Rate clusters: what customers say, the words found in most of the complaints, "
            "return comments and negative feedback behind it."
        ),
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged",
        help_text=_(
            "The cluster this one is part of: a near-identical-text cluster sharing complaints with a "
            "product's or carrier's cluster is the same incident, shown and handled there."
        ),
    )
    root_cause = models.TextField(verbose_name=_("root cause"), blank=True)
    corrective_action = models.TextField(verbose_name=_("corrective action"), blank=True)
    preventive_measure = models.TextField(verbose_name=_("preventive measure"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_clusters",
        help_text=_("Who is responsible for the corrective action."),
    )
    action_date = models.DateField(
        verbose_name=_("action date"),
        null=True,
        blank=True,
        help_text=_("When the corrective action was (or will be) taken."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=dj_timezone.now)
    resolved_at = models.DateTimeField(verbose_name=_("resolved at"), null=True, blank=True)

    objects = ClusterQuerySet.as_manager()

    # Not a column: what the cluster is about, set on the rows the pages and the API show by
    # `selectors.clusters.with_titles`.
    title: str

    class Meta:
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")
        ordering = ["-last_seen", "-id"]
        constraints = [
            # The invariant concurrent workers rely on: creating a second active cluster for
            # the same key fails, and the loser joins the winner's cluster instead.
            models.UniqueConstraint(
                fields=["account", "topic", "sku", "kind", "signature"],
                condition=Q(state__in=["open", "acknowledged", "action_taken"]),
                name="cluster_one_active_per_key",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "state", "last_seen"], name="cluster_account_state"),
        ]

    def __str__(self) -> str:
        what = self.sku or self.signature
        return f"{self.get_kind_display()} {what} ({self.get_state_display()})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_CLUSTER_STATES

    @property
    def is_rate(self) -> bool:
        return self.kind in RATE_CLUSTER_KINDS

    @property
    def rate(self) -> float | None:
        """Numerator over denominator, or None without a denominator ("no data")."""
        if not self.rate_denominator or self.rate_numerator is None:
            return None
        return self.rate_numerator / self.rate_denominator

    @property
    def rate_percent(self) -> float | None:
        rate = self.rate
        return None if rate is None else rate * 100

    @property
    def threshold_percent(self) -> float | None:
        return None if self.rate_threshold is None else self.rate_threshold * 100


class ClusterMember(models.Model):
    cluster = models.ForeignKey(
        Cluster, verbose_name=_("cluster"), on_delete=models.CASCADE, related_name="members"
    )
    inquiry = models.ForeignKey(
        Inquiry, verbose_name=_("inquiry"), on_delete=models.CASCADE, related_name="cluster_memberships"
    )
    message = models.ForeignKey(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The customer message that brought the inquiry in."),
    )
    opened_at = models.DateTimeField(
        verbose_name=_("opened at"),
        help_text=_("The inquiry's opening time (copied: the chart counts by it)."),
    )
    added_at = models.DateTimeField(verbose_name=_("added at"), default=dj_timezone.now)

    class Meta:
        verbose_name = _("cluster member")
        verbose_name_plural = _("cluster members")
        ordering = ["opened_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "inquiry"], name="cluster_member_unique"),
        ]
        indexes = [models.Index(fields=["inquiry"], name="cluster_member_inquiry")]

    def __str__(self) -> str:
        return gettext("%(cluster)s: inquiry %(inquiry)s") % {
            "cluster": self.cluster_id,
            "inquiry": self.inquiry_id,
        }


class ClusterEventKind(models.TextChoices):
    OPENED = "opened", _("Cluster opened")
    ESCALATED = "escalated", _("Severity rose")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ACTION_TAKEN = "action_taken", _("Corrective action recorded")
    RESOLVED = "resolved", _("Resolved")
    MEMBERS_REMOVED = "members_removed", _("Re-tagged members removed")
    MERGED = "merged", _("Merged: the same incident as another cluster")


class ClusterEvent(models.Model):
    """Append-only facts about a cluster, written in the transaction that made the change."""

    cluster = models.ForeignKey(
        Cluster, verbose_name=_("cluster"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=32, choices=ClusterEventKind.choices)
    at = models.DateTimeField(verbose_name=_("at"), default=dj_timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    data = models.JSONField(verbose_name=_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("cluster event")
        verbose_name_plural = _("cluster events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["cluster", "at"], name="cluster_event_cluster_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {names.moment(self.at)}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("ClusterEvent rows are append-only")
        super().save(*args, **kwargs)


class ComplaintFingerprint(models.Model):
    """A complaint's text fingerprint (MinHash, see `complaints.fingerprints`), stored when it
    is first clustered: finding near-identical complaints then compares a few hundred bytes
    per candidate instead of re-reading and re-vectorising every candidate's text.

    Account, topic, customer and opening time are copied from the inquiry (and the topic
    refreshed on re-tags) so the window's candidates come from one index range.
    """

    inquiry = models.OneToOneField(
        Inquiry, verbose_name=_("inquiry"), primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    # No index of its own: "fingerprint_window" starts with the account. A second one only
    # tempts the planner into scanning every fingerprint of the account for a window query.
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    message = models.ForeignKey(
        Message, verbose_name=_("message"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField(verbose_name=_("opened at"))
    signature = models.BinaryField(verbose_name=_("signature"))

    class Meta:
        verbose_name = _("complaint fingerprint")
        verbose_name_plural = _("complaint fingerprints")
        indexes = [models.Index(fields=["account", "topic", "opened_at"], name="fingerprint_window")]

    def __str__(self) -> str:
        return gettext("fingerprint of inquiry %(inquiry)s") % {"inquiry": self.inquiry_id}


class ClusterSweepState(models.Model):
    """The one row (pk 1) that says how far the periodic cluster sweep has gone.

    The sweep works a few seconds at a time (issue 24): it finds the busy (account, topic, SKU)
    keys once, tests them in order, then refreshes the other active clusters in id order, and
    when its budget is spent it records here where it stopped; its continuation, or the next scheduled run when the
    continuation was lost, goes on from there.
    """

    class Phase(models.IntegerChoices):
        IDLE = 0, _("idle")
        BURSTS = 1, _("testing products for bursts")
        CLUSTERS = 2, _("refreshing active clusters")

    phase = models.PositiveSmallIntegerField(
        verbose_name=_("phase"), choices=Phase.choices, default=Phase.IDLE
    )
    keys = models.JSONField(
        verbose_name=_("keys"),
        default=list,
        blank=True,
        help_text=_("The (account, topic, SKU) keys this sweep tests, in order."),
    )
    next_key = models.PositiveIntegerField(
        verbose_name=_("next key"), default=0, help_text=_("How many of them are done.")
    )
    after_cluster = models.BigIntegerField(
        verbose_name=_("after cluster"), null=True, blank=True, help_text=_("The last cluster refreshed.")
    )
    started_at = models.DateTimeField(
        verbose_name=_("started at"), null=True, blank=True, help_text=_("When the sweep under way began.")
    )
    stepped_at = models.DateTimeField(
        verbose_name=_("stepped at"), null=True, blank=True, help_text=_("When it last moved on.")
    )

    class Meta:
        verbose_name = _("cluster sweep state")
        verbose_name_plural = _("cluster sweep states")

    def __str__(self) -> str:
        return gettext("cluster sweep: %(phase)s") % {"phase": self.get_phase_display()}
