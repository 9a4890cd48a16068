"""Clusters from ingested complaints: bursts per product, near-identical texts, the sweep,
the lifecycle, and correctness under concurrent ingestion."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import close_old_connections, connection

from inquiries import models as m
from inquiries.services import change_topic, complaints
from inquiries.services.errors import Conflict, DomainError
from inquiries.services.followup import follow_up_message
from tests.complaints.helpers import QUALITY_TEXT, T0, ingest, quality_text
from tests.factories import incoming

pytestmark = pytest.mark.django_db

SKU = "KETTLE-1"


def quiet_baseline(channel, *, sku: str = SKU, count: int = 2) -> None:
    """An account with three months of history and `count` complaints about `sku` spread
    over the eight weeks before the window."""
    ingest(
        channel, at=T0 - timedelta(days=90), customer="first@example.com", body="Is it compatible with 110 V?"
    )
    for n in range(count):
        ingest(
            channel,
            at=T0 - timedelta(days=20 + 14 * n),
            sku=sku,
            customer=f"old{n}@example.com",
            body=quality_text(),
        )


def burst(channel, *, count: int = 10, sku: str = SKU, start=T0, hours: float = 4.8) -> list[m.Message]:
    """`count` quality complaints about `sku` from different customers, `hours` apart."""
    return [
        ingest(
            channel,
            at=start + timedelta(hours=hours * n),
            sku=sku,
            customer=f"buyer{n}@{start:%j%H}.example",
            body=quality_text(),
        )
        for n in range(count)
    ]


@pytest.fixture
def notified():
    """Event ids handed to the notification service, as the after-commit task would."""
    calls: list[int] = []

    def record(*, event_ids: list[int]) -> int:
        calls.extend(event_ids)
        return len(event_ids)

    with mock.patch("inquiries.services.notifications.notify_for_cluster_events", side_effect=record):
        yield calls


# --- bursts -------------------------------------------------------------------------------------


def test_a_burst_of_ten_complaints_in_two_days_is_flagged_once_as_one_growing_cluster(
    channel, topics, notified
):
    quiet_baseline(channel)
    messages = burst(channel, count=10, hours=4.8)  # ten complaints within 2 days

    cluster = m.Cluster.objects.get()
    assert (cluster.kind, cluster.sku, cluster.topic.key, cluster.state) == ("burst", SKU, "quality", "open")
    assert cluster.member_count == 10
    assert set(cluster.members.values_list("inquiry_id", flat=True)) == {msg.inquiry_id for msg in messages}
    assert cluster.first_seen == messages[0].received_at
    assert cluster.last_seen == messages[-1].received_at
    assert cluster.severity == m.Severity.CRITICAL
    assert cluster.window_count == 10
    assert cluster.p_value < 0.01
    assert cluster.expected == pytest.approx(7 * (2 + 1) / 56)
    opened = m.ClusterEvent.objects.filter(cluster=cluster, kind=m.ClusterEventKind.OPENED)
    assert opened.count() == 1
    assert opened.get().pk in notified


def test_the_cluster_opens_at_the_third_complaint_and_then_grows(channel, topics):
    quiet_baseline(channel)
    burst(channel, count=2)
    assert not m.Cluster.objects.exists()

    burst(channel, count=1, start=T0 + timedelta(hours=12))
    cluster = m.Cluster.objects.get()
    assert cluster.member_count == 3

    ingest(channel, at=T0 + timedelta(hours=13), sku=SKU, customer="late@example.com", body=quality_text())
    cluster.refresh_from_db()
    assert (m.Cluster.objects.count(), cluster.member_count, cluster.growth) == (1, 4, 4)


def test_steady_background_noise_over_many_products_flags_nothing(channel, topics):
    # 30 SKUs, each with one complaint every 10 to 40 days on average, for nine weeks from
    # the account's first day. A quiet SKU is flagged at 3 complaints in a week (4 for the
    # busiest), which such rates give a few times in ten thousand SKU-weeks, and the short
    # baseline of the first weeks raises the bar further (5 in the first week).
    rng = random.Random(7)
    events = []
    for sku in range(30):
        rate = rng.uniform(1 / 40, 1 / 10)
        events += [(day, sku) for day in range(63) if rng.random() < rate]
    for n, (day, sku) in enumerate(sorted(events)):
        ingest(
            channel,
            at=T0 + timedelta(days=day, minutes=n),
            sku=f"SKU-{sku}",
            customer=f"c{n}@example.com",
            body=quality_text(),
        )
    assert len(events) > 40
    assert not m.Cluster.objects.filter(kind=m.ClusterKind.BURST).exists()


def test_a_product_with_many_complaints_as_usual_is_not_flagged(channel, topics):
    # Five complaints a week for eight weeks (history, loaded without cluster updates),
    # then a ninth week like the others.
    with mock.patch("inquiries.services.complaints.update_clusters_for_message", return_value=[]):
        for n in range(40):
            ingest(
                channel,
                at=T0 - timedelta(hours=33.6 * (n + 1)),
                sku=SKU,
                customer=f"h{n}@example.com",
                body=quality_text(),
            )
    for n in range(5):
        ingest(
            channel,
            at=T0 + timedelta(hours=33.6 * n),
            sku=SKU,
            customer=f"b{n}@example.com",
            body=quality_text(),
        )

    assert not m.Cluster.objects.filter(kind=m.ClusterKind.BURST).exists()


def test_only_the_opening_message_of_an_inquiry_counts_as_a_complaint(channel, topics):
    first = ingest(channel, sku=SKU, customer="one@example.com", thread_id="t1")
    for n in range(5):
        ingest(channel, at=T0 + timedelta(hours=n + 1), sku=SKU, customer="one@example.com", thread_id="t1")

    assert m.Inquiry.objects.count() == 1
    assert complaints.update_clusters_for_message(message_id=first.pk) == []
    assert not m.Cluster.objects.exists()


def test_questions_and_messages_without_a_sku_never_make_a_burst(channel, topics):
    for n in range(6):
        ingest(
            channel,
            at=T0 + timedelta(hours=n),
            sku=SKU,
            customer=f"q{n}@example.com",
            subject="Question",
            body=f"Is model {n} compatible with my machine?",
        )
        ingest(
            channel,
            at=T0 + timedelta(hours=n, minutes=1),
            customer=f"n{n}@example.com",
            body=f"Order {n * 7919}: item {n} stopped working, defective unit.",
        )

    assert not m.Cluster.objects.filter(kind=m.ClusterKind.BURST).exists()


def test_back_filled_history_clusters_exactly_as_if_it_had_arrived_live(channel, topics):
    quiet_baseline(channel)
    burst(channel, count=10, start=T0 - timedelta(days=300))

    cluster = m.Cluster.objects.get()
    assert cluster.first_seen == T0 - timedelta(days=300)
    assert cluster.member_count == 10


def test_the_update_is_idempotent(channel, topics):
    messages = burst(channel, count=5)
    cluster = m.Cluster.objects.get()
    events = m.ClusterEvent.objects.count()

    for message in messages:
        complaints.update_clusters_for_message(message_id=message.pk)

    cluster.refresh_from_db()
    assert (m.Cluster.objects.count(), cluster.member_count, m.ClusterEvent.objects.count()) == (1, 5, events)


def test_a_rising_severity_is_an_escalation_event(channel, topics, notified):
    quiet_baseline(channel, count=8)
    burst(channel, count=10, hours=2)
    cluster = m.Cluster.objects.get()

    escalations = list(
        cluster.events.filter(kind=m.ClusterEventKind.ESCALATED).values_list("data", flat=True)
    )
    assert escalations
    assert escalations[-1]["to"] == cluster.get_severity_display() == "Critical"
    assert set(cluster.events.values_list("pk", flat=True)) <= set(notified)


# --- near-identical texts -------------------------------------------------------------------------

CAMPAIGN = "Your seller sent me a used and dirty product with scratches, this is a scam, refund now!!"


def test_near_identical_complaints_from_different_customers_form_one_text_cluster(channel, topics):
    a = ingest(channel, body=CAMPAIGN, customer="a@example.com")
    b = ingest(
        channel, at=T0 + timedelta(hours=1), body=CAMPAIGN.replace("scam", "SCAM"), customer="b@example.com"
    )
    c = ingest(
        channel,
        at=T0 + timedelta(hours=2),
        body=f"Order 123-456: {CAMPAIGN}",
        customer="c@example.com",
        sku="KETTLE-9",
    )
    ingest(
        channel,
        at=T0 + timedelta(hours=3),
        body="The kettle leaks at the bottom seam.",
        customer="d@example.com",
    )

    cluster = m.Cluster.objects.get(kind=m.ClusterKind.NEAR_DUPLICATE)
    assert set(cluster.members.values_list("inquiry_id", flat=True)) == {
        a.inquiry_id,
        b.inquiry_id,
        c.inquiry_id,
    }
    assert (cluster.sku, cluster.customer_count, cluster.member_count) == ("", 3, 3)
    assert cluster.events.filter(kind=m.ClusterEventKind.OPENED).count() == 1


def test_one_customer_repeating_a_text_is_not_a_cluster(channel, topics):
    for n in range(3):
        ingest(channel, at=T0 + timedelta(hours=n), body=CAMPAIGN, customer="same@example.com")

    assert not m.Cluster.objects.exists()


def test_the_similarity_threshold_is_configurable(channel, topics, settings):
    settings.CSTRACKER_CLUSTER_TEXT_SIMILARITY_PERCENT = 100
    ingest(channel, body=CAMPAIGN, customer="a@example.com")
    ingest(channel, at=T0 + timedelta(hours=1), body=CAMPAIGN + " Thanks.", customer="b@example.com")
    assert not m.Cluster.objects.exists()

    settings.CSTRACKER_CLUSTER_TEXT_SIMILARITY_PERCENT = 70
    ingest(channel, at=T0 + timedelta(hours=2), body=CAMPAIGN + " Thank you.", customer="c@example.com")
    assert m.Cluster.objects.get().member_count == 3


# --- lifecycle ----------------------------------------------------------------------------------


def test_the_lifecycle_records_each_transition_as_a_notified_event(
    channel, topics, manager, notified, django_capture_on_commit_callbacks
):
    burst(channel, count=5)
    cluster = m.Cluster.objects.get()
    day = T0.date() + timedelta(days=3)

    with django_capture_on_commit_callbacks(execute=True):
        complaints.acknowledge(cluster=cluster, actor=manager, now=T0 + timedelta(days=1))
        complaints.record_action(
            cluster=cluster,
            actor=manager,
            root_cause="Bad seal batch 42",
            corrective_action="Batch recalled",
            preventive_measure="Seal pressure test",
            action_date=day,
            now=T0 + timedelta(days=2),
        )
        complaints.resolve(
            cluster=cluster, actor=manager, note="No new complaints", now=T0 + timedelta(days=9)
        )

    cluster.refresh_from_db()
    assert (cluster.state, cluster.owner, cluster.action_date, cluster.root_cause) == (
        "resolved",
        manager,
        day,
        "Bad seal batch 42",
    )
    lifecycle = (
        m.ClusterEventKind.ACKNOWLEDGED,
        m.ClusterEventKind.ACTION_TAKEN,
        m.ClusterEventKind.RESOLVED,
    )
    events = list(cluster.events.filter(kind__in=lifecycle).order_by("at"))
    assert [(e.kind, e.actor, e.data["from"]) for e in events] == [
        ("acknowledged", manager, "open"),
        ("action_taken", manager, "acknowledged"),
        ("resolved", manager, "action_taken"),
    ]
    assert events[1].data["preventive_measure"] == "Seal pressure test"
    assert {e.pk for e in events} <= set(notified)


def test_impossible_transitions_are_refused(channel, topics, manager):
    burst(channel, count=5)
    cluster = m.Cluster.objects.get()
    complaints.acknowledge(cluster=cluster, actor=manager)

    with pytest.raises(Conflict):
        complaints.acknowledge(cluster=cluster, actor=manager)
    with pytest.raises(DomainError) as missing:
        complaints.record_action(cluster=cluster, actor=manager, root_cause=" ", corrective_action="x")
    assert missing.value.field == "root_cause"
    complaints.resolve(cluster=cluster, actor=manager)
    with pytest.raises(Conflict):
        complaints.resolve(cluster=cluster, actor=manager)
    with pytest.raises(Conflict):
        complaints.record_action(cluster=cluster, actor=manager, root_cause="a", corrective_action="b")


def test_after_resolution_only_new_complaints_can_open_the_next_cluster(channel, topics, manager):
    quiet_baseline(channel)
    burst(channel, count=5)
    first = m.Cluster.objects.get()
    complaints.resolve(cluster=first, actor=manager, now=T0 + timedelta(days=1))

    ingest(
        channel,
        at=T0 + timedelta(days=1, hours=1),
        sku=SKU,
        customer="after1@example.com",
        body=quality_text(),
    )
    assert m.Cluster.objects.count() == 1  # the resolved burst's complaints do not count again

    burst(channel, count=3, start=T0 + timedelta(days=1, hours=2), hours=1)
    second = m.Cluster.objects.exclude(pk=first.pk).get()
    assert second.state == "open"
    assert second.member_count == 4


# --- the sweep ------------------------------------------------------------------------------------


def lost_bursts(channel, skus: list[str]) -> None:
    """Five quality complaints about each SKU whose cluster update was lost."""
    with mock.patch("inquiries.services.complaints.update_clusters_for_message", return_value=[]):
        for sku in skus:
            for n in range(5):
                ingest(
                    channel,
                    at=T0 + timedelta(hours=n),
                    sku=sku,
                    customer=f"{sku}{n}@example.com",
                    body=quality_text(),
                )


def test_the_sweep_opens_a_burst_whose_follow_up_was_lost(channel, topics):
    lost_bursts(channel, [SKU])
    assert not m.Cluster.objects.exists()

    result = complaints.sweep_clusters(now=T0 + timedelta(hours=6))

    assert result.opened == 1
    assert m.Cluster.objects.get().member_count == 5
    again = complaints.sweep_clusters(now=T0 + timedelta(hours=6))
    assert (again.opened, m.Cluster.objects.count(), m.ClusterEvent.objects.count()) == (0, 1, 1)


def test_a_sweep_on_a_budget_goes_one_product_then_one_cluster_at_a_time_to_the_same_end(channel, topics):
    ingest(channel, body=CAMPAIGN, customer="a@example.com")
    ingest(channel, at=T0 + timedelta(minutes=5), body=CAMPAIGN, customer="b@example.com")
    near = m.Cluster.objects.get(kind=m.ClusterKind.NEAR_DUPLICATE)
    lost_bursts(channel, ["A-1", "B-2", "C-3"])
    now = T0 + timedelta(hours=6)

    calls = [complaints.sweep_clusters(now=now, budget_seconds=0)]
    while not calls[-1].done:
        calls.append(complaints.sweep_clusters(now=now, budget_seconds=0, continuation=True))

    # Three products tested (one each call), then the one cluster the bursts did not touch.
    assert len(calls) == 4
    assert [c.opened for c in calls] == [1, 1, 1, 0]
    assert sum(c.refreshed for c in calls) == 4
    bursts = m.Cluster.objects.filter(kind=m.ClusterKind.BURST)
    assert sorted(bursts.values_list("sku", "member_count")) == [("A-1", 5), ("B-2", 5), ("C-3", 5)]
    near.refresh_from_db()
    assert near.member_count == 2
    state = m.ClusterSweepState.objects.get()
    assert (state.phase, state.keys, state.after_cluster) == (m.ClusterSweepState.Phase.IDLE, [], None)
    # The same work again in one call finds nothing new: the stepped sweep reached the same end.
    assert complaints.sweep_clusters(now=now).opened == 0
    assert m.Cluster.objects.count() == 4


def test_a_scheduled_sweep_leaves_a_moving_sweep_alone_and_takes_over_a_stalled_one(channel, topics):
    lost_bursts(channel, ["A-1", "B-2"])
    now = T0 + timedelta(hours=6)
    first = complaints.sweep_clusters(now=now, budget_seconds=0)
    assert (first.done, first.opened) == (False, 1)

    moving = complaints.sweep_clusters(now=now + timedelta(seconds=30))
    assert moving.skipped and str(moving) == "skipped: a sweep is under way"
    assert m.Cluster.objects.count() == 1

    # Its continuation was lost: a later scheduled run goes on from where it stopped.
    later = complaints.sweep_clusters(now=now + complaints.SWEEP_STALLED_AFTER)
    assert (later.skipped, later.done, later.opened) == (False, True, 1)
    assert sorted(m.Cluster.objects.values_list("sku", flat=True)) == ["A-1", "B-2"]


def test_the_beat_task_continues_the_sweep_until_it_is_done(channel, topics, settings):
    settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS = 0
    lost_bursts(channel, ["A-1", "B-2", "C-3"])
    from inquiries import tasks

    with mock.patch("inquiries.services.complaints.sweep.timezone.now", return_value=T0 + timedelta(hours=6)):
        tasks.sweep_clusters.apply().get()  # eager: each continuation runs at once

    assert m.Cluster.objects.filter(kind=m.ClusterKind.BURST).count() == 3
    assert m.ClusterSweepState.objects.get().phase == m.ClusterSweepState.Phase.IDLE


def test_the_sweep_fingerprints_window_complaints_that_have_none(channel, topics):
    for n in range(3):
        with mock.patch("inquiries.services.complaints.update_clusters_for_message", return_value=[]):
            ingest(channel, at=T0 + timedelta(hours=n), body=CAMPAIGN, customer=f"f{n}@example.com")
    assert not m.ComplaintFingerprint.objects.exists()

    assert complaints.fingerprint_window(now=T0 + timedelta(hours=3)) == 3
    assert complaints.fingerprint_window(now=T0 + timedelta(hours=3)) == 0

    # The fingerprints make the next copy find its look-alikes.
    ingest(channel, at=T0 + timedelta(hours=4), body=CAMPAIGN, customer="f9@example.com")
    assert m.Cluster.objects.get(kind=m.ClusterKind.NEAR_DUPLICATE).member_count == 4


def test_the_sweep_removes_members_an_agent_re_tagged_and_adds_those_tagged_in(channel, topics, agent):
    messages = burst(channel, count=5)
    question = ingest(
        channel,
        at=T0 + timedelta(hours=30),
        sku=SKU,
        customer="q@example.com",
        body="Is it compatible with 110 V?",
    )
    cluster = m.Cluster.objects.get()
    now = T0 + timedelta(hours=31)
    change_topic(
        inquiry=m.Inquiry.objects.get(pk=messages[0].inquiry_id),
        topic=topics["question"],
        actor=agent,
        now=now,
    )
    change_topic(
        inquiry=m.Inquiry.objects.get(pk=question.inquiry_id), topic=topics["quality"], actor=agent, now=now
    )

    result = complaints.sweep_clusters(now=now + timedelta(minutes=5))

    members = set(cluster.members.values_list("inquiry_id", flat=True))
    assert messages[0].inquiry_id not in members
    assert question.inquiry_id in members
    assert (result.removed, m.Cluster.objects.get().member_count) == (1, 5)
    assert cluster.events.filter(kind=m.ClusterEventKind.MEMBERS_REMOVED).get().data == {
        "inquiries": [messages[0].inquiry_id]
    }


# --- concurrency ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingestion_makes_exactly_one_cluster_with_every_complaint(channel, topics):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL")
    from inquiries.services import record_message

    for n in range(2):
        record_message(
            channel=channel,
            incoming=incoming(
                # Baseline complaints, further apart than the text window so they are no cluster.
                received_at=T0 - timedelta(days=30 + 10 * n),
                sku=SKU,
                sender_address=f"o{n}@example.com",
                body_text=QUALITY_TEXT,
            ),
            now=T0,
        )
    workers = 12
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def complain(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            # Same campaign text too, so the text clustering races as well.
            record_message(
                channel=channel,
                incoming=incoming(
                    received_at=T0 + timedelta(minutes=n),
                    sku=SKU,
                    sender_address=f"t{n}@example.com",
                    body_text=CAMPAIGN,
                ),
                now=T0 + timedelta(minutes=n),
            )
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=complain, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    # Every message was followed up by its after-commit task (eager in tests).
    assert not m.Message.objects.filter(followed_up_at__isnull=True).exists()
    bursts = m.Cluster.objects.filter(kind=m.ClusterKind.BURST)
    texts = m.Cluster.objects.filter(kind=m.ClusterKind.NEAR_DUPLICATE)
    assert bursts.count() == 1 and texts.count() == 1
    burst_cluster, text_cluster = bursts.get(), texts.get()
    assert burst_cluster.member_count == burst_cluster.members.count() == workers
    assert text_cluster.member_count == text_cluster.members.count() == workers
    assert m.ClusterEvent.objects.filter(kind=m.ClusterEventKind.OPENED).count() == 2


@pytest.mark.django_db(transaction=True)  # the follow-ups run after commit
def test_a_later_complaint_followed_up_before_the_burst_opened_still_joins_it(channel, topics):
    """Follow-ups do not run in time order (workers race, imports back-fill): a complaint
    judged quiet before the cluster existed belongs to it once an earlier one opens it."""
    from inquiries.services import record_message

    for n in range(2):  # the product's baseline, as in the concurrent test
        record_message(
            channel=channel,
            incoming=incoming(
                received_at=T0 - timedelta(days=30 + 10 * n),
                sku=SKU,
                sender_address=f"o{n}@example.com",
                body_text=QUALITY_TEXT,
            ),
            now=T0,
        )
    for n in [11, *range(11)]:  # the latest complaint is followed up first, judged quiet alone
        record_message(
            channel=channel,
            incoming=incoming(
                received_at=T0 + timedelta(minutes=n),
                sku=SKU,
                sender_address=f"t{n}@example.com",
                body_text=CAMPAIGN,
            ),
            now=T0 + timedelta(minutes=12),
        )
    burst = m.Cluster.objects.get(kind=m.ClusterKind.BURST)
    assert burst.member_count == burst.members.count() == 12


def test_a_lost_follow_up_is_done_by_the_clock_sweep_once(channel, topics):
    quiet_baseline(channel)
    with mock.patch("inquiries.services.queue.safe_delay"):
        messages = burst(channel, count=4)
    assert not m.Cluster.objects.exists()

    assert sum(follow_up_message(message_id=msg.pk) for msg in messages) == 4
    assert sum(follow_up_message(message_id=msg.pk) for msg in messages) == 0
    assert m.Cluster.objects.get().member_count == 4


# Quality complaints as customers write them, in four languages, naming no rule keyword: only
# the shipped model files them under quality.
PLAIN_QUALITY = (
    "the water tastes of plastic and the base gets way too hot",
    "das Wasser schmeckt nach Plastik und der Sockel wird sehr heiß",
    "el agua sabe a plastico y la base se calienta muchisimo",
    "l'eau a un goût de plastique et le socle chauffe énormément",
    "it makes a loud buzzing noise and shuts off halfway",
    "the handle gets so hot i burnt my fingers",
    "der Griff wird so heiß dass ich mir die Finger verbrannt habe",
    "el asa se calienta tanto que me queme los dedos",
    "la poignée chauffe tellement que je me suis brûlé les doigts",
    "hace un zumbido fuerte y se apaga a mitad",
)


def test_a_burst_of_plain_language_complaints_without_keywords_makes_a_cluster_of_all_of_them(
    channel, topics
):
    quiet_baseline(channel)
    messages = [
        ingest(
            channel,
            at=T0 + timedelta(hours=4.8 * n),
            sku=SKU,
            customer=f"plain{n}@example.com",
            subject="Kettle",
            body=text,
        )
        for n, text in enumerate(PLAIN_QUALITY)
    ]

    inquiries = m.Inquiry.objects.filter(pk__in=[msg.inquiry_id for msg in messages])
    assert set(inquiries.values_list("topic__key", "topic_source")) == {("quality", "shipped")}
    cluster = m.Cluster.objects.get()
    assert (cluster.kind, cluster.topic.key, cluster.member_count) == ("burst", "quality", 10)
