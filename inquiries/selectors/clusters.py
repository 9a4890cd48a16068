"""Complaint clusters: the list and page (scoped by `Cluster.objects.visible_to(user)`), their
titles, members, events and daily counts, and who may act on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Concat, Left, RowNumber, TruncDate
from django.http import Http404

from inquiries.complaints.rates import title_of
from inquiries.complaints.titles import ClusterText, cluster_title
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    Cluster,
    ClusterEvent,
    ClusterMember,
    Inquiry,
    Topic,
)


def clusters_for(user: User | AnonymousUser) -> QuerySet[Cluster]:
    """Clusters of the accounts the user may see, with what their lists show joined in."""
    return Cluster.objects.visible_to(user).select_related("account", "topic", "owner")


RECENT_PERIOD = timedelta(hours=24)
TITLE_TEXTS = 20  # member texts read per cluster for its title
TITLE_TEXT_CHARS = 1000


def with_recent_count(queryset: QuerySet[Cluster], now: datetime) -> QuerySet[Cluster]:
    """Each cluster's members opened in the 24 hours before `now` (`recent_count`), counted
    in the page's own query. The stored `growth` is as of the cluster's last update, which for
    a quiet cluster was weeks ago."""
    recent = (
        ClusterMember.objects.filter(cluster=OuterRef("pk"), opened_at__gt=now - RECENT_PERIOD)
        .values("cluster")
        .annotate(n=Count("id"))
        .values("n")
    )
    return queryset.annotate(recent_count=Coalesce(Subquery(recent, output_field=IntegerField()), 0))


def recent_member_count(cluster: Cluster, now: datetime) -> int:
    """One cluster's members opened in the 24 hours before `now`."""
    return cluster.members.filter(opened_at__gt=now - RECENT_PERIOD).count()


def with_titles(clusters: list[Cluster]) -> list[Cluster]:
    """Sets `title` on each cluster (what it is about: its SKU and top terms), from the texts
    of its first TITLE_TEXTS members, in one query for the whole list."""
    if not clusters:
        return clusters
    rows = (
        ClusterMember.objects.filter(cluster__in=[cluster.pk for cluster in clusters if not cluster.is_rate])
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("cluster_id")], order_by=[F("opened_at"), F("id")]),
            text=Concat(
                Coalesce("message__subject", "inquiry__subject", Value("")),
                Value(" "),
                Left(Coalesce("message__body_text", Value("")), TITLE_TEXT_CHARS),
            ),
        )
        .filter(rank__lte=TITLE_TEXTS)
        .values_list("cluster_id", "text", "inquiry__sku")
    )
    texts: dict[int, list[ClusterText]] = {}
    for cluster_id, text, sku in rows:
        texts.setdefault(cluster_id, []).append(ClusterText(text=text, sku=sku))
    for cluster in clusters:
        if cluster.is_rate:
            # A rate cluster names what it measures, what customers say (stored by the sweep,
            # from returns and feedback too) and its figures.
            cluster.title = title_of(cluster)
        else:
            cluster.title = cluster_title(
                kind=cluster.kind, sku=cluster.sku, members=texts.get(cluster.pk, [])
            )
    return clusters


@dataclass(frozen=True, slots=True)
class ClusterFilters:
    """The cluster list's filters; empty values mean "any". `state` "active" is the default."""

    account: int | None = None
    topic: str = ""  # a topic key
    state: str = "active"  # "active", "all" or one ClusterState value
    kind: str = ""
    sku: str = ""


def filter_clusters(queryset: QuerySet[Cluster], filters: ClusterFilters) -> QuerySet[Cluster]:
    conditions = Q()
    if filters.account is not None:
        conditions &= Q(account_id=filters.account)
    if filters.topic:
        conditions &= Q(topic__key=filters.topic)
    if filters.state == "active":
        conditions &= Q(state__in=ACTIVE_CLUSTER_STATES)
    elif filters.state and filters.state != "all":
        conditions &= Q(state=filters.state)
    if filters.kind:
        conditions &= Q(kind=filters.kind)
    if filters.sku.strip():
        conditions &= Q(sku__iexact=filters.sku.strip())
    # Worst first: active before resolved, then severity, then the latest activity.
    # One incident, one row: a cluster merged into another is listed there.
    conditions &= Q(merged_into__isnull=True)
    active_first = Case(When(state__in=ACTIVE_CLUSTER_STATES, then=Value(0)), default=Value(1))
    return queryset.filter(conditions).order_by(active_first, "-severity", "-last_seen", "-id")


def merged_clusters(cluster: Cluster) -> list[Cluster]:
    """The clusters merged into `cluster` (the same incident), with their titles."""
    return with_titles(
        list(Cluster.objects.filter(merged_into=cluster).select_related("topic").order_by("id"))
    )


def get_cluster_for_user(user: User | AnonymousUser, pk: int) -> Cluster:
    """The cluster if the user may see it; another team's cluster is a 404, like a missing one."""
    try:
        return clusters_for(user).get(pk=pk)
    except (Cluster.DoesNotExist, ValueError, TypeError):
        raise Http404("No such cluster.") from None


def cluster_members(cluster: Cluster) -> QuerySet[ClusterMember]:
    """A cluster's members with their inquiries and customers, newest first."""
    return (
        ClusterMember.objects.filter(cluster=cluster)
        .select_related("inquiry__customer", "inquiry__topic")
        # The start of the complaint, which titles a subjectless (chat-style) member.
        .annotate(opening=Left("message__body_text", TITLE_TEXT_CHARS))
        .order_by("-opened_at", "-id")
    )


def cluster_events(cluster: Cluster) -> QuerySet[ClusterEvent]:
    return ClusterEvent.objects.filter(cluster=cluster).select_related("actor").order_by("at", "id")


def cluster_daily_counts(cluster: Cluster, start: datetime, end: datetime, tz: object) -> dict[date, int]:
    """Complaints per local day in [start, end]: the product's (bursts) or the members' (texts).

    A burst's chart counts every complaint about the product, so the weeks of baseline
    before the burst show next to it.
    """
    rows: QuerySet[Inquiry] | QuerySet[ClusterMember]
    if cluster.kind == "burst":
        product = {"account_id": cluster.account_id, "topic_id": cluster.topic_id, "sku": cluster.sku}
        rows = Inquiry.objects.filter(**product)
    else:
        rows = ClusterMember.objects.filter(cluster=cluster)
    counts = (
        rows.filter(opened_at__gte=start, opened_at__lte=end)
        .annotate(day=TruncDate("opened_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
        .order_by("day")
    )
    return dict(counts)


def clusters_for_inquiry(inquiry: Inquiry) -> list[Cluster]:
    """The clusters an inquiry (already fetched through the access check) belongs to,
    active ones first. Its clusters are its own account's, so no further scoping is needed."""
    active_first = Case(When(state__in=ACTIVE_CLUSTER_STATES, then=Value(0)), default=Value(1))
    return with_titles(
        list(
            Cluster.objects.filter(members__inquiry=inquiry)
            .select_related("topic")
            .order_by(active_first, "-last_seen", "-id")
        )
    )


def cluster_topics() -> list[Topic]:
    return list(Topic.objects.filter(is_complaint=True))
