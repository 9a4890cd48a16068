"""Answered means delivered (issue 18): a reply answers the customer when the relay accepts it,
and a failure or a later bounce puts the clocks back as if it had never been sent.

Real relays on free ports (aiosmtpd): one that accepts, one that answers 550, one that accepts
and then sends a delivery status notification back, recorded as the mailbox would record it.
Time is moved with time_machine; the send task runs when the test says the relay took it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from inquiries import models as m
from inquiries import services, tasks
from inquiries.ingestion.email import parse_email
from inquiries.reports.queries import live_compliance_counts
from inquiries.reports.rollup import rollup_counts
from inquiries.reports.scope import make_scope
from inquiries.selectors.health.metrics import health_facts, rules_for
from inquiries.services import delivery
from inquiries.services import mail as mail_service
from inquiries.services import mailbox as mailbox_service
from inquiries.services.rollups import refresh_rollups
from inquiries.services.sweep import sweep
from tests.factories import AccountFactory, policy_with_targets
from tests.mail.helpers import customer_mail, delivery_status_notification, email_channel, mailbox_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
MARKET = m.ClockKind.MARKETPLACE_REPLY


@pytest.fixture
def policy(db: None) -> m.SlaPolicy:
    """First reply 1 h (at risk after 45 min), next reply 2 h, resolution 24 h, around the clock."""
    return policy_with_targets(first_reply=3600, next_reply=7200, resolution=86400)


@pytest.fixture
def support(account: m.Account, policy: m.SlaPolicy) -> m.Channel:
    """Team A's account on Amazon (24 h marketplace reply clock per message), by e-mail."""
    m.Account.objects.filter(pk=account.pk).update(marketplace=m.Marketplace.AMAZON, name="Acme Shop")
    return email_channel(m.Account.objects.get(pk=account.pk), "support", "support@shop.example")


def relay(channel: m.Channel, sink: object) -> m.MailboxConfig:
    return mailbox_for(channel, None, smtp=sink)


def customer_writes(channel: m.Channel, number: int, at: datetime, *, after: int | None = None) -> m.Message:
    extra = (f"In-Reply-To: <customer-{after}@mail.example>",) if after else ()
    incoming = parse_email(customer_mail(number, subject="Lid broken", extra=extra), received_at=at)
    return mailbox_service.record_mail(channel=channel, incoming=incoming, now=at).message


def agent_replies(
    inquiry: m.Inquiry, agent: object, at: datetime, text: str = "Sorry! A new lid is coming."
) -> m.Message:
    """The agent clicks "Send reply" at `at`; the send task is not run yet (see `relay_runs`)."""
    with time_machine.travel(at, tick=False):
        return services.reply(inquiry=inquiry, author=agent, body_text=text, now=at)


def relay_runs(reply: m.Message, at: datetime, capture: object) -> m.Message:
    """The send task runs at `at` (through Celery, retries included), with its after-commit work."""
    with time_machine.travel(at, tick=False), capture(execute=True):
        tasks.send_reply_email.apply(args=[reply.pk])
    reply.refresh_from_db()
    return reply


def bounce_arrives(channel: m.Channel, report: bytes, at: datetime, capture: object) -> m.Message:
    """The relay's DSN arrives in the mailbox at `at` and is recorded like any mail."""
    with time_machine.travel(at, tick=False), capture(execute=True):
        incoming = parse_email(report, received_at=at)
        return mailbox_service.record_mail(channel=channel, incoming=incoming, now=at).message


def answered(channel: m.Channel, sink: object, agent: object, capture: object) -> tuple[m.Inquiry, m.Message]:
    """A customer message at T0 and a reply the relay accepted at 20 minutes (first reply met)."""
    relay(channel, sink)
    inquiry = customer_writes(channel, 1, T0).inquiry
    return inquiry, relay_runs(agent_replies(inquiry, agent, T0 + 20 * MINUTE), T0 + 20 * MINUTE, capture)


def clock(inquiry: m.Inquiry, kind: str) -> m.Clock:
    return m.Clock.objects.filter(inquiry=inquiry, kind=kind).exclude(state=m.ClockState.CANCELLED).get()


def facts(inquiry: m.Inquiry) -> list[tuple]:
    """Each clock's outcome, in a form two inquiries can be compared on."""
    opened = inquiry.opened_at
    return sorted(
        (
            c.kind,
            c.state,
            c.started_at - opened,
            c.due_at - opened,
            c.stopped_at and c.stopped_at - opened,
            c.elapsed_seconds,
        )
        for c in m.Clock.objects.filter(inquiry=inquiry).exclude(state=m.ClockState.CANCELLED)
    )


# --- accepted ------------------------------------------------------------------------------------


def test_a_reply_accepted_by_the_relay_stops_the_clocks_at_acceptance_not_at_the_click(
    support, agent, smtp_sink, django_capture_on_commit_callbacks
):
    relay(support, smtp_sink)
    question = customer_writes(support, 1, T0)
    inquiry = question.inquiry
    reply = agent_replies(inquiry, agent, T0 + 20 * MINUTE)

    assert (reply.delivery_state, reply.accepted_at) == ("queued", None)
    assert clock(inquiry, m.ClockKind.FIRST_REPLY).state == m.ClockState.RUNNING
    reply = relay_runs(reply, T0 + 50 * MINUTE, django_capture_on_commit_callbacks)

    assert (reply.delivery_state, reply.accepted_at) == ("sent", T0 + 50 * MINUTE)
    first = clock(inquiry, m.ClockKind.FIRST_REPLY)
    assert (first.state, first.stopped_at, first.elapsed_seconds) == ("met", T0 + 50 * MINUTE, 3000)
    market = clock(inquiry, m.ClockKind.MARKETPLACE_REPLY)
    assert (market.state, market.stopped_at) == ("met", T0 + 50 * MINUTE)
    question.refresh_from_db()
    assert question.answered_at == T0 + 50 * MINUTE
    inquiry.refresh_from_db()
    assert (inquiry.last_reply_at, inquiry.reply_delivery, inquiry.next_due_at) == (
        T0 + 50 * MINUTE,
        "",
        T0 + 24 * HOUR,
    )
    kinds = list(m.InquiryEvent.objects.filter(inquiry=inquiry, message=reply).values_list("kind", "at"))
    assert kinds == [("reply_written", T0 + 20 * MINUTE), ("reply_accepted", T0 + 50 * MINUTE)]
    assert len(smtp_sink.messages) == 1


def test_until_the_relay_accepts_the_page_and_the_queue_say_the_reply_is_not_delivered_yet(
    support, agent, client, smtp_sink, django_capture_on_commit_callbacks
):
    relay(support, smtp_sink)
    inquiry = customer_writes(support, 1, T0).inquiry
    reply = agent_replies(inquiry, agent, T0 + 20 * MINUTE)
    client.force_login(agent)

    with time_machine.travel(T0 + 30 * MINUTE, tick=False):
        page = client.get(f"/inquiries/{inquiry.pk}/").content.decode()
        queue = client.get("/").content.decode()

    assert "Reply not delivered yet" in page and "Not delivered yet: sending by e-mail" in page
    assert "Reply sent" not in page
    assert "Reply not delivered yet" in queue
    relay_runs(reply, T0 + 35 * MINUTE, django_capture_on_commit_callbacks)
    with time_machine.travel(T0 + 40 * MINUTE, tick=False):
        page = client.get(f"/inquiries/{inquiry.pk}/").content.decode()
        queue = client.get("/").content.decode()
    assert "Accepted by the mail server" in page and "Reply not delivered yet" not in page
    assert "Reply not delivered yet" not in queue


# --- 550 -----------------------------------------------------------------------------------------


def test_a_550_keeps_the_clock_running_to_its_breach_and_notifies_the_agent_by_bell_and_e_mail(
    support, agent, client, refusing_smtp, mailoutbox, django_capture_on_commit_callbacks
):
    relay(support, refusing_smtp)
    m.NotificationPreference.objects.create(
        user=agent, email_mode=m.NotificationPreference.EmailMode.IMMEDIATE
    )
    question = customer_writes(support, 1, T0)
    inquiry = question.inquiry
    reply = agent_replies(inquiry, agent, T0 + 20 * MINUTE)

    reply = relay_runs(reply, T0 + 25 * MINUTE, django_capture_on_commit_callbacks)

    assert reply.delivery_state == "failed" and reply.accepted_at is None
    assert "550 5.1.1" in reply.delivery_error and "User unknown" in reply.delivery_error
    first = clock(inquiry, m.ClockKind.FIRST_REPLY)
    assert (first.state, first.stopped_at, first.due_at) == ("running", None, T0 + HOUR)
    with time_machine.travel(T0 + 2 * HOUR, tick=False):
        sweep(now=T0 + 2 * HOUR)
    first.refresh_from_db()
    assert (first.state, first.breached_at) == ("breached", T0 + HOUR)
    question.refresh_from_db()
    assert question.answered_at is None
    [note] = m.Notification.objects.filter(user=agent, kind=m.NotificationKind.REPLY_NOT_DELIVERED)
    assert note.title.startswith(f"#{inquiry.pk} reply not delivered") and "550 5.1.1" in note.body
    assert note.url == f"/inquiries/{inquiry.pk}/" and note.read_at is None
    assert [mail.subject for mail in mailoutbox] == [note.title]
    client.force_login(agent)
    with time_machine.travel(T0 + 2 * HOUR, tick=False):
        page = client.get(f"/inquiries/{inquiry.pk}/").content.decode()
        queue = client.get("/").content.decode()
    assert "The latest reply was not delivered" in page and "Send again" in page and "Edit and resend" in page
    assert "Reply not delivered" in queue


# --- a DSN after acceptance ----------------------------------------------------------------------


def test_a_dsn_after_acceptance_puts_the_clocks_back_against_their_original_deadlines_and_notifies(
    support, agent, dsn_relay, django_capture_on_commit_callbacks
):
    relay(support, dsn_relay)
    question = customer_writes(support, 1, T0)
    inquiry = question.inquiry
    reply = relay_runs(
        agent_replies(inquiry, agent, T0 + 20 * MINUTE), T0 + 20 * MINUTE, django_capture_on_commit_callbacks
    )
    assert clock(inquiry, m.ClockKind.FIRST_REPLY).state == "met"
    assert len(dsn_relay.reports) == 1

    report = bounce_arrives(support, dsn_relay.reports[0], T0 + 3 * HOUR, django_capture_on_commit_callbacks)

    report.refresh_from_db()
    assert report.automatic and report.inquiry_id == inquiry.pk  # in the reply's conversation
    reply.refresh_from_db()
    assert reply.delivery_state == "bounced" and "550 5.1.1" in reply.delivery_error
    first = clock(inquiry, m.ClockKind.FIRST_REPLY)
    assert (first.state, first.stopped_at, first.due_at, first.breached_at) == (
        "breached",
        None,
        T0 + HOUR,
        T0 + HOUR,
    )
    market = clock(inquiry, m.ClockKind.MARKETPLACE_REPLY)
    assert (market.state, market.stopped_at, market.due_at) == ("running", None, T0 + 24 * HOUR)
    question.refresh_from_db()
    inquiry.refresh_from_db()
    assert question.answered_at is None
    assert (inquiry.last_reply_at, inquiry.reply_delivery, inquiry.next_due_at) == (None, "failed", T0 + HOUR)
    transitions = list(m.InquiryEvent.objects.filter(clock=first).order_by("id").values_list("kind", "at"))
    assert transitions == [
        ("clock_started", T0),
        ("clock_met", T0 + 20 * MINUTE),
        ("clock_resumed", T0 + 3 * HOUR),
        ("clock_at_risk", T0 + 45 * MINUTE),
        ("clock_breached", T0 + HOUR),
    ]
    kinds = set(m.Notification.objects.filter(user=agent).values_list("kind", flat=True))
    assert kinds == {
        m.NotificationKind.REPLY_NOT_DELIVERED,
        m.NotificationKind.CLOCK_AT_RISK,
        m.NotificationKind.CLOCK_BREACHED,
    }


def test_a_bounce_hands_the_answer_to_the_next_delivered_reply_exactly_as_if_it_had_never_been_sent(
    support, agent, dsn_relay, django_capture_on_commit_callbacks
):
    relay(support, dsn_relay)
    capture = django_capture_on_commit_callbacks
    # The conversation with a reply that will bounce: answered at 20 min, the customer writes
    # again at 40 min (a next-reply clock starts), a second reply is accepted at 100 min.
    inquiry = customer_writes(support, 1, T0).inquiry
    relay_runs(agent_replies(inquiry, agent, T0 + 20 * MINUTE), T0 + 20 * MINUTE, capture)
    customer_writes(support, 2, T0 + 40 * MINUTE, after=1)
    relay_runs(agent_replies(inquiry, agent, T0 + 100 * MINUTE, "Shipped today."), T0 + 100 * MINUTE, capture)
    assert m.Clock.objects.filter(inquiry=inquiry, kind=m.ClockKind.NEXT_REPLY, state="met").count() == 1
    # The same conversation in which the first reply was never sent.
    control = customer_writes(support, 11, T0).inquiry
    customer_writes(support, 12, T0 + 40 * MINUTE, after=11)
    relay_runs(agent_replies(control, agent, T0 + 100 * MINUTE, "Shipped today."), T0 + 100 * MINUTE, capture)

    bounce_arrives(support, dsn_relay.reports[0], T0 + 3 * HOUR, capture)

    assert facts(inquiry) == facts(control)
    first = clock(inquiry, m.ClockKind.FIRST_REPLY)
    assert (first.state, first.stopped_at, first.elapsed_seconds) == ("missed", T0 + 100 * MINUTE, 6000)
    cancelled = m.Clock.objects.get(inquiry=inquiry, kind=m.ClockKind.NEXT_REPLY)
    assert cancelled.state == "cancelled"
    assert list(
        inquiry.messages.filter(direction="inbound", automatic=False).values_list("answered_at", flat=True)
    ) == [T0 + 100 * MINUTE, T0 + 100 * MINUTE]
    inquiry.refresh_from_db()
    assert (inquiry.last_reply_at, inquiry.reply_delivery) == (T0 + 100 * MINUTE, "")


def test_a_bounce_after_no_response_needed_leaves_the_clocks_cancelled_as_that_would_have(
    support, agent, dsn_relay, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    inquiry, _ = answered(support, dsn_relay, agent, capture)
    services.mark_no_response_needed(inquiry=inquiry, actor=agent, now=T0 + 30 * MINUTE)
    # The same conversation with no reply at all, marked the same way at the same time.
    control = customer_writes(support, 11, T0).inquiry
    services.mark_no_response_needed(inquiry=control, actor=agent, now=T0 + 30 * MINUTE)

    bounce_arrives(support, dsn_relay.reports[0], T0 + 3 * HOUR, capture)

    def outcome(which: m.Inquiry) -> list[tuple]:
        clocks = m.Clock.objects.filter(inquiry=which).order_by("kind")
        messages = which.messages.filter(direction="inbound", automatic=False)
        return [
            *((c.kind, c.state, c.stopped_at) for c in clocks),
            *messages.values_list("answered_at", "no_response_needed"),
        ]

    assert outcome(inquiry) == outcome(control)
    assert clock_states(inquiry) == {
        "first_reply": "cancelled",
        "marketplace_reply": "cancelled",
        "resolution": "running",
    }


def clock_states(inquiry: m.Inquiry) -> dict[str, str]:
    return dict(m.Clock.objects.filter(inquiry=inquiry).values_list("kind", "state"))


def test_a_delay_report_changes_nothing_and_a_success_report_marks_the_reply_delivered(
    support, agent, smtp_sink, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    inquiry, reply = answered(support, smtp_sink, agent, capture)
    sent = smtp_sink.messages[0].content

    bounce_arrives(
        support, delivery_status_notification(sent, number=1, action="delayed"), T0 + HOUR, capture
    )
    reply.refresh_from_db()
    assert reply.delivery_state == "sent"

    bounce_arrives(
        support, delivery_status_notification(sent, number=2, action="delivered"), T0 + 2 * HOUR, capture
    )
    reply.refresh_from_db()
    assert (reply.delivery_state, reply.accepted_at) == ("delivered", T0 + 20 * MINUTE)
    assert clock(inquiry, m.ClockKind.FIRST_REPLY).stopped_at == T0 + 20 * MINUTE


def test_a_report_found_only_by_the_original_it_quotes_still_bounces_the_reply(
    support, agent, dsn_relay, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    inquiry, reply = answered(support, dsn_relay, agent, capture)
    report = delivery_status_notification(dsn_relay.messages[0].content, threaded=False)

    stored = bounce_arrives(support, report, T0 + 30 * MINUTE, capture)

    reply.refresh_from_db()
    stored.refresh_from_db()
    assert stored.inquiry_id == inquiry.pk and reply.delivery_state == "bounced"
    assert clock(inquiry, m.ClockKind.FIRST_REPLY).state == "running"


def test_a_bounce_reason_from_the_relay_stays_inert_on_the_page(
    support, agent, client, dsn_relay, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    inquiry, _ = answered(support, dsn_relay, agent, capture)
    hostile = delivery_status_notification(
        dsn_relay.messages[0].content,
        diagnostic='smtp; 550 <script>alert("x")</script><img src=x onerror=alert(1)>',
    )
    bounce_arrives(support, hostile, T0 + HOUR, capture)
    client.force_login(agent)

    page = client.get(f"/inquiries/{inquiry.pk}/").content.decode()

    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert" in page


# --- retry, edit and resend ----------------------------------------------------------------------


def test_temporary_failures_are_retried_by_celery_and_the_reply_answers_when_finally_accepted(
    support, agent, smtp_sink, django_capture_on_commit_callbacks
):
    relay(support, smtp_sink)
    smtp_sink.refuse_next.extend(["451 4.3.0 Mailbox busy", "421 4.7.0 Try again later"])
    inquiry = customer_writes(support, 1, T0).inquiry

    # Eager Celery runs the task's retries at once, each after the one before failed.
    reply = relay_runs(
        agent_replies(inquiry, agent, T0 + 20 * MINUTE), T0 + 30 * MINUTE, django_capture_on_commit_callbacks
    )

    assert (reply.delivery_state, reply.accepted_at) == ("sent", T0 + 30 * MINUTE)
    assert m.OutgoingMail.objects.get(message=reply).attempts == 3
    assert clock(inquiry, m.ClockKind.FIRST_REPLY).stopped_at == T0 + 30 * MINUTE


def test_the_agent_sends_a_failed_reply_again_and_it_answers_when_accepted(
    support, agent, client, refusing_smtp, django_capture_on_commit_callbacks
):
    relay(support, refusing_smtp)
    inquiry = customer_writes(support, 1, T0).inquiry
    reply = relay_runs(
        agent_replies(inquiry, agent, T0 + 20 * MINUTE), T0 + 25 * MINUTE, django_capture_on_commit_callbacks
    )
    assert reply.delivery_state == "failed"
    refusing_smtp.refuse_always = ""  # the address was fixed at the relay
    client.force_login(agent)

    with time_machine.travel(T0 + 40 * MINUTE, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/inquiries/{inquiry.pk}/replies/{reply.pk}/retry/")

    assert response.status_code == 302
    reply.refresh_from_db()
    assert (reply.delivery_state, reply.accepted_at, reply.delivery_error) == ("sent", T0 + 40 * MINUTE, "")
    assert len(refusing_smtp.messages) == 1
    assert clock(inquiry, m.ClockKind.FIRST_REPLY).stopped_at == T0 + 40 * MINUTE
    assert m.InquiryEvent.objects.filter(message=reply, kind=m.EventKind.REPLY_RETRIED, actor=agent).exists()


def test_edit_and_resend_starts_from_the_failed_text_and_sends_a_new_reply(
    support, agent, client, refusing_smtp, django_capture_on_commit_callbacks
):
    relay(support, refusing_smtp)
    inquiry = customer_writes(support, 1, T0).inquiry
    failed = relay_runs(
        agent_replies(inquiry, agent, T0 + 20 * MINUTE, "Sorry <b>Ann</b>, a new lid is coming."),
        T0 + 25 * MINUTE,
        django_capture_on_commit_callbacks,
    )
    client.force_login(agent)

    form = client.get(f"/inquiries/{inquiry.pk}/", {"resend": failed.pk}).content.decode()
    assert "Sorry &lt;b&gt;Ann&lt;/b&gt;, a new lid is coming.</textarea>" in form
    refusing_smtp.refuse_always = ""
    with time_machine.travel(T0 + 50 * MINUTE, tick=False), django_capture_on_commit_callbacks(execute=True):
        client.post(f"/inquiries/{inquiry.pk}/reply/", {"body_text": "Sorry Ann, a new lid ships today."})

    resent = inquiry.messages.filter(direction="outbound").exclude(pk=failed.pk).get()
    assert (resent.delivery_state, resent.accepted_at) == ("sent", T0 + 50 * MINUTE)
    failed.refresh_from_db()
    assert failed.delivery_state == "failed"  # kept as it was: the record of what did not arrive
    inquiry.refresh_from_db()
    assert inquiry.reply_delivery == ""


# --- channels without a sender -------------------------------------------------------------------


def test_a_reply_on_an_api_channel_waits_for_the_integration_and_never_claims_it_was_sent(
    channel, agent, client, policy, django_capture_on_commit_callbacks
):
    inquiry = services.record_message(
        channel=channel,
        incoming=parse_email(customer_mail(1), received_at=T0),
        now=T0,
    ).message.inquiry
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reply = services.reply(inquiry=inquiry, author=agent, body_text="On its way", now=T0 + 10 * MINUTE)
    client.force_login(agent)

    page = client.get(f"/inquiries/{inquiry.pk}/").content.decode()

    assert callbacks == []  # nothing to send it with
    assert tasks.send_reply_email.apply(args=[reply.pk]).get() == "skipped: waiting for the integration"
    reply.refresh_from_db()
    assert reply.delivery_state == "queued"
    assert "Not delivered yet: waiting for the integration" in page and "Reply sent" not in page
    assert clock(inquiry, m.ClockKind.FIRST_REPLY).state == "running"
    assert m.Message.objects.filter(pk=reply.pk).answers().count() == 0


# --- the oracle: health, the SLA report and the clocks count each case the same way --------------


def test_health_the_sla_report_and_the_clocks_agree_on_every_delivery_outcome(
    agent, smtp_sink, refusing_smtp, dsn_relay, django_capture_on_commit_callbacks
):
    """Five Amazon accounts, one customer message each at T0 (24 h to answer), judged 3 days on."""
    capture = django_capture_on_commit_callbacks
    as_of = T0 + 72 * HOUR

    def conversation(name: str, sink: object) -> tuple[m.Account, m.Channel, m.Inquiry]:
        account = AccountFactory(name=name, marketplace=m.Marketplace.AMAZON)
        channel = email_channel(account, name, f"{name}@shop.example")
        relay(channel, sink)
        return account, channel, customer_writes(channel, 1, T0).inquiry

    cases: dict[str, tuple[m.Account, str]] = {}
    # Accepted within the day: on time.
    account, _, inquiry = conversation("accepted", smtp_sink)
    relay_runs(agent_replies(inquiry, agent, T0 + 2 * HOUR), T0 + 2 * HOUR, capture)
    cases["accepted"] = (account, "on time")
    # Clicked within the day, accepted by the relay only after it: late, at acceptance.
    account, _, inquiry = conversation("accepted-late", smtp_sink)
    reply = agent_replies(inquiry, agent, T0 + 2 * HOUR)
    relay_runs(reply, T0 + 30 * HOUR, capture)
    cases["accepted-late"] = (account, "late")
    # Refused with a 550: never answered.
    account, _, inquiry = conversation("refused", refusing_smtp)
    relay_runs(agent_replies(inquiry, agent, T0 + 2 * HOUR), T0 + 2 * HOUR, capture)
    cases["refused"] = (account, "late")
    # Accepted, then a DSN: never answered.
    account, channel, inquiry = conversation("bounced", dsn_relay)
    relay_runs(agent_replies(inquiry, agent, T0 + 2 * HOUR), T0 + 2 * HOUR, capture)
    bounce_arrives(channel, dsn_relay.reports[-1], T0 + 5 * HOUR, capture)
    cases["bounced"] = (account, "late")
    # Accepted, bounced, sent again and accepted within the day: on time, at the second acceptance.
    account, channel, inquiry = conversation("resent", dsn_relay)
    reply = relay_runs(agent_replies(inquiry, agent, T0 + 2 * HOUR), T0 + 2 * HOUR, capture)
    bounce_arrives(channel, dsn_relay.reports[-1], T0 + 5 * HOUR, capture)
    with time_machine.travel(T0 + 6 * HOUR, tick=False), capture(execute=True):
        assert mail_service.retry_failed(message=reply)
    cases["resent"] = (account, "on time")
    with time_machine.travel(as_of, tick=False):
        sweep(now=as_of)
        refresh_rollups(now=as_of)

    seen = {}
    for name, (account, expected) in cases.items():
        windows = health_facts(account, as_of, rules_for(account), reasons=False).windows
        [week] = [w for w in windows if w.days == 7]
        scope = make_scope(accounts=[account], first_day=T0.date(), last_day=as_of.date(), now=as_of)
        [report] = [c for c in live_compliance_counts(scope, "total") if c.kind == MARKET]
        [rollup] = [c for c in rollup_counts(scope, "total")[0] if c.kind == MARKET]
        market = m.Clock.objects.get(inquiry__account=account, kind=MARKET)
        judged = {
            "health": week.late,
            "report": report.missed + report.breached,
            "rollup": rollup.missed + rollup.breached,
            "clock": market.state in ("missed", "breached"),
        }
        assert (week.counted, report.counted, rollup.counted) == (1, 1, 1), name
        seen[name] = {source: "late" if late else "on time" for source, late in judged.items()}
        print(
            f"{name:14} expected {expected:7} | health 7-day late rate {week.rate:.0%} | "
            f"SLA report met/missed/breached {report.met}/{report.missed}/{report.breached} "
            f"(rollup {rollup.met}/{rollup.missed}/{rollup.breached}) | clock {market.state}"
        )
    sources = ("health", "report", "rollup", "clock")
    assert seen == {name: dict.fromkeys(sources, expected) for name, (_, expected) in cases.items()}


def test_a_bounce_reaches_the_report_rollup_on_its_next_refresh(
    support, agent, dsn_relay, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    answered(support, dsn_relay, agent, capture)
    refresh_rollups(now=T0 + 30 * MINUTE)  # the first build: the first reply was met
    bounce_arrives(support, dsn_relay.reports[0], T0 + 3 * HOUR, capture)
    now = T0 + 3 * HOUR + MINUTE

    result = refresh_rollups(now=now)

    assert not result.rebuilt and result.days == 1
    scope = make_scope(accounts=[support.account], first_day=T0.date(), last_day=now.date(), now=now)
    live = [c for c in live_compliance_counts(scope, "total") if c.kind == m.ClockKind.FIRST_REPLY]
    rolled = [c for c in rollup_counts(scope, "total")[0] if c.kind == m.ClockKind.FIRST_REPLY]
    assert [(c.met, c.missed, c.breached) for c in rolled] == [(c.met, c.missed, c.breached) for c in live]
    assert [(c.met, c.missed, c.breached) for c in live] == [(0, 0, 1)]


# --- reading delivery reports --------------------------------------------------------------------


def test_a_delivery_report_is_read_for_its_action_reason_and_original():
    original = b"From: support@shop.example\r\nMessage-ID: <cstracker-1@shop.example>\r\n\r\nHi\r\n"

    failed = delivery.read_delivery_report(delivery_status_notification(original))
    delayed = delivery.read_delivery_report(delivery_status_notification(original, action="delayed"))
    old_style = delivery.read_delivery_report(b"From: MAILER-DAEMON@x\r\n\r\nsorry\r\n", "Undelivered Mail")

    assert (failed.action, failed.original_ids) == ("failed", ("cstracker-1@shop.example",))
    assert failed.reason.startswith("5.1.1 smtp; 550 5.1.1")
    assert delayed.action == "delayed"
    assert (old_style.action, old_style.reason) == ("failed", "Undelivered Mail")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00garbage",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n",
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n"
        + b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 500,
        b"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64",
    ],
)
def test_reading_a_broken_report_never_raises(raw):
    report = delivery.read_delivery_report(raw)

    assert report.action in ("", "failed") and isinstance(report.original_ids, tuple)
