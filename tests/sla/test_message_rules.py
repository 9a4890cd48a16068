"""Reply targets per message type (issue 21, point 4): which messages each shipped rule takes,
the marketplace clock it sets, and editing the rules in the admin."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse

from inquiries import models as m
from inquiries import services
from inquiries.selectors import marketplace_rules
from inquiries.services import clocks
from inquiries.services.recording import RecordResult
from inquiries.sla.presets import DEFAULT_MESSAGE_RULES, matching_rule, parse_message_rules
from tests.conftest import token_client
from tests.factories import incoming

FRIDAY = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
HOUR = 3600

WALMART = parse_message_rules(DEFAULT_MESSAGE_RULES["walmart"])
EBAY = parse_message_rules(DEFAULT_MESSAGE_RULES["ebay"])


def rule_for(
    rules, subject: str, body: str = "", sender: str = "buyer@example.com", topic: str | None = None
):
    rule = matching_rule(rules, sender=sender, subject=subject, body=body, topic=topic)
    return rule.name if rule else None


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Complaint forwarded by the Better Business Bureau", ""),
        ("BBB complaint #4471-22", "Please respond to the consumer."),
        ("Case 88120", "The Office of the Attorney General received the enclosed complaint."),
        ("Notice", "Forwarded by the State Division of Consumer Protection."),
        ("Department of Consumer Affairs referral", ""),
    ],
)
def test_walmart_regulator_complaints_match_the_regulator_rule(subject, body):
    assert rule_for(WALMART, subject, body) == "Regulator complaint"


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Where is my order?", "Hello, my parcel has not arrived."),
        ("Question about size", "Is the general fit small? Thanks, Bobbb"),
        ("Damaged item", "I will complain to everyone I know."),
    ],
)
def test_plain_walmart_questions_keep_the_general_target(subject, body):
    assert rule_for(WALMART, subject, body) is None


@pytest.mark.parametrize(
    ("subject", "body", "rule"),
    [
        ("Return request 5123456 for order 12-34567-89012", "", "Return request"),
        ("buyer_jo requested a return", "Reason: doesn't fit", "Return request"),
        ("Item not received request for order 12-34567-89012", "", "Item not received request"),
        ("Update on your order", "The buyer hasn't received their item yet.", "Item not received request"),
    ],
)
def test_ebay_return_and_item_not_received_requests_match_their_rules(subject, body, rule):
    assert rule_for(EBAY, subject, body) == rule


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Where is my tracking number?", "I haven't received a tracking number yet."),
        ("Question", "Can I return it if it doesn't fit?"),
        ("Where is my order?", "Hello, my parcel has not arrived."),
    ],
)
def test_other_ebay_messages_match_no_rule(subject, body):
    assert rule_for(EBAY, subject, body) is None


def test_a_rule_tests_each_kind_of_condition_it_has():
    [rule] = parse_message_rules(
        [
            {
                "name": "Chargeback notice",
                "target_seconds": 2 * HOUR,
                "senders": ["*.payments.example"],
                "phrases": [r"\bchargeback\b"],
                "topics": ["refund"],
                "definition": "ours",
            }
        ]
    )
    seen = {
        "sender": "disputes@eu.payments.example",
        "subject": "Chargeback filed",
        "body": "",
        "topic": "refund",
    }
    assert matching_rule([rule], **seen) == rule
    assert matching_rule([rule], **(seen | {"sender": "buyer@example.com"})) is None
    assert matching_rule([rule], **(seen | {"subject": "Refund"})) is None
    assert matching_rule([rule], **(seen | {"topic": "shipping"})) is None


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"name": "X", "target_seconds": 60, "phrases": ["(unclosed"]}], "rule 1 (X): phrases: '(unclosed'"),
        (
            [{"name": "X", "target_seconds": 60, "senders": ["not an address!"]}],
            "rule 1 (X): senders: line 1",
        ),
        ([{"name": "X", "target_seconds": 0, "phrases": ["a"]}], "rule 1 (X): target_seconds"),
        ([{"name": "X", "target_seconds": 60}], "rule 1 (X): give at least one sender, phrase or topic"),
        ([{"name": "X", "target_seconds": 60, "phrases": ["a"], "source": "javascript:alert(1)"}], "source"),
        ([{"name": "X", "target_seconds": 60, "phrases": ["a"], "hours": 1}], "unknown key 'hours'"),
        ({"name": "X"}, "a list of rules"),
    ],
)
def test_a_bad_rule_is_rejected_naming_the_rule_and_the_key(rules, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_message_rules(rules)


# --- the clock each rule sets ---------------------------------------------------------------------


def marketplace(channel: m.Channel, name: str) -> m.Channel:
    channel.account.marketplace = name
    channel.account.save()
    return channel


def record(channel: m.Channel, **fields) -> m.Message:
    received = fields.pop("received_at", FRIDAY)
    recorded = services.record_message(
        channel=channel, incoming=incoming(received_at=received, **fields), now=received
    )
    assert isinstance(recorded, RecordResult)
    return recorded.message


def market_clock(message: m.Message) -> m.Clock | None:
    return m.Clock.objects.filter(message=message, kind=m.ClockKind.MARKETPLACE_REPLY).first()


@pytest.mark.django_db
def test_a_walmart_regulator_complaint_runs_a_one_hour_clock_and_a_question_48_hours(channel):
    marketplace(channel, "walmart")
    complaint = record(
        channel, subject="BBB complaint #4471", body_text="Forwarded by Walmart Partner Support."
    )
    question = record(channel, subject="Where is my order?")

    clock = market_clock(complaint)
    assert (clock.target_seconds, clock.rule_name, clock.due_at) == (
        HOUR,
        "Regulator complaint",
        FRIDAY.replace(hour=13),
    )
    assert m.Message.objects.get(pk=complaint.pk).response_due_at == FRIDAY.replace(hour=13)
    general = market_clock(question)
    assert (general.target_seconds, general.rule_name) == (48 * HOUR, "")
    assert general.due_at == datetime(2026, 3, 8, 12, tzinfo=UTC)  # weekends included


@pytest.mark.django_db
def test_an_ebay_return_request_gets_three_business_days_over_the_weekend_and_other_messages_none(channel):
    marketplace(channel, "ebay")
    request = record(channel, subject="Return request 5123456 for order 12-34567-89012")
    tracking = record(
        channel, subject="Where is my tracking number?", body_text="I haven't received a tracking number."
    )

    clock = market_clock(request)
    assert (clock.rule_name, clock.target_seconds) == ("Return request", 3 * 24 * HOUR)
    assert clock.due_at == datetime(2026, 3, 11, 12, tzinfo=UTC)  # Friday noon + Mon, Tue, Wed noon
    # eBay sets no deadline for other messages: no marketplace clock, not in its measure.
    assert market_clock(tracking) is None
    assert m.Message.objects.get(pk=tracking.pk).response_due_at is None


@pytest.mark.django_db
def test_ebay_business_days_skip_the_holidays_of_the_accounts_reply_calendar(channel):
    marketplace(channel, "ebay")
    calendar = m.Calendar.objects.create(
        name="eBay business days",
        timezone="UTC",
        hours={str(day): [["00:00", "00:00"]] for day in range(5)},
    )
    m.Holiday.objects.create(calendar=calendar, date=date(2026, 3, 9), name="Bank holiday")
    channel.account.reply_calendar = calendar
    channel.account.save()

    request = record(channel, subject="Item not received request for order 12-34567-89012")

    clock = market_clock(request)
    assert (clock.rule_name, clock.calendar_id) == ("Item not received request", calendar.pk)
    assert clock.due_at == datetime(2026, 3, 12, 12, tzinfo=UTC)  # Monday the 9th is a holiday


@pytest.mark.django_db
@pytest.mark.parametrize("preset_row", [True, False])
def test_an_ebay_accounts_own_reply_target_counts_business_days_with_or_without_the_preset_row(
    channel, preset_row
):
    """eBay's facts table says business days (Monday to Friday): the seeded preset row and the
    fallback for a marketplace without a row read it alike."""
    marketplace(channel, "ebay")
    channel.account.reply_target_seconds = 24 * HOUR  # the account's own target, no calendar
    channel.account.save()
    if not preset_row:
        m.MarketplacePreset.objects.filter(marketplace="ebay").delete()
    marketplace_rules.clear_cache()

    question = record(channel, subject="Question about my order")

    target, calendar, row = marketplace_rules.marketplace_rule(channel.account)
    assert (target, row) == (24 * HOUR, None)
    assert calendar.add(FRIDAY, 24 * HOUR) == datetime(2026, 3, 9, 12, tzinfo=UTC)
    clock = market_clock(question)
    assert (clock.rule_name, clock.due_at) == ("", datetime(2026, 3, 9, 12, tzinfo=UTC))  # not Saturday


@pytest.mark.django_db
def test_a_recompute_keeps_the_target_of_the_rule_that_set_the_clock(channel):
    marketplace(channel, "walmart")
    complaint = record(channel, subject="Attorney General complaint")

    clocks.recompute_inquiry(inquiry=complaint.inquiry, now=FRIDAY)

    clock = market_clock(complaint)
    assert (clock.target_seconds, clock.rule_name, clock.due_at) == (
        HOUR,
        "Regulator complaint",
        FRIDAY.replace(hour=13),
    )


@pytest.mark.django_db
def test_the_inquiry_page_names_the_rule_that_set_the_marketplace_target(channel, superuser):
    marketplace(channel, "walmart")
    complaint = record(channel, subject="Better Business Bureau complaint")
    client = Client()
    client.force_login(superuser)

    html = client.get(reverse("inquiries:detail", args=[complaint.inquiry_id])).content.decode()

    assert "Walmart: Regulator complaint, 1h" in html
    [clock] = token_client(superuser).get(f"/api/v1/inquiries/{complaint.inquiry_id}/").json()["clocks"]
    assert (clock["kind"], clock["rule_name"], clock["target_seconds"]) == (
        "marketplace_reply",
        "Regulator complaint",
        3600,
    )


# --- editing the rules in the admin ---------------------------------------------------------------


def change_form_data(preset: m.MarketplacePreset, superuser) -> dict[str, str]:
    request = RequestFactory().get("/")
    request.user = superuser
    form = admin.site._registry[m.MarketplacePreset].get_form(request, preset)(instance=preset)
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            data[name] = "on"
        elif value not in (None, False):
            data[name] = str(value)
    return data


@pytest.mark.django_db
def test_rules_edited_in_the_admin_set_the_next_messages_clock(channel, superuser):
    marketplace(channel, "walmart")
    preset = m.MarketplacePreset.objects.get(marketplace="walmart")
    client = Client()
    client.force_login(superuser)
    rules = [
        *preset.message_rules,
        {
            "name": "Recall notice",
            "target_seconds": 4 * HOUR,
            "phrases": [r"\brecall\b"],
            "definition": "ours",
        },
    ]
    data = change_form_data(preset, superuser) | {"message_rules": json.dumps(rules)}

    response = client.post(reverse("admin:inquiries_marketplacepreset_change", args=[preset.pk]), data)

    assert response.status_code == 302
    marketplace_rules.clear_cache()  # other processes see the edit within PRESET_CACHE_SECONDS
    recall = record(channel, subject="Product recall: is my kettle affected?")
    assert (market_clock(recall).rule_name, market_clock(recall).target_seconds) == (
        "Recall notice",
        4 * HOUR,
    )


@pytest.mark.django_db
def test_a_bad_pattern_is_an_error_on_the_rules_field_and_nothing_is_saved(superuser):
    preset = m.MarketplacePreset.objects.get(marketplace="walmart")
    before = preset.message_rules
    client = Client()
    client.force_login(superuser)
    rules = [{"name": "Broken", "target_seconds": HOUR, "phrases": ["attorney (general"]}]
    data = change_form_data(preset, superuser) | {"message_rules": json.dumps(rules)}

    response = client.post(reverse("admin:inquiries_marketplacepreset_change", args=[preset.pk]), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["message_rules"]
    assert (
        "rule 1 (Broken): phrases: 'attorney (general' is not a valid pattern" in errors["message_rules"][0]
    )
    preset.refresh_from_db()
    assert preset.message_rules == before


@pytest.mark.django_db
def test_the_health_page_lists_the_rules_with_their_targets_whose_they_are_and_their_source(
    channel, superuser
):
    marketplace(channel, "walmart")
    client = Client()
    client.force_login(superuser)

    html = client.get(reverse("inquiries:health_account", args=[channel.account_id])).content.decode()

    assert "Regulator complaint: answered within 1h (Walmart&#x27;s rule)." in html
    assert '<a href="https://marketplacelearn.walmart.com/guides/' in html
