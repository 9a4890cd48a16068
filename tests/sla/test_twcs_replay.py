"""Replaying real customer-service conversations (Twitter, 2017) through ingestion and the clocks.

Customer tweets are inbound messages, company tweets outbound replies, threaded by
in_response_to_tweet_id. Under a 24x7 one-hour first-reply policy, the met and missed
first replies per company must equal a plain-Python computation over the CSV.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from inquiries.models import Clock, ClockKind, ClockState
from inquiries.services.sweep import sweep
from tests.factories import policy_with_targets
from tests.twcs import company_of, load_tweets, replay

pytestmark = pytest.mark.django_db

FIRST_REPLY = 3600


def expected_first_replies(tweets) -> Counter:
    """Independent computation: thread, then time each inquiry's first company reply."""
    companies = {t.author_id for t in tweets if not t.inbound}
    company: dict[str, str] = {}
    inquiry_of: dict[str, int] = {}
    customer_of_inquiry: dict[int, str] = {}
    company_of_inquiry: dict[int, str] = {}
    opened: dict[int, object] = {}
    first_reply: dict[int, object] = {}
    for tweet in tweets:
        owner = company_of(tweet, companies, company)
        if owner is None:
            continue
        company[tweet.tweet_id] = owner
        parent_inquiry = inquiry_of.get(tweet.in_response_to)
        if tweet.inbound:
            if (
                parent_inquiry is not None
                and customer_of_inquiry[parent_inquiry] == tweet.author_id
                and company_of_inquiry[parent_inquiry] == owner
            ):
                inquiry_of[tweet.tweet_id] = parent_inquiry
            else:
                number = len(opened)
                opened[number] = tweet.created_at
                customer_of_inquiry[number] = tweet.author_id
                company_of_inquiry[number] = owner
                inquiry_of[tweet.tweet_id] = number
        elif parent_inquiry is not None and company_of_inquiry[parent_inquiry] == owner:
            inquiry_of[tweet.tweet_id] = parent_inquiry
            first_reply.setdefault(parent_inquiry, tweet.created_at)
    counts: Counter = Counter()
    for number, started in opened.items():
        replied = first_reply.get(number)
        if replied is None:
            counts[(company_of_inquiry[number], "breached")] += 1
        elif (replied - started).total_seconds() <= FIRST_REPLY:
            counts[(company_of_inquiry[number], "met")] += 1
        else:
            counts[(company_of_inquiry[number], "missed")] += 1
    return counts


def test_first_reply_counts_per_company_match_an_independent_computation():
    tweets, rejected = load_tweets()
    assert len(tweets) > 4900
    assert rejected >= 1  # the carriage-return row is rejected cleanly, not mis-read
    policy_with_targets(first_reply=FIRST_REPLY, next_reply=None, resolution=None)
    _accounts, refused = replay(tweets, marketplace="other")
    sweep(now=timezone.now() + timedelta(seconds=1))

    actual: Counter = Counter()
    clocks = Clock.objects.filter(kind=ClockKind.FIRST_REPLY).values_list("inquiry__channel__name", "state")
    for name, state in clocks:
        assert state in (ClockState.MET, ClockState.MISSED, ClockState.BREACHED)
        actual[(name, state)] += 1
    expected = expected_first_replies(tweets)
    assert actual == expected
    assert refused > 0
    assert expected[("AmazonHelp", "met")] > 0
