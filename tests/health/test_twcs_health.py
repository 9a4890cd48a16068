"""Health metrics on real conversations (Customer Support on Twitter, 2017; tests only).

Every company becomes an account on the Amazon preset (24 h, calendar time). The tweets
are replayed through `record_message`; then, as of several instants, the 7- and 30-day
late response rates and the median response time of each company must equal a separate
computation written here in plain Python over the CSV, following DESIGN section 6 word
for word.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from inquiries.models import Marketplace, Message
from inquiries.selectors.health.metrics import account_health
from tests.twcs import Tweet, company_of, load_tweets, replay

pytestmark = pytest.mark.django_db

DEADLINE = timedelta(hours=24)
INSTANTS = [
    datetime(2017, 10, 31, 12, 0, tzinfo=UTC),
    datetime(2017, 11, 2, 0, 0, tzinfo=UTC),
    datetime(2017, 11, 7, 18, 30, tzinfo=UTC),
    datetime(2017, 11, 25, 0, 0, tzinfo=UTC),
    datetime(2017, 12, 4, 0, 0, tzinfo=UTC),
]
COMPANIES = [
    "AmazonHelp",
    "AppleSupport",
    "ChipotleTweets",
    "Delta",
    "marksandspencer",
    "Tesco",
    "sprintcare",
]


@dataclass
class Conversation:
    company: str
    customer: str
    asked: list[datetime] = field(default_factory=list)
    replies: list[datetime] = field(default_factory=list)


def conversations(tweets: list[Tweet]) -> list[Conversation]:
    """Thread the tweets as a person would: a customer's tweet joins the conversation of the
    tweet it answers when that is the same customer's conversation with the same company; a
    company tweet joins the conversation it answers; anything else starts a new one (customer)
    or is dropped (a company tweet answering nothing known)."""
    companies = {t.author_id for t in tweets if not t.inbound}
    owner_of: dict[str, str] = {}
    conversation_of: dict[str, Conversation] = {}
    found: list[Conversation] = []
    for tweet in tweets:
        owner = company_of(tweet, companies, owner_of)
        if owner is None:
            continue
        owner_of[tweet.tweet_id] = owner
        parent = conversation_of.get(tweet.in_response_to)
        if tweet.inbound:
            if parent is None or parent.customer != tweet.author_id or parent.company != owner:
                parent = Conversation(company=owner, customer=tweet.author_id)
                found.append(parent)
            parent.asked.append(tweet.created_at)
            conversation_of[tweet.tweet_id] = parent
        elif parent is not None and parent.company == owner:
            parent.replies.append(tweet.created_at)
            conversation_of[tweet.tweet_id] = parent
    return found


def expected(convs: list[Conversation], company: str, as_of: datetime) -> dict[str, object]:
    """Late rates (7 and 30 days) and the median response time, straight from the definitions."""
    messages = []  # (received, answered or None)
    for conv in convs:
        if conv.company != company:
            continue
        for received in conv.asked:
            answers = [r for r in conv.replies if r >= received]
            messages.append((received, min(answers) if answers else None))
    result: dict[str, object] = {}
    for days in (7, 30):
        late = counted = 0
        for received, answered in messages:
            if not as_of - timedelta(days=days) <= received < as_of:
                continue
            deadline = received + DEADLINE
            answered_by_then = answered is not None and answered <= as_of
            if answered_by_then or deadline <= as_of:
                counted += 1
                if (answered_by_then and answered > deadline) or (not answered_by_then and deadline <= as_of):
                    late += 1
        result[f"late_response_rate_{days}d"] = (late, counted)
    waits = [
        (answered - received).total_seconds()
        for received, answered in messages
        if as_of - timedelta(days=30) <= received < as_of and answered is not None and answered <= as_of
    ]
    result["response_time_p50_seconds"] = statistics.median(waits) if waits else None
    return result


def test_late_rates_and_median_response_time_match_a_plain_computation_over_the_csv():
    tweets, _rejected = load_tweets()
    accounts, _refused = replay(tweets, marketplace=Marketplace.AMAZON)
    convs = conversations(tweets)
    assert Message.objects.filter(response_due_at__isnull=False).count() == sum(len(c.asked) for c in convs)

    compared = late_seen = 0
    for company in COMPANIES:
        for as_of in INSTANTS:
            report = account_health(accounts[company], as_of)
            want = expected(convs, company, as_of)
            for days in (7, 30):
                got = report.metric(f"late_response_rate_{days}d")
                assert (got.numerator, got.denominator) == want[f"late_response_rate_{days}d"], (
                    company,
                    as_of,
                    days,
                )
                late_seen += got.numerator
            median = report.metric("response_time_p50_seconds").value
            if want["response_time_p50_seconds"] is None:
                assert median is None, (company, as_of)
            else:
                assert median == pytest.approx(want["response_time_p50_seconds"], abs=1e-3), (company, as_of)
            compared += 1
    assert compared == len(COMPANIES) * len(INSTANTS)
    assert late_seen > 0  # the data does hold late and unanswered messages
